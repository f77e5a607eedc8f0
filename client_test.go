package dbctl

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Open never puts the DSN's password in its error, and does not mangle the
// parser's message when it holds none (issue 9 F).
func TestOpenErrorsHoldNoPassword(t *testing.T) {
	tests := []struct {
		dsn, password, want string
	}{
		{"root:s3cr3t/db", "s3cr3t", "malformed DSN (the parser's message is withheld"},
		{"root:s3cr3t@127.0.0.1:9306/", "s3cr3t", "default addr for network '127.0.0.1:9306' unknown"},
		{"root:s3cr3t@tcp(127.0.0.1:9306/", "s3cr3t", "network address not terminated"},
		{"root:p@ss@tcp(h:1)/?parseTime=maybe", "p@ss", "invalid bool value: maybe"},
		{"root:1@tcp(127.0.0.1:1)", "", "missing the slash"},
	}
	for _, tc := range tests {
		t.Run(tc.dsn, func(t *testing.T) {
			_, err := Open(tc.dsn)
			require.ErrorIs(t, err, ErrInvalidArgument)
			assert.Contains(t, err.Error(), tc.want)
			if tc.password != "" {
				assert.NotContains(t, err.Error(), tc.password)
			}
		})
	}
}
