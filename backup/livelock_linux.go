//go:build linux

package backup

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"syscall"
)

// procLocks lists every file lock of the system (proc(5): /proc/locks).
var procLocks = "/proc/locks"

// lockHeld reports whether some process holds a lock on path the way
// searchd locks <table>.lock while it serves a table: sphLockEx takes a
// POSIX write lock on the whole file with fcntl(F_SETLK), called by
// RawFileLock (Manticore source, sphinxutils/fileutils: sphLockEx,
// RawFileLock). A missing file is no lock (RawFileUnLock unlinks it when
// the table is released); a file left by a crash is not locked.
//
// It reads /proc/locks instead of probing with fcntl: probing needs an
// open descriptor, and closing any descriptor of a file drops every POSIX
// lock the calling process holds on it, so a probe from the process that
// runs searchd's emulator (dbctltest) would break that lock. Every kind of
// lock counts: POSIX, FLOCK and OFDLCK.
func lockHeld(path string) (bool, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return false, errors.New("no inode information")
	}
	dev := uint64(st.Dev)
	major := (dev>>8)&0xfff | (dev>>32)&^uint64(0xfff)
	minor := dev&0xff | (dev>>12)&^uint64(0xff)
	id := fmt.Sprintf("%02x:%02x:%d", major, minor, st.Ino)
	f, err := os.Open(procLocks)
	if err != nil {
		return false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if lockLineHolds(sc.Text(), id) {
			return true, nil
		}
	}
	return false, sc.Err()
}

// lockLineHolds reads one line of /proc/locks, e.g.
// "1: POSIX  ADVISORY  WRITE 4242 fd:01:123456 0 EOF", and reports whether
// it is a held lock (not a "->" waiter) on the file with id maj:min:inode.
func lockLineHolds(line, id string) bool {
	fields := strings.Fields(line)
	if len(fields) < 6 || fields[1] == "->" {
		return false
	}
	for _, f := range fields[4:] {
		if f == id {
			return true
		}
	}
	return false
}
