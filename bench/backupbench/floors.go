package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dbctl/dbctl"
	"github.com/klauspost/compress/zstd"
)

// hasher is one CPU-floor worker: its buffer, hash and encoder.
type hasher struct {
	buf []byte
	sum hash.Hash
	enc *zstd.Encoder
}

func (hr *hasher) file(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	hr.sum.Reset()
	if hr.enc == nil { // sha256 alone: through a mapping, as backup.Create hashes a staged file
		if fi, err := f.Stat(); err == nil {
			if m, unmap, ok := mapped(f, fi.Size()); ok {
				defer unmap()
				hr.sum.Write(m)
				return int64(len(m)), nil
			}
		}
	}
	var w io.Writer = hr.sum
	if hr.enc != nil {
		hr.enc.Reset(io.Discard)
		w = io.MultiWriter(hr.sum, hr.enc)
	}
	n, err := io.CopyBuffer(w, struct{ io.Reader }{f}, hr.buf)
	if err == nil && hr.enc != nil {
		err = hr.enc.Close()
	}
	return n, err
}

// cpuFloor reads every listed file on one goroutine per CPU, hashing it
// (through a mapping: no copy) and, with a level, compressing it into
// io.Discard at that level (as backup.Create does: one encoder per worker,
// one frame per file): the least a checksummed (and compressed) backup
// costs in CPU on this machine, nothing written.
func cpuFloor(paths []string, level zstd.EncoderLevel) (result, error) {
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
			if level != 0 {
				hr.enc, _ = zstd.NewWriter(io.Discard, zstd.WithEncoderLevel(level), zstd.WithEncoderConcurrency(1))
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

// warm reads every file under dir, so that it is in the page cache.
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

// floorCP is the least a consistent backup can do, as the peer measurement
// did it (reference/peer-backup.md §4): FREEZE, then per table
// `cp --preserve=mode,ownership -t D/<table> <its files>` (GNU cp copies
// with copy_file_range), optionally `sync` inside the window, UNFREEZE.
func floorCP(ctx context.Context, m *dbctl.Manticore, names []string, dir string, withSync bool) (result, error) {
	start := time.Now()
	files, err := m.Freeze(ctx, names...)
	if err != nil {
		return result{}, err
	}
	frozen := time.Now()
	byTable := map[string][]string{}
	var bytes int64
	for _, f := range files {
		byTable[f.Table] = append(byTable[f.Table], f.Normalized)
		if fi, err := os.Stat(f.Normalized); err == nil {
			bytes += fi.Size()
		}
	}
	for table, paths := range byTable {
		dst := filepath.Join(dir, table)
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return result{}, err
		}
		if err := run("cp", append([]string{"--preserve=mode,ownership", "-t", dst}, paths...)...); err != nil {
			return result{}, err
		}
	}
	if withSync {
		syncAll()
	}
	if err := m.Unfreeze(ctx, names...); err != nil {
		return result{}, err
	}
	return result{wall: time.Since(start), frozen: time.Since(frozen), bytes: bytes, stored: bytes}, nil
}

// zstdFloor is what the peer's --compress costs and makes
// (reference/peer-backup.md §4): `zstd -3 -T1 -q --output-dir-flat D
// <files>`, one file after the other on one thread, of the listed files.
func zstdFloor(paths []string, dir string) (result, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return result{}, err
	}
	start := time.Now()
	if err := run("zstd", append([]string{"-3", "-T1", "-q", "--output-dir-flat", dir}, paths...)...); err != nil {
		return result{}, err
	}
	wall := time.Since(start)
	in, err := sizeOf(paths...)
	if err != nil {
		return result{}, err
	}
	out, err := treeSize(dir)
	return result{wall: wall, bytes: in, stored: out}, err
}

// restoreFloor is the floor of a restore to an empty data_dir: `cp -a` of
// the backup's table folders and state files into it, then `sync`.
func restoreFloor(backupDir, dataDir string) (result, error) {
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return result{}, err
	}
	start := time.Now()
	for _, sub := range []string{"data", "state"} {
		if err := run("cp", "-a", filepath.Join(backupDir, sub)+"/.", dataDir+"/"); err != nil {
			return result{}, err
		}
	}
	syncAll()
	wall := time.Since(start)
	n, err := treeSize(dataDir)
	return result{wall: wall, bytes: n, stored: n}, err
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

func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", name, err, out)
	}
	return nil
}

func sizeOf(paths ...string) (int64, error) {
	var n int64
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return 0, err
		}
		n += fi.Size()
	}
	return n, nil
}

// treeSize is the size of the regular files under dir.
func treeSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		fi, err := d.Info()
		if err == nil {
			n += fi.Size()
		}
		return err
	})
	return n, err
}
