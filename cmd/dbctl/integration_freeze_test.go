//go:build unix

package main

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dbctl/dbctl/dbctltest"
	"github.com/dbctl/dbctl/internal/crashpoint"
)

// End-to-end tests of the freeze journal through the dbctl binary. They run
// against the embedded server, or unchanged against a real searchd on this
// machine when DBCTL_MANTICORE_DSN is set (the backup reads the files
// FREEZE lists): unique table names, dropped afterwards.

// freezeTarget is the server of a test: a real one, or an embedded one
// (srv) for the cases that need its faults.
type freezeTarget struct {
	dsn string
	srv *dbctltest.Manticore
	db  *sql.DB
}

func newFreezeTarget(t *testing.T) freezeTarget {
	dsn := os.Getenv("DBCTL_MANTICORE_DSN")
	var srv *dbctltest.Manticore
	if dsn == "" {
		srv = dbctltest.NewManticore(t)
		dsn = srv.DSN()
	}
	db, err := sql.Open("mysql", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return freezeTarget{dsn: dsn, srv: srv, db: db}
}

// table creates an RT table with a row in a disk chunk and one in RAM; it
// is unfrozen and dropped when the test ends.
func (f freezeTarget) table(t *testing.T) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "dbctl_cli_" + hex.EncodeToString(b)
	for _, q := range []string{"CREATE TABLE " + name + " (title text)", "INSERT INTO " + name + " (id, title) VALUES (1, 'one')",
		"FLUSH RAMCHUNK " + name, "INSERT INTO " + name + " (id, title) VALUES (2, 'two')"} {
		_, err := f.db.Exec(q)
		require.NoError(t, err, q)
	}
	t.Cleanup(func() {
		for i := 0; i < 10; i++ {
			_, _ = f.db.Exec("UNFREEZE " + name)
		}
		_, _ = f.db.Exec("DROP TABLE IF EXISTS " + name)
	})
	return name
}

func (f freezeTarget) locked(t *testing.T, table string) int {
	t.Helper()
	var k, v string
	require.NoError(t, f.db.QueryRow("SHOW TABLE "+table+" STATUS LIKE 'locked'").Scan(&k, &v))
	n, err := strconv.Atoi(v)
	require.NoError(t, err)
	return n
}

func (f freezeTarget) m(args ...string) []string {
	return append([]string{"--dsn", f.dsn, "manticore"}, args...)
}

// backupDir is a new folder for backups that a searchd running as another
// user can read too.
func backupDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "dbctl-cli-it-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o755))
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// The case: another holder freezes T once; a dbctl backup is
// killed (SIGKILL) inside its freeze, T's counter is 2; the next backup of
// that server, with the same journal folder, releases exactly the dead
// run's share (counter 1: the other holder's stays) and says so.
func TestIntegrationKilledBackupReleasedByTheNext(t *testing.T) {
	f := newFreezeTarget(t)
	table := f.table(t)
	_, err := f.db.Exec("FREEZE " + table) // the other holder
	require.NoError(t, err)
	state := t.TempDir()
	dir := backupDir(t)

	ready := filepath.Join(t.TempDir(), "ready")
	cmd := exec.Command(binary, f.m("--state-dir", state, "backup", "--dir", filepath.Join(dir, "bk1"), "--tables", table)...)
	cmd.Env = append(os.Environ(), "DBCTL_DSN=", crashpoint.EnvSpec+"=sql.answer FREEZE=pause", crashpoint.EnvReady+"="+ready)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(t, cmd.Start())
	deadline := time.Now().Add(time.Minute)
	for {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		require.True(t, time.Now().Before(deadline), "the backup never reached its FREEZE's answer:\n%s", out.String())
		time.Sleep(5 * time.Millisecond)
	}
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	require.Equal(t, 2, f.locked(t, table), "the killed backup's freeze and the other holder's")

	r := dbctlRun(t, f.m("--state-dir", state, "backup", "--dir", filepath.Join(dir, "bk2"), "--tables", table)...)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stderr, "released an orphaned freeze of "+table+", one UNFREEZE each")
	assert.Contains(t, r.stderr, "manticore with frozen "+table, "the dead run was a backup's WithFrozen, not a deliberate freeze")
	assert.Equal(t, 1, f.locked(t, table), "exactly the dead run's share: the other holder's freeze stays")
	entries, err := os.ReadDir(state)
	require.NoError(t, err)
	for _, e := range entries {
		assert.False(t, strings.HasPrefix(e.Name(), "freeze-"), "record left: %s", e.Name())
	}
	r = dbctlRun(t, f.m("--state-dir", state, "backup", "--dir", filepath.Join(dir, "bk3"), "--tables", table)...)
	require.Equal(t, 0, r.code, r.stderr)
	assert.NotContains(t, r.stderr, "orphaned", "released once")
	assert.Equal(t, 1, f.locked(t, table))
}

// locks shows an orphaned freeze, marked, with the dead run's pid, before
// it releases anything; --release-orphans releases it. A deliberate
// 'dbctl manticore freeze' is never one: the next freeze leaves it.
func TestIntegrationLocksShowsAndReleasesOrphans(t *testing.T) {
	f := newFreezeTarget(t)
	table, mine := f.table(t), f.table(t)
	state := t.TempDir()
	r := dbctlRun(t, f.m("--state-dir", state, "freeze", mine)...)
	require.Equal(t, 0, r.code, r.stderr)

	ready := filepath.Join(t.TempDir(), "ready")
	cmd := exec.Command(binary, f.m("--state-dir", state, "backup", "--dir", filepath.Join(backupDir(t), "bk"), "--tables", table)...)
	cmd.Env = append(os.Environ(), "DBCTL_DSN=", crashpoint.EnvSpec+"=sql.answer FLUSH ATTRIBUTES=pause", crashpoint.EnvReady+"="+ready)
	require.NoError(t, cmd.Start())
	deadline := time.Now().Add(time.Minute)
	for _, err := os.Stat(ready); err != nil; _, err = os.Stat(ready) {
		require.True(t, time.Now().Before(deadline), "the backup never froze")
		time.Sleep(5 * time.Millisecond)
	}
	pid := cmd.Process.Pid
	r = dbctlRun(t, f.m("--state-dir", state, "locks")...)
	require.Equal(t, 0, r.code, r.stderr)
	assert.NotContains(t, r.stderr, "orphaned", "the backup is alive")
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()

	r = dbctlRun(t, append([]string{"--json"}, f.m("--state-dir", state, "locks")...)...)
	require.Equal(t, 0, r.code, r.stderr)
	doc := jsonOf(t, r)
	orphans := doc["orphaned"].([]any)
	require.Len(t, orphans, 1)
	o := orphans[0].(map[string]any)
	assert.Equal(t, float64(pid), o["pid"])
	assert.Equal(t, []any{table}, o["release"])
	assert.Equal(t, false, o["done"])
	for _, l := range doc["locks"].([]any) {
		l := l.(map[string]any)
		switch l["name"] {
		case table:
			assert.Equal(t, float64(1), l["orphaned"])
		case mine:
			assert.Equal(t, float64(0), l["orphaned"], "a deliberate freeze is not an orphan")
		}
	}
	r = dbctlRun(t, f.m("--state-dir", state, "locks")...)
	assert.Contains(t, r.stdout, "ORPHANED")
	assert.Contains(t, r.stderr, "orphaned freeze of "+table+": dbctl pid "+strconv.Itoa(pid))
	assert.Contains(t, r.stderr, "--release-orphans")
	assert.Equal(t, 1, f.locked(t, table), "listing releases nothing")

	r = dbctlRun(t, f.m("--state-dir", state, "locks", "--release-orphans")...)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stderr, "released an orphaned freeze of "+table)
	assert.Equal(t, 0, f.locked(t, table))
	assert.Equal(t, 1, f.locked(t, mine), "the deliberate freeze stays")

	r = dbctlRun(t, f.m("--state-dir", state, "freeze", table)...)
	require.Equal(t, 0, r.code, r.stderr)
	assert.NotContains(t, r.stderr, "orphaned")
	assert.Equal(t, 1, f.locked(t, mine))
}

// A backup whose FREEZE is slower than every timeout it has (--timeout;
// the release timeout): it stops at its deadline, waits for the FREEZE,
// unfreezes what it froze and says so; nothing is frozen when it exits.
func TestIntegrationSlowFreezeBackupTimesOut(t *testing.T) {
	f := newFreezeTarget(t)
	if f.srv == nil {
		t.Skip("needs the embedded server's Delay")
	}
	table := f.table(t)
	f.srv.Delay("^FREEZE", 800*time.Millisecond)
	defer f.srv.Delay("^FREEZE", 0)
	r := dbctlRun(t, f.m("--state-dir", t.TempDir(), "backup", "--dir", filepath.Join(t.TempDir(), "bk"), "--tables", table)...)
	require.Equal(t, 0, r.code, "no deadline: the slow FREEZE is awaited: %s", r.stderr)
	r = dbctlRun(t, append([]string{"--timeout", "100ms"}, f.m("--state-dir", t.TempDir(), "backup", "--dir",
		filepath.Join(t.TempDir(), "bk"), "--tables", table)...)...)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "FREEZE still running on the server")
	assert.Contains(t, r.stderr, "the FREEZE answered after the command stopped; unfrozen again: "+table)
	assert.Equal(t, 0, f.locked(t, table), "unfrozen when the command exits")
}

// A journal folder that cannot be made: the freeze is refused before
// anything is frozen, and the message says how to move the folder.
func TestIntegrationFreezeUnusableStateDir(t *testing.T) {
	f := newFreezeTarget(t)
	table := f.table(t)
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	r := dbctlRun(t, f.m("--state-dir", filepath.Join(file, "state"), "freeze", table)...)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "freeze journal folder unusable")
	assert.Contains(t, r.stderr, "--state-dir")
	assert.Equal(t, 0, f.locked(t, table))
}
