//go:build unix

package freezejournal

import (
	"errors"
	"os"
	"syscall"
)

// Supported reports whether the journal works here (it needs flock).
const Supported = true

// lock takes an exclusive flock(2) on f, waiting for it. The lock belongs
// to the open file description: another open of the same file, in this
// process or another, conflicts with it, and it ends when f is closed or
// the process dies.
func lock(f *os.File) error { return flock(f, syscall.LOCK_EX) }

// lockShared takes a shared flock(2) on f, waiting for it.
func lockShared(f *os.File) error { return flock(f, syscall.LOCK_SH) }

func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// tryLock takes an exclusive flock(2) on f without waiting; false when
// someone holds it.
func tryLock(f *os.File) (bool, error) {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, syscall.EWOULDBLOCK):
			return false, nil
		case !errors.Is(err, syscall.EINTR):
			return false, err
		}
	}
}
