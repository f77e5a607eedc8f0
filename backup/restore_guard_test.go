//go:build linux

package backup

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// searchd locks <t>/<t>.lock with fcntl(F_SETLK, F_WRLCK) on the whole file
// (sphLockEx). lockHeld must see such a lock even when this very process
// holds it (the embedded server runs in-process), and a flock(2) lock too;
// a lock file nobody holds (left by a crash) is no lock.
func TestLiveTablesSeesSearchdLocks(t *testing.T) {
	dir := t.TempDir()
	mk := func(table string) *os.File {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, table), 0o755))
		f, err := os.OpenFile(filepath.Join(dir, table, table+".lock"), os.O_RDWR|os.O_CREATE, 0o644)
		require.NoError(t, err)
		t.Cleanup(func() { f.Close() })
		return f
	}
	posix := mk("posix_held")
	require.NoError(t, syscall.FcntlFlock(posix.Fd(), syscall.F_SETLK, &syscall.Flock_t{Type: syscall.F_WRLCK}))
	bsd := mk("flock_held")
	require.NoError(t, syscall.Flock(int(bsd.Fd()), syscall.LOCK_EX|syscall.LOCK_NB))
	mk("stale")                                                          // a crash left the file, nobody holds it
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "nolock"), 0o755)) // a table folder without a lock file

	held, err := liveTables(dir)
	require.NoError(t, err)
	assert.Equal(t, []string{"flock_held", "posix_held"}, held)

	// probing did not take or break the locks
	held, err = liveTables(dir)
	require.NoError(t, err)
	assert.Equal(t, []string{"flock_held", "posix_held"}, held)

	require.NoError(t, syscall.FcntlFlock(posix.Fd(), syscall.F_SETLK, &syscall.Flock_t{Type: syscall.F_UNLCK}))
	held, err = liveTables(dir)
	require.NoError(t, err)
	assert.Equal(t, []string{"flock_held"}, held)

	held, err = liveTables(filepath.Join(dir, "does-not-exist"))
	require.NoError(t, err)
	assert.Empty(t, held)
}

// Restore refuses a data_dir with a locked table whatever the
// options, and changes nothing there.
func TestRestoreRefusesALockedDataDir(t *testing.T) {
	dataDir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dataDir, "t"), 0o755))
	lock, err := os.OpenFile(filepath.Join(dataDir, "t", "t.lock"), os.O_RDWR|os.O_CREATE, 0o644)
	require.NoError(t, err)
	defer lock.Close()
	require.NoError(t, syscall.FcntlFlock(lock.Fd(), syscall.F_SETLK, &syscall.Flock_t{Type: syscall.F_WRLCK}))
	require.NoError(t, os.WriteFile(filepath.Join(dataDir, "manticore.json"), []byte(`{"indexes":{}}`), 0o644))

	for _, opts := range []RestoreOptions{{}, {Overwrite: true}} {
		err := Restore(t.Context(), filepath.Join(t.TempDir(), "no-backup-needed"), dataDir, opts)
		require.ErrorIs(t, err, ErrServerRunning)
		assert.Contains(t, err.Error(), "a running searchd holds tables t; stop it first")
	}
	b, err := os.ReadFile(filepath.Join(dataDir, "manticore.json"))
	require.NoError(t, err)
	assert.Equal(t, `{"indexes":{}}`, string(b))
}

// As root, giveTreeTo hands a tree to another owner; ownerOf finds the
// nearest existing parent's owner for a path that does not exist yet.
func TestOwnership(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown to another user needs root (CI runs as root)")
	}
	root := t.TempDir()
	sub := filepath.Join(root, "a", "b")
	require.NoError(t, os.MkdirAll(sub, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(sub, "f"), []byte("x"), 0o600))
	o := owner{uid: 4242, gid: 4343}
	require.NoError(t, giveTreeTo(o, filepath.Join(root, "a")))
	for _, p := range []string{filepath.Join(root, "a"), sub, filepath.Join(sub, "f")} {
		got, err := ownerOf(p)
		require.NoError(t, err)
		assert.Equal(t, o, got, p)
	}
	got, err := ownerOf(filepath.Join(sub, "not", "yet"))
	require.NoError(t, err)
	assert.Equal(t, o, got)
	// giving to root is a no-op, not an error
	require.NoError(t, giveTo(owner{}, []string{filepath.Join(sub, "f")}))
	got, _ = ownerOf(filepath.Join(sub, "f"))
	assert.Equal(t, o, got)
}

func TestLockLineHolds(t *testing.T) {
	const id = "fd:01:123456"
	for line, want := range map[string]bool{
		"1: POSIX  ADVISORY  WRITE 4242 fd:01:123456 0 EOF":    true,
		"2: FLOCK  ADVISORY  WRITE 4242 fd:01:123456 0 EOF":    true,
		"3: OFDLCK ADVISORY  READ  -1 fd:01:123456 0 EOF":      true,
		"1: -> POSIX  ADVISORY  WRITE 4243 fd:01:123456 0 EOF": false, // a waiter holds nothing
		"4: POSIX  ADVISORY  WRITE 4242 fd:01:1234567 0 EOF":   false,
		"5: POSIX  ADVISORY  WRITE 4242 fd:02:123456 0 EOF":    false,
		"":        false,
		"garbage": false,
	} {
		assert.Equal(t, want, lockLineHolds(line, id), line)
	}
}

// A running searchd with no table still holds its binary log's lock,
// binlog/binlog.lock (Binlog_c::LockBinlog): that alone refuses a restore;
// the file without the lock (a crash left it) does not.
func TestRestoreRefusesADataDirWhoseBinlogIsLocked(t *testing.T) {
	dataDir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dataDir, "binlog"), 0o755))
	lock, err := os.OpenFile(filepath.Join(dataDir, "binlog", "binlog.lock"), os.O_RDWR|os.O_CREATE, 0o644)
	require.NoError(t, err)
	defer lock.Close()
	missing := filepath.Join(t.TempDir(), "no-backup")

	err = Restore(t.Context(), missing, dataDir, RestoreOptions{Overwrite: true})
	require.ErrorIs(t, err, ErrInvalid, "not locked: the missing backup is the error")

	require.NoError(t, syscall.FcntlFlock(lock.Fd(), syscall.F_SETLK, &syscall.Flock_t{Type: syscall.F_WRLCK}))
	err = Restore(t.Context(), missing, dataDir, RestoreOptions{Overwrite: true})
	require.ErrorIs(t, err, ErrServerRunning)
	assert.Contains(t, err.Error(), "a running searchd holds its binary log (binlog/binlog.lock); stop it first")
}
