package backup

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/dbctl/dbctl/backupstore"
	"github.com/dbctl/dbctl/internal/crashpoint"
)

// uploadAborter is what an S3 store adds to backupstore.Store
// (s3store.Store.AbortUploads): the unfinished multipart uploads a dead
// process left, aborted.
type uploadAborter interface {
	AbortUploads(ctx context.Context, prefix string) (int, error)
}

// aborterOf finds st's AbortUploads, also behind a store lent through
// backupstore.Options.Using; nil for a store without multipart uploads.
func aborterOf(st backupstore.Store) uploadAborter {
	for {
		if a, ok := st.(uploadAborter); ok {
			return a
		}
		u, ok := st.(interface{ Unwrap() backupstore.Store })
		if !ok {
			return nil
		}
		st = u.Unwrap()
	}
}

// layoutDirs are the folders (key prefixes) of a backup's files.
var layoutDirs = []string{"data/", "state/", "config/"}

// isLayoutKey reports whether key is one a writer of a backup writes: its
// files, its manifest, its claim and heartbeat objects.
func isLayoutKey(key string) bool {
	if key == manifestName || key == claimName || strings.HasPrefix(key, claimName+".") {
		return true
	}
	for _, d := range layoutDirs {
		if strings.HasPrefix(key, d) {
			return true
		}
	}
	return false
}

// removeLeftovers removes what dead writers left in st, a backup's
// prefix, once this run holds its claim (nonce): with a manifest there
// (a finished backup whose writer died before it deleted its claim) the
// old heartbeat objects; without one, every unfinished multipart upload
// of the backup's keys and every object a writer of a backup writes
// (isLayoutKey; nothing else a user keeps there, and nothing of a backup
// nested under the prefix); in a folder, either way, the temporary files
// of Puts that were killed. The claim itself stays: its holder releases
// it.
func removeLeftovers(ctx context.Context, st backupstore.Store, nonce string) error {
	_, err := st.Stat(ctx, manifestName)
	finished := err == nil
	if err != nil && !errors.Is(err, backupstore.ErrNotFound) {
		return err
	}
	ours := claimName + "." + nonce
	var keys []string
	if finished {
		objs, err := st.List(ctx, claimName+".")
		if err != nil {
			return err
		}
		for _, o := range objs {
			if o.Key != ours && strings.HasPrefix(o.Key, claimName+".") {
				keys = append(keys, o.Key)
			}
		}
	} else {
		if a := aborterOf(st); a != nil {
			for _, p := range append(layoutDirs, manifestName) {
				if _, err := a.AbortUploads(ctx, p); err != nil {
					return err
				}
			}
		}
		objs, err := st.List(ctx, "")
		if err != nil {
			return err
		}
		nested := map[string]bool{}
		for _, o := range objs {
			if d, ok := strings.CutSuffix(o.Key, "/"+manifestName); ok {
				nested[d] = true
			}
		}
		for _, o := range objs {
			if o.Key != claimName && o.Key != ours && isLayoutKey(o.Key) && !underNested(o.Key, nested) {
				keys = append(keys, o.Key)
			}
		}
	}
	if len(keys) > 0 {
		if err := st.Delete(ctx, keys...); err != nil {
			return err
		}
	}
	return removeTempFiles(st)
}

// underNested reports whether key lies under one of the nested backups'
// folders.
func underNested(key string, nested map[string]bool) bool {
	for i := strings.IndexByte(key, '/'); i >= 0; {
		if nested[key[:i]] {
			return true
		}
		j := strings.IndexByte(key[i+1:], '/')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return false
}

// tempInfix marks the temporary files of a folder store's unfinished Puts
// (backupstore's ".<name>.dbctl-tmp-*", which its List leaves out).
const tempInfix = ".dbctl-tmp-"

// removeTempFiles removes, in a folder store, the temporary files that
// Puts killed before their rename left in the backup's folder (a claim's,
// a manifest's, a file's), and the folders of the backup's layout that
// leaves empty; backups nested in the folder are left alone. Only the
// claim's holder calls it: nobody else writes there. Nothing for other
// stores.
func removeTempFiles(st backupstore.Store) error {
	root := st.Location()
	if backupstore.IsRemote(root) {
		return nil
	}
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil
		case err != nil:
			return err
		case e.IsDir() && p != root:
			if _, err := os.Stat(filepath.Join(p, manifestName)); err == nil {
				return filepath.SkipDir // a nested backup
			}
		case strings.Contains(e.Name(), tempInfix):
			if err := hitCatalog("remove-temp", "temp"); err != nil {
				return err
			}
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, d := range layoutDirs {
		if err := removeEmptyDirs(filepath.Join(root, strings.TrimSuffix(d, "/"))); err != nil {
			return err
		}
	}
	return nil
}

// removeEmptyDirs removes the empty folders under dir, deepest first, and
// dir when it ends up empty.
func removeEmptyDirs(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := removeEmptyDirs(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return removeIfEmpty(dir)
}

// removeIfEmpty removes dir when it has no entry; a missing or non-empty
// dir is no error.
func removeIfEmpty(dir string) error {
	err := os.Remove(dir)
	if err == nil || errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if entries, rerr := os.ReadDir(dir); rerr == nil && len(entries) > 0 {
		return nil
	}
	return err
}

// hitCatalog is the crash point (internal/crashpoint) of a file step of
// the catalog's cleanup and prune: "catalog.<step> <subject>", the subject
// a backup's name or a fixed word, never a random name, so that the steps
// of two runs compare.
func hitCatalog(step, subject string) error {
	return crashpoint.Hit("catalog." + step + " " + subject)
}
