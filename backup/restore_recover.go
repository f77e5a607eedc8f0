package backup

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// recoverRestores finishes the restores into dataDir whose process died:
// every restore folder (restorePrefix) whose marker nobody holds is rolled
// back (its journal says the swap was not committed: the data_dir's earlier
// entries are put back, the new ones removed), rolled forward (committed:
// old/ removed, or kept as that run was asked to) or, when the swap had not
// begun, removed; each is logged and returned. A folder whose marker a
// live process holds is another restore running: ErrRestoreRunning. A
// folder that cannot be recovered fails the call, so that no restore piles
// onto a half-swapped data_dir.
func recoverRestores(dataDir string, log *slog.Logger) ([]RecoveredRestore, error) {
	entries, err := os.ReadDir(dataDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var done []RecoveredRestore
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), restorePrefix) {
			continue
		}
		dir := filepath.Join(dataDir, e.Name())
		rec, err := recoverRestore(dataDir, dir)
		if err != nil {
			return done, err
		}
		if rec.Action == "" {
			continue
		}
		done = append(done, rec)
		log.Info("dbctl: finished the restore of a killed process", "data_dir", dataDir, "folder", dir, "action", rec.Action, "kept_at", rec.KeptAt)
	}
	return done, nil
}

// recoverRestore recovers one restore folder (see recoverRestores). An
// empty Action means there was nothing of this package's to do.
func recoverRestore(dataDir, dir string) (RecoveredRestore, error) {
	rec := RecoveredRestore{Path: dir}
	marker, err := os.OpenFile(filepath.Join(dir, stagingMarker), os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		// killed between making the folder and its marker: it is empty.
		// A folder with something else in it is not ours: left alone.
		if os.Remove(dir) == nil {
			rec.Action = RecoveryRemoved
		}
		return rec, nil
	}
	if err != nil {
		return rec, fmt.Errorf("restore folder %s: %w", dir, err)
	}
	defer marker.Close()
	ok, err := tryLock(marker)
	if err != nil {
		return rec, fmt.Errorf("restore folder %s: %w", dir, err)
	}
	if !ok {
		return rec, opErr("restore into "+dataDir, ErrRestoreRunning, "its folder "+dir+" is held by a running process", nil)
	}
	j, err := readJournal(dir)
	if err != nil {
		return rec, err
	}
	switch {
	case j == nil:
		rec.Action = RecoveryRemoved
	case j.State == stateSwapping:
		if err := rollBack(dataDir, dir, j); err != nil {
			return rec, fmt.Errorf("roll back the restore in %s: %w", dir, err)
		}
		rec.Action = RecoveryRolledBack
	default:
		if rec.KeptAt, err = rollForward(dir, j); err != nil {
			return rec, fmt.Errorf("finish the restore in %s: %w", dir, err)
		}
		rec.Action = RecoveryRolledForward
	}
	if err := os.RemoveAll(dir); err != nil {
		return rec, fmt.Errorf("remove %s: %w", dir, err)
	}
	return rec, nil
}
