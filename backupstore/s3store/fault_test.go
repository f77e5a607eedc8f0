package s3store

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/dbctl/dbctl/backupstore"
	"github.com/dbctl/dbctl/backupstore/internal/storetest"
	"github.com/dbctl/dbctl/internal/s3test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every way a multipart upload can fail leaves no object and no unfinished
// multipart upload, and says what happened with a typed error.
func TestS3PutFaults(t *testing.T) {
	srv := s3test.Require(t)
	data := storetest.RandBytes(3*backupstore.MinPartSize + 1000) // four parts
	tests := []struct {
		name string
		// arrange returns the endpoint to use and the context of the Put.
		arrange func(t *testing.T, cancel context.CancelFunc) string
		check   func(t *testing.T, err error)
	}{
		{"connection cut mid-part", func(t *testing.T, _ context.CancelFunc) string {
			return s3test.NewCutProxy(t, srv.Endpoint, 1<<20).Endpoint
		}, func(t *testing.T, err error) {
			assert.ErrorIs(t, err, backupstore.ErrNetwork)
		}},
		{"a part upload fails", func(t *testing.T, _ context.CancelFunc) string {
			p := s3test.NewFaultProxy(t, srv.Endpoint)
			p.SetFail(func(r *http.Request) (int, string) {
				if s3test.IsUploadPart(r) && r.URL.Query().Get("partNumber") == "2" {
					return http.StatusInternalServerError, "InternalError"
				}
				return 0, ""
			})
			return p.Endpoint
		}, func(t *testing.T, err error) {
			var ae smithy.APIError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, "InternalError", ae.ErrorCode())
			assert.Contains(t, err.Error(), "part 2")
		}},
		{"credentials refused for a part", func(t *testing.T, _ context.CancelFunc) string {
			p := s3test.NewFaultProxy(t, srv.Endpoint)
			p.SetFail(func(r *http.Request) (int, string) {
				if s3test.IsUploadPart(r) && r.URL.Query().Get("partNumber") == "3" {
					return http.StatusForbidden, "ExpiredToken"
				}
				return 0, ""
			})
			return p.Endpoint
		}, func(t *testing.T, err error) {
			assert.ErrorIs(t, err, backupstore.ErrAccessDenied)
		}},
		{"context cancelled during the upload", func(t *testing.T, cancel context.CancelFunc) string {
			p := s3test.NewFaultProxy(t, srv.Endpoint)
			p.SetFail(func(r *http.Request) (int, string) {
				if s3test.IsUploadPart(r) && r.URL.Query().Get("partNumber") == "2" {
					cancel()
				}
				return 0, ""
			})
			return p.Endpoint
		}, func(t *testing.T, err error) {
			assert.ErrorIs(t, err, context.Canceled)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			loc := srv.Location(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			ep := tc.arrange(t, cancel)
			st, err := Open(context.Background(), loc, backupstore.Options{Endpoint: ep, PartSize: backupstore.MinPartSize, Concurrency: 2, MaxAttempts: 2})
			require.NoError(t, err)
			defer st.Close()
			_, err = st.Put(ctx, "data/t/t.0.spd", bytes.NewReader(data), backupstore.PutOptions{})
			require.Error(t, err)
			var se *backupstore.Error
			require.ErrorAs(t, err, &se)
			assert.Equal(t, "put", se.Op)
			tc.check(t, err)

			nothingLeft(t, loc, srv.Endpoint)
		})
	}
}

func TestS3OpenRefuses(t *testing.T) {
	srv := s3test.Require(t)
	ctx := context.Background()
	_, err := Open(ctx, "s3://dbctl-no-such-bucket/x", backupstore.Options{Endpoint: srv.Endpoint})
	assert.ErrorIs(t, err, backupstore.ErrBucketNotFound)
	assert.Contains(t, err.Error(), "s3://dbctl-no-such-bucket/x")

	t.Setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
	_, err = Open(ctx, srv.Location(t), backupstore.Options{Endpoint: srv.Endpoint})
	assert.ErrorIs(t, err, backupstore.ErrAccessDenied)
	assert.NotContains(t, err.Error(), "not-the-secret")

	_, err = Open(ctx, srv.Location(t), backupstore.Options{Endpoint: srv.Endpoint, PartSize: 1 << 20})
	assert.ErrorIs(t, err, backupstore.ErrInvalidOptions)
	assert.False(t, errors.Is(err, backupstore.ErrAccessDenied))
}

// The server checks the sha256 checksum each request carries (SeaweedFS
// answers BadDigest): bytes damaged on the way are refused, not stored.
func TestS3ChecksumIsChecked(t *testing.T) {
	loc, opts := testLocation(t)
	ctx := context.Background()
	s, err := Open(ctx, loc, opts)
	require.NoError(t, err)
	defer s.Close()
	body := []byte("the bytes sent")
	_, _, payload := bodySum(body)
	_, wrong, _ := bodySum([]byte("the bytes hashed"))
	_, err = s.c.client.PutObject(ctx, &s3.PutObjectInput{Bucket: s.c.in(), Key: aws.String(s.full("x")),
		Body: bytes.NewReader(body), ChecksumSHA256: aws.String(wrong)}, s.c.opts(payload)...)
	require.Error(t, err)
	assert.ErrorIs(t, &backupstore.Error{Op: "put", Kind: classify(err), Err: err}, backupstore.ErrCorrupt)
	_, err = s.Stat(ctx, "x")
	assert.ErrorIs(t, err, backupstore.ErrNotFound)
}

// nothingLeft fails unless loc holds no object and no unfinished
// multipart upload (seen directly, without a proxy).
func nothingLeft(t *testing.T, loc, endpoint string) {
	t.Helper()
	direct, err := Open(context.Background(), loc, backupstore.Options{Endpoint: endpoint})
	require.NoError(t, err)
	defer direct.Close()
	ups, err := direct.MultipartUploads(context.Background())
	require.NoError(t, err)
	assert.Empty(t, ups, "no unfinished multipart upload")
	objs, err := direct.List(context.Background(), "")
	require.NoError(t, err)
	assert.Empty(t, objs, "no object")
}
