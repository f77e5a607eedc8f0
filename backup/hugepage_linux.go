//go:build linux

package backup

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// hugePage is the size of a transparent huge page on the platforms Go
// supports (x86-64, arm64 with 4 KiB pages).
const hugePage = 2 << 20

// adviseHugePages asks the kernel to back the 2 MiB-aligned interior of
// buf, not yet touched, with transparent huge pages (madvise
// MADV_HUGEPAGE, which the default "madvise" THP mode honours), so that
// touching it costs one fault per 2 MiB instead of one per 4 KiB: on this
// VM touching 60 MB of fresh memory took 22-106 ms with 4 KiB pages and
// 9-16 ms with huge pages (README "Benchmarks"). It is advice: an error
// (no THP in this kernel) leaves ordinary pages.
func adviseHugePages(buf []byte) {
	if len(buf) < 2*hugePage {
		return
	}
	p := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	start := int((hugePage - p%hugePage) % hugePage)
	end := start + (len(buf)-start)/hugePage*hugePage
	if end > start {
		_ = unix.Madvise(buf[start:end], unix.MADV_HUGEPAGE)
	}
}
