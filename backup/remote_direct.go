package backup

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"runtime"

	"github.com/dbctl/dbctl/backupstore"
)

// upload is what a Create to a store (b.store) does after the unfreeze,
// instead of writing a local folder: every file is streamed once to the
// store with Put, which computes the size and sha256 of the original bytes
// in the same pass (and the object checksum, and zstd when Compress):
//
//   - a staged immutable file from its hard link in the staging folder,
//     checked before and after its bytes are read to be the inode recorded
//     at the freeze, unchanged (else ErrSourceChanged, naming it), and the
//     link removed at once;
//   - a mutable file read into memory inside the freeze, from memory;
//   - a file copied inside the freeze (no staging folder, or mutable files
//     past stageMemory) from its copy in b.tmp: a plain copy, the
//     uncompressed copy of a compressed backup (compressed now), or a
//     compressed one (decompressed on the side and checked against the
//     hash taken inside the freeze);
//   - a file reused from a local base backup (CreateOptions.Base) from the
//     base's stored file, checked against the base's record.
//
// manifest.json, built from the Put results, is uploaded last. On any
// failure, cancellation and a panic in Progress included, run's cleanup
// deletes every object written (uploadUndo; a multipart upload in flight
// is aborted by the store's Put itself) and removes the staging folder and
// b.tmp; on success they are removed too.
func (b *backupRun) upload(ctx context.Context) error {
	b.undo.mine = func() map[string]bool {
		mine := map[string]bool{manifestName: true}
		for _, j := range b.jobs {
			mine[b.man.storedKey(j.file)] = true
		}
		return mine
	}
	err := b.afterUnfreezeOn(ctx, "upload", b.uploadConcurrency(), func(*backupJob) bool { return true }, b.uploadJob)
	if err != nil {
		return err
	}
	if err := b.staging.remove(); err != nil {
		return opErr(b.op, nil, "remove staging folder", err)
	}
	data, err := b.completeManifest()
	if err != nil {
		return err
	}
	b.phase.Store("manifest")
	// The last report comes before the manifest: a panic in Progress must
	// still find nothing that looks like a finished backup.
	if p := b.reports.stop(); p != nil {
		panic(p)
	}
	if err := putManifest(ctx, b.op, b.store, b.undo, bytes.NewReader(data)); err != nil {
		return err
	}
	if err := os.RemoveAll(b.tmp); err != nil {
		b.log().WarnContext(ctx, "dbctl: could not remove the backup's temporary folder", "dir", b.tmp, "error", err)
	}
	return nil
}

// uploadConcurrency is how many files are uploaded at once: Concurrency
// when set, else at least the store's parts in flight (small files are one
// request each) and one per CPU (compression).
func (b *backupRun) uploadConcurrency() int {
	if b.opts.Concurrency > 0 {
		return b.opts.Concurrency
	}
	n := b.opts.Store.Concurrency
	if n <= 0 {
		n = backupstore.DefaultConcurrency
	}
	return max(n, runtime.NumCPU())
}

// uploadJob streams one job's bytes to the store (see upload) and records
// the result in j.file.
func (b *backupRun) uploadJob(ctx context.Context, _ *fileWorker, j *backupJob) error {
	key := b.man.storedKey(j.file)
	opts := backupstore.PutOptions{Compress: b.opts.Compress, CompressLevel: zstdNumber(b.level), SizeHint: j.size}
	put := func(r io.Reader) (backupstore.PutResult, error) {
		if err := b.undo.claim.lease(); err != nil {
			return backupstore.PutResult{}, err
		}
		b.undo.started(key)
		return b.store.Put(ctx, key, r, opts)
	}
	var res backupstore.PutResult
	var err error
	switch {
	case j.mem != nil:
		res, err = put(&countingReader{r: bytes.NewReader(j.mem), n: &b.bytes})
		j.mem = nil
	case j.staged != "":
		err = b.readStaged(j, func(in *os.File) error {
			res, err = put(&countingReader{r: in, n: &b.bytes})
			return err
		})
		if err == nil {
			err = os.Remove(j.staged) // stop pinning the bytes
		}
	default:
		return b.uploadCopy(j, put, &opts)
	}
	if err != nil {
		return fmt.Errorf("upload %s: %w", j.file.Path, err)
	}
	j.file.Size, j.file.StoredSize, j.file.SHA256 = res.Size, res.Stored, res.SHA256
	b.files.Add(1)
	return nil
}

// uploadCopy uploads a job whose bytes are in a local file: a copy made
// inside the freeze, or the base's stored file. A file whose hash is known
// already (compressed inside the freeze, or from the base) must upload to
// the same size and hash (else ErrCorrupt with a *FileError).
func (b *backupRun) uploadCopy(j *backupJob, put func(io.Reader) (backupstore.PutResult, error), opts *backupstore.PutOptions) error {
	path, known := j.dst, j.file.SHA256 != ""
	switch {
	case j.fromBase != "":
		path = j.fromBase
	case j.compressLater:
		path = j.dst + stageSuffix
	case !j.hashLater && b.opts.Compress:
		path = j.dst + ".zst"
	}
	if known && b.opts.Compress {
		opts.Compress, opts.Compressed = false, true
	}
	in, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("upload %s: %w", j.file.Path, err)
	}
	defer in.Close()
	res, err := put(in)
	if err != nil {
		return fmt.Errorf("upload %s: %w", j.file.Path, putError(j.file, err))
	}
	if known {
		if err := checkPut(j.file, res); err != nil {
			return err
		}
	}
	if j.fromBase != "" {
		b.bytes.Add(res.Size)
		b.files.Add(1)
	}
	j.file.Size, j.file.StoredSize, j.file.SHA256 = res.Size, res.Stored, res.SHA256
	return nil
}
