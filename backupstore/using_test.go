package backupstore_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dbctl/dbctl/backupstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeRemote is a Store whose location is remote, for Using's matching:
// Sub records the prefix it was asked for.
type fakeRemote struct {
	backupstore.Store
	loc    string
	closed *bool
}

func (f fakeRemote) Location() string { return f.loc }
func (f fakeRemote) Close() error     { *f.closed = true; return nil }
func (f fakeRemote) Sub(p string) (backupstore.Store, error) {
	if err := backupstore.CheckKey(p); err != nil {
		return nil, &backupstore.Error{Op: "sub", Key: p, Kind: backupstore.ErrInvalidKey, Err: err}
	}
	return fakeRemote{loc: f.loc + "/" + p, closed: f.closed}, nil
}

// Open with Options.Using hands out the caller's store, or its Sub, for
// locations inside it, and refuses any other; closing what it returns
// leaves the caller's store open.
func TestOpenUsing(t *testing.T) {
	ctx := context.Background()
	closed := false
	remote := fakeRemote{loc: "s3://backups/manticore", closed: &closed}
	dir := t.TempDir()
	local, err := backupstore.OpenLocal(dir)
	require.NoError(t, err)
	tests := []struct {
		using    backupstore.Store
		location string
		want     string // the store's location; "" for ErrInvalidLocation
	}{
		{remote, "s3://backups/manticore", "s3://backups/manticore"},
		{remote, "S3://backups/manticore/", "s3://backups/manticore"},
		{remote, "s3://backups/manticore/2026-12-06", "s3://backups/manticore/2026-12-06"},
		{remote, "s3://backups/manticore/a/b", "s3://backups/manticore/a/b"},
		{remote, "s3://backups/manticore-old/x", ""},
		{remote, "s3://backups", ""},
		{remote, "s3://other/manticore/x", ""},
		{remote, "gs://backups/manticore/x", ""},
		{remote, "s3://backups/manticore/../x", ""},
		{remote, "s3://backups/manticore//x", ""},
		{remote, dir, ""},
		{local, dir, dir},
		{local, dir + "/", dir},
		{local, filepath.Join(dir, "bk"), filepath.Join(dir, "bk")},
		{local, filepath.Join(dir, "a", "..", "bk"), filepath.Join(dir, "bk")},
		{local, filepath.Dir(dir), ""},
		{local, filepath.Join(dir, "..", "x"), ""},
		{local, "s3://backups/manticore", ""},
		{local, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.location, func(t *testing.T) {
			st, err := backupstore.Open(ctx, tc.location, backupstore.Options{Using: tc.using, Endpoint: "ignored:1"})
			if tc.want == "" {
				require.ErrorIs(t, err, backupstore.ErrInvalidLocation)
				assert.True(t, strings.HasPrefix(err.Error(), "dbctl: backupstore: open"), err.Error())
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, st.Location())
			require.NoError(t, st.Close())
			assert.False(t, closed, "the caller's store stays open")
			u, ok := st.(interface{ Unwrap() backupstore.Store })
			require.True(t, ok)
			assert.Equal(t, tc.want, u.Unwrap().Location())
		})
	}
}
