//go:build unix

package backup

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// devIno returns the device and inode of a stat result.
func devIno(fi fs.FileInfo) (uint64, uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), uint64(st.Ino) //nolint:unconvert // Dev is int32 on some platforms
	}
	return 0, 0
}

// devOf returns the device of the file system path is on.
func devOf(path string) (uint64, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return 0, err
	}
	return uint64(st.Dev), nil //nolint:unconvert // Dev is int32 on some platforms
}

// haveFlock: markers are locked with flock(2) here (tryLock).
const haveFlock = true

// tryLock takes an exclusive advisory lock (flock) on f without waiting:
// false when another process holds it. The kernel drops the lock when its
// holder dies, however it dies.
func tryLock(f *os.File) (bool, error) {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return false, nil
	}
	return err == nil, err
}
