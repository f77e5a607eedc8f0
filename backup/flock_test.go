package backup

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/dbctl/dbctl"
	"github.com/dbctl/dbctl/internal/crashpoint/crashtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Where there is no flock (haveFlock false: Windows, Plan 9, wasm) a
// backup could not tell a killed run's folders from a live one's, and
// used to fail only after the FREEZE. It is refused first: no statement
// sent, no folder made, nothing frozen (crash steps recorded: none). The
// platform is faked with the noFlock hook; flock_other_test.go runs the
// same check on such a system.
func TestCreateRefusedWithoutFlock(t *testing.T) {
	f := newBackupFixture(t)
	before := f.counters(t)
	for _, compress := range []bool{false, true} {
		parent := t.TempDir()
		var err error
		steps := crashtest.Record(t, func() {
			_, err = Create(context.Background(), f.c.Manticore(), filepath.Join(parent, "bk"),
				CreateOptions{Compress: compress, hooks: &backupHooks{noFlock: true}})
		})
		require.ErrorIs(t, err, dbctl.ErrNotSupported)
		assert.Contains(t, err.Error(), "dbctl: manticore backup ")
		assert.Contains(t, err.Error(), "flock")
		assert.Empty(t, steps, "nothing sent, nothing made")
		entries, rerr := os.ReadDir(parent)
		require.NoError(t, rerr)
		assert.Empty(t, entries)
	}
	assert.Equal(t, before, f.counters(t))
}
