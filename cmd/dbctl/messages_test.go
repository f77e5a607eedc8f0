package main

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// Messages are printed as they are: nothing is masked, because no message
// holds the DSN (issue 9 F). Masking the password's text had turned
// "db111.t111" into "db*****.t*****" for password 111 and "127.0.0.1" into
// "*****27.0.0.*****" for password 1.
func TestMessagesAreNotMangledAndHoldNoPassword(t *testing.T) {
	s := newServers(t)
	moArgs := s.x("flush", "db111.t111")
	if dsn := os.Getenv("DBCTL_MATRIXONE_DSN"); dsn != "" {
		// against a real MatrixOne (root:111 on a fresh server)
		moArgs = []string{"--dsn", dsn, "matrixone", "flush", "db111.t111"}
	}
	tests := []struct {
		name     string
		args     []string
		code     int
		want     string
		password string
	}{
		{"names that contain the password (root:111)", moArgs, 1, "db111.t111", ""},
		{"an address that contains the password", []string{"--dsn", "root:1@tcp(127.0.0.1:1)/", "matrixone", "ping"}, 1, "127.0.0.1:1", ""},
		{"a password with @", []string{"--dsn", "root:p@ss@tcp(127.0.0.1:1)/", "matrixone", "ping"}, 1, "127.0.0.1:1", "p@ss"},
		{"a DSN without @: the parser's message would quote it", []string{"--dsn", "root:s3cr3t/db", "matrixone", "ping"}, 2, "malformed DSN", "s3cr3t"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := dbctlRun(t, tc.args...)
			assert.Equal(t, tc.code, r.code, "stdout %s stderr %s", r.stdout, r.stderr)
			assert.Contains(t, r.stderr, tc.want)
			assert.NotContains(t, r.stderr, "*****")
			if tc.password != "" {
				assert.NotContains(t, r.stderr+r.stdout, tc.password)
			}
			assert.True(t, strings.HasPrefix(r.stderr, "dbctl: "), r.stderr)
		})
	}
}
