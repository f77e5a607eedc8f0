//go:build linux

package backup

import (
	"os"
	"strings"
)

// bootAndPIDNamespace returns the kernel's boot id (proc(5):
// /proc/sys/kernel/random/boot_id, new at every boot) and this process's
// PID namespace (/proc/self/ns/pid, "pid:[inode]"), "" when unreadable.
func bootAndPIDNamespace() (boot, pidNS string) {
	if b, err := os.ReadFile("/proc/sys/kernel/random/boot_id"); err == nil {
		boot = strings.TrimSpace(string(b))
	}
	pidNS, _ = os.Readlink("/proc/self/ns/pid")
	return boot, pidNS
}
