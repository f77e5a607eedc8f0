package backupstore

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Local is a Store in a folder: keys are paths under it.
type Local struct {
	root string
}

// OpenLocal returns the store rooted at dir (made absolute). The folder is
// not created here: the first Put creates it with its parents.
func OpenLocal(dir string) (*Local, error) {
	if dir == "" {
		return nil, &Error{Op: "open", Kind: ErrInvalidLocation, Err: errors.New("empty folder path")}
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, &Error{Op: "open", Key: dir, Kind: ErrInvalidLocation, Err: err}
	}
	return &Local{root: abs}, nil
}

// Location implements Store.
func (l *Local) Location() string { return l.root }

func (l *Local) path(op, key string) (string, error) {
	if err := CheckKey(key); err != nil {
		return "", &Error{Op: op, Key: key, Kind: ErrInvalidKey, Err: err}
	}
	return filepath.Join(l.root, filepath.FromSlash(key)), nil
}

// Sub implements Store: the folder prefix under this one.
func (l *Local) Sub(prefix string) (Store, error) {
	p, err := l.path("sub", prefix)
	if err != nil {
		return nil, err
	}
	return &Local{root: p}, nil
}

// Close implements Store: a folder holds nothing open between calls.
func (l *Local) Close() error { return nil }

func classifyLocal(err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return ErrNotFound
	case errors.Is(err, fs.ErrPermission):
		return ErrAccessDenied
	case errors.Is(err, ErrCorrupt):
		return ErrCorrupt
	}
	return nil
}

// Get implements Store.
func (l *Local) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	return l.GetRange(ctx, key, 0, -1)
}

// GetRange implements Store.
func (l *Local) GetRange(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	p, err := l.path("get", key)
	if err != nil {
		return nil, err
	}
	if err := hit("get", key); err != nil {
		return nil, &Error{Op: "get", Key: key, Err: err}
	}
	if off < 0 {
		return nil, &Error{Op: "get", Key: key, Kind: ErrInvalidOptions, Err: errors.New("negative offset")}
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, &Error{Op: "get", Key: key, Kind: classifyLocal(err), Err: err}
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, &Error{Op: "get", Key: key, Kind: ErrNotFound, Err: err}
	}
	if off == 0 && n < 0 {
		return f, nil
	}
	if n < 0 {
		n = 1<<63 - 1 - off
	}
	return struct {
		io.Reader
		io.Closer
	}{io.NewSectionReader(f, off, n), f}, nil
}

// Stat implements Store.
func (l *Local) Stat(ctx context.Context, key string) (Info, error) {
	p, err := l.path("stat", key)
	if err != nil {
		return Info{}, err
	}
	if err := hit("stat", key); err != nil {
		return Info{}, &Error{Op: "stat", Key: key, Err: err}
	}
	fi, err := os.Stat(p)
	if err != nil {
		return Info{}, &Error{Op: "stat", Key: key, Kind: classifyLocal(err), Err: err}
	}
	if !fi.Mode().IsRegular() {
		return Info{}, &Error{Op: "stat", Key: key, Kind: ErrNotFound, Err: errors.New("not a regular file")}
	}
	return Info{Key: key, Size: fi.Size(), Modified: fi.ModTime()}, nil
}

// List implements Store. Temporary files of unfinished Puts are left out.
func (l *Local) List(ctx context.Context, prefix string) ([]Info, error) {
	if err := CheckPrefix(prefix); err != nil {
		return nil, &Error{Op: "list", Key: prefix, Kind: ErrInvalidKey, Err: err}
	}
	if err := hit("list", prefix); err != nil {
		return nil, &Error{Op: "list", Key: prefix, Err: err}
	}
	// Walk the deepest folder the prefix names completely.
	start := l.root
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		start = filepath.Join(l.root, filepath.FromSlash(prefix[:i]))
	}
	var out []Info
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !d.Type().IsRegular() || strings.Contains(d.Name(), tmpInfix) {
			return nil
		}
		rel, err := filepath.Rel(l.root, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if !strings.HasPrefix(key, prefix) {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil // removed meanwhile
		}
		out = append(out, Info{Key: key, Size: fi.Size(), Modified: fi.ModTime()})
		return nil
	})
	if err != nil {
		return nil, wrap("list", prefix, classifyLocal(err), err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// Dirs implements Store.
func (l *Local) Dirs(ctx context.Context, dir string) ([]string, error) {
	p := l.root
	if dir = strings.Trim(dir, "/"); dir != "" {
		var err error
		if p, err = l.path("list", dir); err != nil {
			return nil, err
		}
	}
	if err := hit("dirs", dir); err != nil {
		return nil, &Error{Op: "list", Key: dir, Err: err}
	}
	entries, err := os.ReadDir(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, &Error{Op: "list", Key: dir, Kind: classifyLocal(err), Err: err}
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// Delete implements Store; folders left empty are removed up to the root.
func (l *Local) Delete(ctx context.Context, keys ...string) error {
	var errs []error
	for _, key := range keys {
		p, err := l.path("delete", key)
		if err != nil {
			return err
		}
		if err := hit("delete", key); err != nil {
			return errors.Join(append(errs, &Error{Op: "delete", Key: key, Err: err})...)
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, &Error{Op: "delete", Key: key, Kind: classifyLocal(err), Err: err})
			continue
		}
		l.removeEmptyParents(p)
	}
	return errors.Join(errs...)
}

// removeEmptyParents removes the folders above p that are empty, up to the
// root (excluded).
func (l *Local) removeEmptyParents(p string) {
	for d := filepath.Dir(p); d != l.root && strings.HasPrefix(d, l.root+string(filepath.Separator)); d = filepath.Dir(d) {
		if os.Remove(d) != nil { // not empty (or gone): stop
			break
		}
	}
}
