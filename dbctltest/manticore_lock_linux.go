//go:build linux

package dbctltest

import (
	"os"
	"syscall"
)

// fOFDSetLK is F_OFD_SETLK: 37 on every Linux architecture
// (include/uapi/asm-generic/fcntl.h); the syscall package does not name it.
const fOFDSetLK = 37

// lockFile creates path and takes a non-blocking whole-file write lock on
// it (src/fileutils.cpp sphLockEx: F_WRLCK, l_start 0, l_len 0), as an
// open-file-description lock (manticore_lock.go says why).
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0, Start: 0, Len: 0}
	if err := syscall.FcntlFlock(f.Fd(), fOFDSetLK, &lk); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
