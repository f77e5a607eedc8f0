//go:build unix

package main

import (
	"os"
	"syscall"
)

// mapped maps f's size bytes for reading; ok false when it cannot.
func mapped(f *os.File, size int64) (b []byte, unmap func(), ok bool) {
	if size <= 0 || int64(int(size)) != size {
		return nil, nil, false
	}
	m, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, false
	}
	return m, func() { _ = syscall.Munmap(m) }, true
}
