//go:build linux

package backup

import "syscall"

// mapPopulate faults a mapping's pages in at once (mmap(2) MAP_POPULATE).
const mapPopulate = syscall.MAP_POPULATE
