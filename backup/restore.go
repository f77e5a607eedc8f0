package backup

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/dbctl/dbctl"
	"github.com/dbctl/dbctl/backupstore"
)

// VerifyOptions configure Verify.
type VerifyOptions struct {
	// Concurrency is the number of hashing workers; 0 means one per CPU.
	Concurrency int
	// Progress, when set, is called from one goroutine at most ~10 times a
	// second and once at the end (Phase "verify"). A panic in it stops the
	// verification and goes on in the caller's goroutine.
	Progress func(Progress)
	// Store configures an s3:// location (see backupstore.Options).
	Store backupstore.Options
}

// Verify reads the manifest of the backup at location and re-hashes every
// file (decompressing compressed ones), comparing size and sha256 with the
// manifest. A bad manifest is ErrInvalid; bad files are ErrCorrupt joined
// with one *FileError per file. The manifest is returned with either.
// location may be "s3://bucket/prefix" (every object streamed once).
func Verify(ctx context.Context, location string, opts VerifyOptions) (*Manifest, error) {
	dir := location
	if backupstore.IsRemote(dir) {
		return verifyRemote(ctx, dir, opts)
	}
	man, err := readManifest(dir)
	if err != nil {
		return nil, err
	}
	if err := verifyFiles(ctx, "verify backup "+dir, dir, man, man.Files, opts.Concurrency, opts.Progress); err != nil {
		return man, err
	}
	return man, nil
}

// tracker counts files and bytes for Progress.
type tracker struct {
	phase      atomic.Value // string
	files      atomic.Int64
	bytes      atomic.Int64
	filesTotal int
	bytesTotal int64
	started    time.Time
}

func newTracker(phase string, files []ManifestFile) *tracker {
	t := &tracker{filesTotal: len(files), started: time.Now()}
	for _, f := range files {
		t.bytesTotal += f.Size
	}
	t.phase.Store(phase)
	return t
}

func (t *tracker) snapshot() Progress {
	return Progress{Phase: t.phase.Load().(string), Files: int(t.files.Load()), FilesTotal: t.filesTotal,
		Bytes: t.bytes.Load(), BytesTotal: t.bytesTotal, Elapsed: time.Since(t.started)}
}

func verifyFiles(ctx context.Context, op, dir string, man *Manifest, files []ManifestFile, conc int, progress func(Progress)) error {
	if conc <= 0 {
		conc = runtime.NumCPU()
	}
	tr := newTracker("verify", files)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	rep := startReporter(progress, tr.snapshot, cancel)
	bad := make([]error, len(files))
	err := runWorkers(ctx, len(files), conc, &tr.bytes, func(ctx context.Context, w *fileWorker, i int) error {
		bad[i] = checkFile(ctx, w, dir, man, files[i])
		tr.files.Add(1)
		return ctx.Err()
	})
	if p := rep.stop(); p != nil {
		panic(p)
	}
	if err != nil {
		return opErr(op, nil, "", err)
	}
	var errs []error
	for _, e := range bad {
		if e != nil {
			errs = append(errs, e)
		}
	}
	if len(errs) > 0 {
		return opErr(op, ErrCorrupt, fmt.Sprintf("%d of %d files bad", len(errs), len(files)), errors.Join(errs...))
	}
	return nil
}

func checkFile(ctx context.Context, w *fileWorker, dir string, man *Manifest, f ManifestFile) error {
	p := man.storedPath(dir, f)
	fi, err := os.Lstat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &FileError{Path: f.Path, Problem: "missing"}
	case err != nil:
		return &FileError{Path: f.Path, Problem: "unreadable", Err: err}
	case !fi.Mode().IsRegular():
		return &FileError{Path: f.Path, Problem: "not a regular file"}
	}
	n, sum, err := w.hashStored(ctx, p, man.Compression == "zstd", nil)
	switch {
	case ctx.Err() != nil:
		return nil
	case err != nil:
		return &FileError{Path: f.Path, Problem: "unreadable", Err: err}
	case n < f.Size:
		return &FileError{Path: f.Path, Problem: fmt.Sprintf("truncated: %d of %d bytes", n, f.Size)}
	case n > f.Size:
		return &FileError{Path: f.Path, Problem: fmt.Sprintf("too long: %d bytes, want %d", n, f.Size)}
	case sum != f.SHA256:
		return &FileError{Path: f.Path, Problem: "checksum mismatch: sha256 " + sum + ", want " + f.SHA256}
	}
	return nil
}

// RestoreOptions configure Restore.
type RestoreOptions struct {
	// Overwrite allows a data_dir that already has entries (names starting
	// with a dot, and lost+found, do not count): every one of them is
	// replaced by the backup's content, as a whole (see Restore).
	Overwrite bool
	// KeepReplaced keeps what an Overwrite replaced instead of removing it:
	// in <data_dir>/.dbctl-replaced-<UTC time>-<id>/ (RestoreReport.KeptAt),
	// a dot folder that searchd ignores and that a later Restore neither
	// counts nor moves. Remove it yourself.
	KeepReplaced bool
	// Progress, when set, is called from one goroutine at most ~10 times a
	// second, through Phase "restore" (each file written aside while it is
	// hashed) and then "swap". A panic in it before the swap is committed
	// stops the restore, leaves the data_dir as it was, and goes on in the
	// caller's goroutine.
	Progress func(Progress)
	// Logger receives what Restore does besides writing files: restore
	// folders of killed runs rolled back or forward, what was replaced and
	// where it was kept, a folder it could not remove. nil discards.
	Logger *slog.Logger
	// Report, when not nil, is filled in with what Restore did, on success
	// and on failure.
	Report *RestoreReport
	// Store configures an s3:// location (see backupstore.Options).
	Store backupstore.Options
}

// RestoreReport is what a Restore did.
type RestoreReport struct {
	// Recovered lists the restore folders of killed runs that this call
	// found in the data_dir and rolled back or forward first.
	Recovered []RecoveredRestore
	// Replaced lists the data_dir's entries (names, sorted) that the
	// restore replaced; empty for a restore into an empty data_dir.
	Replaced []string
	// KeptAt is where the replaced entries are (RestoreOptions.KeepReplaced).
	KeptAt string
	// Files and Bytes count what was written (original bytes).
	Files int
	Bytes int64
	// Rebuilt lists the tables the backup holds whose entry its
	// manticore.json lacked (dropped while the backup ran, after their
	// files were read): their entry was rebuilt as searchd writes it, and
	// they are served like the others (keepTables). Usually empty.
	Rebuilt []string
	// Leftover is a restore folder that could not be removed once the swap
	// was committed (the restore succeeded; the next Restore into this
	// data_dir removes it); "" normally.
	Leftover string
}

// Actions of RecoveredRestore.
const (
	// RecoveryRemoved: the killed run had not begun the swap; its folder
	// (the new content written so far) was removed, nothing else changed.
	RecoveryRemoved = "removed"
	// RecoveryRolledBack: it had begun the swap but not committed it: the
	// data_dir's earlier entries were put back, the new ones removed.
	RecoveryRolledBack = "rolled back"
	// RecoveryRolledForward: it had committed the swap: the replaced
	// entries were removed (or kept, as that run was asked to).
	RecoveryRolledForward = "rolled forward"
)

// RecoveredRestore is one restore folder of a killed run and what was done
// with it.
type RecoveredRestore struct {
	// Path is the restore folder (<data_dir>/.dbctl-restore-<id>).
	Path string
	// Action is RecoveryRemoved, RecoveryRolledBack or
	// RecoveryRolledForward.
	Action string
	// KeptAt is where that run's replaced entries were kept
	// (KeepReplaced), when it was rolled forward.
	KeptAt string
}

// Restore rebuilds a Manticore data_dir from a backup, offline, as a whole
// or not at all.
//
// A data_dir with a table or a binary log that a running searchd holds
// (lock files locked) is refused with ErrServerRunning whatever the
// options, before anything is read or written, and again right before the
// swap: stop searchd first. A data_dir with entries in it is refused
// (ErrDataDirNotEmpty) unless opts.Overwrite; dot entries and lost+found
// do not count and are never touched. Another Restore running into the same
// data_dir is ErrRestoreRunning.
//
// The new content is written into <data_dir>/.dbctl-restore-<id>/new/ (on
// the data_dir's file system even when the data_dir is a mount point),
// each file hashed as it is written: the backup is read once, decompressed
// in the same pass, streamed from the store for an s3:// location. Every
// file gets its original permission bits, every table folder the bits the
// manifest records (0755 for manifests written before they were recorded).
// Only when every size and sha256 matched (else ErrCorrupt, with one
// *FileError per bad file) and every file and folder is synced does the
// swap begin: a journal (written aside, synced, renamed) lists the
// data_dir's entries and the new ones; each existing entry is moved into
// the restore folder's old/, each new one into the data_dir, and the
// journal is renamed to "committed". Then old/ is removed (or kept, see
// KeepReplaced) and the restore folder too. A successful Overwrite leaves
// exactly the backup's tables, manticore.json and state.sql: no table,
// disk chunk or binary log of the replaced data survives (binlog/ is not
// restored: searchd makes an empty one when it starts, as it does on an
// empty data_dir). manticore.json is rewritten to list exactly the
// tables in the backup (and the distributed tables it lists): the backup
// keeps the file of the freeze instant, which may list a table another
// client created during the backup, or miss one dropped during it after
// its files were read, whose entry is then rebuilt (RestoreReport.Rebuilt);
// a partial backup's lists only its tables. Backups made before this rule
// are restored the same way.
//
// On any failure before the commit (an error, a bad file, ctx cancelled, a
// panic in Progress) the data_dir is left as it was, byte for byte, and
// the restore folder removed. A process killed at any instant leaves a
// restore folder whose marker it held locked (flock); the next Restore into
// the data_dir first rolls every such folder of a dead run back (not
// committed: the earlier entries put back) or forward (committed), and
// says so in RestoreReport.Recovered and the log. Free space: the backup's
// size, beside the replaced data, until the commit.
//
// The restored files and folders get the owner of the data_dir (of its
// parent when it does not exist yet) when this process runs as root, so
// that a searchd running as its own user can lock and serve them. The
// config file a backup keeps (config/) is not written anywhere.
func Restore(ctx context.Context, location, dataDir string, opts RestoreOptions) error {
	op := "restore backup " + location + " into " + dataDir
	rep := opts.Report
	if rep == nil {
		rep = &RestoreReport{}
	}
	*rep = RestoreReport{}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if !restoreCanLock {
		return opErr(op, dbctl.ErrNotSupported, "a restore needs file locks (flock) to be undone after a crash; this platform has none", nil)
	}
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return opErr(op, dbctl.ErrInvalidArgument, "", err)
	}
	if err := refuseLive(op, abs); err != nil {
		return err
	}
	rep.Recovered, err = recoverRestores(abs, log)
	if err != nil {
		return opErr(op, nil, "", err)
	}
	own, err := ownerOf(abs)
	if err != nil {
		return opErr(op, nil, "owner of the data_dir", err)
	}
	src, man, err := openRestoreSource(ctx, op, location, opts.Store)
	if err != nil {
		return err
	}
	defer src.close()
	old, err := replaceable(abs)
	if err != nil {
		return opErr(op, nil, "", err)
	}
	if len(old) > 0 && !opts.Overwrite {
		return opErr(op, ErrDataDirNotEmpty, dataDir, nil)
	}
	r := &restoreRun{op: op, location: location, dataDir: abs, man: man, src: src, own: own, opts: opts, log: log, rep: rep}
	return r.run(ctx)
}
