package main

import (
	"bytes"
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/dbctl/dbctl/dbctltest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The recovery commands, run as a process against the embedded MatrixOne
// (stdin is /dev/null there: not a terminal), and the confirmation prompt
// in process.

func recoveryServer(t *testing.T) (*dbctltest.MatrixOne, *sql.DB) {
	s := dbctltest.NewMatrixOne(t)
	require.NoError(t, seed(s.DSN(), []string{"create database shop", "create table shop.orders (id int, item varchar(20))",
		"insert into shop.orders values (1,'mug'),(2,'tea')"}))
	db, err := sql.Open("mysql", s.DSN())
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return s, db
}

func orders(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query("select * from shop.orders order by id")
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, item string
		require.NoError(t, rows.Scan(&id, &item))
		out = append(out, id+"="+item)
	}
	return out
}

func mo(s *dbctltest.MatrixOne, args ...string) []string {
	return append([]string{"--dsn", s.DSN(), "matrixone"}, args...)
}

func moJSON(s *dbctltest.MatrixOne, args ...string) []string {
	return append([]string{"--json", "--dsn", s.DSN(), "matrixone"}, args...)
}

func TestSnapshotCommands(t *testing.T) {
	s, db := recoveryServer(t)

	r := dbctlRun(t, mo(s, "snapshot", "create", "Before", "--database", "shop")...)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "before")
	assert.Contains(t, r.stdout, "database")

	r = dbctlRun(t, moJSON(s, "snapshot", "create", "acct")...)
	require.Equal(t, 0, r.code, r.stderr)
	sn := jsonOf(t, r)["snapshot"].(map[string]any)
	assert.Equal(t, "acct", sn["name"])
	assert.Equal(t, "account", sn["level"])
	assert.Equal(t, "sys", sn["account"])
	ts, err := time.Parse(time.RFC3339Nano, sn["timestamp"].(string))
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now(), ts, time.Minute)

	r = dbctlRun(t, mo(s, "snapshot", "list")...)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "NAME")
	assert.Contains(t, r.stdout, "before")
	r = dbctlRun(t, moJSON(s, "snapshot", "list")...)
	list := jsonOf(t, r)["snapshots"].([]any)
	require.Len(t, list, 2)
	assert.Equal(t, "acct", list[0].(map[string]any)["name"], "newest first")

	_, err = db.Exec("delete from shop.orders where id = 1")
	require.NoError(t, err)
	// no terminal, no --yes: refused, nothing restored
	r = dbctlRun(t, mo(s, "snapshot", "restore", "before", "--database", "shop")...)
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "replaces the data of database shop and stdin is not a terminal to confirm it: pass --yes")
	assert.Equal(t, []string{"2=tea"}, orders(t, db))
	// ... and before connecting: the same against an address nothing listens on
	r = dbctlRun(t, "--dsn", unreachableDSN, "matrixone", "snapshot", "restore", "before", "--database", "shop")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "replaces the data of database shop and stdin is not a terminal to confirm it: pass --yes")
	// no target: refused
	r = dbctlRun(t, mo(s, "snapshot", "restore", "before", "--yes")...)
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "a restore needs its target")
	// TO ACCOUNT with a database: refused by the SDK
	r = dbctlRun(t, mo(s, "snapshot", "restore", "before", "--database", "shop", "--to-account", "acc1", "--yes")...)
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "the server ignores TO ACCOUNT")

	r = dbctlRun(t, mo(s, "snapshot", "restore", "before", "--database", "shop", "--yes")...)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "Restored snapshot before -> database shop")
	assert.Equal(t, []string{"1=mug", "2=tea"}, orders(t, db))

	r = dbctlRun(t, moJSON(s, "snapshot", "restore", "before", "--database", "shop", "--table", "orders", "-y")...)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, map[string]any{"kind": "snapshot", "name": "before", "target": "table shop.orders"}, jsonOf(t, r)["restored"])

	r = dbctlRun(t, moJSON(s, "snapshot", "drop", "BEFORE")...)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, map[string]any{"kind": "snapshot", "name": "before"}, jsonOf(t, r)["dropped"])
	r = dbctlRun(t, moJSON(s, "snapshot", "drop", "before")...)
	assert.Equal(t, 1, r.code)
	e := jsonOf(t, r)["error"].(map[string]any)
	assert.Equal(t, float64(20101), e["server_code"])
	assert.Contains(t, e["message"], "snapshot not found")

	r = dbctlRun(t, mo(s, "snapshot", "create", strings.Repeat("x", 65))...)
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "invalid identifier")
}

func TestPITRCommands(t *testing.T) {
	s, db := recoveryServer(t)

	r := dbctlRun(t, moJSON(s, "pitr", "create", "Shop_P", "--database", "shop", "--range", "7d")...)
	require.Equal(t, 0, r.code, r.stderr)
	p := jsonOf(t, r)["pitr"].(map[string]any)
	assert.Equal(t, "shop_p", p["name"])
	assert.Equal(t, float64(7), p["range_n"])
	assert.Equal(t, "d", p["range_unit"])

	_, err := db.Exec("insert into shop.orders values (3,'jam')")
	require.NoError(t, err)
	at := time.Now().UTC().Format(time.RFC3339Nano)
	_, err = db.Exec("delete from shop.orders")
	require.NoError(t, err)

	r = dbctlRun(t, mo(s, "pitr", "restore", "shop_p", "--at", at, "--database", "shop")...)
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "pass --yes")
	assert.Empty(t, orders(t, db))

	r = dbctlRun(t, mo(s, "pitr", "restore", "shop_p", "--at", "yesterday", "--database", "shop", "--yes")...)
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "--at \"yesterday\"")

	r = dbctlRun(t, mo(s, "pitr", "restore", "shop_p", "--at", at, "--database", "shop", "--yes")...)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "Restored pitr shop_p -> database shop at ")
	assert.Equal(t, []string{"1=mug", "2=tea", "3=jam"}, orders(t, db))

	r = dbctlRun(t, mo(s, "pitr", "list")...)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "shop_p")
	assert.Contains(t, r.stdout, "7 d")

	r = dbctlRun(t, mo(s, "pitr", "alter", "shop_p", "--range", "2 mo")...)
	require.Equal(t, 0, r.code, r.stderr)
	r = dbctlRun(t, moJSON(s, "pitr", "list")...)
	list := jsonOf(t, r)["pitrs"].([]any)
	require.Len(t, list, 1)
	assert.Equal(t, "mo", list[0].(map[string]any)["range_unit"])
	r = dbctlRun(t, mo(s, "pitr", "alter", "shop_p", "--range", "0h")...)
	assert.Equal(t, 2, r.code)

	r = dbctlRun(t, moJSON(s, "recovery-window", "--database", "shop")...)
	require.Equal(t, 0, r.code, r.stderr)
	ws := jsonOf(t, r)["windows"].([]any)
	require.Len(t, ws, 1)
	w := ws[0].(map[string]any)
	assert.Equal(t, "orders", w["table"])
	assert.Equal(t, "shop_p", w["pitrs"].([]any)[0].(map[string]any)["name"])
	r = dbctlRun(t, mo(s, "recovery-window")...)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "pitr")

	r = dbctlRun(t, mo(s, "pitr", "drop", "sys_mo_catalog_pitr")...)
	assert.Equal(t, 2, r.code)
	assert.True(t, s.HasReservedPITR())
	r = dbctlRun(t, mo(s, "pitr", "drop", "shop_p")...)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "Dropped pitr shop_p")
}

// The prompt, in process: a terminal answering "yes" restores, anything
// else sends nothing.
func TestRestoreConfirmationOnATerminal(t *testing.T) {
	s, db := recoveryServer(t)
	oldIn, oldTerm := stdin, stdinIsTerminal
	t.Cleanup(func() { stdin, stdinIsTerminal = oldIn, oldTerm })
	stdinIsTerminal = func() bool { return true }

	var out, errb bytes.Buffer
	require.Equal(t, 0, run(context.Background(), mo(s, "snapshot", "create", "snap", "--database", "shop"), &out, &errb), errb.String())
	_, err := db.Exec("delete from shop.orders")
	require.NoError(t, err)

	// "no" to a restore that would succeed (the "yes" below shows it does)
	stdin = strings.NewReader("no\n")
	out.Reset()
	errb.Reset()
	assert.Equal(t, 1, run(context.Background(), mo(s, "snapshot", "restore", "snap", "--database", "shop"), &out, &errb))
	assert.Contains(t, errb.String(), "replaces the data of database shop. Type yes to go on:")
	assert.Contains(t, errb.String(), "not confirmed, nothing was sent")
	assert.Empty(t, orders(t, db))
	assert.Empty(t, out.String())

	// the cluster prompt says what a cluster restore replaces (answered no)
	stdin = strings.NewReader("\n")
	errb.Reset()
	assert.Equal(t, 1, run(context.Background(), mo(s, "snapshot", "restore", "snap", "--cluster"), &out, &errb))
	assert.Contains(t, errb.String(), "replaces the data of EVERY ACCOUNT of the cluster. Type yes to go on:")
	assert.Empty(t, orders(t, db))

	stdin = strings.NewReader("yes\n")
	errb.Reset()
	assert.Equal(t, 0, run(context.Background(), mo(s, "snapshot", "restore", "snap", "--database", "shop"), &out, &errb), errb.String())
	assert.Contains(t, errb.String(), "replaces the data of database shop. Type yes to go on:")
	assert.Equal(t, []string{"1=mug", "2=tea"}, orders(t, db))
}

// unreachableDSN is an address nothing listens on: a command that gets
// past its checks fails to connect (exit 1) there.
const unreachableDSN = "root:x@tcp(127.0.0.1:1)/"

// A restore of an account snapshot into another account names the account
// that is replaced (acc2) in the refusal, the prompt and the result line.
func TestSnapshotRestoreToAccountNamesTheReplacedAccount(t *testing.T) {
	s := dbctltest.NewMatrixOne(t)
	require.NoError(t, s.CreateAccount("acc1", "admin", "111"))
	require.NoError(t, s.CreateAccount("acc2", "admin", "111"))
	require.NoError(t, seed(s.DSNFor("acc1", "admin", "111"), []string{"create database d1", "create table d1.t (id int)", "insert into d1.t values (7)"}))
	r := dbctlRun(t, mo(s, "snapshot", "create", "snap1", "--account", "acc1")...)
	require.Equal(t, 0, r.code, r.stderr)

	restore := []string{"snapshot", "restore", "snap1", "--account", "acc1", "--to-account", "acc2"}
	r = dbctlRun(t, mo(s, restore...)...)
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "snapshot restore snap1 into account acc2 (snapshot of account acc1) replaces the data of account acc2 and stdin is not a terminal")
	assert.NotContains(t, r.stderr, "replaces the data of account acc1")

	oldIn, oldTerm := stdin, stdinIsTerminal
	t.Cleanup(func() { stdin, stdinIsTerminal = oldIn, oldTerm })
	stdinIsTerminal = func() bool { return true }
	stdin = strings.NewReader("no\n")
	var out, errb bytes.Buffer
	assert.Equal(t, 1, run(context.Background(), mo(s, restore...), &out, &errb))
	assert.Contains(t, errb.String(), "replaces the data of account acc2. Type yes to go on:")

	r = dbctlRun(t, mo(s, append(restore, "--yes")...)...)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "Restored snapshot snap1 -> into account acc2 (snapshot of account acc1)\n", r.stdout)
	acc2, err := sql.Open("mysql", s.DSNFor("acc2", "admin", "111"))
	require.NoError(t, err)
	defer acc2.Close()
	var id int
	require.NoError(t, acc2.QueryRow("select * from d1.t order by id").Scan(&id), "acc2 holds acc1's data")
	assert.Equal(t, 7, id)

	r = dbctlRun(t, moJSON(s, append(restore, "--yes")...)...)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "into account acc2 (snapshot of account acc1)", jsonOf(t, r)["restored"].(map[string]any)["target"])
}

// A restore whose input is wrong says so, never "pass --yes": the input is
// checked before the confirmation and before connecting (the DSN is one
// nothing listens on, so a command that got that far would exit 1).
func TestRestoreValidatesBeforeConfirming(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"back-tick in a snapshot name", []string{"snapshot", "restore", "a`b", "--database", "shop"}, `snapshot name "a` + "`" + `b" contains a back-tick`},
		{"snapshot name over 64", []string{"snapshot", "restore", strings.Repeat("s", 65), "--database", "shop"}, "the server keeps only 64"},
		{"to-account with a database", []string{"snapshot", "restore", "snap1", "--database", "shop", "--to-account", "acc2"}, "the server ignores TO ACCOUNT"},
		{"back-tick in --to-account", []string{"snapshot", "restore", "snap1", "--account", "acc1", "--to-account", "a`"}, "account name"},
		{"back-tick in a database", []string{"snapshot", "restore", "snap1", "--database", "sh`op"}, "database name"},
		{"restore time past 2262", []string{"pitr", "restore", "p1", "--at", "3000-01-01T00:00:00Z", "--database", "shop"}, "outside what MatrixOne can represent"},
		{"reserved PITR name", []string{"pitr", "restore", "sys_mo_catalog_pitr", "--at", "-1m", "--cluster"}, "the server's internal PITR"},
		{"back-tick in a PITR name", []string{"pitr", "restore", "p`1", "--at", "-1m", "--database", "shop"}, "contains a back-tick"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := dbctlRun(t, append([]string{"--dsn", unreachableDSN, "matrixone"}, tc.args...)...)
			assert.Equal(t, 2, r.code, r.stderr)
			assert.Contains(t, r.stderr, tc.want)
			assert.NotContains(t, r.stderr, "pass --yes")
		})
	}
	// the same input that is valid gets as far as the confirmation
	r := dbctlRun(t, "--dsn", unreachableDSN, "matrixone", "pitr", "restore", "p1", "--at", "2026-01-01T00:00:00Z", "--database", "shop")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "pass --yes")
	// and, confirmed, to connecting
	r = dbctlRun(t, "--dsn", unreachableDSN, "matrixone", "pitr", "restore", "p1", "--at", "2026-01-01T00:00:00Z", "--database", "shop", "--yes")
	assert.Equal(t, 1, r.code, r.stderr)
}

func TestParseAt(t *testing.T) {
	now := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	cases := map[string]time.Time{
		"2026-11-30T23:38:40.5Z":    time.Date(2026, 11, 30, 23, 38, 40, 500000000, time.UTC),
		"2026-12-01T07:38:40+08:00": time.Date(2026, 11, 30, 23, 38, 40, 0, time.UTC),
		"2026-11-30 23:38:40":       time.Date(2026, 11, 30, 23, 38, 40, 0, time.UTC),
		"-15m":                      now.Add(-15 * time.Minute),
	}
	for in, want := range cases {
		got, err := parseAt(in, now)
		require.NoError(t, err, in)
		assert.True(t, want.Equal(got), "%s: %s", in, got)
	}
	for _, in := range []string{"", "yesterday", "15m", "2026-11-30"} {
		_, err := parseAt(in, now)
		assert.Error(t, err, in)
	}
}

func TestDemoRunsTheRecoveryCommands(t *testing.T) {
	r := dbctlRun(t, "demo")
	require.Equal(t, 0, r.code, "stdout %s\nstderr %s", r.stdout, r.stderr)
	for _, want := range []string{"$ dbctl matrixone snapshot restore demo_snap --database shop --yes", "Restored snapshot demo_snap -> database shop",
		"Restored pitr demo_pitr -> table shop.orders at", "the server's internal PITR on mo_catalog", "Dropped snapshot demo_snap"} {
		assert.Contains(t, r.stdout, want)
	}
	assert.NotContains(t, r.stdout, "unexpected exit code")
}
