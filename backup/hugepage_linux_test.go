//go:build linux

package backup

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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

// The memory arena is backed by huge pages where the kernel's THP mode
// takes advice ("always" or "madvise").
func TestArenaHugePages(t *testing.T) {
	mode, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil || strings.Contains(string(mode), "[never]") {
		t.Skip("transparent huge pages off")
	}
	before := anonHugeKB(t)
	a := newMemArena(64 << 20)
	after := anonHugeKB(t)
	assert.GreaterOrEqual(t, after-before, 2048, "at least one 2 MiB page backs the touched arena (THP %s)", strings.TrimSpace(string(mode)))
	assert.Len(t, a.buf, 64<<20)
}
