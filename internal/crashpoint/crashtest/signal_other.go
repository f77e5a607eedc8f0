//go:build !unix

package crashtest

import "os/exec"

func killedBySignal(ee *exec.ExitError) bool { return ee.ExitCode() == 137 || ee.ExitCode() == 1 }
