package backupstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"testing"

	"github.com/dbctl/dbctl/internal/s3test"

	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testS3Location returns a fresh location on the real S3 server and the
// options to reach it (see s3test.Require: skipped without the server,
// failed under CI=true).
func testS3Location(t testing.TB) (string, Options) {
	t.Helper()
	srv := s3test.Require(t)
	return srv.Location(t), Options{Endpoint: srv.Endpoint, PartSize: MinPartSize, Concurrency: 3}
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func stores(t *testing.T) map[string]Store {
	t.Helper()
	ctx := context.Background()
	out := map[string]Store{}
	l, err := Open(ctx, t.TempDir(), Options{})
	require.NoError(t, err)
	out["local"] = l
	if s3test.Available() {
		loc, opts := testS3Location(t)
		s, err := Open(ctx, loc, opts)
		require.NoError(t, err)
		out["s3"] = s
		t.Cleanup(func() { cleanup(t, s) })
	}
	return out
}

func cleanup(t testing.TB, s Store) {
	ctx := context.Background()
	infos, err := s.List(ctx, "")
	if err != nil {
		return
	}
	keys := make([]string, len(infos))
	for i, in := range infos {
		keys[i] = in.Key
	}
	if len(keys) > 0 {
		assert.NoError(t, s.Delete(ctx, keys...))
	}
}

func readAll(t *testing.T) func(rc io.ReadCloser, err error) []byte {
	return func(rc io.ReadCloser, err error) []byte {
		t.Helper()
		require.NoError(t, err)
		defer rc.Close()
		b, err := io.ReadAll(rc)
		require.NoError(t, err)
		return b
	}
}

func TestStoreRoundTrip(t *testing.T) {
	ctx := context.Background()
	small := []byte("hello manifest")
	big := randBytes(2*MinPartSize + 12345) // three parts on S3
	text := bytes.Repeat([]byte("compressible text line\n"), 400000)
	for name, s := range stores(t) {
		t.Run(name, func(t *testing.T) {
			cases := []struct {
				key  string
				data []byte
				opts PutOptions
			}{
				{"manifest.json", small, PutOptions{}},
				{"data/t/t.0.spa", big, PutOptions{}},
				{"data/t/t.0.spd", []byte{}, PutOptions{}},
				{"data/t/t.txt.zst", text, PutOptions{Compress: true}},
			}
			for _, c := range cases {
				res, err := s.Put(ctx, c.key, bytes.NewReader(c.data), c.opts)
				require.NoError(t, err, c.key)
				assert.Equal(t, int64(len(c.data)), res.Size, c.key)
				assert.Equal(t, sum(c.data), res.SHA256, c.key)
				st, err := s.Stat(ctx, c.key)
				require.NoError(t, err)
				assert.Equal(t, res.Stored, st.Size, c.key)
				got := readAll(t)(s.Get(ctx, c.key))
				if c.opts.Compress {
					assert.Less(t, len(got), len(c.data)/10)
					dec, err := zstd.NewReader(bytes.NewReader(got))
					require.NoError(t, err)
					got, err = io.ReadAll(dec)
					require.NoError(t, err)
				}
				assert.Equal(t, sum(c.data), sum(got), c.key)
			}
			// a compressed object re-uploaded as it is hashes to the original bytes
			raw := readAll(t)(s.Get(ctx, "data/t/t.txt.zst"))
			res, err := s.Put(ctx, "copy/t.txt.zst", bytes.NewReader(raw), PutOptions{Compressed: true})
			require.NoError(t, err)
			assert.Equal(t, sum(text), res.SHA256)
			assert.Equal(t, int64(len(raw)), res.Stored)

			assert.Equal(t, big[100:150], readAll(t)(s.GetRange(ctx, "data/t/t.0.spa", 100, 50)))
			assert.Equal(t, big[len(big)-7:], readAll(t)(s.GetRange(ctx, "data/t/t.0.spa", int64(len(big)-7), -1)))

			infos, err := s.List(ctx, "data/")
			require.NoError(t, err)
			var keys []string
			for _, in := range infos {
				keys = append(keys, in.Key)
			}
			assert.Equal(t, []string{"data/t/t.0.spa", "data/t/t.0.spd", "data/t/t.txt.zst"}, keys)
			dirs, err := s.Dirs(ctx, "")
			require.NoError(t, err)
			assert.Equal(t, []string{"copy", "data"}, dirs)
			dirs, err = s.Dirs(ctx, "data")
			require.NoError(t, err)
			assert.Equal(t, []string{"t"}, dirs)

			require.NoError(t, s.Delete(ctx, "data/t/t.0.spa", "no/such/key"))
			_, err = s.Stat(ctx, "data/t/t.0.spa")
			assert.ErrorIs(t, err, ErrNotFound)
			_, err = s.Get(ctx, "data/t/t.0.spa")
			assert.ErrorIs(t, err, ErrNotFound)
		})
	}
}

func TestStoreRejects(t *testing.T) {
	ctx := context.Background()
	for name, s := range stores(t) {
		t.Run(name, func(t *testing.T) {
			for _, key := range []string{"", "/abs", "a/../b", "a//b", "./a", "a/", `a\b`} {
				_, err := s.Put(ctx, key, bytes.NewReader(nil), PutOptions{})
				assert.ErrorIs(t, err, ErrInvalidKey, key)
				_, err = s.Get(ctx, key)
				assert.ErrorIs(t, err, ErrInvalidKey, key)
			}
			_, err := s.Put(ctx, "k", bytes.NewReader(nil), PutOptions{Compress: true, Compressed: true})
			assert.ErrorIs(t, err, ErrInvalidOptions)
			_, err = s.Put(ctx, "k.zst", bytes.NewReader(bytes.Repeat([]byte("not zstd"), 10)), PutOptions{Compressed: true})
			assert.ErrorIs(t, err, ErrCorrupt)
			_, err = s.Stat(ctx, "k.zst")
			assert.ErrorIs(t, err, ErrNotFound, "a failed Put leaves no object")
		})
	}
}

// NoOverwrite creates a key only if it is absent, atomically (S3's
// If-None-Match: *; a hard link for a folder), small and multipart alike.
func TestStorePutNoOverwrite(t *testing.T) {
	ctx := context.Background()
	for name, s := range stores(t) {
		t.Run(name, func(t *testing.T) {
			for _, size := range []int{3, 6 << 20} {
				key := fmt.Sprintf("claim-%d", size)
				first := bytes.Repeat([]byte("a"), size)
				_, err := s.Put(ctx, key, bytes.NewReader(first), PutOptions{NoOverwrite: true})
				require.NoError(t, err)
				_, err = s.Put(ctx, key, bytes.NewReader(bytes.Repeat([]byte("b"), size)), PutOptions{NoOverwrite: true})
				require.ErrorIs(t, err, ErrExists)
				rc, err := s.Get(ctx, key)
				require.NoError(t, err)
				got, err := io.ReadAll(rc)
				rc.Close()
				require.NoError(t, err)
				assert.True(t, bytes.Equal(first, got), "the first writer's bytes stay")
				_, err = s.Put(ctx, key, bytes.NewReader([]byte("c")), PutOptions{})
				require.NoError(t, err, "without NoOverwrite the key is replaced")
			}
		})
	}
}

func TestParseS3(t *testing.T) {
	for _, c := range []struct{ in, bucket, prefix string }{
		{"s3://bucket", "bucket", ""},
		{"s3://bucket/", "bucket", ""},
		{"s3://my.bucket-1/a/b/", "my.bucket-1", "a/b"},
		{"S3://bucket/x", "bucket", "x"},
	} {
		b, p, err := ParseS3(c.in)
		require.NoError(t, err, c.in)
		assert.Equal(t, c.bucket, b, c.in)
		assert.Equal(t, c.prefix, p, c.in)
	}
	for _, bad := range []string{"s3://", "s3://ab", "s3://Bucket/x", "s3://b_ucket", "s3://bucket/a/../b", "s3://bucket//a", "s3://-bucket", "/local/dir"} {
		_, _, err := ParseS3(bad)
		assert.ErrorIs(t, err, ErrInvalidLocation, bad)
	}
}
