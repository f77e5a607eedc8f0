//go:build linux

package dbctltest_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/dbctl/dbctl/dbctltest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// probeLock asks, as a tool would, whether another holder locks path
// (fcntl F_GETLK, the kind of lock searchd takes: src/fileutils.cpp
// sphLockEx).
func probeLock(t *testing.T, path string) bool {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return false
	}
	require.NoError(t, err)
	defer f.Close()
	lk := syscall.Flock_t{Type: syscall.F_WRLCK}
	require.NoError(t, syscall.FcntlFlock(f.Fd(), syscall.F_GETLK, &lk))
	return lk.Type != syscall.F_UNLCK
}

// The embedded server holds <data_dir>/<t>/<t>.lock while it serves t, as
// searchd does, and releases (and removes) it on DROP TABLE and Close.
func TestManticoreTableLockFile(t *testing.T) {
	data := t.TempDir()
	s, err := dbctltest.StartManticore(dbctltest.WithDataDir(data))
	require.NoError(t, err)
	db := openDB(t, s.DSN())
	mustExec(t, db, "CREATE TABLE a(title text)", "CREATE TABLE p(title text) type='percolate'",
		"CREATE TABLE d type='distributed' local='a'", "CREATE TABLE gone(title text)")
	lockA := filepath.Join(data, "a", "a.lock")
	assert.True(t, probeLock(t, lockA), "rt table locked")
	assert.True(t, probeLock(t, filepath.Join(data, "p", "p.lock")), "percolate table locked")
	assert.NoFileExists(t, filepath.Join(data, "d", "d.lock"), "a distributed table has no files")

	// a second server on the same data_dir cannot serve the tables
	_, err = dbctltest.StartManticore(dbctltest.WithDataDir(data))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "failed to lock")

	mustExec(t, db, "DROP TABLE gone")
	assert.NoFileExists(t, filepath.Join(data, "gone", "gone.lock"))

	require.NoError(t, s.Close())
	assert.False(t, probeLock(t, lockA), "released on Close")
	assert.NoFileExists(t, lockA, "removed on Close, as RawFileUnLock does")
	s2 := dbctltest.NewManticore(t, dbctltest.WithDataDir(data))
	assert.True(t, probeLock(t, lockA), "locked again when served again")
	_ = s2
}
