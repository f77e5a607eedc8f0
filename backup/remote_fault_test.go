//go:build unix

package backup

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/smithy-go"
	"github.com/dbctl/dbctl"
	"github.com/dbctl/dbctl/backupstore"
	"github.com/dbctl/dbctl/internal/s3test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A backup to S3 that fails in any way leaves no table frozen, no
// manifest, no object and no unfinished multipart upload, no staging
// folder, and returns a typed error.
func TestS3BackupFaultMatrix(t *testing.T) {
	srv := s3Env(t)
	secret := os.Getenv("AWS_SECRET_ACCESS_KEY")
	failPart := func(num, status int, code string) func(r *http.Request) (int, string) {
		return func(r *http.Request) (int, string) {
			if s3test.IsUploadPart(r) && r.URL.Query().Get("partNumber") == strconv.Itoa(num) {
				return status, code
			}
			return 0, ""
		}
	}
	tests := []struct {
		name string
		// arrange sets the endpoint (and may change the location); cancel
		// cancels the backup's context.
		arrange func(t *testing.T, o *CreateOptions, loc *string, cancel context.CancelFunc)
		check   func(t *testing.T, err error)
		// early: refused before anything is frozen
		early bool
	}{
		{"connection cut mid-part", func(t *testing.T, o *CreateOptions, _ *string, _ context.CancelFunc) {
			o.Store.Endpoint = s3test.NewCutProxy(t, srv.Endpoint, 1<<20).Endpoint
		}, func(t *testing.T, err error) {
			assert.ErrorIs(t, err, backupstore.ErrNetwork)
		}, false},
		{"a part upload fails", func(t *testing.T, o *CreateOptions, _ *string, _ context.CancelFunc) {
			p := s3test.NewFaultProxy(t, srv.Endpoint)
			p.SetFail(failPart(2, http.StatusInternalServerError, "InternalError"))
			o.Store.Endpoint = p.Endpoint
		}, func(t *testing.T, err error) {
			var ae smithy.APIError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, "InternalError", ae.ErrorCode())
		}, false},
		{"the server refuses the credentials", func(t *testing.T, o *CreateOptions, _ *string, _ context.CancelFunc) {
			t.Setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret")
		}, func(t *testing.T, err error) {
			assert.ErrorIs(t, err, backupstore.ErrAccessDenied)
			assert.NotContains(t, err.Error(), "wrong-secret")
		}, true},
		{"the server refuses a part's credentials", func(t *testing.T, o *CreateOptions, _ *string, _ context.CancelFunc) {
			p := s3test.NewFaultProxy(t, srv.Endpoint)
			p.SetFail(failPart(2, http.StatusForbidden, "SignatureDoesNotMatch"))
			o.Store.Endpoint = p.Endpoint
		}, func(t *testing.T, err error) {
			assert.ErrorIs(t, err, backupstore.ErrAccessDenied)
		}, false},
		{"the bucket does not exist", func(t *testing.T, _ *CreateOptions, loc *string, _ context.CancelFunc) {
			*loc = "s3://dbctl-no-such-bucket/bk"
		}, func(t *testing.T, err error) {
			assert.ErrorIs(t, err, backupstore.ErrBucketNotFound)
		}, true},
		{"the context is cancelled during the upload", func(t *testing.T, o *CreateOptions, _ *string, cancel context.CancelFunc) {
			p := s3test.NewFaultProxy(t, srv.Endpoint)
			p.SetFail(func(r *http.Request) (int, string) {
				if s3test.IsUploadPart(r) {
					cancel()
				}
				return 0, ""
			})
			o.Store.Endpoint = p.Endpoint
		}, func(t *testing.T, err error) {
			assert.ErrorIs(t, err, context.Canceled)
		}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newBackupFixture(t)
			addBigRow(t, f)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			loc := srv.Location(t)
			staging := t.TempDir()
			opts := CreateOptions{StagingDir: staging, Store: backupstore.Options{Endpoint: srv.Endpoint,
				PartSize: backupstore.MinPartSize, Concurrency: 2, MaxAttempts: 2}}
			tc.arrange(t, &opts, &loc, cancel)
			if tc.early {
				f.srv.FailNext("FREEZE `", 1064, "FREEZE was sent")
			}
			man, err := Create(ctx, f.c.Manticore(), loc, opts)
			require.Error(t, err)
			assert.Nil(t, man)
			tc.check(t, err)
			if tc.early {
				assert.NotContains(t, err.Error(), "FREEZE was sent")
			}
			var oe *dbctl.OpError
			assert.ErrorAs(t, err, &oe)
			assert.Regexp(t, `^dbctl: `, err.Error())

			assert.Equal(t, map[string]int{"a": 0, "b": 0, "pq": 0}, f.counters(t), "no table left frozen")
			entries, _ := os.ReadDir(staging)
			assert.Empty(t, entries, "staging folder removed")
			if errors.Is(err, backupstore.ErrBucketNotFound) {
				return
			}
			require.NoError(t, os.Setenv("AWS_SECRET_ACCESS_KEY", secret)) // t.Setenv restores it too
			nothingUploaded(t, srv, loc)
		})
	}
}

// A store that stops answering during a verify is one error, not a
// corrupt backup with every object "unreadable".
func TestS3VerifyStoreDownIsNotCorruption(t *testing.T) {
	srv := s3Env(t)
	f := newBackupFixture(t)
	ctx := context.Background()
	loc := srv.Location(t)
	_, err := Create(ctx, f.c.Manticore(), loc, CreateOptions{})
	require.NoError(t, err)
	p := s3test.NewFaultProxy(t, srv.Endpoint)
	p.SetFail(func(r *http.Request) (int, string) {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/data/") {
			return http.StatusForbidden, "AccessDenied"
		}
		return 0, ""
	})
	_, err = Verify(ctx, loc, VerifyOptions{Store: backupstore.Options{Endpoint: p.Endpoint}})
	require.Error(t, err)
	assert.ErrorIs(t, err, backupstore.ErrAccessDenied)
	assert.NotErrorIs(t, err, ErrCorrupt)
	cleanupStore(t, openDirect(t, srv, loc))
}
