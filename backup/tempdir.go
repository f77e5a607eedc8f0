package backup

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// markedTempDir makes a temporary folder under parent (os.TempDir() for
// "") named pattern with partialInfix, holding the locked marker of the
// staging folders: if this process is killed, the next call here, or the
// next backup staging in parent, removes it (removeStaleStaging), so no
// killed download or import leaves a copy of a backup behind. It first
// removes such leftovers in parent. done removes the folder, its marker
// last.
func markedTempDir(parent, pattern string, info map[string]any) (dir string, done func(), err error) {
	if parent == "" {
		parent = os.TempDir()
	}
	_, _ = removeStaleStaging(parent) // best effort: a leftover only costs space
	dir, err = os.MkdirTemp(parent, pattern+partialInfix)
	if err != nil {
		return "", nil, err
	}
	info["pid"] = os.Getpid()
	lock, err := lockMarker(dir, info)
	if err != nil {
		_ = os.RemoveAll(dir)
		return "", nil, err
	}
	return dir, func() {
		defer lock.Close()
		_ = removeMarkedDir(dir, "temp")
	}, nil
}

// removeMarkedDir removes a folder of this package that holds a marker:
// everything but the marker first, then the marker, then the folder, so
// that a run killed half-way leaves the marker, by which the next run
// (removeStaleStaging) knows the folder and removes the rest. subject
// names the crash points ("catalog.remove <subject>",
// "catalog.remove-marker <subject>").
func removeMarkedDir(dir, subject string) error {
	if err := hitCatalog("remove", subject); err != nil {
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
	if err := hitCatalog("remove-marker", subject); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(dir, stagingMarker)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.Remove(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// removeHeldDir is removeMarkedDir of a folder whose marker f this run
// has just locked: a panic on the way closes f first, so that this
// process does not hold the dead folder's lock for good.
func removeHeldDir(dir string, f *os.File) error {
	defer func() {
		if p := recover(); p != nil {
			f.Close()
			panic(p)
		}
	}()
	return removeMarkedDir(dir, "stale")
}

// holdMarker creates (or opens, when a dead run left one) dir's marker,
// locks it and writes info into it: the marker of a folder this run is
// about to rename aside. ErrExists-like failure when another process
// holds it.
func holdMarker(dir string, info map[string]any) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, stagingMarker), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	ok, err := tryLock(f)
	if err == nil && !ok {
		err = errors.New("another process holds " + filepath.Join(dir, stagingMarker))
	}
	if err == nil {
		b, _ := json.Marshal(info)
		if err = f.Truncate(0); err == nil {
			_, err = f.WriteAt(append(b, '\n'), 0)
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// emptyDirAge is how old a marker-less folder of this package must be
// before cleanFolder removes it when it is empty: one made a moment ago
// is about to get its marker.
const emptyDirAge = time.Hour

// cleanFolder removes from the catalog folder what runs that are gone
// left: this package's temporary, staging and partial folders (also
// backups half pruned) whose marker no process holds (removeStaleStaging),
// empty ones of them without a marker (a run killed between making the
// folder and its marker) older than emptyDirAge, and the markers left
// unlocked inside finished backups (a run killed between the rename into
// place and the marker's removal, or before a prune renamed the backup
// aside). Best effort: failures are logged.
func (c *catalog) cleanFolder(ctx context.Context) {
	removed, err := removeStaleStaging(c.dir)
	for _, p := range removed {
		c.log.InfoContext(ctx, "dbctl: removed a folder left by a killed run", "path", p)
	}
	if err != nil {
		c.log.WarnContext(ctx, "dbctl: could not remove folders left by killed runs", "dir", c.dir, "error", err)
	}
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		path := filepath.Join(c.dir, e.Name())
		if internalName(e.Name()) {
			if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > emptyDirAge {
				if _, err := os.Stat(filepath.Join(path, stagingMarker)); errors.Is(err, fs.ErrNotExist) {
					_ = os.Remove(path) // only when empty
				}
			}
			continue
		}
		if err := removeStaleMarker(path, e.Name()); err != nil {
			c.log.WarnContext(ctx, "dbctl: could not remove a marker left by a killed run", "path", path, "error", err)
		}
	}
}

// removeStaleMarker removes the marker in a finished backup's folder when
// no process holds it.
func removeStaleMarker(dir, name string) error {
	f, err := os.OpenFile(filepath.Join(dir, stagingMarker), os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	ok, err := tryLock(f)
	if err != nil || !ok {
		return err
	}
	if err := hitCatalog("remove-stale-marker", name); err != nil {
		return err
	}
	return os.Remove(filepath.Join(dir, stagingMarker))
}
