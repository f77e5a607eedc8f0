// Package storetest is the conformance suite every backupstore.Store
// passes: the folder store's tests and the S3 store's run the same cases.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"testing"

	"github.com/dbctl/dbctl/backupstore"
	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Open returns a fresh, empty store for one test; the suite closes it.
type Open func(t *testing.T) backupstore.Store

// Run runs every case of the suite against the stores open makes.
func Run(t *testing.T, open Open) {
	for _, c := range []struct {
		name string
		fn   func(*testing.T, backupstore.Store)
	}{
		{"RoundTrip", RoundTrip},
		{"Rejects", Rejects},
		{"NoOverwrite", NoOverwrite},
		{"Sub", Sub},
		{"Close", Close},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := open(t)
			t.Cleanup(func() { _ = st.Close() })
			c.fn(t, st)
		})
	}
}

// RandBytes returns n random bytes.
func RandBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// Sum is the hex sha256 of b.
func Sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// ReadAll reads an object or fails the test.
func ReadAll(t testing.TB, rc io.ReadCloser, err error) []byte {
	t.Helper()
	require.NoError(t, err)
	defer rc.Close()
	b, err := io.ReadAll(rc)
	require.NoError(t, err)
	return b
}

// Get reads key of st or fails the test.
func Get(t testing.TB, st backupstore.Store, key string) []byte {
	t.Helper()
	rc, err := st.Get(context.Background(), key)
	return ReadAll(t, rc, err)
}

// Keys lists the keys under prefix.
func Keys(t testing.TB, st backupstore.Store, prefix string) []string {
	t.Helper()
	infos, err := st.List(context.Background(), prefix)
	require.NoError(t, err)
	keys := []string{}
	for _, in := range infos {
		keys = append(keys, in.Key)
	}
	return keys
}

// RoundTrip: Put (plain, empty, multipart-sized, Compress, Compressed),
// Stat, Get, GetRange, List, Dirs, Delete.
func RoundTrip(t *testing.T, s backupstore.Store) {
	ctx := context.Background()
	small := []byte("hello manifest")
	big := RandBytes(2*backupstore.MinPartSize + 12345) // three parts on S3
	text := bytes.Repeat([]byte("compressible text line\n"), 400000)
	cases := []struct {
		key  string
		data []byte
		opts backupstore.PutOptions
	}{
		{"manifest.json", small, backupstore.PutOptions{}},
		{"data/t/t.0.spa", big, backupstore.PutOptions{}},
		{"data/t/t.0.spd", []byte{}, backupstore.PutOptions{}},
		{"data/t/t.txt.zst", text, backupstore.PutOptions{Compress: true}},
	}
	for _, c := range cases {
		res, err := s.Put(ctx, c.key, bytes.NewReader(c.data), c.opts)
		require.NoError(t, err, c.key)
		assert.Equal(t, int64(len(c.data)), res.Size, c.key)
		assert.Equal(t, Sum(c.data), res.SHA256, c.key)
		st, err := s.Stat(ctx, c.key)
		require.NoError(t, err)
		assert.Equal(t, res.Stored, st.Size, c.key)
		got := Get(t, s, c.key)
		if c.opts.Compress {
			assert.Less(t, len(got), len(c.data)/10)
			dec, err := zstd.NewReader(bytes.NewReader(got))
			require.NoError(t, err)
			got, err = io.ReadAll(dec)
			require.NoError(t, err)
		}
		assert.Equal(t, Sum(c.data), Sum(got), c.key)
	}
	// a compressed object re-uploaded as it is hashes to the original bytes
	raw := Get(t, s, "data/t/t.txt.zst")
	res, err := s.Put(ctx, "copy/t.txt.zst", bytes.NewReader(raw), backupstore.PutOptions{Compressed: true})
	require.NoError(t, err)
	assert.Equal(t, Sum(text), res.SHA256)
	assert.Equal(t, int64(len(raw)), res.Stored)

	rc, err := s.GetRange(ctx, "data/t/t.0.spa", 100, 50)
	assert.Equal(t, big[100:150], ReadAll(t, rc, err))
	rc, err = s.GetRange(ctx, "data/t/t.0.spa", int64(len(big)-7), -1)
	assert.Equal(t, big[len(big)-7:], ReadAll(t, rc, err))

	assert.Equal(t, []string{"data/t/t.0.spa", "data/t/t.0.spd", "data/t/t.txt.zst"}, Keys(t, s, "data/"))
	dirs, err := s.Dirs(ctx, "")
	require.NoError(t, err)
	assert.Equal(t, []string{"copy", "data"}, dirs)
	dirs, err = s.Dirs(ctx, "data")
	require.NoError(t, err)
	assert.Equal(t, []string{"t"}, dirs)

	require.NoError(t, s.Delete(ctx, "data/t/t.0.spa", "no/such/key"))
	_, err = s.Stat(ctx, "data/t/t.0.spa")
	assert.ErrorIs(t, err, backupstore.ErrNotFound)
	_, err = s.Get(ctx, "data/t/t.0.spa")
	assert.ErrorIs(t, err, backupstore.ErrNotFound)
}

// Rejects: bad keys and options are refused before anything is stored;
// a failed Put leaves no object.
func Rejects(t *testing.T, s backupstore.Store) {
	ctx := context.Background()
	for _, key := range []string{"", "/abs", "a/../b", "a//b", "./a", "a/", `a\b`} {
		_, err := s.Put(ctx, key, bytes.NewReader(nil), backupstore.PutOptions{})
		assert.ErrorIs(t, err, backupstore.ErrInvalidKey, key)
		_, err = s.Get(ctx, key)
		assert.ErrorIs(t, err, backupstore.ErrInvalidKey, key)
		_, err = s.Sub(key)
		assert.ErrorIs(t, err, backupstore.ErrInvalidKey, key)
	}
	_, err := s.Put(ctx, "k", bytes.NewReader(nil), backupstore.PutOptions{Compress: true, Compressed: true})
	assert.ErrorIs(t, err, backupstore.ErrInvalidOptions)
	_, err = s.Put(ctx, "k.zst", bytes.NewReader(bytes.Repeat([]byte("not zstd"), 10)), backupstore.PutOptions{Compressed: true})
	assert.ErrorIs(t, err, backupstore.ErrCorrupt)
	_, err = s.Stat(ctx, "k.zst")
	assert.ErrorIs(t, err, backupstore.ErrNotFound, "a failed Put leaves no object")
}

// NoOverwrite creates a key only if it is absent, atomically, small and
// multipart alike; the same bytes again are the same Put's (idempotent),
// other bytes ErrExists and the first writer's bytes stay.
func NoOverwrite(t *testing.T, s backupstore.Store) {
	ctx := context.Background()
	for _, size := range []int{3, 6 << 20} {
		key := fmt.Sprintf("claim-%d", size)
		first := bytes.Repeat([]byte("a"), size)
		_, err := s.Put(ctx, key, bytes.NewReader(first), backupstore.PutOptions{NoOverwrite: true})
		require.NoError(t, err)
		res, err := s.Put(ctx, key, bytes.NewReader(first), backupstore.PutOptions{NoOverwrite: true})
		require.NoError(t, err, "the same bytes again: this Put's own object")
		assert.Equal(t, Sum(first), res.SHA256)
		other := append(bytes.Repeat([]byte("a"), size-1), 'b') // same size, one byte differs
		_, err = s.Put(ctx, key, bytes.NewReader(other), backupstore.PutOptions{NoOverwrite: true})
		require.ErrorIs(t, err, backupstore.ErrExists)
		_, err = s.Put(ctx, key, bytes.NewReader(first[:size-1]), backupstore.PutOptions{NoOverwrite: true})
		require.ErrorIs(t, err, backupstore.ErrExists, "a different size")
		assert.True(t, bytes.Equal(first, Get(t, s, key)), "the first writer's bytes stay")
		_, err = s.Put(ctx, key, bytes.NewReader([]byte("c")), backupstore.PutOptions{})
		require.NoError(t, err, "without NoOverwrite the key is replaced")
	}
	assert.Equal(t, []string{"claim-3", "claim-6291456"}, Keys(t, s, ""), "nothing else left")
}

// Sub: a sub-store sees the keys under its prefix, writes there, and its
// Close leaves the parent working.
func Sub(t *testing.T, s backupstore.Store) {
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		_, err := s.Put(ctx, fmt.Sprintf("b%d/manifest.json", i), bytes.NewReader([]byte{byte('0' + i)}), backupstore.PutOptions{})
		require.NoError(t, err)
	}
	sub, err := s.Sub("b1")
	require.NoError(t, err)
	assert.Equal(t, s.Location()+"/b1", sub.Location())
	assert.Equal(t, []byte("1"), Get(t, sub, "manifest.json"))
	_, err = sub.Put(ctx, "data/x", bytes.NewReader([]byte("x")), backupstore.PutOptions{})
	require.NoError(t, err)
	assert.Equal(t, []byte("x"), Get(t, s, "b1/data/x"))
	deeper, err := sub.Sub("data")
	require.NoError(t, err)
	assert.Equal(t, []string{"x"}, Keys(t, deeper, ""))
	require.NoError(t, sub.Close())
	require.NoError(t, deeper.Close())
	assert.Equal(t, []byte("2"), Get(t, s, "b2/manifest.json"), "the parent works after its sub-stores' Close")
}

// Close: a second Close is nil; a closed store refuses calls with
// ErrClosed, or (a folder, which holds nothing) keeps working.
func Close(t *testing.T, s backupstore.Store) {
	ctx := context.Background()
	_, err := s.Put(ctx, "k", bytes.NewReader([]byte("v")), backupstore.PutOptions{})
	require.NoError(t, err)
	sub, err := s.Sub("d")
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close())
	if _, ok := s.(*backupstore.Local); ok {
		assert.Equal(t, []byte("v"), Get(t, s, "k"))
		return
	}
	_, err = s.Get(ctx, "k")
	assert.ErrorIs(t, err, backupstore.ErrClosed)
	_, err = s.Put(ctx, "k2", bytes.NewReader([]byte("v")), backupstore.PutOptions{})
	assert.ErrorIs(t, err, backupstore.ErrClosed)
	_, err = sub.List(ctx, "")
	assert.ErrorIs(t, err, backupstore.ErrClosed, "a sub-store shares its parent's client")
}
