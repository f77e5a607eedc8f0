package backup

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dbctl/dbctl"
	"github.com/dbctl/dbctl/internal/crashpoint"
)

// A restore works in <data_dir>/restorePrefix<id>/: marker (stagingMarker,
// flock'd while the run lives), new/ (the backup's content, written and
// synced first), journal.json once the swap begins, old/ (the entries the
// swap replaced). replacedPrefix names the folder KeepReplaced keeps old/
// as.
const (
	restorePrefix  = ".dbctl-restore-"
	replacedPrefix = ".dbctl-replaced-"
	journalName    = "journal.json"
	journalVersion = 1
	stateSwapping  = "swapping"
	stateCommitted = "committed"
)

// replaceable lists the entries of dataDir a restore replaces: every one
// except dot entries (restore folders, kept folders, what is not searchd's)
// and lost+found (a mount point's, for fsck), sorted. A missing data_dir
// has none.
func replaceable(dataDir string) ([]string, error) {
	entries, err := os.ReadDir(dataDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if n := e.Name(); !strings.HasPrefix(n, ".") && n != "lost+found" {
			out = append(out, n)
		}
	}
	return out, nil
}

// run writes the new content aside, swaps it in and cleans up; on any
// failure before the commit, abort leaves the data_dir as it was.
func (r *restoreRun) run(ctx context.Context) (err error) {
	r.plan()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	rep := startReporter(r.opts.Progress, r.tr.snapshot, cancel)
	defer func() {
		p := recover()
		if rp := rep.stop(); p == nil {
			p = rp
		}
		if !r.committed && (err != nil || p != nil) {
			if aerr := r.abort(); aerr != nil {
				err = errors.Join(err, opErr(r.op, nil, "undo", aerr))
			}
		}
		if r.lock != nil { // a panic after the commit: the next run finishes
			r.lock.Close()
			r.lock = nil
		}
		if p != nil {
			panic(p)
		}
	}()
	if err := r.begin(); err != nil {
		return opErr(r.op, nil, "restore folder", err)
	}
	if err := r.writeAll(ctx); err != nil {
		return r.wrap(err)
	}
	r.tr.phase.Store("swap")
	if err := refuseLive(r.op, r.dataDir); err != nil { // searchd may have started meanwhile
		return err
	}
	old, err := replaceable(r.dataDir)
	if err != nil {
		return opErr(r.op, nil, "", err)
	}
	if len(old) > 0 && !r.opts.Overwrite {
		return opErr(r.op, ErrDataDirNotEmpty, r.dataDir+" (entries appeared during the restore)", nil)
	}
	if err := r.swap(ctx, old); err != nil {
		return r.wrap(err)
	}
	p := rep.stop()
	r.finish()
	if p != nil {
		panic(p)
	}
	return nil
}

// wrap makes err a *dbctl.OpError of the restore unless it is one.
func (r *restoreRun) wrap(err error) error {
	var oe *dbctl.OpError
	if errors.As(err, &oe) {
		return err
	}
	return opErr(r.op, nil, "", err)
}

// swap moves the data_dir's entries old into old/ and the new ones into
// the data_dir, under a journal, and commits.
func (r *restoreRun) swap(ctx context.Context, old []string) error {
	j := &journal{Version: journalVersion, State: stateSwapping, Backup: r.location, Started: time.Now().UTC(),
		PID: os.Getpid(), Old: old, New: r.newNames}
	if r.opts.KeepReplaced && len(old) > 0 {
		j.Keep = filepath.Join(r.dataDir, replacedPrefix+time.Now().UTC().Format("20060102T150405Z")+"-"+strings.TrimPrefix(filepath.Base(r.dir), restorePrefix))
	}
	r.j = j
	if err := writeJournal(r.dir, j); err != nil {
		return err
	}
	oldDir, newDir := filepath.Join(r.dir, "old"), filepath.Join(r.dir, "new")
	if err := crashpoint.Hit("restore.mkdir old"); err != nil {
		return err
	}
	if err := os.Mkdir(oldDir, 0o700); err != nil {
		return err
	}
	for _, name := range old {
		if err := context.Cause(ctx); err != nil {
			return err
		}
		if err := crashpoint.Hit("restore.move-out " + name); err != nil {
			return err
		}
		if err := os.Rename(filepath.Join(r.dataDir, name), filepath.Join(oldDir, name)); err != nil {
			return err
		}
	}
	if len(old) > 0 {
		if err := syncDirStep("old", oldDir); err != nil {
			return err
		}
	}
	for _, name := range r.newNames {
		if err := context.Cause(ctx); err != nil {
			return err
		}
		if err := crashpoint.Hit("restore.move-in " + name); err != nil {
			return err
		}
		if err := renameNoReplace(filepath.Join(newDir, name), filepath.Join(r.dataDir, name)); err != nil {
			return err
		}
	}
	if err := syncDirStep("data_dir", r.dataDir); err != nil {
		return err
	}
	c := *j
	c.State = stateCommitted
	// the commit is the rename of this journal: cancelled (or a panic in
	// Progress) until right before it, the swap is undone
	err := writeJournalThen(r.dir, &c, func() error { return context.Cause(ctx) }, func() { r.committed = true })
	if r.committed && err != nil {
		// the journal says committed: the restore is done whatever the
		// folder's sync says
		r.log.Warn("dbctl: restore committed, but syncing its folder failed", "folder", r.dir, "error", err)
		return nil
	}
	return err
}

// finish removes old/ (or keeps it) and the restore folder after the
// commit. A failure here does not fail the restore, which is done: it is
// logged, reported (RestoreReport.Leftover) and finished by the next
// Restore into the data_dir.
func (r *restoreRun) finish() {
	r.rep.Replaced = r.j.Old
	kept, err := rollForward(r.dir, r.j)
	r.rep.KeptAt = kept
	if err == nil {
		err = r.removeFolder()
	}
	if err != nil {
		r.rep.Leftover = r.dir
		r.log.Warn("dbctl: restore done, but its folder could not be removed; the next restore into the data_dir removes it",
			"data_dir", r.dataDir, "folder", r.dir, "error", err)
	}
	if len(r.j.Old) > 0 {
		r.log.Info("dbctl: restore replaced the data_dir's entries", "data_dir", r.dataDir, "replaced", strings.Join(r.j.Old, ", "), "kept_at", kept)
	}
}

// abort undoes a restore that did not commit: whatever moved is moved
// back, the restore folder and a data_dir this run made are removed. When
// the undo itself fails, the folder stays (its lock is released), and the
// next Restore into the data_dir finishes it from the journal.
func (r *restoreRun) abort() error {
	if r.dir == "" {
		r.removeCreated()
		return nil
	}
	if r.j != nil {
		if err := rollBack(r.dataDir, r.dir, r.j); err != nil {
			r.lock.Close()
			return fmt.Errorf("%w; the next restore into %s puts the earlier entries back from %s", err, r.dataDir, r.dir)
		}
	}
	if err := r.removeFolder(); err != nil {
		return err
	}
	r.removeCreated()
	return nil
}

// removeCreated removes the data_dir and the parents this run made, each
// only when empty (if not, something else is in it now).
func (r *restoreRun) removeCreated() {
	for _, d := range r.createdDirs {
		if os.Remove(d) != nil {
			return
		}
	}
}

// removeFolder removes the restore folder, then releases its marker.
func (r *restoreRun) removeFolder() error {
	err := crashpoint.Hit("restore.remove restore-folder")
	if err == nil {
		err = os.RemoveAll(r.dir)
	}
	if r.lock != nil {
		r.lock.Close()
		r.lock = nil
	}
	return err
}

// rollBack undoes a swap that was not committed, whatever point it
// reached, and can itself be interrupted and run again: each New entry
// that is no longer in new/ was moved into the data_dir and goes back into
// new/; then each Old entry still in old/ goes back into the data_dir.
func rollBack(dataDir, dir string, j *journal) error {
	oldDir, newDir := filepath.Join(dir, "old"), filepath.Join(dir, "new")
	moved := false
	for _, name := range j.New {
		if _, err := os.Lstat(filepath.Join(newDir, name)); err == nil || !errors.Is(err, fs.ErrNotExist) {
			continue // not moved in (or unknown: leave it)
		}
		if _, err := os.Lstat(filepath.Join(dataDir, name)); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err := crashpoint.Hit("restore.rollback-out " + name); err != nil {
			return err
		}
		if err := os.Rename(filepath.Join(dataDir, name), filepath.Join(newDir, name)); err != nil {
			return err
		}
		moved = true
	}
	for _, name := range j.Old {
		if _, err := os.Lstat(filepath.Join(oldDir, name)); errors.Is(err, fs.ErrNotExist) {
			continue // not moved out, or already back
		}
		if err := crashpoint.Hit("restore.rollback-in " + name); err != nil {
			return err
		}
		if err := renameNoReplace(filepath.Join(oldDir, name), filepath.Join(dataDir, name)); err != nil {
			return err
		}
		moved = true
	}
	if !moved {
		return nil
	}
	return restoreSyncDir(dataDir)
}

// rollForward finishes a committed swap: old/ is renamed to j.Keep, or
// removed. It returns where the replaced entries are kept.
func rollForward(dir string, j *journal) (string, error) {
	oldDir := filepath.Join(dir, "old")
	if _, err := os.Lstat(oldDir); errors.Is(err, fs.ErrNotExist) {
		return j.Keep, nil
	}
	if j.Keep != "" {
		if err := crashpoint.Hit("restore.keep old"); err != nil {
			return "", err
		}
		if err := renameNoReplace(oldDir, j.Keep); err != nil {
			return "", err
		}
		return j.Keep, restoreSyncDir(filepath.Dir(j.Keep))
	}
	if err := crashpoint.Hit("restore.remove old"); err != nil {
		return "", err
	}
	return "", os.RemoveAll(oldDir)
}

// renameNoReplace renames from to to, refusing to replace an existing
// to (os.Rename replaces a file silently). The data_dir is offline
// (refuseLive), so nothing races the check.
func renameNoReplace(from, to string) error {
	if _, err := os.Lstat(to); err == nil {
		return fmt.Errorf("%s: %w", to, fs.ErrExist)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return os.Rename(from, to)
}

func syncDirStep(name, dir string) error {
	if err := crashpoint.Hit("restore.sync-dir " + name); err != nil {
		return err
	}
	return restoreSyncDir(dir)
}
