package dbctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dbctl/dbctl/backupstore"
)

// RemoteOptions configure the object store of an "s3://bucket/prefix"
// location: part size and concurrency of multipart uploads, and overrides
// of what the AWS SDK reads from the environment (AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION, AWS_ENDPOINT_URL,
// AWS_PROFILE, the shared config and credentials files, SSO, web identity,
// container and instance roles). See backupstore.Options.
type RemoteOptions = backupstore.Options

// IsRemoteLocation reports whether a backup location is an object store
// ("s3://bucket/prefix") rather than a local folder.
func IsRemoteLocation(location string) bool { return backupstore.IsRemote(location) }

// cleanupTimeout bounds the deletes that undo a failed upload when the
// caller's context is already cancelled.
const cleanupTimeout = time.Minute

// backupRemote is Backup to an object store. The prefix is checked first
// (a manifest there: ErrBackupExists; a missing bucket or refused
// credentials: the store's error), before anything is frozen. The backup
// is then made exactly as a local one, into a staging folder
// (opts.StagingDir, else os.TempDir(); it needs the backup's stored size in
// free space), so the freeze window is the same; after the unfreeze the
// files are uploaded (uploadBackupDir) and the staging folder removed,
// also on failure.
func (m *Manticore) backupRemote(ctx context.Context, location string, opts BackupOptions) (*Manifest, error) {
	op := "manticore backup " + location
	st, err := backupstore.Open(ctx, location, opts.Remote)
	if err != nil {
		return nil, opErr(op, nil, "", err)
	}
	if err := refuseExisting(ctx, op, st); err != nil {
		return nil, err
	}
	parent := opts.StagingDir
	if parent == "" {
		parent = os.TempDir()
	}
	tmp, err := os.MkdirTemp(parent, ".dbctl-s3-staging-")
	if err != nil {
		return nil, opErr(op, nil, "staging directory", err)
	}
	defer os.RemoveAll(tmp)
	local := opts
	local.StagingDir, local.Remote = "", RemoteOptions{}
	dir := filepath.Join(tmp, "backup")
	man, err := m.Backup(ctx, dir, local)
	if err != nil {
		return nil, err
	}
	if err := uploadBackupDir(ctx, op, st, dir, man, opts.Concurrency, opts.Progress); err != nil {
		return nil, err
	}
	return man, nil
}

// refuseExisting fails with ErrBackupExists when the store already holds a
// manifest.
func refuseExisting(ctx context.Context, op string, st backupstore.Store) error {
	_, err := st.Stat(ctx, manifestName)
	switch {
	case err == nil:
		return opErr(op, ErrBackupExists, st.Location()+" already holds "+manifestName, nil)
	case !errors.Is(err, backupstore.ErrNotFound):
		return opErr(op, nil, "", err)
	}
	return nil
}

// UploadBackup copies the finished local backup in dir to location (an
// object store or another folder), which must not hold a manifest yet.
// Each file is streamed once: its stored bytes are uploaded while the sha256
// of the original bytes is computed in the same pass (decompressing a
// compressed backup's files on the side) and checked against the manifest
// (a mismatch is ErrBackupCorrupt with a *BackupFileError). manifest.json
// is uploaded last. On any failure, cancellation included, the multipart
// upload in flight is aborted and every object written is deleted, so the
// location never holds a backup that looks complete but is not.
func UploadBackup(ctx context.Context, dir, location string, opts RemoteOptions) error {
	op := "upload backup " + dir + " to " + location
	man, err := ReadManifest(dir)
	if err != nil {
		return err
	}
	st, err := backupstore.Open(ctx, location, opts)
	if err != nil {
		return opErr(op, nil, "", err)
	}
	if err := refuseExisting(ctx, op, st); err != nil {
		return err
	}
	return uploadBackupDir(ctx, op, st, dir, man, opts.Concurrency, nil)
}

// storedKey is the object key of a manifest file ("data/t/t.0.spa", with
// ".zst" for a compressed backup).
func (m *Manifest) storedKey(f ManifestFile) string {
	if m.Compression == "zstd" {
		return f.Path + ".zst"
	}
	return f.Path
}

// uploadBackupDir uploads a local folder holding a backup's files and its
// manifest (man, as read from dir/manifest.json) to st: the files on conc
// workers (0: DefaultConcurrency; the store bounds the part buffers
// itself), then manifest.json. On failure it deletes what it wrote.
func uploadBackupDir(ctx context.Context, op string, st backupstore.Store, dir string, man *Manifest, conc int, progress func(BackupProgress)) (err error) {
	if conc <= 0 {
		conc = backupstore.DefaultConcurrency
	}
	tr := newTracker("upload", man.Files)
	tr.bytesTotal = 0
	for _, f := range man.Files {
		tr.bytesTotal += f.StoredSize // progress counts the bytes sent
	}
	manifestTried := false
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	rep := startReporter(progress, tr.snapshot, cancel)
	var mu sync.Mutex
	var written []string // keys whose Put started
	defer func() {
		p := recover()
		if rp := rep.stop(); p == nil {
			p = rp
		}
		if err != nil || p != nil {
			cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
			defer ccancel()
			var derr error
			if manifestTried { // its answer may have been lost: the manifest goes first
				derr = st.Delete(cctx, manifestName)
			}
			if derr == nil {
				derr = st.Delete(cctx, written...)
			}
			if derr == nil {
				derr = deleteStragglers(cctx, st, man)
			}
			if derr != nil {
				err = errors.Join(err, opErr(op, nil, "delete the partial upload", derr))
			}
		}
		if p != nil {
			panic(p)
		}
	}()
	var discard atomic.Int64
	err = runWorkers(ctx, len(man.Files), conc, &discard, func(ctx context.Context, _ *fileWorker, i int) error {
		f := man.Files[i]
		key := man.storedKey(f)
		in, err := os.Open(man.storedPath(dir, f))
		if err != nil {
			return fmt.Errorf("%w: %w", ErrBackupCorrupt, &BackupFileError{Path: f.Path, Problem: "unreadable", Err: err})
		}
		defer in.Close()
		// Recorded before the Put: a request cancelled here may still
		// complete on the server.
		mu.Lock()
		written = append(written, key)
		mu.Unlock()
		res, err := st.Put(ctx, key, &countingReader{r: in, n: &tr.bytes}, backupstore.PutOptions{
			Compressed: man.Compression == "zstd", SizeHint: f.StoredSize})
		if errors.Is(err, backupstore.ErrCorrupt) {
			return fmt.Errorf("%w: %w", ErrBackupCorrupt, &BackupFileError{Path: f.Path, Problem: "damaged (not zstd, or the server's checksum failed)", Err: err})
		}
		if err != nil {
			return err
		}
		tr.files.Add(1)
		if res.Size != f.Size || res.SHA256 != f.SHA256 {
			return fmt.Errorf("%w: %w", ErrBackupCorrupt, &BackupFileError{Path: f.Path,
				Problem: fmt.Sprintf("changed before upload: %d bytes sha256 %s, manifest says %d bytes %s", res.Size, res.SHA256, f.Size, f.SHA256)})
		}
		return nil
	})
	if err != nil {
		return opErr(op, nil, "upload", err)
	}
	tr.phase.Store("manifest")
	in, err := os.Open(filepath.Join(dir, manifestName))
	if err != nil {
		return opErr(op, ErrBackupInvalid, "", err)
	}
	defer in.Close()
	manifestTried = true
	if _, err := st.Put(ctx, manifestName, in, backupstore.PutOptions{}); err != nil {
		return opErr(op, nil, "upload manifest", err)
	}
	return nil
}

// countingReader adds what it reads to n (progress).
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// deleteStragglers deletes the backup's objects that a listing still shows
// after the cleanup: a Put whose request was cancelled by the client while
// the server went on to complete it.
func deleteStragglers(ctx context.Context, st backupstore.Store, man *Manifest) error {
	mine := map[string]bool{manifestName: true}
	for _, f := range man.Files {
		mine[man.storedKey(f)] = true
	}
	objs, err := st.List(ctx, "")
	if err != nil {
		return err
	}
	var keys []string
	for _, o := range objs {
		if mine[o.Key] {
			keys = append(keys, o.Key)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	return st.Delete(ctx, keys...)
}
