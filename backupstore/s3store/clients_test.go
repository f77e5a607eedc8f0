package s3store

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/dbctl/dbctl/backupstore"
	"github.com/dbctl/dbctl/internal/s3test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Listing 50 backups the way the backup engine's ListBackups does (the
// sub-prefixes, then each one's manifest.json through a sub-store) makes
// one client, one HeadBucket and two requests per backup; after Close no
// goroutine of the store is left (its connections are closed, not idle).
func TestListManyBackupsOneClient(t *testing.T) {
	srv := s3test.Require(t)
	ctx := context.Background()
	loc := srv.Location(t)
	direct, err := Open(ctx, loc, backupstore.Options{Endpoint: srv.Endpoint})
	require.NoError(t, err)
	t.Cleanup(func() { cleanup(t, loc, backupstore.Options{Endpoint: srv.Endpoint}) })
	const backups = 50
	for i := 0; i < backups; i++ {
		_, err := direct.Put(ctx, fmt.Sprintf("bk-%02d/manifest.json", i), bytes.NewReader([]byte(fmt.Sprint(i))), backupstore.PutOptions{})
		require.NoError(t, err)
	}
	require.NoError(t, direct.Close())

	p := s3test.NewFaultProxy(t, srv.Endpoint)
	before := s3test.SnapshotGoroutines()
	clients := clientsMade.Load()
	st, err := backupstore.Open(ctx, loc, backupstore.Options{Endpoint: p.Endpoint})
	require.NoError(t, err)
	names, err := st.Dirs(ctx, "")
	require.NoError(t, err)
	require.Len(t, names, backups)
	for i, name := range names {
		_, err := st.Stat(ctx, name+"/manifest.json")
		require.NoError(t, err)
		sub, err := st.Sub(name)
		require.NoError(t, err)
		rc, err := sub.Get(ctx, "manifest.json")
		require.NoError(t, err)
		b, err := io.ReadAll(rc)
		require.NoError(t, err)
		rc.Close()
		assert.Equal(t, fmt.Sprint(i), string(b))
		require.NoError(t, sub.Close())
	}
	require.NoError(t, st.Close())

	assert.Equal(t, int64(1), clientsMade.Load()-clients, "one client")
	assert.Equal(t, 1, p.Count("HeadBucket"))
	assert.Equal(t, 1, p.Count("ListObjectsV2"))
	assert.Equal(t, backups, p.Count("HeadObject"))
	assert.Equal(t, backups, p.Count("GetObject"))
	assert.Equal(t, 2+2*backups, p.Count(""), "O(backups) requests")
	t.Logf("%d backups listed with %d requests", backups, p.Count(""))
	before.NoneLeft(t)
}
