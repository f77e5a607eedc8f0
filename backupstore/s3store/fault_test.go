package backupstore

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/dbctl/dbctl/internal/s3test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every way a multipart upload can fail leaves no object and no unfinished
// multipart upload, and says what happened with a typed error.
func TestS3PutFaults(t *testing.T) {
	srv := s3test.Require(t)
	data := randBytes(3*MinPartSize + 1000) // four parts
	tests := []struct {
		name string
		// arrange returns the endpoint to use and the context of the Put.
		arrange func(t *testing.T, cancel context.CancelFunc) string
		check   func(t *testing.T, err error)
	}{
		{"connection cut mid-part", func(t *testing.T, _ context.CancelFunc) string {
			return s3test.NewCutProxy(t, srv.Endpoint, 1<<20).Endpoint
		}, func(t *testing.T, err error) {
			assert.ErrorIs(t, err, ErrNetwork)
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
			assert.ErrorIs(t, err, ErrAccessDenied)
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
			st, err := Open(context.Background(), loc, Options{Endpoint: ep, PartSize: MinPartSize, Concurrency: 2, MaxAttempts: 2})
			require.NoError(t, err)
			_, err = st.Put(ctx, "data/t/t.0.spd", bytes.NewReader(data), PutOptions{})
			require.Error(t, err)
			var se *Error
			require.ErrorAs(t, err, &se)
			assert.Equal(t, "put", se.Op)
			tc.check(t, err)

			direct, err := Open(context.Background(), loc, Options{Endpoint: srv.Endpoint})
			require.NoError(t, err)
			ups, err := direct.(*S3).MultipartUploads(context.Background())
			require.NoError(t, err)
			assert.Empty(t, ups, "no unfinished multipart upload")
			objs, err := direct.List(context.Background(), "")
			require.NoError(t, err)
			assert.Empty(t, objs, "no object")
		})
	}
}

func TestS3OpenRefuses(t *testing.T) {
	srv := s3test.Require(t)
	ctx := context.Background()
	_, err := Open(ctx, "s3://dbctl-no-such-bucket/x", Options{Endpoint: srv.Endpoint})
	assert.ErrorIs(t, err, ErrBucketNotFound)
	assert.Contains(t, err.Error(), "s3://dbctl-no-such-bucket/x")

	t.Setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
	_, err = Open(ctx, srv.Location(t), Options{Endpoint: srv.Endpoint})
	assert.ErrorIs(t, err, ErrAccessDenied)
	assert.NotContains(t, err.Error(), "not-the-secret")

	_, err = Open(ctx, srv.Location(t), Options{Endpoint: srv.Endpoint, PartSize: 1 << 20})
	assert.ErrorIs(t, err, ErrInvalidOptions)
	assert.False(t, errors.Is(err, ErrAccessDenied))
}

// The server checks the sha256 checksum each request carries (SeaweedFS
// answers BadDigest): bytes damaged on the way are refused, not stored.
func TestS3ChecksumIsChecked(t *testing.T) {
	loc, opts := testS3Location(t)
	ctx := context.Background()
	st, err := Open(ctx, loc, opts)
	require.NoError(t, err)
	s := st.(*S3)
	body := []byte("the bytes sent")
	_, payload := bodySum(body)
	wrong, _ := bodySum([]byte("the bytes hashed"))
	_, err = s.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(Join(s.prefix, "x")),
		Body: bytes.NewReader(body), ChecksumSHA256: aws.String(wrong)}, payload)
	require.Error(t, err)
	assert.ErrorIs(t, &Error{Op: "put", Kind: classifyS3(err), Err: err}, ErrCorrupt)
	_, err = st.Stat(ctx, "x")
	assert.ErrorIs(t, err, ErrNotFound)
}
