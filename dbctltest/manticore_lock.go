package dbctltest

import (
	"fmt"
	"os"
	"path/filepath"
)

// searchd holds a lock on <data_dir>/<t>/<t>.lock while it serves a table:
// src/fileutils.cpp RawFileLock opens (creates) the file and takes a
// whole-file write lock with fcntl(F_SETLK, F_WRLCK) (sphLockEx), without
// waiting; RawFileUnLock unlocks, closes and unlinks it. A table whose lock
// is held elsewhere is not served. The emulator does the same for every RT
// and percolate table it serves (created, imported or loaded at start) and
// releases the lock on DROP TABLE and Close, so that a tool can tell a live
// server's data_dir by probing the lock (F_GETLK or F_OFD_GETLK; flock(2)
// locks do not see fcntl locks).
//
// The emulator takes an open-file-description lock (F_OFD_SETLK) where
// searchd takes a process-associated one: it conflicts with searchd's kind
// of lock the same way, and, unlike a process-associated lock, it is also
// seen by a probe from the same process, where the tests run their embedded
// servers (see manticore_lock_linux.go).

func lockPath(dataDir, table string) string { return filepath.Join(dataDir, table, table+".lock") }

// lockTable takes the lock of a table being opened; e.mu is held (or the
// engine is not serving yet).
func (e *mEngine) lockTable(t *mTable) error {
	if t.Type == "distributed" {
		return nil
	}
	if e.locks == nil {
		e.locks = map[string]*os.File{}
	}
	if e.locks[t.Name] != nil {
		return nil
	}
	path := lockPath(e.st.dataDir, t.Name)
	f, err := lockFile(path)
	if err != nil {
		// the text of src/fileutils.cpp RawFileLock
		return fmt.Errorf("failed to lock '%s': %w", path, err)
	}
	e.locks[t.Name] = f
	return nil
}

// unlockTable releases a table's lock and removes the lock file, as
// RawFileUnLock does.
func (e *mEngine) unlockTable(name string) {
	f := e.locks[name]
	if f == nil {
		return
	}
	delete(e.locks, name)
	_ = os.Remove(f.Name())
	_ = f.Close()
}

// binlogDir is searchd's binlog_path in RT mode, <data_dir>/binlog
// (manticore-2.jsonl "SHOW SETTINGS": searchd.binlog_path {data_dir}/binlog).
func binlogDir(dataDir string) string { return filepath.Join(dataDir, "binlog") }

// lockBinlog takes the lock searchd holds for as long as it runs, whatever
// tables it serves: Binlog_c::LockBinlog calls RawFileLock on
// <binlog_path>/binlog.lock at start, and UnlockBinlog (RawFileUnLock)
// releases and unlinks it at shutdown (Manticore source, src/binlog.cpp).
// The emulator writes no binary log but holds its lock the same way, so a
// running server with no table is recognisable too.
func (e *mEngine) lockBinlog() error {
	dir := binlogDir(e.st.dataDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	path := filepath.Join(dir, "binlog.lock")
	f, err := lockFile(path)
	if err != nil {
		return fmt.Errorf("failed to lock '%s': %w", path, err)
	}
	e.binlogLock = f
	return nil
}

// releaseLocks releases every lock (Close).
func (e *mEngine) releaseLocks() {
	if e == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for name := range e.locks {
		e.unlockTable(name)
	}
	if f := e.binlogLock; f != nil {
		e.binlogLock = nil
		_ = os.Remove(f.Name())
		_ = f.Close()
	}
}
