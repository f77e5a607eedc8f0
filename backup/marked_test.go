package backup

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/dbctl/dbctl/internal/crashpoint"
	"github.com/dbctl/dbctl/internal/crashpoint/crashtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A staging folder left by a killed run (its marker no longer locked) is
// removed by the next backup that stages in the same place; one a running
// backup holds is left alone, and so is a folder without a marker that
// holds anything. An empty one without a marker (a run killed between
// making the folder and its marker) is removed.
func TestBackupRemovesKilledRunsStaging(t *testing.T) {
	f := newBackupFixture(t)
	parent := t.TempDir()
	// a killed run: its hard links pin a source file's bytes
	killed, err := createStaging(parent, "killedrun", map[string]any{"pid": 1})
	require.NoError(t, err)
	victim := filepath.Join(f.srv.DataDir(), "a", "a.0.spd")
	require.NoError(t, os.Link(victim, filepath.Join(killed.path, "0-a.0.spd")))
	require.NoError(t, killed.lock.Close()) // the process died: the kernel dropped its lock
	// a running one
	running, err := createStaging(parent, "running", map[string]any{"pid": 2})
	require.NoError(t, err)
	defer running.remove()
	// not ours
	foreign := filepath.Join(parent, stagingPrefix+"foreign")
	require.NoError(t, os.Mkdir(foreign, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(foreign, "keep"), nil, 0o644))
	emptyStaging := filepath.Join(parent, stagingPrefix+"empty")
	require.NoError(t, os.Mkdir(emptyStaging, 0o700))
	// a killed run's partial backup, and one without a marker
	partial := filepath.Join(parent, ".old"+partialInfix+"123")
	require.NoError(t, os.Mkdir(partial, 0o755))
	lock, err := lockMarker(partial, map[string]any{"pid": 3})
	require.NoError(t, err)
	require.NoError(t, lock.Close())
	unmarked := filepath.Join(parent, ".other"+partialInfix+"456")
	require.NoError(t, os.Mkdir(unmarked, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(unmarked, "keep"), nil, 0o644))
	emptyPartial := filepath.Join(parent, ".empty"+partialInfix+"789")
	require.NoError(t, os.Mkdir(emptyPartial, 0o700))

	assert.Equal(t, uint64(2), nlink(t, victim), "pinned by the leftover link")

	before := f.counters(t)
	_, err = Create(context.Background(), f.c.Manticore(), filepath.Join(parent, "bk"), CreateOptions{})
	require.NoError(t, err)
	assert.Equal(t, before, f.counters(t))
	_, err = os.Stat(killed.path)
	assert.True(t, errors.Is(err, os.ErrNotExist), "the killed run's folder is gone")
	assert.Equal(t, uint64(1), nlink(t, victim), "nothing pins the source any more")
	_, err = os.Stat(running.path)
	assert.NoError(t, err, "a running backup's folder stays")
	_, err = os.Stat(foreign)
	assert.NoError(t, err, "a folder without a marker stays")
	_, err = os.Stat(partial)
	assert.True(t, errors.Is(err, os.ErrNotExist), "the killed run's partial backup is gone")
	_, err = os.Stat(unmarked)
	assert.NoError(t, err, "a partial backup without a marker stays")
	assert.NoDirExists(t, emptyStaging, "an empty staging folder without a marker is a killed run's")
	assert.NoDirExists(t, emptyPartial, "an empty partial backup without a marker is a killed run's")
}

// A marked folder is made and removed so that a process stopped at any of
// their steps (here: a panic, after which the marker's lock is let go as
// a killed process's is) leaves a folder that the next run's sweep
// removes: an empty one, or one whose marker nobody holds. Removed
// marker first, a folder killed half-way would hold files and no marker,
// and stay for good.
func TestMarkedFolderStepsLeaveWhatTheNextRunRemoves(t *testing.T) {
	parent := t.TempDir()
	fill := func(dir string) {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "data", "a"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "data", "a", "a.0.spd"), make([]byte, 4096), 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "manifest.json"), []byte("{}"), 0o644))
	}
	life := func() {
		dir, lock, err := newMarked("temp", func() (string, error) { return os.MkdirTemp(parent, ".bk"+partialInfix) }, map[string]any{})
		if err != nil {
			return
		}
		defer lock.Close() // the kernel drops a dead process's lock
		fill(dir)
		_ = removeMarked(dir, "temp")
	}
	steps := crashtest.Record(t, life)
	require.Equal(t, []string{"backup.mkdir temp#1", "backup.marker temp#1", "backup.lock temp#1", "backup.remove temp#1", "backup.remove temp-marker#1"},
		func() (out []string) {
			for _, s := range steps {
				out = append(out, s.String())
			}
			return out
		}())
	for _, step := range steps {
		t.Run(step.String(), func(t *testing.T) {
			crashtest.PanicAt(t, step)
			func() {
				defer func() { _ = recover() }()
				life()
			}()
			_, err := removeStaleStaging(parent)
			require.NoError(t, err)
			entries, err := os.ReadDir(parent)
			require.NoError(t, err)
			assert.Empty(t, entries, "the next run's sweep leaves nothing")
		})
	}
}

// A sweep (another run's removeStaleStaging) that meets a new folder
// between its marker's creation and its lock takes it for a dead run's and
// removes it; the run sees its marker gone and makes its folder again,
// and the folder it goes on with is there, marked and locked.
func TestMarkerTakenBeforeItsLockIsMadeAgain(t *testing.T) {
	parent := t.TempDir()
	var swept []string
	n := 0
	restore := crashpoint.Set(func(step string) error {
		if step == "backup.lock temp" {
			if n++; n == 1 {
				removed, err := removeStaleStaging(parent)
				require.NoError(t, err)
				swept = removed
			}
		}
		return nil
	})
	dir, lock, err := newMarked("temp", func() (string, error) { return os.MkdirTemp(parent, ".bk"+partialInfix) }, map[string]any{})
	restore()
	require.NoError(t, err)
	defer lock.Close()
	require.Len(t, swept, 1, "the sweep took the first folder")
	assert.NotEqual(t, swept[0], dir)
	assert.FileExists(t, filepath.Join(dir, stagingMarker))
	removed, err := removeStaleStaging(parent)
	require.NoError(t, err)
	assert.Empty(t, removed, "the folder's marker is locked")
	assert.DirExists(t, dir)
}
