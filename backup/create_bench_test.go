package backup

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/dbctl/dbctl"
	"github.com/dbctl/dbctl/dbctltest"
	"github.com/dbctl/dbctl/internal/benchdata"
)

// BenchmarkBackup compares Backup (staged and not, synced and not, plain and
// compressed, incremental on an unchanged base) with the floors: FREEZE+UNFREEZE alone
// (the least a freeze window can be) and FREEZE, a kernel copy of the same
// files, UNFREEZE. The data is built once per run on the embedded server:
// DBCTL_BENCH_ROWS documents (default 50,000, about 60 MB of table files;
// the peer measurement's 900,000 make about 1.1 GB, or use bench/gendata and
// bench/backupbench). b.SetBytes makes go test print MB/s; freeze-ms is the
// freeze window of each backup. Run it at two sizes to see the staged
// freeze window follow only the mutable bytes while the floor copy grows with
// all of them. DBCTL_BENCH_DATA names
// a data_dir made by bench/gendata to use instead.
//
//	DBCTL_BENCH_ROWS=100000 go test -run '^$' -bench Backup -benchtime 3x .
//	DBCTL_BENCH_ROWS=200000 go test -run '^$' -bench Backup -benchtime 3x .
func BenchmarkBackup(b *testing.B) {
	c, names := benchServer(b)
	ctx := context.Background()
	m := c.Manticore()
	files, err := m.Freeze(ctx, names...)
	if err != nil {
		b.Fatal(err)
	}
	var total int64
	for _, f := range files {
		fi, err := os.Stat(f.Normalized)
		if err != nil {
			b.Fatal(err)
		}
		total += fi.Size()
	}
	if err := m.Unfreeze(ctx, names...); err != nil {
		b.Fatal(err)
	}
	out := b.TempDir()
	base := filepath.Join(out, "base")
	if _, err := Create(ctx, m, base, CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	run := func(b *testing.B, fn func(dir string) (frozenMS float64)) {
		b.SetBytes(total)
		var frozen float64
		for i := 0; i < b.N; i++ {
			dir := filepath.Join(out, "bk-"+strconv.Itoa(i))
			frozen += fn(dir)
			b.StopTimer()
			_ = os.RemoveAll(dir)
			b.StartTimer()
		}
		b.ReportMetric(frozen/float64(b.N), "freeze-ms")
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.Run("floor-freeze-unfreeze", func(b *testing.B) {
		run(b, func(string) float64 {
			start := time.Now()
			if _, err := m.Freeze(ctx, names...); err != nil {
				b.Fatal(err)
			}
			if err := m.Unfreeze(ctx, names...); err != nil {
				b.Fatal(err)
			}
			return ms(time.Since(start))
		})
	})
	b.Run("floor-copy", func(b *testing.B) {
		run(b, func(dir string) float64 {
			start := time.Now()
			files, err := m.Freeze(ctx, names...)
			if err != nil {
				b.Fatal(err)
			}
			for _, f := range files {
				dst := filepath.Join(dir, f.Table, filepath.Base(f.Normalized))
				if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
					b.Fatal(err)
				}
				if err := kernelCopy(f.Normalized, dst); err != nil {
					b.Fatal(err)
				}
			}
			if err := m.Unfreeze(ctx, names...); err != nil {
				b.Fatal(err)
			}
			return ms(time.Since(start))
		})
	})
	for _, v := range []struct {
		name string
		opts CreateOptions
	}{
		{"backup-staged", CreateOptions{}},
		{"backup-staged-nosync", CreateOptions{NoSync: true}},
		{"backup-nostaging", CreateOptions{NoStaging: true}},
		{"backup-compress-staged", CreateOptions{Compress: true}},
		{"backup-compress-nostaging-after-unfreeze", CreateOptions{Compress: true, NoStaging: true, CompressAfterUnfreeze: true}},
		{"backup-incremental-unchanged", CreateOptions{Base: base}},
	} {
		opts := v.opts
		b.Run(v.name, func(b *testing.B) {
			run(b, func(dir string) float64 {
				man, err := Create(ctx, m, dir, opts)
				if err != nil {
					b.Fatal(err)
				}
				return ms(man.FreezeWindow)
			})
		})
	}
}

var benchNames = []string{"bench_a", "bench_b", "bench_c"}

// benchServer starts a server on the benchmark data: the data_dir named by
// DBCTL_BENCH_DATA, or one built here (removed when the benchmark ends).
func benchServer(b *testing.B) (*dbctl.Client, []string) {
	dir := os.Getenv("DBCTL_BENCH_DATA")
	if dir == "" {
		dir = b.TempDir()
		buildBenchData(b, dir)
	}
	srv := dbctltest.NewManticore(b, dbctltest.WithDataDir(dir))
	c, err := dbctl.Open(srv.DSN(), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c, benchNames
}

// buildBenchData loads DBCTL_BENCH_ROWS documents (default 50,000) into a
// server on dir and stops it cleanly, so the files stay.
func buildBenchData(b *testing.B, dir string) {
	rows := 50000
	if v, err := strconv.Atoi(os.Getenv("DBCTL_BENCH_ROWS")); err == nil && v > 0 {
		rows = v
	}
	srv, err := dbctltest.StartManticore(dbctltest.WithDataDir(dir))
	if err != nil {
		b.Fatal(err)
	}
	c, err := dbctl.Open(srv.DSN(), nil)
	if err != nil {
		b.Fatal(err)
	}
	err = benchdata.Load(context.Background(), c.DB(), benchdata.Split(rows), 1)
	c.Close()
	if cerr := srv.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		b.Fatal(err)
	}
}

func kernelCopy(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer out.Close()
	_, err = io.Copy(out, in)
	return err
}
