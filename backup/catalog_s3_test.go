package backup

import (
	"context"
	"fmt"
	"testing"

	"github.com/dbctl/dbctl/backupstore"
	"github.com/dbctl/dbctl/internal/s3test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ListBackups over 50 S3 backups opens one store (one client, one
// HeadBucket) and reads each backup through a sub-store of it: the prefix
// listing, then a HEAD and a GET of each manifest.json. It closes the
// store: no connection or goroutine of it is left.
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
	assert.Equal(t, 2+2*backups, p.Count(""), "%d requests", p.Count(""))
	before.NoneLeft(t)
}
