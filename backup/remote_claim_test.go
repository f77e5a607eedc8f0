package backup

import (
	"context"
	"strings"
	"testing"

	"github.com/dbctl/dbctl/backupstore"
	"github.com/dbctl/dbctl/internal/s3test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// List and Import use the Store options they are given, not
// only the environment: with AWS_ENDPOINT_URL pointing nowhere, the
// endpoint in backupstore.Options is the one used.
func TestS3OptionsReachListAndImport(t *testing.T) {
	srv := s3test.Require(t)
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
	f := newBackupFixture(t)
	ctx := context.Background()
	m := f.c.Manticore()
	root := srv.Location(t)
	remote := backupstore.Options{Endpoint: srv.Endpoint}
	_, err := Create(ctx, m, root+"/bk", CreateOptions{Store: remote})
	require.NoError(t, err)

	_, err = List(ctx, root, ListOptions{})
	require.Error(t, err, "the environment's endpoint answers nothing")
	list, err := List(ctx, root, ListOptions{Store: remote})
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, "bk", list[0].Name)

	require.Error(t, Import(ctx, m, root+"/bk", "b", ImportOptions{As: "b_env"}))
	require.NoError(t, Import(ctx, m, root+"/bk", "b", ImportOptions{As: "b_opts", Store: remote}))
	var n int
	require.NoError(t, f.c.DB().QueryRow("SELECT COUNT(*) FROM b_opts").Scan(&n))
	assert.Positive(t, n)
}

// Two backups to one prefix: the claim (.dbctl-writing, a conditional
// write) refuses the second before it freezes anything; a manifest another
// writer put meanwhile is left alone and fails the backup, whose own
// objects are deleted. A completed backup leaves no claim.
func TestS3BackupClaimsItsPrefix(t *testing.T) {
	srv := s3Env(t)
	f := newBackupFixture(t)
	ctx := context.Background()
	m := f.c.Manticore()
	before := f.counters(t)

	loc := srv.Location(t) + "/bk"
	st := openDirect(t, srv, loc)
	_, err := st.Put(ctx, claimName, strings.NewReader(`{"pid":1}`), backupstore.PutOptions{})
	require.NoError(t, err)
	_, err = Create(ctx, m, loc, CreateOptions{})
	require.ErrorIs(t, err, ErrExists)
	assert.Contains(t, err.Error(), "another run holds "+loc)
	assert.Equal(t, before, f.counters(t), "refused before anything was frozen")
	assert.Equal(t, []string{claimName}, listKeys(t, st, ""), "the other writer's claim is left alone")

	require.NoError(t, st.Delete(ctx, claimName))
	_, err = Create(ctx, m, loc, CreateOptions{})
	require.NoError(t, err)
	assert.NotContains(t, listKeys(t, st, ""), claimName, "a finished backup drops its claim")
	_, err = Verify(ctx, loc, VerifyOptions{})
	require.NoError(t, err)

	// a writer that ignores claims puts a manifest during the upload
	loc2 := srv.Location(t) + "/bk2"
	st2 := openDirect(t, srv, loc2)
	foreign := `{"format_version":1,"tool":"other"}`
	_, err = Create(ctx, m, loc2, CreateOptions{hooks: &backupHooks{beforeManifest: func() error {
		_, err := st2.Put(context.Background(), manifestName, strings.NewReader(foreign), backupstore.PutOptions{NoOverwrite: true})
		return err
	}}})
	require.ErrorIs(t, err, ErrExists)
	assert.Contains(t, err.Error(), "got a manifest.json from another writer")
	assert.Equal(t, []string{manifestName}, listKeys(t, st2, ""), "only the other writer's manifest is left")
	assert.Equal(t, before, f.counters(t))
}
