package main

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/dbctl/dbctl/dbctltest"
)

// A server's refusal exits with code 1 and no usage line (issue 18: it was
// 2 with "Run 'dbctl --help' for usage.", the code and text of a usage
// error); only what dbctl refuses before sending is 2. Against the
// embedded servers, or unchanged against real ones when
// DBCTL_MANTICORE_DSN / DBCTL_MATRIXONE_DSN are set: each refusal is of a
// name no server has (random) and changes nothing.
func TestIntegrationServerRefusalExitCode(t *testing.T) {
	mt := os.Getenv("DBCTL_MANTICORE_DSN")
	if mt == "" {
		mt = dbctltest.NewManticore(t).DSN()
	}
	mo := os.Getenv("DBCTL_MATRIXONE_DSN")
	if mo == "" {
		mo = dbctltest.NewMatrixOne(t).DSN()
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	missing := "dbctl_nope_" + hex.EncodeToString(b)
	const usageLine = "Run 'dbctl --help' for usage."
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		// manticore.jsonl: "SHOW TABLE gold_nope STATUS", 1064
		{"manticore: status of a missing table", []string{"--dsn", mt, "manticore", "status", missing}, 1, "SHOW TABLE STATUS requires an existing table"},
		// manticore.jsonl: "FLUSH RAMCHUNK gold_nope", 1064
		{"manticore: flush of a missing table", []string{"--dsn", mt, "manticore", "flush", "ramchunk", missing}, 1, "FLUSH RAMCHUNK requires an existing RT table"},
		// matrixone.jsonl: "select mo_ctl('dn', 'flush', 'nodb.t')", errno 0 ExpectedEOB
		{"matrixone: flush of a missing database", []string{"--dsn", mo, "matrixone", "flush", missing + ".t"}, 1, "ExpectedEOB"},
		// matrixone.jsonl: "select mo_ctl('dn', 'flush', 'a.b.c')", 20101
		{"matrixone: an argument the server refuses", []string{"--dsn", mo, "matrixone", "exec", "dn", "flush", "a.b.c"}, 1, "handleFlush: invalid account id"},
		// refused by dbctl before anything is sent
		{"manticore: a name dbctl refuses", []string{"--dsn", mt, "manticore", "status", "a-b"}, 2, "a-b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := dbctlRun(t, tc.args...)
			assert.Equal(t, tc.code, r.code, "stderr: %s", r.stderr)
			assert.Contains(t, r.stderr, tc.msg)
			assert.Equal(t, tc.code == 2, strings.Contains(r.stderr, usageLine), "usage line: %s", r.stderr)
		})
	}
}
