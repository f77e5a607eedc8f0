package backup

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/dbctl/dbctl"
	"github.com/dbctl/dbctl/backupstore"
	"github.com/dbctl/dbctl/internal/crashpoint"
)

// Marked folders: the temporary folder of a backup, its staging folder, an
// import's staging folder and a download's temporary folder each hold a
// marker file (stagingMarker) that the running process keeps locked
// (flock). The kernel drops the lock when its holder dies, however it
// dies, so the next run in the same place tells a killed run's folder (its
// marker not locked, or no marker and nothing in it) from a live run's,
// and removes it. Every step of making and removing one is a crash point.

// newMarked makes a folder with mkdir, then its marker, locked, with info
// in it: the crash points "backup.mkdir <kind>", "backup.marker <kind>"
// and "backup.lock <kind>" (lockMarkerAs). On failure the folder is removed. A run killed between the two
// leaves an empty folder, which removeStaleStaging removes; should it take
// this run's folder in that instant, the marker cannot be made
// (fs.ErrNotExist) and the folder is made again.
func newMarked(kind string, mkdir func() (string, error), info map[string]any) (string, *os.File, error) {
	for attempt := 1; ; attempt++ {
		if err := crashpoint.Hit("backup.mkdir " + kind); err != nil {
			return "", nil, err
		}
		dir, err := mkdir()
		if err != nil {
			return "", nil, err
		}
		var f *os.File
		if err = crashpoint.Hit("backup.marker " + kind); err == nil {
			f, err = lockMarkerAs(dir, kind, info)
		}
		if err == nil {
			return dir, f, nil
		}
		_ = os.Remove(dir) // empty: lockMarker removes what it made
		if !errors.Is(err, fs.ErrNotExist) || attempt == 3 {
			return "", nil, err
		}
	}
}

// lockMarker is lockMarkerAs for a folder of no named kind ("backup.lock
// folder").
func lockMarker(dir string, info map[string]any) (*os.File, error) {
	return lockMarkerAs(dir, "folder", info)
}

// lockMarkerAs creates dir's marker, locked, and writes info into it; the
// crash point "backup.lock <kind>" is between the creation and the lock.
// On failure it removes the marker it made. Where there is no flock the
// error wraps dbctl.ErrNotSupported (tryLock).
func lockMarkerAs(dir, kind string, info map[string]any) (*os.File, error) {
	name := filepath.Join(dir, stagingMarker)
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	err = crashpoint.Hit("backup.lock " + kind)
	ok := false
	if err == nil {
		ok, err = tryLock(f)
	}
	if err == nil && !ok {
		err = errors.New("cannot lock the marker")
	}
	if err == nil {
		// Until the lock, a sweep (removeStaleStaging) takes the marker
		// for a dead run's and may have removed the folder: then this
		// marker is no longer at its name, and the folder is made again
		// (newMarked, on fs.ErrNotExist).
		err = stillAt(f, name)
	}
	if err == nil {
		b, _ := json.Marshal(info)
		_, err = f.Write(append(b, '\n'))
	}
	if err != nil {
		f.Close()
		_ = os.Remove(name)
		return nil, err
	}
	return f, nil
}

// stillAt reports an error wrapping fs.ErrNotExist unless name is the
// open file f.
func stillAt(f *os.File, name string) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	at, err := os.Stat(name)
	if err != nil {
		return err
	}
	if !os.SameFile(fi, at) {
		return fmt.Errorf("%s was replaced: %w", name, fs.ErrNotExist)
	}
	return nil
}

// removeMarked removes a marked folder (newMarked) and everything in it,
// its marker last and then the empty folder: a process killed meanwhile
// leaves a folder whose marker nobody holds, or an empty one, and the next
// run removes either (removeStaleStaging). Crash points "backup.remove
// <kind>" and "backup.remove <kind>-marker".
func removeMarked(dir, kind string) error {
	if err := crashpoint.Hit("backup.remove " + kind); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() != stagingMarker {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	if err := crashpoint.Hit("backup.remove " + kind + "-marker"); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(dir, stagingMarker)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return os.Remove(dir)
}

// removeStaleStaging removes the staging folders, partial backups
// (".<name>.dbctl-partial-*") and import staging folders
// ("dbctl-import-*"), which hold the same marker, under dir that
// killed runs left: those whose marker no running backup holds locked,
// and empty ones without a marker (removeIfStale). Other folders without a
// marker are not this package's and are left alone.
func removeStaleStaging(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, e := range entries {
		if !e.IsDir() || !markedName(e.Name()) {
			continue
		}
		path := filepath.Join(dir, e.Name())
		gone, err := removeIfStale(path)
		if gone {
			removed = append(removed, path)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return removed, errors.Join(errs...)
}

// removeIfStale removes the marked folder path when no live run holds it:
// its marker is there and not locked (the run died, and the kernel dropped
// its lock), or it has no marker and is empty (a run killed between making
// the folder and its marker, or while removing it: rmdir takes only an
// empty folder). A folder without a marker that holds anything is not
// this package's and stays.
func removeIfStale(path string) (bool, error) {
	f, err := os.OpenFile(filepath.Join(path, stagingMarker), os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return os.Remove(path) == nil, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	if ok, err := tryLock(f); !ok || err != nil {
		return false, err
	}
	if err := removeMarked(path, "stale"); err != nil {
		return false, err
	}
	return true, nil
}

// markedName reports whether a folder name is one this package gives the
// folders it marks with the staging marker, which the next run removes
// when a killed run left them (removeStaleStaging): staging folders
// (".dbctl-stage-*"), temporary and partial folders
// (".<name>.dbctl-partial-*", also backups being pruned) and import
// staging folders ("dbctl-import-*").
func markedName(name string) bool {
	return strings.HasPrefix(name, stagingPrefix) || strings.Contains(name, partialInfix) ||
		strings.HasPrefix(name, importStagePrefix)
}

// internalName reports whether a folder name is one of this package's
// own, never a backup: markedName's, and any other hidden ".dbctl-" name
// (a restore's ".dbctl-restore-*" and ".dbctl-replaced-*" in a data_dir).
// List and Prune skip such names, and Create and Upload refuse them as a
// backup's name (reservedLocation).
func internalName(name string) bool {
	return markedName(name) || strings.HasPrefix(name, ".") && strings.Contains(name, ".dbctl-")
}

// reservedLocation refuses a backup location whose last element is an
// internalName: such a backup would be hidden from List and Prune, and a
// run killed after its rename but before its marker was removed would
// leave a finished backup that the next run's cleanup takes for a dead
// run's temporary folder and deletes.
func reservedLocation(op, location string) error {
	// The name the backup will have: a folder's path as Create and Upload
	// resolve it (filepath.Abs cleans "x/." and "x/y/.." away), a
	// store's prefix cleaned the same way.
	var name string
	if _, rest, ok := strings.Cut(location, "://"); ok && backupstore.IsRemote(location) {
		name = path.Base(path.Clean("/" + rest))
	} else {
		name = filepath.Base(filepath.Clean(location))
	}
	if internalName(name) {
		return opErr(op, dbctl.ErrInvalidArgument, fmt.Sprintf("%q is a name dbctl gives its own temporary folders (%q, \"*%s*\", \"%s*\", hidden \".dbctl-\" names): choose another name for the backup", name, stagingPrefix+"*", partialInfix, importStagePrefix), nil)
	}
	return nil
}
