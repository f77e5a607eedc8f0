package backup

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dbctl/dbctl/backupstore"
	"github.com/dbctl/dbctl/internal/s3test"
)

// A store that answers 503 ServiceUnavailable (or 500, SlowDown) to every
// object GET after its retries is a store in trouble, not a damaged
// backup: Import, Verify and Restore fail with backupstore.ErrUnavailable,
// never ErrCorrupt (an operator, or a script, would discard a good backup
// on ErrCorrupt), and change nothing.
func TestS3StoreUnavailableIsNotCorruption(t *testing.T) {
	srv := s3Env(t)
	f := newBackupFixture(t)
	ctx := context.Background()
	for _, compress := range []bool{false, true} {
		loc := srv.Location(t)
		_, err := Create(ctx, f.c.Manticore(), loc, CreateOptions{Compress: compress, Tables: []string{"a"}})
		require.NoError(t, err)
		for _, answer := range []struct {
			status int
			code   string
		}{{http.StatusServiceUnavailable, "ServiceUnavailable"}, {http.StatusInternalServerError, "InternalError"}, {http.StatusServiceUnavailable, "SlowDown"}} {
			p := s3test.NewFaultProxy(t, srv.Endpoint)
			p.SetFail(func(r *http.Request) (int, string) {
				if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/data/") {
					return answer.status, answer.code
				}
				return 0, ""
			})
			so := backupstore.Options{Endpoint: p.Endpoint, MaxAttempts: 1}
			err = Import(ctx, f.c.Manticore(), loc, "a", ImportOptions{As: "a_imp", Store: so})
			assert.ErrorIs(t, err, backupstore.ErrUnavailable, "import, %s", answer.code)
			assert.NotErrorIs(t, err, ErrCorrupt, "import, %s", answer.code)
			_, err = Verify(ctx, loc, VerifyOptions{Store: so})
			assert.ErrorIs(t, err, backupstore.ErrUnavailable, "verify, %s", answer.code)
			assert.NotErrorIs(t, err, ErrCorrupt, "verify, %s", answer.code)
			err = Restore(ctx, loc, t.TempDir(), RestoreOptions{Store: so})
			assert.ErrorIs(t, err, backupstore.ErrUnavailable, "restore, %s", answer.code)
			assert.NotErrorIs(t, err, ErrCorrupt, "restore, %s", answer.code)
		}
		_, err = Verify(ctx, loc, VerifyOptions{})
		require.NoError(t, err, "the backup is whole")
	}
	tables, err := f.c.Manticore().Tables(ctx)
	require.NoError(t, err)
	for _, tb := range tables {
		assert.NotEqual(t, "a_imp", tb.Name, "nothing imported")
	}
}
