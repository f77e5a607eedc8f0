package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dbctl/dbctl"
	"github.com/klauspost/compress/zstd"
)

// cpuFloor reads every listed file on one goroutine per CPU, hashing it and
// optionally compressing it into io.Discard.
func cpuFloor(paths []string, compress bool) (result, error) {
	start := time.Now()
	next := make(chan string)
	var total atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for w := 0; w < runtime.NumCPU(); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hr := &hasher{buf: make([]byte, 1<<20), sum: sha256.New()}
			if compress {
				hr.enc, _ = zstd.NewWriter(io.Discard, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
			}
			for path := range next { // drain even after an error
				n, err := hr.file(path)
				total.Add(n)
				if err != nil {
					mu.Lock()
					firstErr = errors.Join(firstErr, err)
					mu.Unlock()
				}
			}
		}()
	}
	for _, p := range paths {
		next <- p
	}
	close(next)
	wg.Wait()
	return result{wall: time.Since(start), bytes: total.Load()}, firstErr
}

// prefault hands the kernel n bytes of recently used free pages for the
// next run's writes: it writes a scratch file of n bytes and deletes it
// (unsynced: the dirty pages are simply freed). This VM reports free pages
// to the host (virtio-balloon free page reporting) about 2 s after they are
// freed; the host then discards them, and the next write into each costs a
// host page fault. Without this, every run after the pause wrote into such
// pages and the kernel copy of the floor ran at ~0.5 GB/s instead of the
// ~3.5 GB/s of back-to-back runs (and of the peer machine's cp). Every
// variant starts in the same state, as on a server whose memory is in use.
func prefault(dir string, n int64) error {
	path := filepath.Join(dir, "prefault")
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer os.Remove(path)
	defer f.Close()
	buf := make([]byte, 1<<20)
	for w := int64(0); w < n; w += int64(len(buf)) {
		if _, err := f.Write(buf); err != nil {
			return err
		}
	}
	return nil
}

func warm(dir string) error {
	buf := make([]byte, 1<<20)
	return filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.CopyBuffer(io.Discard, struct{ io.Reader }{f}, buf)
		return err
	})
}

// floor is the least a consistent backup can do, as the peer measurement
// did it (cp, then sync, inside the freeze): freeze, copy the listed files
// one after the other with io.Copy (copy_file_range on Linux), optionally
// sync, unfreeze.
func floor(ctx context.Context, m *dbctl.Manticore, names []string, dir string, sync bool) (result, error) {
	start := time.Now()
	files, err := m.Freeze(ctx, names...)
	if err != nil {
		return result{}, err
	}
	frozen := time.Now()
	var bytes int64
	for _, f := range files {
		dst := filepath.Join(dir, f.Table, filepath.Base(f.Normalized))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return result{}, err
		}
		n, err := copyFile(f.Normalized, dst)
		if err != nil {
			return result{}, err
		}
		bytes += n
	}
	if sync {
		syncAll()
	}
	if err := m.Unfreeze(ctx, names...); err != nil {
		return result{}, err
	}
	return result{wall: time.Since(start), frozen: time.Since(frozen), bytes: bytes}, nil
}

func copyFile(src, dst string) (int64, error) {
	in, err := os.Open(src)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return 0, err
	}
	defer out.Close()
	return io.Copy(out, in)
}

// freezeOnly is FREEZE and UNFREEZE of the same tables with nothing
// between: the least a freeze window can be.
func freezeOnly(ctx context.Context, m *dbctl.Manticore, names []string) (result, error) {
	start := time.Now()
	if _, err := m.Freeze(ctx, names...); err != nil {
		return result{}, err
	}
	if err := m.Unfreeze(ctx, names...); err != nil {
		return result{}, err
	}
	d := time.Since(start)
	return result{wall: d, frozen: d}, nil
}

// mutableFloor is the least a consistent backup's freeze window can be:
// FREEZE, read the files searchd changes in place (every file but the
// immutable disk-chunk ones, which a hard link keeps) into memory touched
// before the FREEZE, on one goroutine per CPU, UNFREEZE. It is the freeze
// window of a staged backup without the hard links and the bookkeeping.
func mutableFloor(ctx context.Context, m *dbctl.Manticore, names []string, paths []string) (result, error) {
	var mutable []string
	var size int64
	for _, p := range paths {
		if immutable(p) {
			continue
		}
		if fi, err := os.Stat(p); err == nil {
			mutable = append(mutable, p)
			size += fi.Size() + 4096
		}
	}
	arena := make([]byte, size+size/4+1<<20)
	for i := 0; i < len(arena); i += 4096 {
		arena[i] = 1
	}
	start := time.Now()
	if _, err := m.Freeze(ctx, names...); err != nil {
		return result{}, err
	}
	var mu sync.Mutex
	var off int
	next := make(chan string)
	var wg sync.WaitGroup
	var total atomic.Int64
	for w := 0; w < runtime.NumCPU(); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range next {
				f, err := os.Open(p)
				if err != nil {
					continue
				}
				fi, _ := f.Stat()
				n := int(fi.Size()) + 1
				mu.Lock()
				var buf []byte
				if off+n <= len(arena) {
					buf, off = arena[off:off+n:off+n], off+n
				} else {
					buf = make([]byte, n)
				}
				mu.Unlock()
				k, _ := io.ReadFull(f, buf)
				total.Add(int64(k))
				f.Close()
			}
		}()
	}
	for _, p := range mutable {
		next <- p
	}
	close(next)
	wg.Wait()
	if err := m.Unfreeze(ctx, names...); err != nil {
		return result{}, err
	}
	d := time.Since(start)
	return result{wall: d, frozen: d, bytes: total.Load()}, nil
}
