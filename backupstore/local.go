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
	if err := checkKey(key); err != nil {
		return "", &Error{Op: op, Key: key, Kind: ErrInvalidKey, Err: err}
	}
	return filepath.Join(l.root, filepath.FromSlash(key)), nil
}

// Put implements Store: the bytes go to a temporary file beside the
// target, which is synced and renamed into place (and the folder synced).
func (l *Local) Put(ctx context.Context, key string, r io.Reader, opts PutOptions) (res PutResult, err error) {
	p, err := l.path("put", key)
	if err != nil {
		return res, err
	}
	src, err := putSource(key, r, opts)
	if err != nil {
		return res, err
	}
	defer src.failed(&err, key, classifyLocal)
	var f *os.File
	// A concurrent Delete may remove the folder between the two calls.
	for try := 0; try < 3; try++ {
		if err = os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return res, err
		}
		if f, err = os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".dbctl-tmp-"); !errors.Is(err, fs.ErrNotExist) {
			break
		}
	}
	if err != nil {
		return res, err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if _, err := io.Copy(f, ctxReader{ctx, src.r}); err != nil {
		return res, err
	}
	if res, err = src.finish(); err != nil {
		return res, err
	}
	if err := f.Chmod(0o644); err != nil {
		return res, err
	}
	if err := f.Sync(); err != nil {
		return res, err
	}
	if err := f.Close(); err != nil {
		return res, err
	}
	if opts.NoOverwrite {
		// a hard link fails if p exists: the atomic "create if absent"
		if err := os.Link(tmp, p); err != nil {
			if errors.Is(err, fs.ErrExist) {
				err = &Error{Op: "put", Key: key, Kind: ErrExists, Err: err}
			}
			return res, err
		}
		if err := os.Remove(tmp); err != nil {
			return res, err
		}
	} else if err := os.Rename(tmp, p); err != nil {
		return res, err
	}
	return res, syncDir(filepath.Dir(p))
}

// ctxReader stops a copy when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

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
	if err := checkPrefix(prefix); err != nil {
		return nil, &Error{Op: "list", Key: prefix, Kind: ErrInvalidKey, Err: err}
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
		if !d.Type().IsRegular() || strings.Contains(d.Name(), ".dbctl-tmp-") {
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
