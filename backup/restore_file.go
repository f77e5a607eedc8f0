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
	"github.com/dbctl/dbctl/internal/fsutil"
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
	return fsutil.SyncDir(dir)
}

// restoreFile writes one stored file's original bytes to dst (created,
// must not exist), hashing them as they pass, and syncs it. A file that
// is missing, does not decompress, or whose size or sha256 differ from
// the manifest is bad (a *FileError); err is a failure of the store, the
// disk or ctx, which stops the restore.
func (r *restoreRun) restoreFile(ctx context.Context, w *fileWorker, j restoreJob, dst string) (bad, err error) {
	f := j.f
	rc, err := r.src.open(ctx, f)
	if err != nil {
		return openVerdict(ctx, f, err)
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
	if bad, err := copyVerdict(ctx, f, dst, passed{n: n, sum: sum, srcErr: src.err, sinkErr: sink.err, decodeErr: herr}); bad != nil || err != nil {
		return bad, err
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

// passed is what a one-pass copy of a stored file saw: the original bytes
// written and their sha256, and the errors of the source, the destination
// and the decompression.
type passed struct {
	n                          int64
	sum                        string
	srcErr, sinkErr, decodeErr error
}

// openVerdict sorts the failure to open stored file f (restore, import):
// a missing or unreadable file is bad (a *FileError, the backup's fault);
// a store that cannot be used, an injected fault or the end of ctx is err,
// which stops the run.
func openVerdict(ctx context.Context, f ManifestFile, err error) (bad, fail error) {
	switch {
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, backupstore.ErrNotFound):
		return &FileError{Path: f.Path, Problem: "missing"}, nil
	case ctx.Err() == nil && !storeDown(err) && !errors.Is(err, crashpoint.ErrInjected):
		return &FileError{Path: f.Path, Problem: "unreadable", Err: err}, nil
	}
	return nil, fmt.Errorf("%s: %w", f.Path, err)
}

// copyVerdict sorts the outcome of a one-pass copy of stored file f to dst
// (restore, import): a failed write, the end of ctx, a store that cannot
// be used or an injected fault is err; bytes that do not read, do not
// decompress, or whose size or sha256 differ from the manifest are bad (a
// *FileError); nil, nil when every byte matched.
func copyVerdict(ctx context.Context, f ManifestFile, dst string, p passed) (bad, err error) {
	switch {
	case p.sinkErr != nil:
		return nil, fmt.Errorf("write %s: %w", dst, p.sinkErr)
	case ctx.Err() != nil:
		return nil, context.Cause(ctx)
	case p.srcErr != nil && (storeDown(p.srcErr) || errors.Is(p.srcErr, crashpoint.ErrInjected)):
		return nil, fmt.Errorf("%s: %w", f.Path, p.srcErr)
	case p.srcErr != nil:
		return &FileError{Path: f.Path, Problem: "unreadable", Err: p.srcErr}, nil
	case p.decodeErr != nil:
		return &FileError{Path: f.Path, Problem: "does not decompress", Err: p.decodeErr}, nil
	case p.n < f.Size:
		return &FileError{Path: f.Path, Problem: fmt.Sprintf("truncated: %d of %d bytes", p.n, f.Size)}, nil
	case p.n > f.Size:
		return &FileError{Path: f.Path, Problem: fmt.Sprintf("too long: %d bytes, want %d", p.n, f.Size)}, nil
	case p.sum != f.SHA256:
		return &FileError{Path: f.Path, Problem: "checksum mismatch: sha256 " + p.sum + ", want " + f.SHA256}, nil
	}
	return nil, nil
}
