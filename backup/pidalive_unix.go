//go:build unix

package backup

import (
	"errors"
	"syscall"
)

// pidAlive reports whether a process pid exists (kill(2) with signal 0:
// ESRCH when there is none; EPERM means one runs as another user).
func pidAlive(pid int) bool {
	if pid <= 0 {
		return true // not a PID: no conclusion, see the age
	}
	err := syscall.Kill(pid, 0)
	return err == nil || !errors.Is(err, syscall.ESRCH)
}
