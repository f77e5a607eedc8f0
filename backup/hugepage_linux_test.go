//go:build linux

package backup

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// anonHugeKB is AnonHugePages of this process (/proc/self/smaps_rollup).
func anonHugeKB(t *testing.T) int {
	b, err := os.ReadFile("/proc/self/smaps_rollup")
	require.NoError(t, err)
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "AnonHugePages:" {
			n, err := strconv.Atoi(f[1])
			require.NoError(t, err)
			return n
		}
	}
	t.Skip("no AnonHugePages in smaps_rollup")
	return 0
}

// adviseHugePages makes fresh memory (as a fresh process's arena is: see
// newMemArena) be backed by huge pages once touched, where the kernel's
// THP mode is "madvise" (the default; with "always" advice is not needed,
// with "never" it does nothing). The memory is mapped here
// rather than made: the Go heap of a test binary that ran other tests
// reuses memory already touched.
func TestAdviseHugePages(t *testing.T) {
	mode, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil || !strings.Contains(string(mode), "[madvise]") {
		t.Skip("THP mode is not madvise: advice changes nothing here")
	}
	const n = 64 << 20
	buf, err := unix.Mmap(-1, 0, n+hugePage/2, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	require.NoError(t, err)
	t.Cleanup(func() { _ = unix.Munmap(buf) })
	buf = buf[hugePage/2:] // not aligned: the aligned interior is advised
	before := anonHugeKB(t)
	adviseHugePages(buf)
	for i := 0; i < len(buf); i += arenaPage {
		buf[i] = 1
	}
	after := anonHugeKB(t)
	assert.GreaterOrEqual(t, after-before, 2048, "at least one 2 MiB page backs the touched memory (THP %s)", strings.TrimSpace(string(mode)))
}

// BenchmarkArenaTouch touches 64 MiB of freshly mapped memory, as
// newMemArena does before the FREEZE, with and without the huge page
// advice.
func BenchmarkArenaTouch(b *testing.B) {
	const n = 64 << 20
	for _, advise := range []bool{false, true} {
		b.Run(map[bool]string{false: "4KiB-pages", true: "huge-pages"}[advise], func(b *testing.B) {
			b.SetBytes(n)
			for i := 0; i < b.N; i++ {
				buf, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
				if err != nil {
					b.Fatal(err)
				}
				if advise {
					adviseHugePages(buf)
				}
				for k := 0; k < n; k += arenaPage {
					buf[k] = 1
				}
				_ = unix.Munmap(buf)
			}
		})
	}
}
