package backup

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/dbctl/dbctl/internal/crashpoint"
)

// readToMemory reads a mutable file into memory inside the freeze, checking
// that the open file is the one of the freeze before and after.
func (b *backupRun) readToMemory(j *backupJob) error {
	if err := crashpoint.Hit("backup.read mutable"); err != nil {
		return fmt.Errorf("copy %s: %w", j.src, err)
	}
	f, err := os.Open(j.src)
	if err != nil {
		return fmt.Errorf("copy %s: %w", j.src, err)
	}
	defer f.Close()
	if err := checkIdentity(f, &j.file); err != nil {
		return err
	}
	buf := b.arena.take(j.size + 1) // one more: a longer file is seen
	n, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return fmt.Errorf("copy %s: %w", j.src, err)
	}
	if err := checkIdentity(f, &j.file); err != nil {
		return err
	}
	if int64(n) != j.size {
		return &SourceChangedError{Path: j.file.Path, Source: j.src, Want: *j.file.Identity, Got: FileIdentity{Size: int64(n)}}
	}
	j.mem = buf[:n]
	return nil
}

// writeMemory writes a file read by readToMemory, after the unfreeze:
// hashed from memory, compressed when the backup is; or, when the base
// holds the same bytes, links it from the base (linkMemory).
func (b *backupRun) writeMemory(ctx context.Context, w *fileWorker, j *backupJob) error {
	if err := b.beforeHash(j.dst); err != nil {
		return err
	}
	res := copyResult{mode: j.file.Mode}
	sum := ""
	if b.base != nil || !b.opts.Compress {
		w.sum.Reset()
		w.sum.Write(j.mem)
		sum = hex.EncodeToString(w.sum.Sum(nil))
	}
	ext := ""
	if b.opts.Compress {
		ext = ".zst"
	}
	if b.linkMemory(ctx, w, j, sum, j.dst+ext) {
		return nil
	}
	if err := crashpoint.Hit("backup.write memory"); err != nil {
		return fmt.Errorf("write %s: %w", j.dst, err)
	}
	var err error
	if b.opts.Compress {
		err = writeNew(j.dst+".zst", res.mode|0o200, func(out *os.File) error {
			return w.compress(ctx, bytes.NewReader(j.mem), out, &res)
		})
	} else {
		err = writeNew(j.dst, res.mode|0o200, func(out *os.File) error {
			n, err := out.Write(j.mem)
			if w.writeback {
				writebackRange(out, 0, int64(n))
			}
			return err
		})
		res.size, res.stored, res.sha256 = int64(len(j.mem)), int64(len(j.mem)), sum
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", j.dst, err)
	}
	j.file.Size, j.file.StoredSize, j.file.SHA256, j.mem = res.size, res.stored, res.sha256, nil
	return nil
}

// copyStaged reads every file staged as a hard link, after the unfreeze:
// compressed (hashed on the way) or copied (cloned where the file system
// can, else by the kernel; hashed later). Each link is checked against the
// identity recorded at the freeze before and after its bytes are read, then
// removed at once, and the folder last. The files read into memory inside
// the freeze (mutable files when staging; the state files always) are
// written too.
func (b *backupRun) copyStaged(ctx context.Context) error {
	// Each file written is synced at once by the syncer while the next
	// ones are copied: fsync waits on the disk, copying and hashing on the
	// CPU.
	syncer := b.startSyncer() // nil with NoSync or syncfs
	err := b.afterUnfreeze(ctx, "copy", func(j *backupJob) bool { return j.staged != "" || j.mem != nil },
		func(ctx context.Context, w *fileWorker, j *backupJob) error {
			if j.mem != nil {
				n := int64(len(j.mem))
				if err := b.writeMemory(ctx, w, j); err != nil {
					return err
				}
				b.files.Add(1)
				b.bytes.Add(n)
				if !j.linked { // a link to the base's copy: see syncJob
					syncer.add(j)
				}
				return nil
			}
			if err := b.copyOneStaged(ctx, w, j); err != nil {
				return fmt.Errorf("copy %s: %w", j.src, err)
			}
			if j.hashLater { // hash the copy now, while it is in the page cache
				if err := b.beforeHash(j.dst); err != nil {
					return err
				}
				n, sum, err := w.hashStored(ctx, j.dst, false, nil)
				if err != nil {
					return fmt.Errorf("hash %s: %w", j.dst, err)
				}
				j.file.Size, j.file.StoredSize, j.file.SHA256, j.hashLater = n, n, sum, false
			}
			b.files.Add(1)
			b.bytes.Add(j.file.Size)
			syncer.add(j)
			if err := crashpoint.Hit("backup.remove staged"); err != nil {
				return err
			}
			return os.Remove(j.staged)
		})
	if serr := syncer.stop(); err == nil && serr != nil {
		err = opErr(b.op, nil, "sync", serr)
	}
	if err != nil {
		return err
	}
	if err := b.staging.remove(); err != nil {
		return opErr(b.op, nil, "remove staging folder", err)
	}
	return nil
}

// syncer fsyncs the files handed to it on syncConcurrency goroutines.
type syncer struct {
	ch   chan *backupJob
	wg   sync.WaitGroup
	once sync.Once
	err  error
}

func (b *backupRun) startSyncer() *syncer {
	if !b.perFileSync() { // NoSync, or one syncfs at the end (durable.go)
		return nil
	}
	s := &syncer{ch: make(chan *backupJob, len(b.jobs))} // never blocks a sender
	for g := 0; g < syncConcurrency; g++ {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			for j := range s.ch {
				if err := b.syncJob(j); err != nil {
					s.once.Do(func() { s.err = err })
					continue
				}
				j.synced = true
			}
		}()
	}
	return s
}

// add hands j to the syncer; nil-safe (NoSync).
func (s *syncer) add(j *backupJob) {
	if s != nil {
		s.ch <- j
	}
}

// stop waits for the handed files to be synced and returns the first
// error; nil-safe.
func (s *syncer) stop() error {
	if s == nil {
		return nil
	}
	close(s.ch)
	s.wg.Wait()
	return s.err
}

// copyOneStaged copies or compresses one staged link into the backup.
func (b *backupRun) copyOneStaged(ctx context.Context, w *fileWorker, j *backupJob) error {
	if err := crashpoint.Hit("backup.copy staged"); err != nil {
		return err
	}
	return b.readStaged(j, func(in *os.File) error {
		res := copyResult{mode: j.file.Mode}
		var err error
		if b.opts.Compress {
			err = writeNew(j.dst+".zst", res.mode|0o200, func(out *os.File) error { return w.compress(ctx, in, out, &res) })
		} else {
			res, err = b.copyStagedPlain(ctx, w, j, in)
			j.hashLater = res.hashLater
		}
		j.file.Size, j.file.StoredSize, j.file.SHA256 = res.size, res.stored, res.sha256
		return err
	})
}

// copyStagedPlain copies a staged link (in) to j.dst for an uncompressed
// backup: cloned where the file system can (no data I/O; the clone is
// hashed afterwards: hashLater), else read once through a mapping, hashed
// and written in the same pass (copyMapped: each byte copied once, where a
// kernel copy followed by a read of the copy copies it twice; measured in
// README "Benchmarks"), else copied by the kernel and the copy hashed at
// once. The hash is of the bytes written.
func (b *backupRun) copyStagedPlain(ctx context.Context, w *fileWorker, j *backupJob, in *os.File) (copyResult, error) {
	res := copyResult{mode: j.file.Mode}
	err := writeNew(j.dst, res.mode|0o200, func(out *os.File) error {
		if clone := b.clone(); clone != nil && !b.noClone.Load() {
			if clone(out, in) == nil {
				fi, err := in.Stat()
				if err != nil {
					return err
				}
				res.size, res.stored, res.hashLater = fi.Size(), fi.Size(), true
				w.done.Add(fi.Size())
				return nil
			}
			b.noClone.Store(true) // the file system cannot: later files do not try
			if err := rewind(out, in); err != nil {
				return err
			}
		}
		if err := b.beforeHash(j.dst); err != nil {
			return err
		}
		var dst io.Writer = out
		var wb *writebackWriter
		if w.writeback {
			wb = &writebackWriter{f: out}
			dst = wb
		}
		n, sum, rerr, werr, mapped := w.copyMapped(ctx, in, dst)
		if mapped {
			wb.flush()
			switch {
			case rerr != nil:
				return rerr
			case werr != nil:
				return werr
			case sum == "": // ctx ended
				return ctx.Err()
			}
			res.size, res.stored, res.sha256 = n, n, sum
			return nil
		}
		if _, err := w.kernelCopy(ctx, out, in); err != nil {
			return err
		}
		n, sum, err := w.hashStored(ctx, j.dst, false, nil)
		res.size, res.stored, res.sha256 = n, n, sum
		return err
	})
	return res, err
}

// readStaged opens j's hard link in the staging folder and lets read
// consume it (to the backup folder or to a store), checking before and
// after that the link is the inode recorded at the freeze, unchanged: else
// a *SourceChangedError. The staging folder is this run's own, mode 0700:
// its names keep pointing at the same inodes.
func (b *backupRun) readStaged(j *backupJob, read func(in *os.File) error) error {
	if h := b.opts.hooks; h != nil && h.beforeStaged != nil {
		if err := h.beforeStaged(j.src, j.staged); err != nil {
			return err
		}
	}
	in, err := os.Open(j.staged)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := checkIdentity(in, &j.file); err != nil {
		return err
	}
	if err := read(in); err != nil {
		return err
	}
	return checkIdentity(in, &j.file)
}
