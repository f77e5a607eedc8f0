//go:build linux

package dbctl

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// fOFDGetlk is F_OFD_GETLK (asm-generic/fcntl.h; the same on every Linux
// architecture). An open-file-description lock query conflicts with
// traditional POSIX record locks even when this same process holds them,
// so it sees the lock of an in-process server too.
const fOFDGetlk = 36

// lockHeld reports whether someone holds a lock on path the way searchd
// locks <table>.lock while it serves a table: sphLockEx takes a POSIX
// write lock on the whole file with fcntl(F_SETLK), called by RawFileLock
// (Manticore source, sphinxutils/fileutils: sphLockEx, RawFileLock). A
// flock(2) lock counts too. A missing file is no lock (RawFileUnLock
// unlinks it when the table is released).
func lockHeld(path string) (bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0, Start: 0, Len: 0}
	if err := syscall.FcntlFlock(f.Fd(), fOFDGetlk, &lk); err != nil {
		return false, err
	}
	if lk.Type != syscall.F_UNLCK {
		return true, nil
	}
	switch err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); {
	case errors.Is(err, syscall.EWOULDBLOCK):
		return true, nil
	case err != nil:
		return false, err
	}
	return false, syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
}
