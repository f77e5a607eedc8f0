package s3store

import (
	"bytes"
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/dbctl/dbctl/backupstore"
	"github.com/dbctl/dbctl/backupstore/internal/storetest"
	"github.com/dbctl/dbctl/internal/s3test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testLocation returns a fresh location on the real S3 server and the
// options to reach it (see s3test.Require: skipped without the server,
// failed under CI=true).
func testLocation(t testing.TB) (string, backupstore.Options) {
	t.Helper()
	srv := s3test.Require(t)
	return srv.Location(t), backupstore.Options{Endpoint: srv.Endpoint, PartSize: backupstore.MinPartSize, Concurrency: 3}
}

// cleanup deletes everything under the store's prefix and aborts its
// unfinished uploads, through a store of its own.
func cleanup(t testing.TB, loc string, opts backupstore.Options) {
	ctx := context.Background()
	st, err := Open(ctx, loc, opts)
	if err != nil {
		return
	}
	defer st.Close()
	keys := []string{}
	infos, _ := st.List(ctx, "")
	for _, in := range infos {
		keys = append(keys, in.Key)
	}
	if len(keys) > 0 {
		assert.NoError(t, st.Delete(ctx, keys...))
	}
	_, err = st.AbortUploads(ctx, "")
	assert.NoError(t, err)
}

// fresh opens a store at a fresh location through backupstore.Open: the
// s3 scheme this package registered.
func fresh(t *testing.T) backupstore.Store {
	loc, opts := testLocation(t)
	st, err := backupstore.Open(context.Background(), loc, opts)
	require.NoError(t, err)
	require.IsType(t, &Store{}, st)
	t.Cleanup(func() { cleanup(t, loc, opts) })
	return st
}

// The S3 store passes the suite the folder store passes, whichever way it
// was made: Open (the environment), New (the caller's aws.Config) or
// NewFromClient (the caller's client).
func TestStore(t *testing.T) {
	t.Run("Open", func(t *testing.T) { storetest.Run(t, fresh) })
	t.Run("New", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) backupstore.Store {
			loc, opts := testLocation(t)
			cfg, err := config.LoadDefaultConfig(context.Background())
			require.NoError(t, err)
			st, err := New(context.Background(), cfg, loc, opts)
			require.NoError(t, err)
			t.Cleanup(func() { cleanup(t, loc, opts) })
			return st
		})
	})
	t.Run("NewFromClient", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) backupstore.Store {
			loc, opts := testLocation(t)
			cfg, err := config.LoadDefaultConfig(context.Background())
			require.NoError(t, err)
			client := s3.NewFromConfig(cfg, func(o *s3.Options) { o.BaseEndpoint, o.UsePathStyle = &opts.Endpoint, true })
			st, err := NewFromClient(context.Background(), client, loc, backupstore.Options{PartSize: opts.PartSize})
			require.NoError(t, err)
			t.Cleanup(func() { cleanup(t, loc, opts) })
			return st
		})
	})
}

// Closing a store made from the caller's client leaves the client usable.
func TestCloseLeavesTheCallersClient(t *testing.T) {
	loc, opts := testLocation(t)
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	require.NoError(t, err)
	client := s3.NewFromConfig(cfg, func(o *s3.Options) { o.BaseEndpoint, o.UsePathStyle = &opts.Endpoint, true })
	st, err := NewFromClient(ctx, client, loc, backupstore.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { cleanup(t, loc, opts) })
	_, err = st.Put(ctx, "k", bytes.NewReader([]byte("v")), backupstore.PutOptions{})
	require.NoError(t, err)
	require.NoError(t, st.Close())
	_, err = client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &st.c.bucket, Key: fullKey(st, "k")})
	assert.NoError(t, err)
}

func fullKey(st *Store, key string) *string {
	k := st.full(key)
	return &k
}
