//go:build !linux

package backup

// adviseHugePages does nothing outside Linux.
func adviseHugePages([]byte) {}
