package backup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"

	"github.com/dbctl/dbctl/internal/crashpoint"
)

// importOpenStep is the crash point before Import opens a stored file (a
// local file, or a GET of a store object): "import.stage-open <path>".
const importOpenStep = "import.stage-open"

// stageFiles writes files into folder, each read once from the backup
// (from.src: a local file, or a store object streamed as it arrives),
// decompressed when the backup is compressed, and hashed on the way: the
// files are not read again before IMPORT TABLE (one pass, issue 20). Several
// files are written at once (one worker per CPU; at least 4 for a store,
// whose latency they overlap). A file that is missing, does not
// decompress, or whose size or sha256 differ from the manifest is a
// *FileError; when any is, the result is ErrCorrupt naming every one (the
// caller removes the staging folder: nothing is sent). A failure of the
// store (its backupstore kind kept), of the disk or of ctx stops the
// staging and is returned as it is. A panic in a worker is raised again on
// the caller's goroutine once every worker stopped.
//
// The files are not synced: searchd reads them from the page cache before
// IMPORT TABLE answers, and a crash before that leaves a staging folder
// that the next import removes; the imported table's durability is the
// copy searchd makes (src/searchdconfig.cpp CopyIndexFiles).
func stageFiles(ctx context.Context, op string, from *importSource, folder string, files []ManifestFile) error {
	conc := runtime.NumCPU()
	if from.abs == "" {
		conc = max(4, conc)
	}
	bad := make([]error, len(files))
	p, err := restoreWorkers(ctx, len(files), conc, new(atomic.Int64), func(ctx context.Context, w *fileWorker, i int) error {
		var err error
		bad[i], err = stageFile(ctx, w, from, files[i], folder)
		return err
	})
	if p != nil {
		panic(p)
	}
	if err != nil {
		return opErr(op, nil, "stage", err)
	}
	var errs []error
	for _, e := range bad {
		if e != nil {
			errs = append(errs, e)
		}
	}
	if len(errs) > 0 {
		return opErr(op, ErrCorrupt, fmt.Sprintf("%d of %d files bad; nothing imported", len(errs), len(files)), errors.Join(errs...))
	}
	return nil
}

// stageFile writes the original bytes of one stored file to
// folder/<its name> (created, must not exist; 0644), hashing them as they
// pass. bad is the file's problem (*FileError); err a failure of the
// store, the disk or ctx. Crash points: import.stage-open <path> (by the
// opener), then import.stage-write <name> before the file is created.
func stageFile(ctx context.Context, w *fileWorker, from *importSource, f ManifestFile, folder string) (bad, err error) {
	rc, err := from.src.open(ctx, f)
	if err != nil {
		return openVerdict(ctx, f, err)
	}
	defer rc.Close()
	base := path2base(f.Path)
	if err := crashpoint.Hit("import.stage-write " + base); err != nil {
		return nil, err
	}
	dst := filepath.Join(folder, base)
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, err
	}
	src, sink := &errReader{r: rc}, &errWriter{w: out}
	n, sum, herr := w.hashReader(ctx, src, from.man.Compression == "zstd", sink)
	if cerr := out.Close(); cerr != nil && sink.err == nil {
		sink.err = cerr
	}
	if bad, err := copyVerdict(ctx, f, dst, passed{n: n, sum: sum, srcErr: src.err, sinkErr: sink.err, decodeErr: herr}); bad != nil || err != nil {
		return bad, err
	}
	// the mode the umask may have narrowed: searchd, maybe another user, reads it
	return nil, os.Chmod(dst, 0o644)
}
