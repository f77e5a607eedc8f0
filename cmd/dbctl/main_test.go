package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dbctl/dbctl/dbctltest"
	"github.com/dbctl/dbctl/internal/shapecheck"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The CLI is tested as users run it: the binary is built once and run as a
// process against embedded servers started by the test.

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "dbctl-cli-test-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "dbctl")
	// The freeze journal of the dbctl processes the tests run (its
	// default folder) is one of this run, not the user's.
	if err := os.Setenv("XDG_STATE_HOME", filepath.Join(dir, "state")); err != nil {
		panic(err)
	}
	// Built with the crash points on (internal/crashpoint): without
	// DBCTL_CRASHPOINT in its environment it behaves as a release build.
	build := exec.Command("go", "build", "-tags", "dbctl_crashpoints", "-o", binary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		panic("build dbctl: " + err.Error())
	}
	// The statement-coverage check (internal/shapecheck) covers the
	// embedded servers of this process and those --embedded starts in the
	// dbctl processes the tests run.
	code := shapecheck.Run(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

func dbctlRun(t *testing.T, args ...string) result {
	t.Helper()
	return dbctlRunEnv(t, nil, args...)
}

// dbctlRunEnv is dbctlRun with more environment; a process killed by a
// signal has code -1.
func dbctlRunEnv(t *testing.T, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(append(os.Environ(), "DBCTL_DSN="), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run dbctl %v: %v", args, err)
	}
	return result{code, out.String(), errb.String()}
}

func jsonOf(t *testing.T, r result) map[string]any {
	t.Helper()
	var doc map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &doc), "stdout is one JSON document: %s", r.stdout)
	return doc
}

// commandCase is one command run twice: for people (text) and with --json.
type commandCase struct {
	name  string
	args  []string
	text  []string // substrings of the text output
	check func(t *testing.T, doc map[string]any)
}

func runCommandCases(t *testing.T, cases []commandCase) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := dbctlRun(t, tc.args...)
			require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
			for _, want := range tc.text {
				assert.Contains(t, r.stdout, want)
			}
			r = dbctlRun(t, append([]string{"--json"}, tc.args...)...)
			require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
			doc := jsonOf(t, r)
			if tc.check != nil {
				tc.check(t, doc)
			}
		})
	}
}

type servers struct {
	mt *dbctltest.Manticore
	mo *dbctltest.MatrixOne
}

func newServers(t *testing.T) servers {
	s := servers{mt: dbctltest.NewManticore(t), mo: dbctltest.NewMatrixOne(t)}
	require.NoError(t, seed(s.mt.DSN(), manticoreDemo))
	require.NoError(t, seed(s.mo.DSN(), matrixOneDemo))
	return s
}

func (s servers) m(args ...string) []string {
	return append([]string{"--dsn", s.mt.DSN(), "manticore"}, args...)
}

func (s servers) x(args ...string) []string {
	return append([]string{"--dsn", s.mo.DSN(), "matrixone"}, args...)
}

func TestManticoreCommands(t *testing.T) {
	s := newServers(t)
	dir := t.TempDir()
	bk := filepath.Join(dir, "bk")
	runCommandCases(t, []commandCase{
		{"freeze", s.m("freeze", "products"), []string{"TABLE", "products.meta", "products.0.spd"}, func(t *testing.T, doc map[string]any) {
			assert.Equal(t, []any{"products"}, doc["frozen"])
			assert.NotEmpty(t, doc["files"])
		}},
		{"locks", s.m("locks"), []string{"TYPE", "NAME", "products", "freeze"}, func(t *testing.T, doc map[string]any) {
			locks := doc["locks"].([]any)
			require.Len(t, locks, 1)
			l := locks[0].(map[string]any)
			assert.Equal(t, "products", l["name"])
			assert.Equal(t, float64(2), l["count"], "text and JSON runs froze twice")
		}},
		{"status", s.m("status", "products"), []string{"locked", "indexed_documents"}, func(t *testing.T, doc map[string]any) {
			assert.Equal(t, "products", doc["table"])
			assert.Equal(t, "4", doc["status"].(map[string]any)["indexed_documents"])
		}},
		{"unfreeze", s.m("unfreeze", "products"), []string{"UNFROZEN", "products"}, func(t *testing.T, doc map[string]any) {
			assert.Equal(t, []any{"products"}, doc["unfrozen"])
		}},
		{"flush attributes", s.m("flush", "attributes"), []string{"tag"}, func(t *testing.T, doc map[string]any) {
			assert.Contains(t, doc, "tag")
		}},
		{"flush hostnames", s.m("flush", "hostnames"), []string{"rows_affected"}, func(t *testing.T, doc map[string]any) {
			assert.Equal(t, float64(0), doc["rows_affected"])
		}},
		{"flush ramchunk", s.m("flush", "ramchunk", "products"), []string{"flushed_ramchunk"}, nil},
		{"flush table", s.m("flush", "table", "products"), []string{"flushed_table"}, nil},
		{"optimize", s.m("optimize", "products", "--cutoff", "1", "--sync"), []string{"done"}, func(t *testing.T, doc map[string]any) {
			assert.Equal(t, true, doc["sync"])
			assert.Equal(t, float64(1), doc["cutoff"])
		}},
	})
	// freeze and unfreeze twice each (text, JSON): the counter is back to 0
	n, _ := s.mt.Locked("products")
	assert.Equal(t, 0, n)

	// backup, verify, import, restore
	r := dbctlRun(t, s.m("backup", "--dir", bk, "--tables", "products,everything")...)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "backed up")
	assert.Contains(t, r.stdout, "skipped: distributed")
	assert.Contains(t, r.stderr, "backup", "plain progress lines when stderr is not a terminal")
	r = dbctlRun(t, append([]string{"--json", "--quiet"}, s.m("backup", "--dir", bk+"z", "--compress", "--compress-after-unfreeze")...)...)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Empty(t, r.stderr, "--quiet: no progress")
	doc := jsonOf(t, r)
	man := doc["manifest"].(map[string]any)
	assert.Equal(t, "zstd", man["compression"])
	assert.Equal(t, "default", man["compression_level"], "--compress alone")
	assert.Greater(t, man["freeze_window_ns"], float64(0))
	r = dbctlRun(t, append([]string{"--json", "--quiet"}, s.m("backup", "--dir", bk+"z7", "--compress=7", "--tables", "products")...)...)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "better", jsonOf(t, r)["manifest"].(map[string]any)["compression_level"], "zstd 7 is the better level")
	assert.Equal(t, "staged", man["staging"], "--compress-after-unfreeze alone still stages")

	// incremental on the first backup, staged in --staging-dir; the
	// base removed afterwards breaks nothing
	r = dbctlRun(t, append([]string{"--json", "--quiet"}, s.m("backup", "--dir", bk+"-inc", "--base", bk, "--tables", "products",
		"--staging-dir", t.TempDir())...)...)
	require.Equal(t, 0, r.code, r.stderr)
	man = jsonOf(t, r)["manifest"].(map[string]any)
	assert.Equal(t, "staged", man["staging"])
	assert.Equal(t, bk, man["base"].(map[string]any)["location"])
	var linked int
	for _, f := range man["files"].([]any) {
		if f.(map[string]any)["from_base"] == true {
			linked++
		}
	}
	assert.Positive(t, linked)
	r = dbctlRun(t, s.m("backup", "--dir", bk+"-inc2", "--base", bk+"-inc", "--tables", "products")...)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "(staged)")
	assert.Contains(t, r.stdout, "incremental on "+bk+"-inc: ")
	require.NoError(t, os.RemoveAll(bk+"-inc"))
	r = dbctlRun(t, s.m("verify", bk+"-inc2")...)
	require.Equal(t, 0, r.code, r.stderr)
	r = dbctlRun(t, s.m("backup", "--dir", bk+"-nostage", "--no-staging", "--tables", "products")...)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "(copied-inside-freeze)")
	r = dbctlRun(t, s.m("backup", "--dir", bk+"-nosync", "--no-sync", "--tables", "products")...)
	require.Equal(t, 0, r.code, r.stderr)
	r = dbctlRun(t, s.m("verify", bk+"-nosync")...)
	require.Equal(t, 0, r.code, r.stderr)

	r = dbctlRun(t, s.m("verify", bk)...)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "every sha256 matches")
	r = dbctlRun(t, "--json", "manticore", "verify", bk+"z")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, true, jsonOf(t, r)["ok"])

	r = dbctlRun(t, s.m("import", bk+"z", "products", "--as", "products_copy")...)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "imported products as products_copy")
	restored := filepath.Join(dir, "restored")
	r = dbctlRun(t, "--json", "manticore", "restore", bk, "--data-dir", restored)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, restored, jsonOf(t, r)["data_dir"])

	// a corrupt backup: verify names the file, exit 1
	require.NoError(t, os.Truncate(filepath.Join(bk, "data", "products", "products.meta"), 1))
	r = dbctlRun(t, "manticore", "verify", bk)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stdout, "data/products/products.meta")
	assert.Contains(t, r.stdout, "truncated")
	r = dbctlRun(t, "--json", "manticore", "verify", bk)
	assert.Equal(t, 1, r.code)
	doc = jsonOf(t, r)
	assert.Equal(t, false, doc["ok"])
	assert.Len(t, doc["bad"], 1)
}

func TestMatrixOneCommands(t *testing.T) {
	s := newServers(t)
	runCommandCases(t, []commandCase{
		{"whoami", s.x("whoami"), []string{"sys", "root", "moadmin", "yes"}, func(t *testing.T, doc map[string]any) {
			assert.Equal(t, true, doc["mo_ctl_allowed"])
		}},
		{"flush", s.x("flush", "Shop.Orders"), []string{"Flush", "OK"}, func(t *testing.T, doc map[string]any) {
			assert.Equal(t, "Flush", doc["method"])
			assert.Equal(t, []any{"OK"}, doc["return_strs"])
		}},
		{"flush by id", s.x("flush", "--table-id", "999999"), []string{"flush table id 999999", "OK"}, nil},
		{"flush account table", s.x("flush", "shop.orders", "--account-id", "0"), []string{"account 0", "OK"}, nil},
		{"checkpoint", s.x("checkpoint"), []string{"Checkpoint", "OK"}, nil},
		{"global checkpoint with timeout", s.x("checkpoint", "--global", "--timeout", "30s"), []string{"GlobalCheckpoint"}, func(t *testing.T, doc map[string]any) {
			assert.Equal(t, "GlobalCheckpoint", doc["method"])
		}},
		{"ping", s.x("ping"), []string{"127.0.0.1:22000"}, func(t *testing.T, doc map[string]any) {
			assert.Len(t, doc["shards"], 1)
		}},
		{"exec", s.x("exec", "dn", "inspect", ""), []string{"msg: Usage"}, func(t *testing.T, doc map[string]any) {
			assert.Contains(t, doc["raw"], "msg:")
			assert.NotContains(t, doc, "result")
		}},
	})
}

func TestExitCodesAndErrors(t *testing.T) {
	s := newServers(t)
	require.NoError(t, s.mo.CreateAccount("acc1", "admin", "s3cret-pw"))
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no server", []string{"manticore", "locks"}, 2, "no server: pass --dsn"},
		{"unknown command", []string{"manticore", "nope"}, 2, "unknown command"},
		{"unknown flag", []string{"--nope", "version"}, 2, "unknown flag"},
		{"missing argument", s.m("freeze"), 2, "manticore freeze needs at least one TABLE"},
		{"invalid table name", s.m("status", "a-b"), 2, "invalid identifier"},
		{"backup without dir", s.m("backup"), 2, "backup needs --dir"},
		{"compress after unfreeze without compress", s.m("backup", "--dir", "x", "--compress-after-unfreeze"), 2, "needs --compress"},
		{"unknown compression level", s.m("backup", "--dir", "x", "--compress=turbo"), 2, `compression level "turbo"`},
		{"base that is no backup", s.m("backup", "--dir", "x", "--base", "/nonexistent-dbctl-base"), 1, "invalid backup"},
		{"flush not db.table", s.x("flush", "nodot"), 2, "is not DB.TABLE"},
		{"server error: missing table", s.m("status", "nope"), 1, "SHOW TABLE STATUS requires an existing table"},
		{"server error: freeze of a missing table", s.m("freeze", "products", "nope"), 1, "not frozen (missing, plain or distributed): nope"},
		{"server error: errno 0", s.x("flush", "nodb.t"), 1, "ExpectedEOB"},
		{"not sys", []string{"--dsn", s.mo.DSNFor("acc1", "admin", "s3cret-pw"), "matrixone", "checkpoint"}, 1, `account "acc1"`},
		{"wrong password is not echoed", []string{"--dsn", s.mo.DSNFor("acc1", "admin", "wrong-s3cret"), "matrixone", "ping"}, 1, "check password failed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := dbctlRun(t, tc.args...)
			assert.Equal(t, tc.code, r.code, "stdout %s stderr %s", r.stdout, r.stderr)
			assert.Contains(t, r.stderr, tc.msg)
			assert.True(t, strings.HasPrefix(r.stderr, "dbctl: "), r.stderr)
			assert.NotContains(t, r.stderr+r.stdout, "s3cret", "passwords never appear")
			r = dbctlRun(t, append([]string{"--json"}, tc.args...)...)
			assert.Equal(t, tc.code, r.code)
			doc := jsonOf(t, r)
			e := doc["error"].(map[string]any)
			assert.Contains(t, e["message"], tc.msg)
			assert.Equal(t, float64(tc.code), e["exit_code"])
			assert.NotContains(t, r.stdout, "s3cret")
		})
	}
	n, _ := s.mt.Locked("products")
	assert.Equal(t, 0, n, "the failed freeze released products")
}

func TestDemoAndVersion(t *testing.T) {
	r := dbctlRun(t, "demo")
	require.Equal(t, 0, r.code, "stdout %s\nstderr %s", r.stdout, r.stderr)
	for _, want := range []string{"$ dbctl manticore backup", "every sha256 matches", "$ dbctl matrixone checkpoint", "ExpectedEOB"} {
		assert.Contains(t, r.stdout, want)
	}
	assert.NotContains(t, r.stdout, "unexpected exit code")
	r = dbctlRun(t, "--json", "version")
	require.Equal(t, 0, r.code)
	assert.Contains(t, jsonOf(t, r), "version")
}

func TestEmbeddedFlag(t *testing.T) {
	r := dbctlRun(t, "--embedded", "manticore", "locks")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stderr, "embedded Manticore")
	r = dbctlRun(t, "--embedded", "--json", "matrixone", "flush", "shop.orders")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "Flush", jsonOf(t, r)["method"])
	assert.Empty(t, r.stderr, "--json: nothing for people on stderr")
}

// the demo data is valid for both servers
func TestSeed(t *testing.T) {
	s := newServers(t)
	db, err := sql.Open("mysql", s.mt.DSN())
	require.NoError(t, err)
	defer db.Close()
	var n int
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM products").Scan(&n))
	assert.Equal(t, 4, n)
}
