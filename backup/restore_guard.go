package backup

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// refuseLive fails with ErrServerRunning when a running searchd holds
// dataDir: its binary log's lock, <data_dir>/binlog/binlog.lock, which
// searchd holds for as long as it runs (Binlog_c::LockBinlog calls
// RawFileLock; binlog_path is <data_dir>/binlog in RT mode:
// manticore-2.jsonl "SHOW SETTINGS"), or the lock of a table it serves,
// <data_dir>/<t>/<t>.lock (RawFileLock when the table is opened). Both are
// fcntl write locks (sphLockEx), seen by lockHeld. Restore asks before
// it reads the backup and again right before its first write.
func refuseLive(op, dataDir string) error {
	binlog, err := lockHeld(filepath.Join(dataDir, "binlog", "binlog.lock"))
	if err != nil {
		return opErr(op, nil, "check for a running searchd", err)
	}
	held, err := liveTables(dataDir)
	if err != nil {
		return opErr(op, nil, "check for a running searchd", err)
	}
	var what []string
	if binlog {
		what = append(what, "its binary log (binlog/binlog.lock)")
	}
	if len(held) > 0 {
		what = append(what, "tables "+strings.Join(held, ", "))
	}
	if len(what) > 0 {
		return opErr(op, ErrServerRunning, "a running searchd holds "+strings.Join(what, " and ")+"; stop it first", nil)
	}
	return nil
}

// liveTables returns the tables of dataDir whose <table>.lock a running
// process holds, sorted (the binary log's folder is not a table). A
// data_dir that does not exist has none.
func liveTables(dataDir string) ([]string, error) {
	entries, err := os.ReadDir(dataDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var held []string
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") || e.Name() == "binlog" {
			continue
		}
		ok, err := lockHeld(filepath.Join(dataDir, e.Name(), e.Name()+".lock"))
		if err != nil {
			return nil, err
		}
		if ok {
			held = append(held, e.Name())
		}
	}
	sort.Strings(held)
	return held, nil
}
