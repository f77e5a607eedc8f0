package s3store

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/dbctl/dbctl/backupstore"
)

// S3 answers to kinds: the store in trouble (5xx, throttling) is
// ErrUnavailable, which callers must not take for a bad object.
func TestCodeKind(t *testing.T) {
	for _, tc := range []struct {
		code   string
		status int
		want   error
	}{
		{"NoSuchKey", 404, backupstore.ErrNotFound},
		{"", 404, backupstore.ErrNotFound},
		{"PreconditionFailed", 412, backupstore.ErrExists},
		{"AccessDenied", 403, backupstore.ErrAccessDenied},
		{"BadDigest", 400, backupstore.ErrCorrupt},
		{"InternalError", 500, backupstore.ErrUnavailable},
		{"ServiceUnavailable", 503, backupstore.ErrUnavailable},
		{"SlowDown", 503, backupstore.ErrUnavailable},
		{"", 502, backupstore.ErrUnavailable},
		{"", 429, backupstore.ErrUnavailable},
		{"InvalidArgument", 400, nil},
	} {
		assert.Equal(t, tc.want, codeKind(tc.code, tc.status), "%s %d", tc.code, tc.status)
	}
}
