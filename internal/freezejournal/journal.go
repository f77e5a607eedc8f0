package freezejournal

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/dbctl/dbctl/internal/crashpoint"
	"github.com/dbctl/dbctl/internal/fsutil"
)

// ErrUnsupported: this system has no flock(2), so a record's holder cannot
// be told alive or dead; the journal is not used there.
var ErrUnsupported = errors.New("freezejournal: no flock on this system")

// DefaultDir is the journal folder when none is given:
// $XDG_STATE_HOME/dbctl when XDG_STATE_HOME is an absolute path (the XDG
// Base Directory rules ignore a relative one), else
// $HOME/.local/state/dbctl.
func DefaultDir() (string, error) {
	if v := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(v) {
		return filepath.Join(v, "dbctl"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".local", "state", "dbctl"), nil
}

// Journal is a journal folder. Every dbctl process that names the same
// folder shares it; it is safe for concurrent use.
type Journal struct {
	dir string
}

// Open makes the folder (0700) if it is missing and returns its journal.
// Records of a folder another user shares are read as that user allows.
func Open(dir string) (*Journal, error) {
	if !Supported {
		return nil, ErrUnsupported
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("freezejournal: %s is not a folder", abs)
	}
	return &Journal{dir: abs}, nil
}

// Dir returns the journal's folder.
func (j *Journal) Dir() string { return j.dir }

// Names lists the folder's record and temporary files (not its lock file),
// held or not: what a check that nothing was left behind looks at.
func (j *Journal) Names() ([]string, error) {
	names, err := readDirNames(j.dir)
	if err != nil {
		return nil, err
	}
	out := names[:0]
	for _, n := range names {
		if n != dirLockName {
			out = append(out, n)
		}
	}
	return out, nil
}

// Entry is a record this process holds locked: written by Create, or
// returned by Orphans. Its methods are not safe for concurrent use.
type Entry struct {
	j    *Journal
	f    *os.File // open on the record, locked; nil once let go
	path string
	// Rec is the record as last written (or read).
	Rec Record
}

// Path returns the record file's path.
func (e *Entry) Path() string { return e.path }

// Held reports whether this process still holds the record.
func (e *Entry) Held() bool { return e != nil && e.f != nil }

// Create writes r as a new record (State as given, normally Intent), with
// a new id, this process's pid and host name and the time, and returns it
// held. Nothing is left in the folder when it fails.
func (j *Journal) Create(r Record) (*Entry, error) {
	r.Version = version
	r.ID = newID()
	r.PID = os.Getpid()
	r.Host, _ = os.Hostname()
	r.Written = time.Now().UTC()
	if err := r.check(); err != nil {
		return nil, err
	}
	e := &Entry{j: j, path: filepath.Join(j.dir, recordName(r.ID))}
	f, err := j.write(e.path, r)
	if f != nil {
		e.f = f
	}
	if err != nil {
		if e.f != nil {
			// in place but not known durable: take it back
			_ = os.Remove(e.path)
			e.Abandon()
		}
		return nil, err
	}
	e.Rec = r
	return e, nil
}

// Update replaces the record with r (same id), written aside and renamed
// over it; the new file is locked before it replaces the old one, so the
// record is never unheld. On error the old record stays (or, when only the
// folder's fsync failed, the new one, held).
func (e *Entry) Update(r Record) error {
	if e.f == nil {
		return errors.New("freezejournal: update of a record no longer held")
	}
	r.Version, r.ID = version, e.Rec.ID
	if err := r.check(); err != nil {
		return err
	}
	f, err := e.j.write(e.path, r)
	if f != nil {
		_ = e.f.Close() // the replaced file's lock
		e.f = f
		e.Rec = r
	}
	return err
}

// Remove deletes the record (the freeze is released, or handed over) and
// lets it go. On error the record is still held: the caller decides whether
// to try again or to Abandon it.
func (e *Entry) Remove() error {
	if e.f == nil {
		return errors.New("freezejournal: remove of a record no longer held")
	}
	if err := crashpoint.Hit("journal.remove"); err != nil {
		return err
	}
	if err := os.Remove(e.path); err != nil {
		return err
	}
	_ = fsutil.SyncDir(e.j.dir)
	e.Abandon()
	return nil
}

// Abandon lets the record go without removing it: it becomes an orphan for
// the next scan (of any process). Safe to call more than once.
func (e *Entry) Abandon() {
	if e != nil && e.f != nil {
		_ = e.f.Close()
		e.f = nil
	}
}

// write writes r to a new temporary file, locked before anything is in it,
// syncs it and renames it to path, and returns the locked file. A failure
// (or a panic) before the rename leaves nothing; a failure of the folder's
// fsync after it returns the file, held, with the error.
func (j *Journal) write(path string, r Record) (*os.File, error) {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	data = append(data, '\n')
	for attempt := 0; ; attempt++ {
		if err := crashpoint.Hit("journal.create " + string(r.State)); err != nil {
			return nil, err
		}
		tmp := filepath.Join(j.dir, tempPrefix+r.ID+"-"+newID())
		f, retry, err := j.writeOnce(path, tmp, data, string(r.State))
		if !retry {
			return f, err
		}
		if attempt == 3 {
			return nil, errors.New("freezejournal: temporary record removed under its writer, again and again")
		}
	}
}

// writeOnce is one attempt of write through the temporary file tmp; retry
// says that a scanner removed tmp before it was locked.
func (j *Journal) writeOnce(path, tmp string, data []byte, state string) (f *os.File, retry bool, err error) {
	// The folder's lock, shared, keeps scanners from removing the new
	// file before it is locked (see removeDeadTemps).
	dl, err := j.dirLock(lockShared)
	if err != nil {
		return nil, false, err
	}
	f, err = os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		_ = dl.Close()
		return nil, false, err
	}
	keep := false
	defer func() {
		if !keep {
			_ = os.Remove(tmp) // gone already after the rename
			_ = f.Close()
		}
	}()
	err = lock(f)
	_ = dl.Close()
	if err != nil {
		return nil, false, err
	}
	// Checked all the same: a file removed under its writer is retried.
	if !samePath(f, tmp) {
		return nil, true, nil
	}
	if err := crashpoint.Hit("journal.write " + state); err != nil {
		return nil, false, err
	}
	if _, err := f.Write(data); err != nil {
		return nil, false, err
	}
	if err := crashpoint.Hit("journal.sync " + state); err != nil {
		return nil, false, err
	}
	if err := f.Sync(); err != nil {
		return nil, false, err
	}
	if err := crashpoint.Hit("journal.rename " + state); err != nil {
		return nil, false, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, false, err
	}
	if err := crashpoint.Hit("journal.sync-dir " + state); err != nil {
		keep = true
		return f, false, err
	}
	err = fsutil.SyncDir(j.dir)
	keep = true
	return f, false, err
}

// samePath reports whether path still names the open file f.
func samePath(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Lstat(path)
	if err != nil {
		return false
	}
	return os.SameFile(a, b)
}

func readDirNames(dir string) ([]string, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.Readdirnames(-1)
}

var idMu sync.Mutex

// newID returns "<unix nanoseconds in hex>-<8 random hex digits>".
func newID() string {
	idMu.Lock()
	defer idMu.Unlock()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return strconv.FormatInt(time.Now().UnixNano(), 16) + "-" + hex.EncodeToString(b[:])
}
