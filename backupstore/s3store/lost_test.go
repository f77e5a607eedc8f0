package s3store

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/dbctl/dbctl/backupstore"
	"github.com/dbctl/dbctl/backupstore/internal/storetest"
	"github.com/dbctl/dbctl/internal/s3test"
	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// putCases are the Puts of the lost-answer matrix.
var putCases = []struct {
	name string
	data []byte
	opts backupstore.PutOptions
}{
	{"single/no-overwrite", storetest.RandBytes(1000), backupstore.PutOptions{NoOverwrite: true}},
	{"single/compress/no-overwrite", bytes.Repeat([]byte("a backup line\n"), 1000), backupstore.PutOptions{Compress: true, NoOverwrite: true}},
	{"multipart/no-overwrite", storetest.RandBytes(backupstore.MinPartSize + 1000), backupstore.PutOptions{NoOverwrite: true}},
	{"multipart/overwrite", storetest.RandBytes(backupstore.MinPartSize + 1000), backupstore.PutOptions{}},
}

const lostKey = "data/t/t.0.spd"

// proxied opens a store at a fresh location through a fault proxy.
func proxied(t *testing.T, attempts int) (*Store, *s3test.FaultProxy, string, s3test.Server) {
	srv := s3test.Require(t)
	loc := srv.Location(t)
	p := s3test.NewFaultProxy(t, srv.Endpoint)
	st, err := Open(context.Background(), loc, backupstore.Options{Endpoint: p.Endpoint, PartSize: backupstore.MinPartSize,
		Concurrency: 2, MaxAttempts: attempts})
	require.NoError(t, err)
	t.Cleanup(func() {
		st.Close()
		cleanup(t, loc, backupstore.Options{Endpoint: srv.Endpoint})
	})
	p.Reset()
	return st, p, loc, srv
}

// An answer lost after the write landed, a 5xx before or after the server
// acted, or a connection cut before the request reached it, at every
// request of a Put (single and multipart, with and without NoOverwrite),
// with the SDK's retries (3 attempts) and without (1): the Put either
// succeeds and the object holds its bytes, or fails and leaves no object
// and no unfinished multipart upload. With retries every Put succeeds;
// without, exactly those whose last request landed do (the object is read
// back and found to be this Put's own).
func TestPutLostAnswers(t *testing.T) {
	ctx := context.Background()
	for _, pc := range putCases {
		t.Run(pc.name, func(t *testing.T) {
			// the requests of a Put that meets no fault
			st, p, _, _ := proxied(t, 0)
			_, err := st.Put(ctx, lostKey, bytes.NewReader(pc.data), pc.opts)
			require.NoError(t, err)
			reqs := p.Requests()
			require.NotEmpty(t, reqs)
			nth := map[string]int{}
			for i, req := range reqs {
				nth[req.Op]++
				rule := s3test.Rule{Op: req.Op, N: nth[req.Op]}
				last := i == len(reqs)-1
				for _, fault := range s3test.Faults {
					for _, attempts := range []int{1, 3} {
						name := fmt.Sprintf("%s#%d/%s/attempts=%d", req.Op, rule.N, fault, attempts)
						t.Run(name, func(t *testing.T) {
							st, p, loc, srv := proxied(t, attempts)
							rule.Fault = fault
							p.AddRule(rule)
							res, err := st.Put(ctx, lostKey, bytes.NewReader(pc.data), pc.opts)
							landed := fault == s3test.LoseAnswer || fault == s3test.FailAfter
							if attempts > 1 || (last && landed) {
								require.NoError(t, err, "requests: %v", p.Requests())
							}
							if err != nil {
								t.Logf("failed as it may: %v", err)
								nothingLeft(t, loc, srv.Endpoint)
								return
							}
							assert.Equal(t, storetest.Sum(pc.data), res.SHA256)
							holdsExactly(t, loc, srv.Endpoint, pc.data, pc.opts.Compress)
						})
					}
				}
			}
		})
	}
}

// holdsExactly fails unless loc holds lostKey with data (compressed with
// zstd when compressed) and nothing else: no other object, no unfinished
// multipart upload.
func holdsExactly(t *testing.T, loc, endpoint string, data []byte, compressed bool) {
	t.Helper()
	ctx := context.Background()
	direct, err := Open(ctx, loc, backupstore.Options{Endpoint: endpoint})
	require.NoError(t, err)
	defer direct.Close()
	got := storetest.Get(t, direct, lostKey)
	if compressed {
		dec, err := zstd.NewReader(bytes.NewReader(got))
		require.NoError(t, err)
		defer dec.Close()
		got, err = io.ReadAll(dec)
		require.NoError(t, err)
	}
	assert.True(t, bytes.Equal(data, got), "the object holds the Put's bytes")
	assert.Equal(t, []string{lostKey}, storetest.Keys(t, direct, ""))
	ups, err := direct.MultipartUploads(ctx)
	require.NoError(t, err)
	assert.Empty(t, ups, "no unfinished multipart upload")
}

// Another writer's object is never taken for this Put's own, whichever
// way the conditional write's answer comes back: the Put fails with
// ErrExists and the other bytes stay.
func TestPutNoOverwriteMeetsAnotherWriter(t *testing.T) {
	ctx := context.Background()
	for _, pc := range putCases {
		if !pc.opts.NoOverwrite {
			continue
		}
		t.Run(pc.name, func(t *testing.T) {
			for _, fault := range []s3test.Fault{"", s3test.LoseAnswer, s3test.FailAfter} {
				t.Run(string(fault)+"/", func(t *testing.T) {
					st, p, loc, srv := proxied(t, 3)
					other := bytes.Clone(pc.data)
					other[len(other)-1] ^= 1
					_, err := st.Put(ctx, lostKey, bytes.NewReader(other), backupstore.PutOptions{Compress: pc.opts.Compress})
					require.NoError(t, err)
					final := "PutObject"
					if len(pc.data) > backupstore.MinPartSize {
						final = "CompleteMultipartUpload"
					}
					p.AddRule(s3test.Rule{Op: final, N: 2, Fault: fault})
					_, err = st.Put(ctx, lostKey, bytes.NewReader(pc.data), pc.opts)
					require.ErrorIs(t, err, backupstore.ErrExists)
					holdsExactly(t, loc, srv.Endpoint, other, pc.opts.Compress)
				})
			}
		})
	}
}
