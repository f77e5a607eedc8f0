package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/dbctl/dbctl/backupstore"
	"github.com/dbctl/dbctl/internal/crashpoint"
)

// restoreNoSync skips the restore's fsyncs (its sync steps are still
// reached): only this package's crash campaigns set it, so that their
// thousand restores do not wait for the disk; every other test syncs.
var restoreNoSync bool

func restoreSyncFile(f *os.File) error {
	if restoreNoSync {
		return nil
	}
	return f.Sync()
}

func restoreSyncDir(dir string) error {
	if restoreNoSync {
		return nil
	}
	return syncDir(dir)
}

// restoreFile writes one stored file's original bytes to dst (created,
// must not exist), hashing them as they pass, and syncs it. A file that
// is missing, does not decompress, or whose size or sha256 differ from
// the manifest is bad (a *FileError); err is a failure of the store, the
// disk or ctx, which stops the restore.
func (r *restoreRun) restoreFile(ctx context.Context, w *fileWorker, j restoreJob, dst string) (bad, err error) {
	f := j.f
	rc, err := r.src.open(ctx, f)
	switch {
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, backupstore.ErrNotFound):
		return &FileError{Path: f.Path, Problem: "missing"}, nil
	case err != nil && ctx.Err() == nil && !storeDown(err) && !errors.Is(err, crashpoint.ErrInjected):
		return &FileError{Path: f.Path, Problem: "unreadable", Err: err}, nil
	case err != nil:
		return nil, fmt.Errorf("%s: %w", f.Path, err)
	}
	defer rc.Close()
	if err := crashpoint.Hit("restore.create new/" + j.rel); err != nil {
		return nil, err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, f.Mode.Perm()|0o200)
	if err != nil {
		return nil, err
	}
	handed := false
	defer func() {
		if !handed {
			out.Close()
		}
	}()
	src, sink := &errReader{r: rc}, &errWriter{w: out}
	var n int64
	var sum string
	var herr error
	mapped := false
	if in, ok := rc.(*os.File); ok && r.man.Compression == "" {
		n, sum, src.err, sink.err, mapped = w.copyMapped(ctx, in, out)
	}
	if !mapped {
		n, sum, herr = w.hashReader(ctx, src, r.man.Compression == "zstd", sink)
	}
	if err := crashpoint.Hit("restore.write new/" + j.rel); err != nil {
		return nil, err
	}
	switch {
	case sink.err != nil:
		return nil, fmt.Errorf("write %s: %w", dst, sink.err)
	case ctx.Err() != nil:
		return nil, context.Cause(ctx)
	case src.err != nil && storeDown(src.err):
		return nil, fmt.Errorf("%s: %w", f.Path, src.err)
	case src.err != nil:
		return &FileError{Path: f.Path, Problem: "unreadable", Err: src.err}, nil
	case herr != nil:
		return &FileError{Path: f.Path, Problem: "does not decompress", Err: herr}, nil
	case n < f.Size:
		return &FileError{Path: f.Path, Problem: fmt.Sprintf("truncated: %d of %d bytes", n, f.Size)}, nil
	case n > f.Size:
		return &FileError{Path: f.Path, Problem: fmt.Sprintf("too long: %d bytes, want %d", n, f.Size)}, nil
	case sum != f.SHA256:
		return &FileError{Path: f.Path, Problem: "checksum mismatch: sha256 " + sum + ", want " + f.SHA256}, nil
	}
	if err := out.Chmod(f.Mode.Perm()); err != nil {
		return nil, err
	}
	handed = true
	r.sync.add(out, j.rel) // synced and closed while the next files are written
	return nil, nil
}

// errReader and errWriter remember the first error of the reader and the
// writer they wrap, so that a failure is told apart: the backup's, the
// disk's, or the decompression's.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	n, err := e.w.Write(p)
	if err != nil && e.err == nil {
		e.err = err
	}
	return n, err
}
