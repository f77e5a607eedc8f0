package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/zstd"

	"github.com/dbctl/dbctl/internal/crashpoint"
)

// copyBufSize is the read size of the copy loop: large enough that syscalls
// and hashing calls are a small part of the cost, small enough that memory
// stays constant (one buffer per worker) whatever the file sizes.
const copyBufSize = 1 << 20

// fileWorker copies, hashes and compresses files. One per goroutine: it
// owns its buffer, hash and zstd encoder and decoder.
type fileWorker struct {
	buf  []byte
	sum  hash.Hash
	enc  *zstd.Encoder
	dec  *zstd.Decoder
	done *atomic.Int64 // bytes processed, for progress
	// writeback: start the writeback of what is written as it is written
	// (startWriteback), for a synced backup (durable.go); level: the zstd
	// level of what it compresses (compress.go). Set for each file by the
	// backup (backupRun.worker); zero for restore, verify and import.
	writeback bool
	level     zstd.EncoderLevel
	encLevel  zstd.EncoderLevel // of enc
}

func newFileWorker(done *atomic.Int64) *fileWorker {
	return &fileWorker{buf: make([]byte, copyBufSize), sum: sha256.New(), done: done}
}

func (w *fileWorker) close() {
	if w.dec != nil {
		w.dec.Close()
	}
}

// kernelCopyChunk is how much one copy_file_range round moves before ctx is
// checked again and progress reported.
const kernelCopyChunk = 64 << 20

// copyResult is what one copy learned about its file.
type copyResult struct {
	size, stored int64
	sha256       string
	mode         fs.FileMode
	hashLater    bool // cloned or copied by the kernel: the copy is hashed after the unfreeze
}

// copyFile copies src to dst (created, must not exist) with the source's
// permission bits.
//
// With compress it reads src once, hashing the original bytes and writing
// zstd as they pass. Otherwise the bytes never pass through this process
// inside the freeze: clone (a reflink), when not nil, is tried first, so the
// copy shares blocks with the source and costs no data I/O; else the kernel
// copies them (copy_file_range, which Go falls back from to read/write where
// the file systems cannot). The caller then hashes the copy after the
// unfreeze (hashLater): hashing costs CPU time that need not be spent while
// the tables are frozen, and the hash is of the very bytes the backup keeps.
func (w *fileWorker) copyFile(ctx context.Context, src, dst string, compress bool, clone func(dst, src *os.File) error) (res copyResult, err error) {
	in, fi, err := openRegular(src)
	if err != nil {
		return res, err
	}
	defer in.Close()
	res.mode = fi.Mode().Perm()
	err = writeNew(dst, res.mode|0o200, func(out *os.File) error {
		if compress {
			return w.compress(ctx, in, out, &res)
		}
		res.hashLater = true
		if clone != nil {
			if clone(out, in) == nil {
				w.done.Add(fi.Size())
				res.size, res.stored = fi.Size(), fi.Size()
				return nil
			}
			if err := rewind(out, in); err != nil {
				return err
			}
		}
		var err error
		res.size, err = w.kernelCopy(ctx, out, in)
		res.stored = res.size
		return err
	})
	return res, err
}

// openRegular opens src for reading, refusing anything but a regular file.
func openRegular(src string) (*os.File, fs.FileInfo, error) {
	in, err := os.Open(src)
	if err != nil {
		return nil, nil, err
	}
	fi, err := in.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%s is not a regular file", src)
	}
	if err != nil {
		in.Close()
		return nil, nil, err
	}
	return in, fi, nil
}

// writeNew creates dst (it must not exist) with perm and lets write fill
// it; an error from closing the file counts like one from write.
func writeNew(dst string, perm fs.FileMode, write func(out *os.File) error) error {
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	err = write(out)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

// compress writes in to out as zstd, hashing the original bytes as they
// pass, and fills res's size, stored size and hash.
func (w *fileWorker) compress(ctx context.Context, in io.Reader, out *os.File, res *copyResult) error {
	var dst io.Writer = out
	var wb *writebackWriter
	if w.writeback {
		wb = &writebackWriter{f: out}
		dst = wb
	}
	enc, err := w.encoder(dst)
	if err != nil {
		return err
	}
	w.sum.Reset()
	n, err := w.pump(ctx, in, enc, w.sum)
	if err != nil {
		return err
	}
	if err := enc.Close(); err != nil {
		return err
	}
	wb.flush()
	ofi, err := out.Stat()
	if err != nil {
		return err
	}
	res.size, res.stored, res.sha256 = n, ofi.Size(), hex.EncodeToString(w.sum.Sum(nil))
	return nil
}

// stage puts a copy of src at stagePath (created, must not exist) for a
// compressed backup that compresses after the unfreeze: a clone where the
// file system can (no data I/O; a failure sets noClone, and later files do
// not try again), else, with orCopy, a copy by the kernel. It reports
// false, with nothing left behind, when it made neither.
func (w *fileWorker) stage(ctx context.Context, src, stagePath string, clone func(dst, src *os.File) error, noClone *atomic.Bool, orCopy bool) (copyResult, bool, error) {
	in, fi, err := openRegular(src)
	if err != nil {
		return copyResult{}, false, err
	}
	defer in.Close()
	staged := false
	err = writeNew(stagePath, 0o600, func(out *os.File) error {
		if clone != nil && !noClone.Load() {
			if clone(out, in) == nil {
				w.done.Add(fi.Size())
				staged = true
				return nil
			}
			noClone.Store(true)
			if err := rewind(out, in); err != nil {
				return err
			}
		}
		if !orCopy {
			return nil
		}
		_, err := w.kernelCopy(ctx, out, in)
		staged = err == nil
		return err
	})
	if err == nil && !staged {
		err = os.Remove(stagePath)
	}
	if err != nil || !staged {
		return copyResult{}, false, err
	}
	return copyResult{size: fi.Size(), mode: fi.Mode().Perm()}, true, nil
}

// rewind undoes what a failed clone may have done to out and in (FICLONE
// does nothing, a stand-in may have written), so that a copy starts afresh.
func rewind(out, in *os.File) error {
	if err := out.Truncate(0); err != nil {
		return err
	}
	if _, err := out.Seek(0, io.SeekStart); err != nil {
		return err
	}
	_, err := in.Seek(0, io.SeekStart)
	return err
}

// compressLater compresses a copy made by stage to dst (created with mode),
// then removes the copy.
func (w *fileWorker) compressLater(ctx context.Context, stage, dst string, mode fs.FileMode) (copyResult, error) {
	in, err := os.Open(stage)
	if err != nil {
		return copyResult{}, err
	}
	defer in.Close()
	res := copyResult{mode: mode}
	if err := writeNew(dst, mode|0o200, func(out *os.File) error { return w.compress(ctx, in, out, &res) }); err != nil {
		return res, err
	}
	if err := crashpoint.Hit("backup.remove stage"); err != nil {
		return res, err
	}
	return res, os.Remove(stage)
}

// kernelCopy copies in to out with io.CopyN, which uses copy_file_range for
// two *os.File, in rounds of kernelCopyChunk so that a cancelled ctx stops
// a large file's copy within one round.
func (w *fileWorker) kernelCopy(ctx context.Context, out, in *os.File) (int64, error) {
	var total int64
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		n, err := io.CopyN(out, in, kernelCopyChunk)
		if w.writeback {
			writebackRange(out, total, n)
		}
		total += n
		w.done.Add(n)
		if errors.Is(err, io.EOF) {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// pump moves r to w (nil: nowhere) through the worker's buffer, feeding h,
// checking ctx between reads.
func (w *fileWorker) pump(ctx context.Context, r io.Reader, dst io.Writer, h hash.Hash) (int64, error) {
	var total int64
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		n, err := r.Read(w.buf)
		if n > 0 {
			h.Write(w.buf[:n])
			if dst != nil {
				if _, werr := dst.Write(w.buf[:n]); werr != nil {
					return total, werr
				}
			}
			total += int64(n)
			w.done.Add(int64(n))
		}
		if errors.Is(err, io.EOF) {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// hashStored reads a stored file (decompressing it when compressed) and
// returns the size and sha256 of the original bytes; with out it also
// writes them there.
func (w *fileWorker) hashStored(ctx context.Context, path string, compressed bool, out io.Writer) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	return w.hashReader(ctx, f, compressed, out)
}

// hashReader is hashStored for a stream: it decompresses a compressed one,
// copies the original bytes to out and returns their size and sha256.
func (w *fileWorker) hashReader(ctx context.Context, r io.Reader, compressed bool, out io.Writer) (int64, string, error) {
	if compressed {
		dec, err := w.decoder(r)
		if err != nil {
			return 0, "", err
		}
		r = dec
	}
	w.sum.Reset()
	n, err := w.pump(ctx, r, out, w.sum)
	if err != nil {
		return n, "", err
	}
	return n, hex.EncodeToString(w.sum.Sum(nil)), nil
}

// runWorkers calls fn(worker, i) for i in [0, n) on up to conc goroutines,
// stopping at the first error (returned) or when ctx ends. A panic in fn
// ends the process, as in any goroutine.
func runWorkers(ctx context.Context, n, conc int, done *atomic.Int64, fn func(ctx context.Context, w *fileWorker, i int) error) error {
	_, err := workers(ctx, n, conc, done, false, fn)
	return err
}

// errWorkerPanicked cancels the other workers when one panicked.
var errWorkerPanicked = errors.New("dbctl: a restore worker panicked")

// restoreWorkers is runWorkers that survives a panic in fn: the panicking
// worker's value is returned (the first one) after every worker stopped,
// so that the caller cleans up before it panics on.
func restoreWorkers(ctx context.Context, n, conc int, done *atomic.Int64, fn func(ctx context.Context, w *fileWorker, i int) error) (any, error) {
	return workers(ctx, n, conc, done, true, fn)
}

// workers is runWorkers and restoreWorkers: with recoverPanics, a panic in
// fn cancels the others and its value is returned.
func workers(ctx context.Context, n, conc int, done *atomic.Int64, recoverPanics bool, fn func(ctx context.Context, w *fileWorker, i int) error) (any, error) {
	conc = max(1, min(conc, n))
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var panicVal any
	for g := 0; g < conc && g < n; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := newFileWorker(done)
			defer w.close()
			if recoverPanics {
				defer func() {
					if p := recover(); p != nil {
						once.Do(func() { panicVal = p })
						cancel(errWorkerPanicked)
					}
				}()
			}
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(ctx, w, i); err != nil {
					cancel(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return panicVal, context.Cause(ctx)
}
