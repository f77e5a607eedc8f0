//go:build unix

package backup

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dbctl/dbctl/backupstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// markedDir makes dir/name with a marker and returns the marker's file,
// locked (a live run) until closed (a dead one).
func markedDir(t *testing.T, dir, name string, files ...string) (string, *os.File) {
	p := filepath.Join(dir, name)
	require.NoError(t, os.Mkdir(p, 0o755))
	for _, f := range files {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(p, f)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(p, f), []byte("x"), 0o644))
	}
	lock, err := lockMarker(p, map[string]any{"pid": 1})
	require.NoError(t, err)
	return p, lock
}

// List of a folder lists backups only, never this package's temporary,
// staging, partial or pruned folders (a live run's partial folder already
// holds its manifest in its last step), and removes what dead runs left:
// such folders whose marker nobody holds, empty unmarked ones, a marker
// left in a finished backup, and a store-written
// folder (an Upload) whose writer is gone, temporary files included. A
// live run's folders and claims and folders that are not this package's
// stay.
func TestListFolderShowsBackupsOnlyAndCleansUp(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := backupstore.OpenLocal(dir)
	require.NoError(t, err)
	putBackup(t, st, "bk", "id1", "", 1)

	live, liveLock := markedDir(t, dir, ".bk2"+partialInfix+"1", manifestName, "data/a/a.meta")
	defer liveLock.Close()
	dead, deadLock := markedDir(t, dir, ".bk3"+partialInfix+"2", manifestName, "data/a/a.meta")
	deadLock.Close()
	pruned, prunedLock := markedDir(t, dir, ".bk4"+partialInfix+"pruned-3", manifestName, "data/a/a.meta")
	prunedLock.Close()
	staging, stagingLock := markedDir(t, dir, stagingPrefix+"4", "0-a.0.spd")
	stagingLock.Close()
	importing := filepath.Join(dir, "dbctl-import-5")
	require.NoError(t, os.MkdirAll(importing, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(importing, manifestName), []byte("{}"), 0o644))
	empty := filepath.Join(dir, ".bk6"+partialInfix+"6")
	require.NoError(t, os.Mkdir(empty, 0o755))
	stale, err := lockMarker(filepath.Join(dir, "bk"), map[string]any{"pid": 1})
	require.NoError(t, err)
	stale.Close()
	foreign := filepath.Join(dir, "foreign")
	require.NoError(t, os.MkdirAll(filepath.Join(foreign, "data"), 0o755))

	up, err := st.Sub("upload")
	require.NoError(t, err)
	writeClaim(t, up, here(deadPID(t), "n1"), time.Now(), time.Time{})
	_, err = up.Put(ctx, "data/a/a.meta", bytes.NewReader([]byte("x")), backupstore.PutOptions{})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "upload", "data", "a", ".a.spa.dbctl-tmp-9"), []byte("x"), 0o600))
	running, err := st.Sub("running")
	require.NoError(t, err)
	writeClaim(t, running, here(os.Getppid(), "n2"), time.Now(), time.Time{})

	var logged bytes.Buffer
	list, err := List(ctx, dir, ListOptions{Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	require.NoError(t, err)
	assert.Equal(t, []string{"bk"}, names(list))
	_, err = Verify(ctx, list[0].Location, VerifyOptions{})
	require.NoError(t, err)

	for _, gone := range []string{dead, pruned, staging, empty, filepath.Join(dir, "upload"), filepath.Join(dir, "bk", stagingMarker)} {
		_, err := os.Stat(gone)
		assert.ErrorIs(t, err, os.ErrNotExist, gone)
	}
	for _, kept := range []string{live, importing, foreign} {
		assert.DirExists(t, kept)
	}
	assert.FileExists(t, filepath.Join(live, stagingMarker))
	assert.FileExists(t, filepath.Join(dir, "running", claimName))
	assert.Contains(t, logged.String(), "removed what a dead writer left")
	assert.Contains(t, logged.String(), "removed a folder left by a killed run")

	again, err := List(ctx, dir, ListOptions{})
	require.NoError(t, err)
	assert.Equal(t, list, again)
}
