package backup

import (
	"bytes"
	"context"
	"encoding/json"
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

// claimName is the object a backup to a store writes first, with a
// conditional write (PutOptions.NoOverwrite), and deletes last: a second
// backup to the same prefix meanwhile finds it and is refused before it
// freezes anything, instead of both writing the same keys and both
// "succeeding" with a backup that does not verify. A killed run leaves it
// behind (with its objects and no manifest): the next backup there is
// refused until it is removed.
const claimName = ".dbctl-writing"

// claimStore takes the prefix of a backup to a store (nothing for a local
// backup): ErrExists when another backup holds it. The claim is
// recorded in undo, so a failed backup deletes it with its objects.
func (b *backupRun) claimStore(ctx context.Context) error {
	if b.store == nil {
		return nil
	}
	return claimPrefix(ctx, b.op, b.store, b.undo, map[string]any{"backup_id": b.man.ID, "pid": os.Getpid(), "started": b.started.UTC()})
}

func claimPrefix(ctx context.Context, op string, st backupstore.Store, undo *uploadUndo, who map[string]any) error {
	if host, err := os.Hostname(); err == nil {
		who["host"] = host
	}
	// A store takes an object holding the very bytes of a NoOverwrite Put
	// for that Put's own (its answer lost, the request retried): the nonce
	// keeps two claims, even of one process uploading one backup twice,
	// from ever being the same bytes.
	nonce, err := newBackupID()
	if err != nil {
		return opErr(op, nil, "claim", err)
	}
	who["nonce"] = nonce
	data, err := json.Marshal(who)
	if err != nil {
		return opErr(op, nil, "claim", err)
	}
	_, err = st.Put(ctx, claimName, bytes.NewReader(data), backupstore.PutOptions{NoOverwrite: true})
	if errors.Is(err, backupstore.ErrExists) {
		return opErr(op, ErrExists, "another backup is writing to "+st.Location()+" (or a killed one left "+claimName+
			" there, with its partial objects: remove them once no backup runs there)", err)
	}
	if err != nil {
		return opErr(op, nil, "claim "+st.Location(), err)
	}
	undo.started(claimName)
	return nil
}

// putManifest writes manifest.json last, only if no other writer put one
// (a conditional write), then drops the claim. A manifest found there is
// another backup's: it is left alone and the upload fails.
func putManifest(ctx context.Context, op string, st backupstore.Store, undo *uploadUndo, r io.Reader) error {
	undo.started(manifestName)
	if _, err := st.Put(ctx, manifestName, r, backupstore.PutOptions{NoOverwrite: true}); err != nil {
		if errors.Is(err, backupstore.ErrExists) {
			undo.notMine(manifestName)
			return opErr(op, ErrExists, st.Location()+" got a "+manifestName+" from another writer during this backup", err)
		}
		return opErr(op, nil, "upload manifest", err)
	}
	// the backup is complete; a claim left behind only blocks the prefix
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	_ = st.Delete(cctx, claimName)
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
// Each file is streamed once: its stored bytes are uploaded while the sha256
// of the original bytes is computed in the same pass (decompressing a
// compressed backup's files on the side) and checked against the manifest
// (a mismatch is ErrCorrupt with a *FileError). manifest.json
// is uploaded last. On any failure, cancellation included, the multipart
// upload in flight is aborted and every object written is deleted, so the
// location never holds a backup that looks complete but is not.
func Upload(ctx context.Context, dir, location string, opts UploadOptions) error {
	op := "upload backup " + dir + " to " + location
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
	if err := claimPrefix(ctx, op, st, undo, map[string]any{"upload_of": dir, "backup_id": man.ID, "pid": os.Getpid()}); err != nil {
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

// run deletes what the upload wrote: the manifest first (its answer may
// have been lost), then the objects, then stragglers a listing still
// shows. A cancelled ctx gets a fresh deadline (cleanupTimeout).
func (u *uploadUndo) run(ctx context.Context) error {
	if u == nil {
		return nil
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.manifestTried && len(u.written) == 0 {
		return nil
	}
	cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer ccancel()
	var err error
	if u.manifestTried {
		err = u.st.Delete(cctx, manifestName)
	}
	if err == nil {
		err = u.st.Delete(cctx, u.written...)
	}
	if err == nil && u.mine != nil {
		mine := u.mine()
		for k := range u.others {
			delete(mine, k)
		}
		err = deleteStragglers(cctx, u.st, mine)
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
