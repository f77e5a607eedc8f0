package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

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
	// Overwrite allows a data_dir that already has files (dotfiles do not
	// count); the backup's files replace files of the same name.
	Overwrite bool
	// Progress, when set, is called from one goroutine at most ~10 times a
	// second, through Phase "verify" and then "restore". A panic in it
	// stops the restore, removes what it wrote, and goes on in the
	// caller's goroutine.
	Progress func(Progress)
	// Store configures an s3:// location (see backupstore.Options).
	Store backupstore.Options
}

// Restore rebuilds a Manticore data_dir from a backup, offline. A
// data_dir with a table that a running searchd holds (its <table>.lock is
// locked) is refused with ErrServerRunning whatever the options, before
// anything is read or written: stop searchd first. Every file is verified
// before anything is written; files get their original permission bits;
// manticore.json is written last. A data_dir with files in it is refused
// (ErrDataDirNotEmpty) unless opts.Overwrite. For a partial backup,
// manticore.json is rewritten to list only the tables in the backup. The
// restored files and folders get the owner of the data_dir (of its parent
// when it does not exist yet) when this process runs as root, so that a
// searchd running as its own user can lock and serve them. On failure the
// files written so far are removed. The config file a backup keeps
// (config/) is not written anywhere.
// location may be "s3://bucket/prefix": downloaded into a folder beside
// dataDir and verified first.
func Restore(ctx context.Context, location, dataDir string, opts RestoreOptions) (err error) {
	dir := location
	op := "restore backup " + dir + " into " + dataDir
	if err := refuseLive(op, dataDir); err != nil {
		return err
	}
	if backupstore.IsRemote(dir) {
		return restoreRemote(ctx, dir, dataDir, opts)
	}
	own, err := ownerOf(dataDir)
	if err != nil {
		return opErr(op, nil, "owner of the data_dir", err)
	}
	man, err := Verify(ctx, dir, VerifyOptions{Progress: opts.Progress})
	if err != nil {
		return err
	}
	empty, err := dirIsEmpty(dataDir)
	if err != nil {
		return opErr(op, nil, "", err)
	}
	if !empty && !opts.Overwrite {
		return opErr(op, ErrDataDirNotEmpty, dataDir, nil)
	}
	// searchd may have started while the backup was verified
	if err := refuseLive(op, dataDir); err != nil {
		return err
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return opErr(op, nil, "", err)
	}
	// The files of the data_dir: every table file, then the state files;
	// config/ is kept for the operator and not written anywhere.
	var tableFiles, state []ManifestFile
	for _, f := range man.Files {
		switch {
		case f.Table != "":
			tableFiles = append(tableFiles, f)
		case strings.HasPrefix(f.Path, "state/"):
			state = append(state, f)
		}
	}
	var written []string
	tr := newTracker("restore", append(append([]ManifestFile(nil), tableFiles...), state...))
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	rep := startReporter(opts.Progress, tr.snapshot, cancel)
	defer func() {
		p := recover()
		if rp := rep.stop(); p == nil {
			p = rp
		}
		if err != nil || p != nil {
			for i := len(written) - 1; i >= 0; i-- {
				_ = os.Remove(written[i])
			}
		}
		if p != nil {
			panic(p)
		}
	}()
	w := newFileWorker(&tr.bytes)
	defer w.close()
	restore := func(f ManifestFile, dst string) error {
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := writeVerified(ctx, w, man.storedPath(dir, f), dst, man.Compression == "zstd", f); err != nil {
			return fmt.Errorf("%s: %w", f.Path, err)
		}
		written = append(written, dst)
		tr.files.Add(1)
		return nil
	}
	for _, f := range tableFiles {
		if err := restore(f, filepath.Join(dataDir, f.Table, filepath.Base(f.Path))); err != nil {
			return opErr(op, nil, "", err)
		}
	}
	// state files last, manticore.json at the very end: until it is
	// there, searchd does not see a data_dir with these tables.
	for _, name := range []string{"state.sql", "manticore.json"} {
		for _, f := range state {
			if filepath.Base(f.Path) != name {
				continue
			}
			dst := filepath.Join(dataDir, name)
			if err := restore(f, dst); err != nil {
				return opErr(op, nil, "", err)
			}
			if name == "manticore.json" && man.Partial {
				if err := keepTables(dst, man); err != nil {
					return opErr(op, nil, "rewrite manticore.json", err)
				}
			}
		}
	}
	dirs := parentDirs(written)
	dirs[filepath.Clean(dataDir)] = true
	owned := append([]string(nil), written...)
	for d := range dirs {
		owned = append(owned, d)
	}
	if err := giveTo(own, owned); err != nil {
		return opErr(op, nil, "give the restored files to the data_dir's owner", err)
	}
	for d := range dirs {
		if err := syncDir(d); err != nil {
			return opErr(op, nil, "sync", err)
		}
	}
	return nil
}

// writeVerified writes the original bytes of a stored file to dst (via a
// temporary name, then rename), hashing them again on the way so that a
// file changed after the verification is still caught.
func writeVerified(ctx context.Context, w *fileWorker, src, dst string, compressed bool, f ManifestFile) error {
	tmp := dst + ".dbctl-restore"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, f.Mode.Perm()|0o200)
	if err != nil {
		return err
	}
	n, sum, err := w.hashStored(ctx, src, compressed, out)
	if err == nil && (n != f.Size || sum != f.SHA256) {
		err = fmt.Errorf("%w: changed since verification", ErrCorrupt)
	}
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, f.Mode.Perm())
	}
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		_ = os.Remove(tmp)
	}
	return err
}

// keepTables rewrites a restored manticore.json so that it lists only the
// tables the backup holds (and distributed tables, which have no files).
func keepTables(path string, man *Manifest) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(b, &doc); err != nil {
		return err
	}
	var indexes map[string]json.RawMessage
	if err := json.Unmarshal(doc["indexes"], &indexes); err != nil {
		return err
	}
	have := map[string]bool{}
	for _, t := range man.Tables {
		have[t.Name] = true
	}
	for name, raw := range indexes {
		var ix struct {
			Type string `json:"type"`
		}
		_ = json.Unmarshal(raw, &ix)
		if !have[name] && ix.Type != "distributed" {
			delete(indexes, name)
		}
	}
	if doc["indexes"], err = json.Marshal(indexes); err != nil {
		return err
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		return err
	}
	return syncFile(path)
}
