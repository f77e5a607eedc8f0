package backup

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/dbctl/dbctl/backupstore"
	"github.com/dbctl/dbctl/backupstore/s3store"
	"github.com/dbctl/dbctl/internal/s3test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// List over 50 S3 backups opens one store (one client, one HeadBucket)
// and reads each backup through a sub-store of it: the prefix listing,
// then a GET of each manifest.json and a listing of its claim and
// heartbeat objects (none here). It closes the store: no connection or
// goroutine of it is left.
func TestS3ListBackupsOneClient(t *testing.T) {
	srv := s3Env(t)
	root := srv.Location(t)
	st := openDirect(t, srv, root)
	const backups = 50
	for i := 0; i < backups; i++ {
		putBackup(t, st, fmt.Sprintf("bk-%02d", i), fmt.Sprint("id", i), "", i)
	}
	p := s3test.NewFaultProxy(t, srv.Endpoint)
	before := s3test.SnapshotGoroutines()
	list, err := List(context.Background(), root, ListOptions{Store: backupstore.Options{Endpoint: p.Endpoint}})
	require.NoError(t, err)
	require.Len(t, list, backups)
	for _, b := range list {
		assert.Empty(t, b.Problem)
	}
	assert.Equal(t, 1, p.Count("HeadBucket"))
	assert.Equal(t, backups, p.Count("GetObject"))
	assert.Equal(t, 1+backups, p.Count("ListObjectsV2"))
	assert.Equal(t, 2+2*backups, p.Count(""), "%d requests", p.Count(""))
	before.NoneLeft(t)
}

// The caller's own client reaches the engine (backupstore.Options.Using):
// a store made by s3store.New from the caller's aws.Config serves Create,
// List, Verify, Upload and Prune of every location under it, with one
// bucket check in all, and stays open after them until the caller closes
// it; then no goroutine of it is left.
func TestS3CallersOwnClient(t *testing.T) {
	srv := s3Env(t)
	f := newBackupFixture(t)
	ctx := context.Background()
	root := srv.Location(t)
	p := s3test.NewFaultProxy(t, srv.Endpoint)
	before := s3test.SnapshotGoroutines()
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion("us-east-1"))
	require.NoError(t, err)
	cfg.BaseEndpoint = aws.String(p.Endpoint) // the caller's own setting: every request goes through the proxy
	st, err := s3store.New(ctx, cfg, root, backupstore.Options{})
	require.NoError(t, err)
	mine := backupstore.Options{Using: st}

	_, err = Create(ctx, f.c.Manticore(), root+"/bk-1", CreateOptions{Tables: []string{"pq"}, StagingDir: t.TempDir(), Store: mine})
	require.NoError(t, err)
	local := filepath.Join(t.TempDir(), "local")
	_, err = Create(ctx, f.c.Manticore(), local, CreateOptions{Tables: []string{"pq"}})
	require.NoError(t, err)
	require.NoError(t, Upload(ctx, local, root+"/bk-2", UploadOptions{Store: mine}))
	_, err = Verify(ctx, root+"/bk-2", VerifyOptions{Store: mine})
	require.NoError(t, err)
	list, err := List(ctx, root, ListOptions{Store: mine})
	require.NoError(t, err)
	assert.Equal(t, []string{"bk-1", "bk-2"}, names(list))
	gone, err := Prune(ctx, root, PruneOptions{KeepLast: 1, Store: mine})
	require.NoError(t, err)
	assert.Equal(t, []string{"bk-1"}, names(gone))
	_, err = Create(ctx, f.c.Manticore(), "s3://"+srv.Bucket+"/elsewhere", CreateOptions{Store: mine})
	require.ErrorIs(t, err, backupstore.ErrInvalidLocation, "a location outside the caller's store")

	assert.Equal(t, 1, p.Count("HeadBucket"), "one bucket check: the caller's store, opened once")
	assert.Positive(t, p.Count("PutObject"))
	_, err = st.Stat(ctx, "bk-2/"+manifestName)
	require.NoError(t, err, "the caller's store is still open")
	require.NoError(t, st.Close())
	before.NoneLeft(t)
	cleanupStore(t, openDirect(t, srv, root))
}
