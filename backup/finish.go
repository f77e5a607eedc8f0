package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync/atomic"
	"time"

	"github.com/dbctl/dbctl/internal/crashpoint"
	"github.com/dbctl/dbctl/internal/fsutil"
)

// hashCopies hashes the files that were cloned or copied by the kernel
// during the freeze, and starts the writeback of every file written during
// the freeze (durable.go): after the unfreeze, so the freeze window
// includes neither.
func (b *backupRun) hashCopies(ctx context.Context) error {
	return b.afterUnfreeze(ctx, "hash", func(j *backupJob) bool { return j.hashLater || j.inFreeze && b.writeback() },
		func(ctx context.Context, w *fileWorker, j *backupJob) error {
			if j.hashLater {
				if err := b.beforeHash(j.dst); err != nil {
					return err
				}
				n, sum, err := w.hashStored(ctx, j.dst, false, nil)
				if err != nil {
					return fmt.Errorf("hash %s: %w", j.dst, err)
				}
				j.file.Size, j.file.StoredSize, j.file.SHA256 = n, n, sum
			}
			if w.writeback && j.inFreeze {
				p := j.dst
				if b.opts.Compress && !j.hashLater {
					p += ".zst"
				}
				writebackFile(p)
			}
			return nil
		})
}

// compressStaged compresses the copies a compressed backup made during the
// freeze: after the unfreeze, so the freeze window does not include it.
func (b *backupRun) compressStaged(ctx context.Context) error {
	return b.afterUnfreeze(ctx, "compress", func(j *backupJob) bool { return j.compressLater },
		func(ctx context.Context, w *fileWorker, j *backupJob) error {
			if err := b.beforeHash(j.dst + stageSuffix); err != nil {
				return err
			}
			if err := crashpoint.Hit("backup.compress"); err != nil {
				return fmt.Errorf("compress %s: %w", j.dst, err)
			}
			res, err := w.compressLater(ctx, j.dst+stageSuffix, j.dst+".zst", j.file.Mode)
			if err != nil {
				return fmt.Errorf("compress %s: %w", j.dst, err)
			}
			j.file.Size, j.file.StoredSize, j.file.SHA256 = res.size, res.stored, res.sha256
			return nil
		})
}

// beforeHash calls the test hook of the same name.
func (b *backupRun) beforeHash(path string) error {
	if h := b.opts.hooks; h != nil && h.beforeHash != nil {
		return h.beforeHash(path)
	}
	return nil
}

// afterUnfreeze runs fn on the workers for the jobs pick selects, as phase.
func (b *backupRun) afterUnfreeze(ctx context.Context, phase string, pick func(*backupJob) bool, fn func(context.Context, *fileWorker, *backupJob) error) error {
	return b.afterUnfreezeOn(ctx, phase, b.concurrency(), pick, fn)
}

// afterUnfreezeOn is afterUnfreeze on conc workers.
func (b *backupRun) afterUnfreezeOn(ctx context.Context, phase string, conc int, pick func(*backupJob) bool, fn func(context.Context, *fileWorker, *backupJob) error) error {
	var idx []int
	for i := range b.jobs {
		if pick(&b.jobs[i]) {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return nil
	}
	b.phase.Store(phase)
	var discard atomic.Int64 // progress counts the bytes of a file once, when copied
	err := runWorkers(ctx, len(idx), conc, &discard, func(ctx context.Context, w *fileWorker, k int) error {
		b.worker(w)
		return fn(ctx, w, &b.jobs[idx[k]])
	})
	if err != nil {
		return opErr(b.op, kindOf(err), phase, err)
	}
	return nil
}

// hashAndSync hashes the copies made during the freeze while every file is
// synced: hashing is CPU work on the page cache, fsync waits on the disk, so
// the two overlap. The first error stops both.
func (b *backupRun) hashAndSync(parent context.Context) error {
	if !b.perFileSync() { // NoSync, or one syncfs in finish
		return b.hashCopies(parent)
	}
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	synced := make(chan error, 1)
	go func() {
		err := b.syncFiles(ctx)
		if err != nil {
			cancel()
		}
		synced <- err
	}()
	herr := b.hashCopies(ctx)
	if herr != nil {
		cancel()
	}
	b.phase.Store("sync")
	serr := <-synced
	switch {
	case herr == nil && serr == nil:
		return b.syncDirs()
	case herr == nil:
		return serr
	case serr == nil || parent.Err() != nil:
		return herr
	case errors.Is(herr, context.Canceled):
		return serr // the sync failed first and stopped the hashing
	}
	return herr
}

// syncFiles makes every copied file durable that is not yet (see
// syncer).
func (b *backupRun) syncFiles(ctx context.Context) error {
	var discard atomic.Int64
	// fsync waits on the disk, not the CPU: more of them in flight let the
	// block layer queue and merge the writeback.
	err := runWorkers(ctx, len(b.jobs), syncConcurrency, &discard, func(ctx context.Context, _ *fileWorker, i int) error {
		if j := &b.jobs[i]; !j.synced {
			return b.syncJob(j)
		}
		return nil
	})
	if err != nil {
		return opErr(b.op, nil, "sync", err)
	}
	return nil
}

// syncJob syncs one job's file in the backup.
func (b *backupRun) syncJob(j *backupJob) error {
	if j.linked && !b.base.man.NoSync {
		return nil // a hard link to the base's file, synced by the base
	}
	p := j.dst
	if b.opts.Compress {
		p += ".zst"
	}
	if h := b.opts.hooks; h != nil && h.beforeSync != nil {
		if err := h.beforeSync(p); err != nil {
			return err
		}
	}
	if err := crashpoint.Hit("backup.sync file"); err != nil {
		return err
	}
	return syncFile(p)
}

// syncDirs makes the directory entries of the copies durable.
func (b *backupRun) syncDirs() error {
	dirs := parentDirs(func() []string {
		var out []string
		for _, j := range b.jobs {
			out = append(out, j.dst)
		}
		return out
	}())
	for d := range dirs {
		if err := crashpoint.Hit("backup.sync folder"); err != nil {
			return opErr(b.op, nil, "sync", err)
		}
		if err := fsutil.SyncDir(d); err != nil {
			return opErr(b.op, nil, "sync", err)
		}
	}
	for _, d := range []string{filepath.Join(b.tmp, "data"), filepath.Join(b.tmp, "state")} {
		if _, err := os.Stat(d); err == nil {
			if err := fsutil.SyncDir(d); err != nil {
				return opErr(b.op, nil, "sync", err)
			}
		}
	}
	return nil
}

// completeManifest fills the manifest from the finished jobs and returns
// it as manifest.json's bytes.
func (b *backupRun) completeManifest() ([]byte, error) {
	for _, j := range b.jobs {
		if j.file.SHA256 == "" { // a worker that stopped without an error: never a manifest that lies
			return nil, opErr(b.op, nil, "write manifest", fmt.Errorf("%s was not written", j.file.Path))
		}
		b.man.Files = append(b.man.Files, j.file)
	}
	sort.Slice(b.man.Files, func(x, y int) bool { return b.man.Files[x].Path < b.man.Files[y].Path })
	for i := range b.man.Tables {
		for _, f := range b.man.Files {
			if f.Table == b.man.Tables[i].Name {
				b.man.Tables[i].Bytes += f.Size
			}
		}
	}
	b.man.Finished = time.Now().UTC()
	if h := b.opts.hooks; h != nil && h.beforeManifest != nil {
		if err := h.beforeManifest(); err != nil {
			return nil, opErr(b.op, nil, "write manifest", err)
		}
	}
	data, err := json.MarshalIndent(b.man, "", "  ")
	if err != nil {
		return nil, opErr(b.op, nil, "write manifest", err)
	}
	return append(data, '\n'), nil
}

// finish writes manifest.json last, makes the backup durable (its fsync
// and the temporary folder's, or the one syncfs: durable.go), renames the
// temporary directory into place, then removes its marker. Until the
// rename the directory holds its marker (so a run killed at any step
// before leaves a folder the next backup beside it removes); from the
// rename on it is a complete backup (a run killed before the marker's
// removal leaves a stray DBCTL-STAGING file in it, which nothing reads).
// A failed sync of the parent directory after the rename renames the
// backup back, to be removed with the temporary directory: a failed
// Create leaves nothing named dir.
func (b *backupRun) finish(ctx context.Context) error {
	data, err := b.completeManifest()
	if err != nil {
		return err
	}
	mp := filepath.Join(b.tmp, manifestName)
	if err := step("backup.write manifest", func() error { return os.WriteFile(mp, data, 0o644) }); err != nil {
		return opErr(b.op, nil, "write manifest", err)
	}
	if b.perFileSync() {
		if err := step("backup.sync manifest", func() error { return syncFile(mp) }); err != nil {
			return opErr(b.op, nil, "sync manifest", err)
		}
		if err := step("backup.sync temp", func() error { return fsutil.SyncDir(b.tmp) }); err != nil {
			return opErr(b.op, nil, "sync", err)
		}
	}
	if err := crashpoint.Hit("backup.chown"); err != nil {
		return opErr(b.op, nil, "give the backup to the data_dir's owner", err)
	}
	if err := b.giveToDataDirOwner(); err != nil {
		return err
	}
	if err := b.syncAll(); err != nil { // the one syncfs (durable.go)
		return err
	}
	if err := step("backup.rename temp", func() error { return os.Rename(b.tmp, b.target) }); err != nil {
		return opErr(b.op, ErrExists, "rename into place", err)
	}
	if !b.opts.NoSync {
		if err := step("backup.sync parent", func() error { return fsutil.SyncDir(filepath.Dir(b.target)) }); err != nil {
			if rerr := os.Rename(b.target, b.tmp); rerr != nil {
				b.log().WarnContext(ctx, "dbctl: the backup is in place but its directory entry may not be durable",
					"dir", b.target, "error", rerr)
			}
			return opErr(b.op, nil, "sync", err)
		}
	}
	if err := step("backup.remove marker", func() error { return os.Remove(filepath.Join(b.target, stagingMarker)) }); err != nil {
		b.log().WarnContext(ctx, "dbctl: could not remove the backup's marker file (nothing reads it)", "dir", b.target, "error", err)
	}
	return nil
}

// step runs the file operation fn at the crash point name: an error
// injected there is returned and fn is not run.
func step(name string, fn func() error) error {
	if err := crashpoint.Hit(name); err != nil {
		return err
	}
	return fn()
}
