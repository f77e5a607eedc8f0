//go:build unix

package crashtest

import (
	"os/exec"
	"syscall"
)

func killedBySignal(ee *exec.ExitError) bool {
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}
