package s3store

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/dbctl/dbctl/backupstore"
	"github.com/dbctl/dbctl/backupstore/internal/storetest"
	"github.com/dbctl/dbctl/internal/crashpoint"
	"github.com/dbctl/dbctl/internal/crashpoint/crashtest"
	"github.com/dbctl/dbctl/internal/s3test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMain lets a re-executed test binary (crashtest.Child) take its crash
// spec from the environment.
func TestMain(m *testing.M) {
	if _, err := crashpoint.InstallFromEnv(); err != nil {
		panic(err)
	}
	os.Exit(m.Run())
}

// crashPut is the Put of the crash tests, single or multipart.
func crashPut(ctx context.Context, st backupstore.Store, multipart bool) error {
	data := bytes.Repeat([]byte("crash"), 200)
	if multipart {
		data = bytes.Repeat([]byte("crash"), (backupstore.MinPartSize+1000)/5)
	}
	_, err := st.Put(ctx, lostKey, bytes.NewReader(data), backupstore.PutOptions{NoOverwrite: true})
	return err
}

// A Put failing at each of its steps (store.* crash points, each before a
// request) fails with the injected error and leaves nothing: no object,
// no unfinished upload.
func TestPutCrashPointsFail(t *testing.T) {
	ctx := context.Background()
	srv := s3test.Require(t)
	for _, multipart := range []bool{false, true} {
		t.Run(map[bool]string{false: "single", true: "multipart"}[multipart], func(t *testing.T) {
			loc, opts := testLocation(t)
			st, err := Open(ctx, loc, opts)
			require.NoError(t, err)
			t.Cleanup(func() { st.Close(); cleanup(t, loc, opts) })
			steps := crashtest.Record(t, func() { require.NoError(t, crashPut(ctx, st, multipart)) })
			require.NoError(t, st.Delete(ctx, lostKey))
			want := []string{"store.put-object " + lostKey}
			if multipart {
				want = []string{"store.create-upload " + lostKey, "store.upload-part " + lostKey, "store.upload-part " + lostKey, "store.complete-upload " + lostKey}
			}
			var names []string
			for _, s := range steps {
				names = append(names, s.Name)
			}
			assert.Equal(t, want, names)
			for _, step := range steps {
				t.Run(step.String(), func(t *testing.T) {
					loc, opts := testLocation(t)
					st, err := Open(ctx, loc, opts)
					require.NoError(t, err)
					t.Cleanup(func() { st.Close(); cleanup(t, loc, opts) })
					crashtest.FailAt(t, step)
					require.ErrorIs(t, crashPut(ctx, st, multipart), crashpoint.ErrInjected)
					nothingLeft(t, loc, srv.Endpoint)
				})
			}
		})
	}
}

// TestPutCrashChild is the child's side of TestPutCrashPointsKill.
func TestPutCrashChild(t *testing.T) {
	if !crashtest.IsChild() {
		t.Skip("runs only as TestPutCrashPointsKill's child")
	}
	st, err := Open(context.Background(), os.Getenv("DBCTL_TEST_LOCATION"), backupstore.Options{Endpoint: os.Getenv("DBCTL_S3_TEST_ENDPOINT"), PartSize: backupstore.MinPartSize})
	require.NoError(t, err)
	require.NoError(t, crashPut(context.Background(), st, os.Getenv("DBCTL_TEST_MULTIPART") == "1"))
}

// A process killed (SIGKILL) at any step of a Put leaves no object or the
// whole one, and at most an unfinished upload, which AbortUploads (the next
// run's cleanup) removes.
func TestPutCrashPointsKill(t *testing.T) {
	if crashtest.IsChild() {
		t.Skip("child")
	}
	srv := s3test.Require(t)
	ctx := context.Background()
	for _, multipart := range []bool{false, true} {
		mp := map[bool]string{false: "0", true: "1"}[multipart]
		t.Run("multipart="+mp, func(t *testing.T) {
			loc := srv.Location(t)
			t.Cleanup(func() { cleanup(t, loc, backupstore.Options{Endpoint: srv.Endpoint}) })
			rec := crashtest.Child(t, "TestPutCrashChild", nil, time.Minute, "DBCTL_TEST_LOCATION="+loc, "DBCTL_TEST_MULTIPART="+mp)
			require.NoError(t, rec.Err, rec.Output)
			require.NotEmpty(t, rec.Steps)
			for _, step := range rec.Steps {
				t.Run(step.String(), func(t *testing.T) {
					loc := srv.Location(t)
					t.Cleanup(func() { cleanup(t, loc, backupstore.Options{Endpoint: srv.Endpoint}) })
					spec := step.Spec(crashpoint.Kill)
					res := crashtest.Child(t, "TestPutCrashChild", &spec, time.Minute, "DBCTL_TEST_LOCATION="+loc, "DBCTL_TEST_MULTIPART="+mp)
					require.True(t, res.Killed, "%v\n%s", res.Err, res.Output)
					st, err := Open(ctx, loc, backupstore.Options{Endpoint: srv.Endpoint})
					require.NoError(t, err)
					defer st.Close()
					keys := storetest.Keys(t, st, "")
					assert.True(t, len(keys) == 0 || len(keys) == 1 && keys[0] == lostKey, "%v", keys)
					n, err := st.AbortUploads(ctx, "")
					require.NoError(t, err)
					if strings.HasPrefix(step.Name, "store.upload-part") || strings.HasPrefix(step.Name, "store.complete-upload") {
						assert.Equal(t, 1, n, "the killed Put's upload is aborted")
					}
					ups, err := st.MultipartUploads(ctx)
					require.NoError(t, err)
					assert.Empty(t, ups)
					require.NoError(t, crashPut(ctx, st, multipart), "the next run succeeds")
				})
			}
		})
	}
}

// AbortUploads aborts what a dead process left and leaves alone the
// uploads a Put of this process runs.
func TestAbortUploads(t *testing.T) {
	loc, opts := testLocation(t)
	ctx := context.Background()
	st, err := Open(ctx, loc, opts)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close(); cleanup(t, loc, opts) })
	create := func(key string) string {
		out, err := st.c.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: st.c.in(), Key: aws.String(st.full(key))}, st.c.opts()...)
		require.NoError(t, err)
		return aws.ToString(out.UploadId)
	}
	create("a/left")
	create("b/left")
	mine := create("a/running")
	started(st.c.bucket, st.full("a/running"), mine)
	defer finished(st.c.bucket, st.full("a/running"), mine)

	n, err := st.AbortUploads(ctx, "a/")
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	ups, err := st.MultipartUploads(ctx)
	require.NoError(t, err)
	var left []string
	for _, u := range ups {
		left = append(left, u.Key)
	}
	assert.ElementsMatch(t, []string{"a/running", "b/left"}, left)
}

// A part refused and the abort's answer lost: the abort landed, and the
// Put fails with the part's error, having left nothing.
func TestPutAbortAnswerLost(t *testing.T) {
	ctx := context.Background()
	for _, attempts := range []int{1, 3} {
		t.Run(fmt.Sprintf("attempts=%d", attempts), func(t *testing.T) {
			st, p, loc, srv := proxied(t, attempts)
			p.AddRule(s3test.Rule{Op: "UploadPart", N: 1, Times: -1, Fault: s3test.FailBefore})
			p.AddRule(s3test.Rule{Op: "AbortMultipartUpload", N: 1, Fault: s3test.LoseAnswer})
			err := crashPut(ctx, st, true)
			require.Error(t, err)
			assert.NotContains(t, err.Error(), "abort multipart upload")
			if attempts == 1 {
				assert.Equal(t, 1, p.Count("AbortMultipartUpload"), "the abort's answer was lost: no retry")
			}
			nothingLeft(t, loc, srv.Endpoint)
		})
	}
}
