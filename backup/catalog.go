package backup

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/dbctl/dbctl"
	"github.com/dbctl/dbctl/backupstore"
)

// Info describes one backup of a catalog (List).
type Info struct {
	// Name is the sub-folder (sub-prefix) under the listed location;
	// Location is where the backup is (a folder path or s3://...).
	Name     string `json:"name"`
	Location string `json:"location"`
	// ID is the manifest's id ("" for backups made before ids).
	ID       string    `json:"id,omitempty"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// FreezeWindow is how long the tables were frozen.
	FreezeWindow time.Duration `json:"freeze_window_ns"`
	Tables       []string      `json:"tables"`
	Files        int           `json:"files"`
	// Bytes is the size of the original bytes, StoredBytes of what is
	// stored (compressed size for a compressed backup).
	Bytes       int64  `json:"bytes"`
	StoredBytes int64  `json:"stored_bytes"`
	Compression string `json:"compression,omitempty"`
	Partial     bool   `json:"partial"`
	// Incremental is true when the backup reused files of Base.
	Incremental bool          `json:"incremental"`
	Base        *ManifestBase `json:"base,omitempty"`
	// Problem is set when the manifest cannot be read or checked; such a
	// backup is listed but never pruned.
	Problem string `json:"problem,omitempty"`
}

// ListOptions configure List.
type ListOptions struct {
	// Store configures an s3:// location (endpoint, credentials, ...; see
	// backupstore.Options, whose Using lends a store the caller opened);
	// ignored for a folder.
	Store backupstore.Options
	// Logger, when set, gets a line for each leftover of a dead writer
	// that List removes (Info) or cannot remove (Warn); nil discards them.
	Logger *slog.Logger
}

// List lists the backups directly under location (a folder or
// "s3://bucket/prefix"): each sub-folder or sub-prefix holding a
// manifest.json, oldest first (by Started, then Name). Nothing else is
// listed: sub-folders without a manifest (unfinished, or not backups),
// and this package's temporary, staging and partial folders
// (".<name>.dbctl-partial-*", ".dbctl-stage-*", ...). A listed backup is
// whole (its manifest is written last and deleted first) unless someone
// else removed its files, which Verify tells; a manifest that cannot be
// read is listed with Problem set.
//
// List also removes what writers that are gone left under location
// (best effort: a failure is logged, not returned, so that a listing with
// read-only credentials works): in a folder, the temporary, staging and
// partial folders whose marker no process holds locked, and markers left
// in finished backups; in a folder or a store, the prefixes claimed by a
// writer that is gone (claim.go: on this machine, its process is gone;
// elsewhere, no sign of life for claimStaleAfter), whose partial objects,
// unfinished multipart uploads and claim it deletes. A backup's folder or
// prefix without a manifest and without a claim is not this package's to
// remove and is left alone.
//
// Requests to a store: one listing of the sub-prefixes, then for each a
// GET of its manifest.json and a listing of its claim and heartbeat
// objects, all through one client.
func List(ctx context.Context, location string, opts ListOptions) ([]Info, error) {
	cat, err := openCatalog(ctx, "list backups "+location, location, opts.Store, opts.Logger)
	if err != nil {
		return nil, err
	}
	defer cat.close()
	return cat.list(ctx)
}

// catalog is a location holding backups, opened once for List or Prune.
type catalog struct {
	op  string
	st  backupstore.Store
	dir string // the folder, absolute; "" for a store
	log *slog.Logger
}

func openCatalog(ctx context.Context, op, location string, opts backupstore.Options, log *slog.Logger) (*catalog, error) {
	c := &catalog{op: op, log: log}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if !backupstore.IsRemote(location) {
		// a folder that does not exist is a typo, not an empty list (as a
		// missing bucket is an error)
		if _, err := os.Stat(location); err != nil {
			return nil, opErr(op, nil, "", err)
		}
		abs, err := filepath.Abs(location)
		if err != nil {
			return nil, opErr(op, dbctl.ErrInvalidArgument, "", err)
		}
		c.dir = abs
	}
	st, err := backupstore.Open(ctx, location, opts)
	if err != nil {
		return nil, opErr(op, nil, "", err)
	}
	c.st = st
	return c, nil
}

func (c *catalog) close() { _ = c.st.Close() }

// list is List on an open catalog.
func (c *catalog) list(ctx context.Context) ([]Info, error) {
	if c.dir != "" {
		c.cleanFolder(ctx)
	}
	names, err := c.st.Dirs(ctx, "")
	if err != nil {
		return nil, opErr(c.op, nil, "", err)
	}
	out := []Info{}
	for _, name := range names {
		if c.dir != "" && internalName(name) {
			continue // a store has no such folders: a name there is the user's
		}
		info, ok, err := c.entry(ctx, name)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, info)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Started.Equal(out[j].Started) {
			return out[i].Started.Before(out[j].Started)
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// entry reads the backup under name (ok false when there is none: no
// manifest) and, when a claim or heartbeat object is there, clears what
// writers that are gone left.
func (c *catalog) entry(ctx context.Context, name string) (info Info, ok bool, err error) {
	sub, err := c.st.Sub(name) // the same client: no new one, no bucket check
	if errors.Is(err, backupstore.ErrInvalidKey) {
		return info, false, nil // not a name this package writes
	} else if err != nil {
		return info, false, opErr(c.op, nil, "", err)
	}
	info = Info{Name: name, Location: joinLocation(c.st.Location(), name)}
	man, _, err := readStoreManifest(ctx, sub)
	ok = true
	switch {
	case err == nil:
		fillInfo(&info, man)
	case errors.Is(err, backupstore.ErrNotFound):
		ok = false
	case errors.Is(err, ErrInvalid):
		info.Problem = err.Error()
	default:
		return info, false, err
	}
	marks, err := writerKeys(ctx, sub)
	if err != nil {
		return info, false, opErr(c.op, nil, "", err)
	}
	if len(marks) > 0 {
		c.clearClaim(ctx, sub, name)
	}
	return info, ok, nil
}

// clearClaim takes over the claim of sub when its writer is gone, which
// removes what that writer left (takeClaim), then releases it. A live
// writer's claim is left alone.
func (c *catalog) clearClaim(ctx context.Context, sub backupstore.Store, name string) {
	cl, err := takeClaim(ctx, c.op, sub, claimRecord{Op: "cleanup"})
	if errors.Is(err, ErrExists) {
		return
	}
	if err == nil {
		defer cl.forget() // after a panic, the claim is a dead run's
		err = cl.release(ctx)
	}
	if err != nil {
		c.log.WarnContext(ctx, "dbctl: could not remove what a dead writer left (the next run tries again)", "location", sub.Location(), "error", err)
		return
	}
	if c.dir != "" {
		_ = removeIfEmpty(filepath.Join(c.dir, name))
	}
	if cl.tookOver() {
		c.log.InfoContext(ctx, "dbctl: removed what a dead writer left", "location", sub.Location())
	}
}

func joinLocation(root, name string) string {
	if backupstore.IsRemote(root) {
		return root + "/" + name
	}
	return filepath.Join(root, name)
}

func fillInfo(info *Info, man *Manifest) {
	info.ID, info.Started, info.Finished, info.FreezeWindow = man.ID, man.Started, man.Finished, man.FreezeWindow
	info.Compression, info.Partial, info.Base, info.Incremental = man.Compression, man.Partial, man.Base, man.Base != nil
	info.Files = len(man.Files)
	info.Tables = []string{}
	for _, t := range man.Tables {
		info.Tables = append(info.Tables, t.Name)
	}
	for _, f := range man.Files {
		info.Bytes += f.Size
		info.StoredBytes += f.StoredSize
	}
}
