//go:build unix

package backup

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/dbctl/dbctl/internal/crashpoint"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A successful Overwrite over a data_dir holding newer data (another
// table, another disk chunk, a binary log, another state.sql, stray files)
// leaves exactly what a restore into an empty data_dir leaves: nothing of
// the replaced data survives. Dot entries and lost+found stay as they were.
func TestRestoreOverwriteLeavesExactlyTheBackup(t *testing.T) {
	f := newBackupFixture(t)
	for _, compress := range []bool{false, true} {
		t.Run(fmt.Sprintf("compress=%v", compress), func(t *testing.T) {
			ctx := t.Context()
			dir := filepath.Join(t.TempDir(), "bk")
			man, err := Create(ctx, f.c.Manticore(), dir, CreateOptions{Compress: compress})
			require.NoError(t, err)
			fresh := filepath.Join(t.TempDir(), "fresh")
			require.NoError(t, Restore(ctx, dir, fresh, RestoreOptions{}))
			want := treeOf(t, fresh)
			assert.NotContains(t, want, "binlog")

			data := filepath.Join(t.TempDir(), "data")
			newerDataDir(t, dir, data)
			require.NoError(t, os.Mkdir(filepath.Join(data, "lost+found"), 0o700))
			require.NoError(t, os.WriteFile(filepath.Join(data, ".operator-note"), []byte("mine"), 0o600))
			before := treeOf(t, data)

			err = Restore(ctx, dir, data, RestoreOptions{})
			require.ErrorIs(t, err, ErrDataDirNotEmpty)
			requireTree(t, before, data, "refused without Overwrite")

			var rep RestoreReport
			require.NoError(t, Restore(ctx, dir, data, RestoreOptions{Overwrite: true, Report: &rep}))
			want = maps.Clone(want)
			want["lost+found"], want[".operator-note"] = before["lost+found"], before[".operator-note"]
			requireTree(t, want, data, "after Overwrite")
			assert.Equal(t, []string{"a", "b", "binlog", "manticore.json", "manticore.json.bak", "newer", "pq", "state.sql", "unrelated-top-level"}, rep.Replaced)
			assert.Empty(t, rep.KeptAt)
			assert.Empty(t, rep.Leftover)
			assert.Empty(t, rep.Recovered)
			assert.Equal(t, len(man.Files)-1, rep.Files, "every file but the config file")
		})
	}
}

// KeepReplaced keeps exactly what was replaced, in a dot folder of the
// data_dir that a later restore neither counts nor moves.
func TestRestoreKeepReplaced(t *testing.T) {
	f := newBackupFixture(t)
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "bk")
	_, err := Create(ctx, f.c.Manticore(), dir, CreateOptions{})
	require.NoError(t, err)
	data := filepath.Join(t.TempDir(), "data")
	newerDataDir(t, dir, data)
	before := treeOf(t, data)

	var rep RestoreReport
	require.NoError(t, Restore(ctx, dir, data, RestoreOptions{Overwrite: true, KeepReplaced: true, Report: &rep}))
	require.NotEmpty(t, rep.KeptAt)
	assert.Equal(t, data, filepath.Dir(rep.KeptAt))
	assert.True(t, strings.HasPrefix(filepath.Base(rep.KeptAt), ".dbctl-replaced-"), rep.KeptAt)
	requireTree(t, before, rep.KeptAt, "the kept entries")
	assert.Empty(t, restoreFolders(t, data))

	// the kept folder is a dot folder: the data_dir counts as empty
	again := treeOf(t, data)
	require.NoError(t, Restore(ctx, dir, data, RestoreOptions{Overwrite: true, Report: &rep}))
	requireTree(t, again, data, "a second Overwrite of the same backup")
	assert.NotContains(t, rep.Replaced, filepath.Base(rep.KeptAt))
}

// Issue 18: restored table folders get the bits the originals had; a
// manifest written before they were recorded keeps the old behaviour.
func TestRestoreTableFolderModes(t *testing.T) {
	f := newBackupFixture(t)
	ctx := t.Context()
	require.NoError(t, os.Chmod(filepath.Join(f.srv.DataDir(), "a"), 0o700))
	require.NoError(t, os.Chmod(filepath.Join(f.srv.DataDir(), "b"), 0o750))
	dir := filepath.Join(t.TempDir(), "bk")
	man, err := Create(ctx, f.c.Manticore(), dir, CreateOptions{})
	require.NoError(t, err)
	modes := map[string]os.FileMode{}
	for _, tb := range man.Tables {
		modes[tb.Name] = tb.DirMode
	}
	assert.Equal(t, map[string]os.FileMode{"a": 0o700, "b": 0o750, "pq": 0o755}, modes)

	restored := filepath.Join(t.TempDir(), "data")
	require.NoError(t, Restore(ctx, dir, restored, RestoreOptions{}))
	for name, want := range map[string]os.FileMode{"a": 0o700, "b": 0o750, "pq": 0o755} {
		fi, err := os.Stat(filepath.Join(restored, name))
		require.NoError(t, err)
		assert.Equal(t, want, fi.Mode().Perm(), name)
	}

	// an older manifest, without dir_mode
	b, err := os.ReadFile(filepath.Join(dir, manifestName))
	require.NoError(t, err)
	var raw map[string]any
	require.NoError(t, json.Unmarshal(b, &raw))
	for _, tb := range raw["tables"].([]any) {
		delete(tb.(map[string]any), "dir_mode")
	}
	b, err = json.Marshal(raw)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, manifestName), b, 0o644))
	umask := syscall.Umask(0)
	syscall.Umask(umask)
	old := filepath.Join(t.TempDir(), "data")
	require.NoError(t, Restore(ctx, dir, old, RestoreOptions{}))
	fi, err := os.Stat(filepath.Join(old, "a"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o755)&^os.FileMode(umask), fi.Mode().Perm())
}

// A backup with bad files changes nothing, and every bad file is named:
// the files are checked as they are written aside, never in the data_dir.
func TestRestoreCorruptBackupChangesNothing(t *testing.T) {
	f := newBackupFixture(t)
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "bk")
	_, err := Create(ctx, f.c.Manticore(), dir, CreateOptions{Compress: true})
	require.NoError(t, err)
	data := filepath.Join(t.TempDir(), "data")
	newerDataDir(t, dir, data)
	before := treeOf(t, data)

	require.NoError(t, os.Remove(filepath.Join(dir, "data", "pq", "pq.meta.zst")))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "data", "b", "b.meta.zst"), []byte("not zstd"), 0o644))
	err = Restore(ctx, dir, data, RestoreOptions{Overwrite: true})
	require.ErrorIs(t, err, ErrCorrupt)
	problems := map[string]string{}
	for _, fe := range backupFileErrors(err) {
		problems[fe.Path] = fe.Problem
	}
	assert.Equal(t, map[string]string{"data/pq/pq.meta": "missing", "data/b/b.meta": "does not decompress"}, problems)
	assert.Contains(t, err.Error(), "the data_dir was not changed")
	requireTree(t, before, data, "after a corrupt backup")

	// into a data_dir that did not exist, nor its parent: neither is left
	root := t.TempDir()
	err = Restore(ctx, dir, filepath.Join(root, "x", "data"), RestoreOptions{})
	require.ErrorIs(t, err, ErrCorrupt)
	left, err := os.ReadDir(root)
	require.NoError(t, err)
	assert.Empty(t, left)
}

// A cancelled context, while the files are written and in the middle of
// the swap, leaves the data_dir as it was.
func TestRestoreCancelledChangesNothing(t *testing.T) {
	f := newBackupFixture(t)
	dir := filepath.Join(t.TempDir(), "bk")
	_, err := Create(t.Context(), f.c.Manticore(), dir, CreateOptions{})
	require.NoError(t, err)
	template := filepath.Join(t.TempDir(), "template")
	newerDataDir(t, dir, template)
	before := treeOf(t, template)
	for _, at := range []string{"restore.write new/a/a.meta", "restore.move-out newer", "restore.move-in manticore.json"} {
		t.Run(at, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "data")
			copyTree(t, template, data)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			var seen bool
			var mu sync.Mutex
			defer crashpoint.Set(func(step string) error {
				if step == at {
					mu.Lock()
					seen = true
					mu.Unlock()
					cancel()
				}
				return nil
			})()
			err := Restore(ctx, dir, data, RestoreOptions{Overwrite: true})
			require.ErrorIs(t, err, context.Canceled)
			mu.Lock()
			assert.True(t, seen, "the restore reached %s", at)
			mu.Unlock()
			requireTree(t, before, data, "after the cancel")
		})
	}
}

// A restore folder whose marker a live process holds is another restore
// running: refused before anything is written.
func TestRestoreRefusesWhileAnotherRuns(t *testing.T) {
	f := newBackupFixture(t)
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "bk")
	_, err := Create(ctx, f.c.Manticore(), dir, CreateOptions{})
	require.NoError(t, err)
	data := t.TempDir()
	other := filepath.Join(data, restorePrefix+"0123456789abcdef")
	require.NoError(t, os.Mkdir(other, 0o700))
	lock, err := lockMarker(other, map[string]any{"pid": os.Getpid()})
	require.NoError(t, err)
	before := treeOf(t, data)
	err = Restore(ctx, dir, data, RestoreOptions{Overwrite: true})
	require.ErrorIs(t, err, ErrRestoreRunning)
	assert.Contains(t, err.Error(), other)
	requireTree(t, before, data, "refused")

	// its holder gone, the folder is a killed run's: removed, and the
	// restore goes on
	lock.Close()
	var rep RestoreReport
	require.NoError(t, Restore(ctx, dir, data, RestoreOptions{Report: &rep}))
	assert.Equal(t, []RecoveredRestore{{Path: other, Action: RecoveryRemoved}}, rep.Recovered)
	assert.FileExists(t, filepath.Join(data, "manticore.json"))
	assert.Empty(t, restoreFolders(t, data))
}

// A swap is undone from its journal whatever point it reached, also when
// the undo is itself interrupted and run again; a committed one is
// finished, keeping the replaced entries where the journal says.
func TestRestoreJournalRecovery(t *testing.T) {
	data := t.TempDir()
	mk := func(p, content string) {
		p = filepath.Join(data, filepath.FromSlash(p))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	mk("t/t.meta", "old t")
	mk("manticore.json", "old json")
	mk("gone/gone.meta", "old gone")
	before := treeOf(t, data)
	folder := filepath.Join(data, restorePrefix+"feedfacefeedface")
	mk(filepath.Base(folder)+"/new/t/t.meta", "new t")
	mk(filepath.Base(folder)+"/new/manticore.json", "new json")
	j := &journal{Version: journalVersion, State: stateSwapping, Old: []string{"gone", "manticore.json", "t"}, New: []string{"t", "manticore.json"}}
	require.NoError(t, writeJournal(folder, j))
	f, err := os.Create(filepath.Join(folder, stagingMarker))
	require.NoError(t, err)
	f.Close()
	// the swap got as far as: every old entry out, t in
	require.NoError(t, os.Mkdir(filepath.Join(folder, "old"), 0o700))
	for _, n := range j.Old {
		require.NoError(t, os.Rename(filepath.Join(data, n), filepath.Join(folder, "old", n)))
	}
	require.NoError(t, os.Rename(filepath.Join(folder, "new", "t"), filepath.Join(data, "t")))

	// the undo fails half-way (its first step), then runs again
	undo := crashpoint.Set(crashpoint.Spec{Step: "restore.rollback-in manticore.json", N: 1, Action: crashpoint.Fail}.Handler(nil))
	_, err = recoverRestores(data, discardLogger())
	undo()
	require.ErrorIs(t, err, crashpoint.ErrInjected)
	done, err := recoverRestores(data, discardLogger())
	require.NoError(t, err)
	assert.Equal(t, []RecoveredRestore{{Path: folder, Action: RecoveryRolledBack}}, done)
	requireTree(t, before, data, "rolled back")

	// committed, with a place to keep the replaced entries
	mk(filepath.Base(folder)+"/old/x", "replaced")
	f, err = os.Create(filepath.Join(folder, stagingMarker))
	require.NoError(t, err)
	f.Close()
	keep := filepath.Join(data, replacedPrefix+"20261206T000000Z-feedfacefeedface")
	require.NoError(t, writeJournal(folder, &journal{Version: journalVersion, State: stateCommitted, Old: []string{"x"}, Keep: keep}))
	done, err = recoverRestores(data, discardLogger())
	require.NoError(t, err)
	assert.Equal(t, []RecoveredRestore{{Path: folder, Action: RecoveryRolledForward, KeptAt: keep}}, done)
	b, err := os.ReadFile(filepath.Join(keep, "x"))
	require.NoError(t, err)
	assert.Equal(t, "replaced", string(b))
	assert.Empty(t, restoreFolders(t, data))

	// a journal naming entries outside the folders is refused, not followed
	require.NoError(t, os.Mkdir(folder, 0o700))
	f, err = os.Create(filepath.Join(folder, stagingMarker))
	require.NoError(t, err)
	f.Close()
	require.NoError(t, writeJournal(folder, &journal{Version: journalVersion, State: stateSwapping, Old: []string{"../etc"}}))
	_, err = recoverRestores(data, discardLogger())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "bad entry name")
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// writerFunc adapts a function to io.Writer.
type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// A plain backup file is mapped, not read; one truncated under the mapping
// is a read error of that file, not a crash of the process (SIGBUS).
func TestCopyMappedSurvivesATruncatedFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	require.NoError(t, os.WriteFile(p, make([]byte, 3*copyBufSize), 0o644))
	in, err := os.Open(p)
	require.NoError(t, err)
	defer in.Close()
	var done atomic.Int64
	w := newFileWorker(&done)
	writes := 0
	n, _, readErr, writeErr, ok := w.copyMapped(t.Context(), in, writerFunc(func(b []byte) (int, error) {
		writes++
		if writes == 1 {
			require.NoError(t, os.Truncate(p, 0)) // the next chunk is past the end now
		}
		return len(b), nil
	}))
	require.True(t, ok)
	require.NoError(t, writeErr)
	require.Error(t, readErr)
	assert.Contains(t, readErr.Error(), "changed while it was read")
	assert.Equal(t, int64(copyBufSize), n)
}
