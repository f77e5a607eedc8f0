package freezejournal

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Orphans returns the records of server that no process holds, each now
// held by the caller, who must Remove or Abandon every one. It removes
// temporary files a dead writer left. Records of other servers, and
// records it cannot read, are left alone; the latter are reported in the
// error, with their path.
//
// A record is taken only if, once locked, the path still names the file
// that was opened: a record removed (or replaced by an update) between the
// open and the lock is skipped, not taken for an orphan.
func (j *Journal) Orphans(server string) ([]*Entry, error) {
	names, err := readDirNames(j.dir)
	if err != nil {
		return nil, err
	}
	var out []*Entry
	var errs []error
	var temps []string
	for _, name := range names {
		path := filepath.Join(j.dir, name)
		switch {
		case strings.HasPrefix(name, tempPrefix):
			temps = append(temps, path)
		case strings.HasPrefix(name, recordPrefix) && strings.HasSuffix(name, recordSuffix):
			e, err := j.take(path)
			switch {
			case err != nil:
				errs = append(errs, fmt.Errorf("freezejournal: %s: %w", path, err))
			case e == nil:
			case e.Rec.Server != server:
				e.Abandon()
			default:
				out = append(out, e)
			}
		}
	}
	if err := j.removeDeadTemps(temps); err != nil {
		errs = append(errs, err)
	}
	return out, errors.Join(errs...)
}

// dirLockName is the folder's lock file: writers hold it shared from
// creating a temporary file until it is locked, scanners exclusively while
// they remove dead writers' temporary files.
const dirLockName = ".lock"

func (j *Journal) dirLock(how func(*os.File) error) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(j.dir, dirLockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := how(f); err != nil {
		_ = f.Close()
		return nil, err
	}
	return f, nil
}

// removeDeadTemps removes the temporary files among paths whose writer is
// gone (their lock is free); no writer is between creating and locking one
// while the folder's lock is held exclusively.
func (j *Journal) removeDeadTemps(paths []string) error {
	if len(paths) == 0 {
		return nil
	}
	dl, err := j.dirLock(lock)
	if err != nil {
		return err
	}
	defer dl.Close()
	for _, p := range paths {
		removeDeadTemp(p)
	}
	return nil
}

// take opens and locks the record at path, or returns nil when a live
// process holds it or it is gone.
func (j *Journal) take(path string) (*Entry, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	ok, err := tryLock(f)
	if err != nil || !ok || !samePath(f, path) {
		_ = f.Close()
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(f, 1<<20))
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	r, err := Parse(b)
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	if recordName(r.ID) != filepath.Base(path) {
		_ = f.Close()
		return nil, fmt.Errorf("freezejournal: record id %q does not match its file name", r.ID)
	}
	return &Entry{j: j, f: f, path: path, Rec: r}, nil
}

// removeDeadTemp removes a temporary file whose writer is gone (its lock
// is free), but only the file that was locked.
func removeDeadTemp(path string) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	if ok, err := tryLock(f); err == nil && ok && samePath(f, path) {
		_ = os.Remove(path)
	}
}
