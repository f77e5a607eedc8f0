package backup

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"

	"github.com/dbctl/dbctl/internal/crashpoint"
)

// copyAll copies every file; largest first so that the workers finish
// together.
func (b *backupRun) copyAll(ctx context.Context) error {
	b.phase.Store("copy")
	if b.staging != nil {
		b.phase.Store("stage")
	}
	order := make([]int, len(b.jobs))
	for i := range b.jobs {
		order[i] = i
	}
	sort.SliceStable(order, func(x, y int) bool { return b.jobs[order[x]].size > b.jobs[order[y]].size })
	ext := ""
	if b.opts.Compress {
		ext = ".zst"
	}
	err := runWorkers(ctx, len(order), b.concurrency(), &b.bytes, func(ctx context.Context, w *fileWorker, k int) error {
		i := order[k]
		return b.vanished(&b.jobs[i], b.copyJob(ctx, w, i, ext))
	})
	if err != nil {
		return opErr(b.op, kindOf(err), "copy", err)
	}
	return nil
}

// copyJob is one job of copyAll, inside the freeze.
func (b *backupRun) copyJob(ctx context.Context, w *fileWorker, i int, ext string) error {
	j := &b.jobs[i]
	b.worker(w)
	w.writeback = false // inside the freeze: started after the unfreeze (hashCopies)
	if h := b.opts.hooks; h != nil && h.beforeCopy != nil {
		if err := h.beforeCopy(i, j.src); err != nil {
			return err
		}
	}
	if j.state {
		return b.readState(ctx, j) // whole, from one descriptor (statefile.go)
	}
	if j.fromBase != "" {
		return nil // linked from the base after the unfreeze
	}
	if b.staging != nil && isImmutable(j.src) {
		if ok, err := b.link(i, j); err != nil || ok {
			return err
		}
	}
	if b.staging != nil && b.memBudget.Add(-j.size) >= 0 {
		return b.readToMemory(j)
	} else if b.staging != nil {
		b.memBudget.Add(j.size)
	}
	if err := b.copyOne(ctx, w, j, ext); err != nil {
		return err
	}
	// the source must still be the file of the freeze
	f, err := os.Open(j.src)
	if err != nil {
		return fmt.Errorf("copy %s: %w", j.src, err)
	}
	defer f.Close()
	return checkIdentity(f, &j.file)
}

// vanished turns the failure of a job whose source file is gone into a
// *SourceChangedError (Gone): searchd lets another client DROP a frozen
// table (manticore.md §4.3 transcript), whose files then disappear before
// the backup reads them. Any other failure is returned as it is.
func (b *backupRun) vanished(j *backupJob, err error) error {
	if err == nil || j.state || !errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrSourceChanged) {
		return err
	}
	if _, serr := os.Lstat(j.src); !errors.Is(serr, fs.ErrNotExist) {
		return err
	}
	var want FileIdentity
	if j.file.Identity != nil {
		want = *j.file.Identity
	}
	return &SourceChangedError{Path: j.file.Path, Source: j.src, Want: want, Gone: true}
}

// copyOne copies one file inside the freeze (see copyAll). A compressed
// backup compresses the copy after the unfreeze where it can (a clone, or
// a kernel copy when staging or with CompressAfterUnfreeze), else inside
// the freeze.
func (b *backupRun) copyOne(ctx context.Context, w *fileWorker, j *backupJob, ext string) error {
	orCopy := b.opts.CompressAfterUnfreeze || b.staging != nil
	if clone := b.clone(); b.opts.Compress && ((clone != nil && !b.noClone.Load()) || orCopy) {
		if err := crashpoint.Hit("backup.copy stage"); err != nil {
			return fmt.Errorf("copy %s: %w", j.src, err)
		}
		res, ok, err := w.stage(ctx, j.src, j.dst+stageSuffix, clone, &b.noClone, orCopy)
		if err != nil {
			return fmt.Errorf("copy %s: %w", j.src, err)
		}
		if ok {
			j.file.Size, j.file.Mode, j.compressLater = res.size, res.mode, true
			b.files.Add(1)
			return nil
		}
	}
	if err := crashpoint.Hit("backup.copy freeze"); err != nil {
		return fmt.Errorf("copy %s: %w", j.src, err)
	}
	res, err := w.copyFile(ctx, j.src, j.dst+ext, b.opts.Compress, b.clone())
	if err != nil {
		return fmt.Errorf("copy %s: %w", j.src, err)
	}
	j.file.Size, j.file.StoredSize, j.file.SHA256, j.file.Mode, j.hashLater = res.size, res.stored, res.sha256, res.mode, res.hashLater
	j.inFreeze = true
	b.files.Add(1)
	return nil
}

// kindOf returns ErrSourceChanged when err says a source changed, so that
// the backup's error carries it as its kind.
func kindOf(err error) error {
	if errors.Is(err, ErrSourceChanged) {
		return ErrSourceChanged
	}
	return nil
}

// worker sets up w for a file of this backup: the writeback of what it
// writes (durable.go) and the zstd level (compress.go).
func (b *backupRun) worker(w *fileWorker) {
	w.writeback, w.level = b.writeback(), b.level
}
