package backupstore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/dbctl/dbctl/internal/crashpoint"
	"github.com/dbctl/dbctl/internal/fsutil"
)

// hit is the crash point of a step of key (package doc).
func hit(step, key string) error {
	return crashpoint.Hit("store." + step + " " + key)
}

// Put implements Store: the bytes go to a temporary file beside the
// target, which is synced and renamed into place (and the folder synced):
// a crash at any step leaves the old object or the new one, and at worst
// a temporary file (".<name>.dbctl-tmp-*", which List leaves out). With
// NoOverwrite the temporary file is hard-linked to the target instead,
// which fails if the target exists; a target holding the same bytes is
// taken as this Put's own (PutOptions.NoOverwrite).
func (l *Local) Put(ctx context.Context, key string, r io.Reader, opts PutOptions) (res PutResult, err error) {
	p, err := l.path("put", key)
	if err != nil {
		return res, err
	}
	src, err := NewPutStream(key, r, opts)
	if err != nil {
		return res, err
	}
	defer src.failed(&err, key, classifyLocal)
	if err := hit("create", key); err != nil {
		return res, err
	}
	var f *os.File
	// A concurrent Delete may remove the folder between the two calls.
	for try := 0; try < 3; try++ {
		if err = os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return res, err
		}
		if f, err = os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+tmpInfix); !errors.Is(err, fs.ErrNotExist) {
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
	if err := hit("write", key); err != nil {
		return res, err
	}
	if _, err := io.Copy(f, ctxReader{ctx, src}); err != nil {
		return res, err
	}
	if res, err = src.Finish(); err != nil {
		return res, err
	}
	if err := f.Chmod(0o644); err != nil {
		return res, err
	}
	if err := hit("sync", key); err != nil {
		return res, err
	}
	if err := f.Sync(); err != nil {
		return res, err
	}
	if err := f.Close(); err != nil {
		return res, err
	}
	if opts.NoOverwrite {
		if err := linkNew(key, tmp, p); err != nil {
			return res, err
		}
	} else {
		if err := hit("rename", key); err != nil {
			return res, err
		}
		if err := os.Rename(tmp, p); err != nil {
			return res, err
		}
	}
	if err := hit("sync-dir", key); err != nil {
		return res, err
	}
	return res, fsutil.SyncDir(filepath.Dir(p))
}

// tmpInfix marks the temporary files of unfinished Puts.
const tmpInfix = ".dbctl-tmp-"

// linkNew hard-links tmp to p (the atomic "create if absent") and removes
// tmp. When p exists with tmp's bytes, it is this Put's own (a run that
// stopped between the link and the removal, retried) and tmp just goes;
// other bytes are ErrExists.
func linkNew(key, tmp, p string) error {
	if err := hit("link", key); err != nil {
		return err
	}
	if err := os.Link(tmp, p); err != nil {
		if !errors.Is(err, fs.ErrExist) {
			return err
		}
		same, serr := sameBytes(tmp, p)
		if serr != nil {
			return errors.Join(&Error{Op: "put", Key: key, Kind: ErrExists, Err: err}, serr)
		}
		if !same {
			return &Error{Op: "put", Key: key, Kind: ErrExists, Err: err}
		}
	}
	if err := hit("remove-temp", key); err != nil {
		return err
	}
	return os.Remove(tmp)
}

// sameBytes reports whether files a and b hold the same bytes.
func sameBytes(a, b string) (bool, error) {
	fa, err := os.Open(a)
	if err != nil {
		return false, err
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		return false, err
	}
	defer fb.Close()
	ia, err := fa.Stat()
	if err != nil {
		return false, err
	}
	ib, err := fb.Stat()
	if err != nil {
		return false, err
	}
	if ia.Size() != ib.Size() || !ib.Mode().IsRegular() {
		return false, nil
	}
	ba, bb := make([]byte, 64<<10), make([]byte, 64<<10)
	for {
		na, ea := io.ReadFull(fa, ba)
		nb, eb := io.ReadFull(fb, bb)
		if na != nb || !bytes.Equal(ba[:na], bb[:nb]) {
			return false, nil
		}
		if ea == io.EOF || ea == io.ErrUnexpectedEOF {
			return eb == ea, nil
		}
		if ea != nil {
			return false, ea
		}
		if eb != nil {
			return false, eb
		}
	}
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
