package backup

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

// cleanupTimeout bounds the deletes that undo a failed upload when the
// caller's context is already cancelled.
const cleanupTimeout = time.Minute

// openStore opens the store of an s3:// Create and checks its prefix
// before anything is frozen: a manifest there is ErrExists; a
// missing bucket or refused credentials the store's error.
func (b *backupRun) openStore(ctx context.Context, location string) error {
	st, err := backupstore.Open(ctx, location, b.opts.Store)
	if err != nil {
		return opErr(b.op, nil, "", err)
	}
	if err := refuseExisting(ctx, b.op, st); err != nil {
		_ = st.Close()
		return err
	}
	b.store = st
	b.undo = &uploadUndo{st: st}
	return nil
}

// claimStore takes the prefix of a backup to a store (nothing for a local
// backup): ErrExists when a live writer holds it, a dead writer's claim
// taken over and its leftovers removed (takeClaim). The claim is recorded
// in undo, so a failed backup deletes it last, after its objects.
func (b *backupRun) claimStore(ctx context.Context) error {
	if b.store == nil {
		return nil
	}
	return claimPrefix(ctx, b.op, b.store, b.undo, claimRecord{Op: "create", BackupID: b.man.ID, Started: b.started.UTC()})
}

// claimPrefix takes st's claim for a writer and checks again that st holds
// no manifest: a backup that finished after refuseExisting looked (and
// then dropped its claim) must not be written over.
func claimPrefix(ctx context.Context, op string, st backupstore.Store, undo *uploadUndo, rec claimRecord) error {
	c, err := takeClaim(ctx, op, st, rec)
	if err != nil {
		return err
	}
	defer func() {
		if undo.claim != c {
			c.forget() // a panic: what is left is a dead run's
		}
	}()
	if err := refuseExisting(ctx, op, st); err != nil {
		if rerr := c.release(ctx); rerr != nil {
			err = errors.Join(err, opErr(op, nil, "", rerr))
		}
		return err
	}
	undo.claim = c
	return nil
}

// putManifest writes manifest.json last, only if no other writer put one
// (a conditional write) and the claim is still this run's, then releases
// the claim. A manifest found there is another backup's: it is left alone
// and the upload fails.
func putManifest(ctx context.Context, op string, st backupstore.Store, undo *uploadUndo, r io.Reader) error {
	if err := undo.claim.lease(); err != nil {
		return opErr(op, nil, "upload manifest", err)
	}
	if err := undo.claim.check(ctx); err != nil {
		return opErr(op, nil, "upload manifest", err)
	}
	undo.started(manifestName)
	if _, err := st.Put(ctx, manifestName, r, backupstore.PutOptions{NoOverwrite: true}); err != nil {
		if errors.Is(err, backupstore.ErrExists) {
			undo.notMine(manifestName)
			return opErr(op, ErrExists, st.Location()+" got a "+manifestName+" from another writer during this backup", err)
		}
		return opErr(op, nil, "upload manifest", err)
	}
	// The backup is complete. A claim that cannot be deleted now is left
	// dead (this run no longer holds it): the next run that meets it
	// removes it.
	_ = undo.claim.release(ctx)
	undo.claim = nil
	return nil
}

// targetName is where the backup goes: the local target or the store.
func (b *backupRun) targetName() string {
	if b.store != nil {
		return b.store.Location()
	}
	return b.target
}

// refuseExisting fails with ErrExists when the store already holds a
// manifest.
func refuseExisting(ctx context.Context, op string, st backupstore.Store) error {
	_, err := st.Stat(ctx, manifestName)
	switch {
	case err == nil:
		return opErr(op, ErrExists, st.Location()+" already holds "+manifestName, nil)
	case !errors.Is(err, backupstore.ErrNotFound):
		return opErr(op, nil, "", err)
	}
	return nil
}

// UploadOptions configure Upload.
type UploadOptions struct {
	// Store configures an s3:// location (part size, upload concurrency,
	// endpoint, credentials: see backupstore.Options).
	Store backupstore.Options
}

// Upload copies the finished local backup in dir to location (an
// object store or another folder), which must not hold a manifest yet.
// It takes the location's claim first (claim.go: ErrExists while another
// run writes there; a dead writer's claim is taken over and what it left
// removed). Each file is streamed once: its stored bytes are uploaded
// while the sha256 of the original bytes is computed in the same pass
// (decompressing a compressed backup's files on the side) and checked
// against the manifest (a mismatch is ErrCorrupt with a *FileError).
// manifest.json is uploaded last, once the claim is read back as this
// run's. On any failure, cancellation and panics included, the multipart
// upload in flight is aborted and every object written is deleted, the
// claim last, so the location never holds a backup that looks complete
// but is not, and is free again; when even that cleanup fails, or the
// process is killed, the claim left is a dead run's and the next run there
// (Upload, Create, List or Prune of the parent) removes the rest.
func Upload(ctx context.Context, dir, location string, opts UploadOptions) error {
	op := "upload backup " + dir + " to " + location
	if err := reservedLocation(op, location); err != nil {
		return err
	}
	man, err := readManifest(dir)
	if err != nil {
		return err
	}
	st, err := backupstore.Open(ctx, location, opts.Store)
	if err != nil {
		return opErr(op, nil, "", err)
	}
	defer st.Close()
	if err := refuseExisting(ctx, op, st); err != nil {
		return err
	}
	return uploadBackupDir(ctx, op, st, dir, man, opts.Store.Concurrency, nil)
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
func uploadBackupDir(ctx context.Context, op string, st backupstore.Store, dir string, man *Manifest, conc int, progress func(Progress)) (err error) {
	if conc <= 0 {
		conc = backupstore.DefaultConcurrency
	}
	tr := newTracker("upload", man.Files)
	tr.bytesTotal = 0
	for _, f := range man.Files {
		tr.bytesTotal += f.StoredSize // progress counts the bytes sent
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	rep := startReporter(progress, tr.snapshot, cancel)
	undo := &uploadUndo{st: st, mine: func() map[string]bool { return manifestKeys(man) }}
	defer func() {
		p := recover()
		if rp := rep.stop(); p == nil {
			p = rp
		}
		if err != nil || p != nil {
			if derr := undo.run(ctx); derr != nil {
				err = errors.Join(err, opErr(op, nil, "delete the partial upload", derr))
			}
		}
		if p != nil {
			panic(p)
		}
	}()
	if err := claimPrefix(ctx, op, st, undo, claimRecord{Op: "upload", UploadOf: dir, BackupID: man.ID}); err != nil {
		return err
	}
	var discard atomic.Int64
	err = runWorkers(ctx, len(man.Files), conc, &discard, func(ctx context.Context, _ *fileWorker, i int) error {
		f := man.Files[i]
		key := man.storedKey(f)
		in, err := os.Open(man.storedPath(dir, f))
		if err != nil {
			return fmt.Errorf("%w: %w", ErrCorrupt, &FileError{Path: f.Path, Problem: "unreadable", Err: err})
		}
		defer in.Close()
		if err := undo.claim.lease(); err != nil {
			return err
		}
		undo.started(key)
		res, err := st.Put(ctx, key, &countingReader{r: in, n: &tr.bytes}, backupstore.PutOptions{
			Compressed: man.Compression == "zstd", SizeHint: f.StoredSize})
		if err != nil {
			return putError(f, err)
		}
		tr.files.Add(1)
		return checkPut(f, res)
	})
	if err != nil {
		return opErr(op, nil, "upload", err)
	}
	tr.phase.Store("manifest")
	in, err := os.Open(filepath.Join(dir, manifestName))
	if err != nil {
		return opErr(op, ErrInvalid, "", err)
	}
	defer in.Close()
	return putManifest(ctx, op, st, undo, in)
}

// putError is the error of a Put of a stored file: ErrCorrupt with a
// *FileError when its bytes were bad (not zstd, or the server's
// checksum failed).
func putError(f ManifestFile, err error) error {
	if errors.Is(err, backupstore.ErrCorrupt) {
		return fmt.Errorf("%w: %w", ErrCorrupt, &FileError{Path: f.Path, Problem: "damaged (not zstd, or the server's checksum failed)", Err: err})
	}
	return err
}

// checkPut compares what a Put of a stored file read (size and sha256 of
// the original bytes) with the file's record: ErrCorrupt with a
// *FileError when they differ.
func checkPut(f ManifestFile, res backupstore.PutResult) error {
	if res.Size != f.Size || res.SHA256 != f.SHA256 {
		return fmt.Errorf("%w: %w", ErrCorrupt, &FileError{Path: f.Path,
			Problem: fmt.Sprintf("changed before upload: %d bytes sha256 %s, recorded %d bytes %s", res.Size, res.SHA256, f.Size, f.SHA256)})
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

// uploadUndo remembers what an upload to a store wrote, so that a failed
// upload (cancellation and panics included) deletes it: nil-safe.
type uploadUndo struct {
	st backupstore.Store
	// mine returns the keys the backup may have written (for
	// deleteStragglers); nil: only the recorded ones.
	mine func() map[string]bool
	// claim is the prefix's claim this run holds; nil before it is taken
	// (nothing is written before) and after release.
	claim *claim

	mu            sync.Mutex
	written       []string // keys whose Put started
	manifestTried bool
	others        map[string]bool // keys another writer holds (notMine)
}

// started records key before its Put: a request cancelled on the client
// may still complete on the server.
func (u *uploadUndo) started(key string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if key == manifestName {
		u.manifestTried = true
		return
	}
	u.written = append(u.written, key)
}

// notMine forgets key: its Put found another writer's object there, which
// the cleanup must leave alone (stragglers included).
func (u *uploadUndo) notMine(key string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if key == manifestName {
		u.manifestTried = false
	}
	if u.others == nil {
		u.others = map[string]bool{}
	}
	u.others[key] = true
}

// run deletes what the upload wrote, while the claim is still this run's
// (read back first): the manifest first (its answer may have been lost),
// then the objects, then stragglers a listing still shows, then unfinished
// multipart uploads whose abort failed, and the claim last. When the claim
// cannot be read back, or is another run's, nothing is deleted: what is
// left, with this run's claim (dead once this run ends), is the next
// run's to remove. A cancelled ctx gets a fresh deadline (cleanupTimeout).
func (u *uploadUndo) run(ctx context.Context) error {
	if u == nil || u.claim == nil {
		return nil
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer ccancel()
	c := u.claim
	u.claim = nil
	if err := c.check(cctx); err != nil {
		c.forget()
		return fmt.Errorf("left for the next run: %w", err)
	}
	err := u.deleteWritten(cctx)
	if err != nil {
		c.forget()
		return fmt.Errorf("%w (the rest is left for the next run)", err)
	}
	return c.release(cctx)
}

// deleteWritten is run's deletion of the objects, under u.mu.
func (u *uploadUndo) deleteWritten(ctx context.Context) error {
	var err error
	if u.manifestTried {
		err = u.st.Delete(ctx, manifestName)
	}
	if err == nil && len(u.written) > 0 {
		err = u.st.Delete(ctx, u.written...)
	}
	if err == nil && u.mine != nil {
		mine := u.mine()
		for k := range u.others {
			delete(mine, k)
		}
		err = deleteStragglers(ctx, u.st, mine)
	}
	if a := aborterOf(u.st); err == nil && a != nil {
		for _, p := range append(layoutDirs, manifestName) {
			if _, err = a.AbortUploads(ctx, p); err != nil {
				break
			}
		}
	}
	return err
}

// manifestKeys are the keys of man's files and of its manifest.
func manifestKeys(man *Manifest) map[string]bool {
	mine := map[string]bool{manifestName: true}
	for _, f := range man.Files {
		mine[man.storedKey(f)] = true
	}
	return mine
}

// deleteStragglers deletes the objects named in mine that a listing still
// shows after the cleanup: a Put whose request was cancelled by the client
// while the server went on to complete it.
func deleteStragglers(ctx context.Context, st backupstore.Store, mine map[string]bool) error {
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
