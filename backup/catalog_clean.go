package backup

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

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

// cleanFolder removes from the catalog folder what runs that are gone
// left: this package's temporary, staging and partial folders (also
// backups half pruned) whose marker no process holds, or empty without a
// marker (removeStaleStaging), and the markers left unlocked inside
// finished backups (a run killed between the rename into place and the
// marker's removal, or before a prune renamed the backup aside). Best
// effort: failures are logged.
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
