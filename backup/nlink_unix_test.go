//go:build unix

package backup

import (
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// nlink returns the number of hard links of path.
func nlink(t *testing.T, path string) uint64 {
	t.Helper()
	var st syscall.Stat_t
	require.NoError(t, syscall.Stat(path, &st))
	return uint64(st.Nlink) //nolint:unconvert // Nlink is uint16 on some platforms
}
