package backup

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/dbctl/dbctl"
	"github.com/dbctl/dbctl/backupstore"
	"github.com/dbctl/dbctl/internal/fsutil"
)

// PruneOptions configure Prune. At least one of KeepLast and
// KeepWithin must be set.
type PruneOptions struct {
	// KeepLast keeps the newest KeepLast backups (by Started).
	KeepLast int
	// KeepWithin keeps every backup that finished within this long before
	// now.
	KeepWithin time.Duration
	// DryRun deletes nothing and returns what would be deleted.
	DryRun bool
	// Store configures an s3:// location (see backupstore.Options).
	Store backupstore.Options
	// Logger, as ListOptions.Logger, for the leftovers of dead writers
	// Prune's listing removes.
	Logger *slog.Logger
	// now is the clock of this package's tests.
	now func() time.Time
}

// Prune deletes the backups under location (as List lists them, and
// removing what List removes) that neither KeepLast nor KeepWithin keeps,
// and returns them, oldest first. A backup that a kept incremental backup
// names as its Base (Manifest.Base.ID), directly or through other bases,
// is kept; so is a backup whose manifest cannot be read. KeepLast and
// KeepWithin both unset is dbctl.ErrInvalidArgument.
//
// Each backup goes as a whole: at every instant it is either listed and
// whole, or not listed. In a folder it is renamed aside first
// (".<name>.dbctl-partial-pruned-*", holding a locked marker), then
// removed; in a store its prefix is claimed (claim.go), its manifest.json
// deleted first, then its other objects and unfinished multipart
// uploads, then the claim. Whatever an interrupted or killed prune leaves
// is not listed, and the next List, Prune (or, in a folder, Create beside
// it) removes it. On an error the backups returned are those that are no
// longer listed (the last of them maybe not yet removed completely).
func Prune(ctx context.Context, location string, opts PruneOptions) ([]Info, error) {
	op := "prune backups " + location
	if opts.KeepLast < 0 || opts.KeepWithin < 0 || (opts.KeepLast == 0 && opts.KeepWithin == 0) {
		return nil, opErr(op, dbctl.ErrInvalidArgument, "set KeepLast (>0) or KeepWithin (>0): pruning would delete every backup", nil)
	}
	cat, err := openCatalog(ctx, op, location, opts.Store, opts.Logger)
	if err != nil {
		return nil, err
	}
	defer cat.close()
	all, err := cat.list(ctx)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	if opts.now != nil {
		now = opts.now()
	}
	gone := pruneSelect(all, opts, now)
	if opts.DryRun {
		return gone, nil
	}
	for i, b := range gone {
		unlisted, err := cat.remove(ctx, b.Name)
		if err != nil {
			if unlisted {
				i++
			}
			return gone[:i], opErr(op, nil, "delete "+b.Location, err)
		}
	}
	return gone, nil
}

// pruneSelect returns the backups of all (oldest first) that opts does
// not keep.
func pruneSelect(all []Info, opts PruneOptions, now time.Time) []Info {
	keep := map[string]bool{}
	byID := map[string]string{}
	n := 0
	for i := len(all) - 1; i >= 0; i-- { // newest first
		b := all[i]
		if b.ID != "" {
			byID[b.ID] = b.Name
		}
		switch {
		case b.Problem != "":
			keep[b.Name] = true
			continue
		case n < opts.KeepLast:
			keep[b.Name] = true
		case opts.KeepWithin > 0 && now.Sub(b.Finished) <= opts.KeepWithin:
			keep[b.Name] = true
		}
		n++
	}
	for changed := true; changed; { // bases of kept backups, transitively
		changed = false
		for _, b := range all {
			if keep[b.Name] && b.Base != nil {
				if base, ok := byID[b.Base.ID]; ok && !keep[base] {
					keep[base], changed = true, true
				}
			}
		}
	}
	gone := []Info{}
	for _, b := range all {
		if !keep[b.Name] {
			gone = append(gone, b)
		}
	}
	return gone
}

// remove deletes the backup under name as a whole (see Prune) and
// reports whether it is no longer listed, also on error.
func (c *catalog) remove(ctx context.Context, name string) (unlisted bool, err error) {
	if c.dir != "" {
		return c.removeFolder(name)
	}
	return c.removePrefix(ctx, name)
}

// removeFolder renames the backup's folder aside, with a marker this run
// holds locked (created in the folder first, so that it goes along), and
// removes it, the marker last (removeMarked: crash points "backup.remove
// pruned" and "backup.remove pruned-marker"): a folder left aside by a
// killed run is removed by the next one (removeStaleStaging).
func (c *catalog) removeFolder(name string) (unlisted bool, err error) {
	path := filepath.Join(c.dir, name)
	lock, err := holdMarker(path, map[string]any{"prune_of": name, "pid": os.Getpid()})
	if err != nil {
		return false, err
	}
	defer lock.Close()
	suffix, err := newBackupID()
	if err != nil {
		return false, err
	}
	aside := filepath.Join(c.dir, "."+name+partialInfix+"pruned-"+suffix[:12])
	if err = hitCatalog("rename-aside", name); err == nil {
		err = os.Rename(path, aside)
	}
	if err != nil {
		// still the backup, listed and whole: take the marker out again
		_ = os.Remove(filepath.Join(path, stagingMarker))
		return false, err
	}
	if err := hitCatalog("sync-dir", name); err != nil {
		return true, err
	}
	if err := fsutil.SyncDir(c.dir); err != nil {
		return true, err
	}
	return true, removeMarked(aside, "pruned")
}

// removePrefix deletes the backup under name in a store: its claim
// taken, its manifest deleted first, then what else a writer of a backup
// writes (removeLeftovers), then the claim released. After a failure the
// claim stays, dead from now on: the next run takes it over and finds
// either the whole backup (its manifest there) or what is left of it.
func (c *catalog) removePrefix(ctx context.Context, name string) (unlisted bool, err error) {
	sub, err := c.st.Sub(name)
	if err != nil {
		return false, err
	}
	cl, err := takeClaim(ctx, c.op, sub, claimRecord{Op: "prune"})
	if err != nil {
		return false, err
	}
	defer cl.forget() // after release a no-op; after a panic, the claim is a dead run's
	if err = cl.lease(); err == nil {
		err = sub.Delete(ctx, manifestName)
	}
	if err != nil {
		// the manifest may be gone all the same (an answer lost): the
		// claim stays, dead from now on, for the next run to sort out
		cl.forget()
		return false, err
	}
	if err = cl.lease(); err == nil {
		err = removeLeftovers(ctx, sub, cl.rec.Nonce)
	}
	if err != nil {
		cl.forget()
		return true, err
	}
	return true, cl.release(ctx)
}
