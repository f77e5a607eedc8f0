package backup

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync/atomic"
	"testing"

	"github.com/dbctl/dbctl/internal/fsutil"
	"github.com/klauspost/compress/zstd"
)

// The hot pieces of a backup, one by one. The data is the largest files of
// the benchmark data_dir (DBCTL_BENCH_DATA, a folder made by bench/gendata;
// else DBCTL_BENCH_ROWS documents, default 50,000, loaded here):
//
//	DBCTL_BENCH_DATA=/tmp/dbctl-bench-data go test -run '^$' -bench 'Compress|Durable|SameBytes' ./backup/

// benchFiles returns the n largest files of the benchmark data_dir of
// each of the given suffixes.
func benchFiles(b *testing.B, n int, suffixes ...string) []string {
	dir := os.Getenv("DBCTL_BENCH_DATA")
	if dir == "" {
		dir = b.TempDir()
		buildBenchData(b, dir)
	}
	var out []string
	for _, suf := range suffixes {
		type sized struct {
			p string
			n int64
		}
		var all []sized
		_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() && filepath.Ext(p) == suf {
				if fi, err := d.Info(); err == nil {
					all = append(all, sized{p, fi.Size()})
				}
			}
			return nil
		})
		sort.Slice(all, func(i, j int) bool { return all[i].n > all[j].n })
		for i := 0; i < n && i < len(all); i++ {
			out = append(out, all[i].p)
		}
	}
	if len(out) == 0 {
		b.Skip("no benchmark files")
	}
	return out
}

// BenchmarkCompressLevels is one worker compressing (and hashing, as
// Create does) the docstore and doclist files at each level; ratio is
// stored / original bytes. Compare with `zstd -3 -T1` of the same files.
func BenchmarkCompressLevels(b *testing.B) {
	files := benchFiles(b, 1, ".spds", ".spd")
	var size int64
	for _, p := range files {
		fi, _ := os.Stat(p)
		size += fi.Size()
	}
	for _, lvl := range []zstd.EncoderLevel{zstd.SpeedFastest, zstd.SpeedDefault, zstd.SpeedBetterCompression} {
		b.Run(lvl.String(), func(b *testing.B) {
			w := newFileWorker(new(atomic.Int64))
			w.level = lvl
			dst := b.TempDir()
			b.SetBytes(size)
			var stored int64
			for i := 0; i < b.N; i++ {
				for k, p := range files {
					res, err := w.copyFile(context.Background(), p, filepath.Join(dst, fmt.Sprintf("%d-%d.zst", i, k)), true, nil)
					if err != nil {
						b.Fatal(err)
					}
					stored += res.stored
				}
			}
			b.ReportMetric(float64(stored)/float64(size)/float64(b.N), "ratio")
		})
	}
}

// BenchmarkDurable writes 32 files of 4 MiB and makes them durable: an
// fsync of each (the way before), the writeback of each started as it is
// written and an fsync of each, or that and one syncfs (durable.go).
func BenchmarkDurable(b *testing.B) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 4<<20/16)
	for _, mode := range []string{"fsync-each", "writeback+fsync-each", "writeback+syncfs"} {
		b.Run(mode, func(b *testing.B) {
			if mode == "writeback+syncfs" && !syncFSReportsErrors() {
				b.Skip("no syncfs that reports errors here")
			}
			b.SetBytes(32 * int64(len(data)))
			for i := 0; i < b.N; i++ {
				dir := filepath.Join(b.TempDir(), "d")
				if err := os.Mkdir(dir, 0o755); err != nil {
					b.Fatal(err)
				}
				var files []*os.File
				for k := 0; k < 32; k++ {
					f, err := os.Create(filepath.Join(dir, fmt.Sprint(k)))
					if err != nil {
						b.Fatal(err)
					}
					if _, err := f.Write(data); err != nil {
						b.Fatal(err)
					}
					if mode != "fsync-each" {
						startWriteback(f, 0, int64(len(data)))
					}
					files = append(files, f)
				}
				for _, f := range files {
					if mode != "writeback+syncfs" {
						if err := f.Sync(); err != nil {
							b.Fatal(err)
						}
					}
				}
				if mode == "writeback+syncfs" {
					if err := syncFS(files[0]); err != nil {
						b.Fatal(err)
					}
				} else if err := fsutil.SyncDir(dir); err != nil {
					b.Fatal(err)
				}
				for _, f := range files {
					f.Close()
				}
			}
		})
	}
}

// BenchmarkSameBytes: checking that a base's copy holds the bytes at hand,
// by comparing (linkMemory now) or by hashing it again (before).
func BenchmarkSameBytes(b *testing.B) {
	files := benchFiles(b, 4, ".spa")
	var mems [][]byte
	var size int64
	for _, p := range files {
		m, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		mems = append(mems, m)
		size += int64(len(m))
	}
	w := newFileWorker(new(atomic.Int64))
	b.Run("compare", func(b *testing.B) {
		b.SetBytes(size)
		for i := 0; i < b.N; i++ {
			for k, p := range files {
				if same, err := w.sameBytes(context.Background(), p, false, mems[k]); err != nil || !same {
					b.Fatal(err, same)
				}
			}
		}
	})
	b.Run("sha256", func(b *testing.B) {
		b.SetBytes(size)
		for i := 0; i < b.N; i++ {
			for _, p := range files {
				if _, _, err := w.hashStored(context.Background(), p, false, nil); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
