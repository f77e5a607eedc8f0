package backup

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/dbctl/dbctl"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A download or import folder left by a killed process (its marker no
// longer locked) is removed by the next one in the same place; a live
// one's is not, and done removes the folder.
func TestMarkedTempDirRemovesKilledLeftovers(t *testing.T) {
	parent := t.TempDir()
	killed, err := os.MkdirTemp(parent, ".data.dbctl-download"+partialInfix)
	require.NoError(t, err)
	f, err := lockMarker(killed, map[string]any{"pid": 1})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(killed, "big"), make([]byte, 1<<20), 0o600))
	f.Close() // the process died: its lock is gone

	live, doneLive, err := markedTempDir(parent, ".data.dbctl-download", map[string]any{})
	require.NoError(t, err)
	assert.NoDirExists(t, killed, "the killed run's copy is removed")
	assert.FileExists(t, filepath.Join(live, stagingMarker))

	other, doneOther, err := markedTempDir(parent, ".data.dbctl-import", map[string]any{})
	require.NoError(t, err)
	assert.DirExists(t, live, "a running one's folder is left alone")
	doneOther()
	assert.NoDirExists(t, other)
	doneLive()
	assert.NoDirExists(t, live)
}

// A Base that is not a local folder is refused before anything is frozen;
// listing a folder that does not exist is an error, not an empty list.
func TestBaseMustBeLocalAndListNeedsTheFolder(t *testing.T) {
	f := newBackupFixture(t)
	before := f.counters(t)
	_, err := Create(t.Context(), f.c.Manticore(), filepath.Join(t.TempDir(), "bk"), CreateOptions{Base: "s3://bucket/prefix/base"})
	require.ErrorIs(t, err, dbctl.ErrInvalidArgument)
	assert.Contains(t, err.Error(), "Base must be a local backup folder")
	assert.Equal(t, before, f.counters(t))

	_, err = List(t.Context(), filepath.Join(t.TempDir(), "typo"), ListOptions{})
	require.ErrorIs(t, err, os.ErrNotExist)
}
