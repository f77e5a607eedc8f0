package backup

import (
	"context"
	"errors"
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
	// backupstore.Options); ignored for a folder.
	Store backupstore.Options
}

// List lists the backups directly under location (a folder or
// "s3://bucket/prefix"): each sub-folder or sub-prefix holding a
// manifest.json, oldest first (by Started, then Name). Sub-folders without
// a manifest (unfinished or foreign) are left out.
func List(ctx context.Context, location string, opts ListOptions) ([]Info, error) {
	return listBackups(ctx, location, opts.Store)
}

func listBackups(ctx context.Context, location string, opts backupstore.Options) ([]Info, error) {
	op := "list backups " + location
	if !backupstore.IsRemote(location) {
		// a folder that does not exist is a typo, not an empty list (as a
		// missing bucket is an error)
		if _, err := os.Stat(location); err != nil {
			return nil, opErr(op, nil, "", err)
		}
	}
	st, err := backupstore.Open(ctx, location, opts)
	if err != nil {
		return nil, opErr(op, nil, "", err)
	}
	defer st.Close()
	names, err := st.Dirs(ctx, "")
	if err != nil {
		return nil, opErr(op, nil, "", err)
	}
	out := []Info{}
	for _, name := range names {
		key := name + "/" + manifestName
		if _, err := st.Stat(ctx, key); errors.Is(err, backupstore.ErrNotFound) || errors.Is(err, backupstore.ErrInvalidKey) {
			continue
		} else if err != nil {
			return nil, opErr(op, nil, "", err)
		}
		info := Info{Name: name, Location: joinLocation(st.Location(), name)}
		sub, err := st.Sub(name) // the same client: no new one, no bucket check
		if err != nil {
			return nil, opErr(op, nil, "", err)
		}
		man, _, err := readStoreManifest(ctx, sub)
		if err != nil {
			if errors.Is(err, ErrInvalid) {
				info.Problem = err.Error()
				out = append(out, info)
				continue
			}
			return nil, err
		}
		fillInfo(&info, man)
		out = append(out, info)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Started.Equal(out[j].Started) {
			return out[i].Started.Before(out[j].Started)
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
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
	// now is the clock of this package's tests.
	now func() time.Time
}

// Prune deletes the backups under location (as List lists
// them) that neither KeepLast nor KeepWithin keeps, and returns them,
// oldest first. A backup that a kept incremental backup names as its Base
// (Manifest.Base.ID), directly or through other bases, is kept; so is a
// backup whose manifest cannot be read. Each deletion removes the
// manifest.json first, so an interrupted prune leaves a folder or prefix
// that no longer looks like a backup, never a damaged backup that looks
// complete. KeepLast and KeepWithin both unset is dbctl.ErrInvalidArgument.
func Prune(ctx context.Context, location string, opts PruneOptions) ([]Info, error) {
	op := "prune backups " + location
	if opts.KeepLast < 0 || opts.KeepWithin < 0 || (opts.KeepLast == 0 && opts.KeepWithin == 0) {
		return nil, opErr(op, dbctl.ErrInvalidArgument, "set KeepLast (>0) or KeepWithin (>0): pruning would delete every backup", nil)
	}
	all, err := listBackups(ctx, location, opts.Store)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	if opts.now != nil {
		now = opts.now()
	}
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
	if opts.DryRun {
		return gone, nil
	}
	st, err := backupstore.Open(ctx, location, opts.Store)
	if err != nil {
		return nil, opErr(op, nil, "", err)
	}
	defer st.Close()
	for i, b := range gone {
		if err := deleteBackup(ctx, st, b.Name); err != nil {
			return gone[:i], opErr(op, nil, "delete "+b.Location, err)
		}
	}
	return gone, nil
}

// deleteBackup removes the manifest of the backup under name, then its
// other objects.
func deleteBackup(ctx context.Context, st backupstore.Store, name string) error {
	if err := st.Delete(ctx, name+"/"+manifestName); err != nil {
		return err
	}
	objs, err := st.List(ctx, name+"/")
	if err != nil {
		return err
	}
	keys := make([]string, len(objs))
	for i, o := range objs {
		keys[i] = o.Key
	}
	if len(keys) == 0 {
		return nil
	}
	return st.Delete(ctx, keys...)
}
