//go:build !linux

package dbctltest

import "os"

// lockFile creates the lock file; outside Linux the emulator does not lock
// it (searchd's fcntl lock is emulated on Linux only).
func lockFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
}
