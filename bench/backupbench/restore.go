package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"time"

	"github.com/dbctl/dbctl"
	"github.com/dbctl/dbctl/backup"
)

// Restore variants and their floor (issue 20: "restore to an empty
// data_dir" against "cp -a of the backup's data + sync").
const (
	nRestore      = "dbctl Restore, empty data_dir (sha256 of every byte, fsync)"
	nRestoreZstd  = "dbctl Restore of a Compress backup, empty data_dir"
	nRestoreFloor = "floor: cp -a of the backup's data, then sync"
)

// restores backs up every table once (plain, and compressed when zstd),
// then, -runs times each, interleaved in a shuffled order and each after
// the same preparation as the backup variants (the backup's files in the
// page cache), restores it into an empty data_dir, and runs the floor: cp
// -a of the backup's table folders and state files into an empty folder,
// then sync. It prints the medians, the spread, and the ratio of the same
// run.
func restores(ctx context.Context, m *dbctl.Manticore, out string, runs int, pause time.Duration, zstd bool) error {
	plain := filepath.Join(out, "restore-src")
	compressed := filepath.Join(out, "restore-src-zstd")
	for _, d := range []string{plain, compressed} {
		_ = os.RemoveAll(d)
		defer os.RemoveAll(d)
	}
	man, err := backup.Create(ctx, m, plain, backup.CreateOptions{})
	if err != nil {
		return err
	}
	var total int64
	for _, f := range man.Files {
		total += f.Size
	}
	variants := []struct {
		name string
		src  string
		run  func(dst string) error
	}{
		{nRestore, plain, func(dst string) error { return backup.Restore(ctx, plain, dst, backup.RestoreOptions{}) }},
		{nRestoreFloor, plain, func(dst string) error {
			if err := os.Mkdir(dst, 0o755); err != nil {
				return err
			}
			for _, sub := range []string{"data", "state"} {
				if out, err := exec.Command("cp", "-a", filepath.Join(plain, sub)+"/.", dst).CombinedOutput(); err != nil {
					return fmt.Errorf("cp -a: %v: %s", err, out)
				}
			}
			syncAll()
			return nil
		}},
	}
	if zstd {
		if _, err := backup.Create(ctx, m, compressed, backup.CreateOptions{Compress: true}); err != nil {
			return err
		}
		variants = append(variants, struct {
			name string
			src  string
			run  func(dst string) error
		}{nRestoreZstd, compressed, func(dst string) error {
			return backup.Restore(ctx, compressed, dst, backup.RestoreOptions{})
		}})
	}
	fmt.Printf("\nrestore of a backup of %d bytes (%d files) into an empty data_dir, %d runs each, interleaved:\n", total, len(man.Files), runs)
	all := make([][]time.Duration, len(variants))
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < runs; i++ {
		for _, k := range rng.Perm(len(variants)) {
			v := variants[k]
			dst := filepath.Join(out, fmt.Sprintf("restore-run-%d", i))
			_ = os.RemoveAll(dst)
			if err := prepare(v.src, out, total, pause); err != nil {
				return err
			}
			start := time.Now()
			if err := v.run(dst); err != nil {
				return fmt.Errorf("%s: %w", v.name, err)
			}
			all[k] = append(all[k], time.Since(start))
			_ = os.RemoveAll(dst)
		}
	}
	med := map[string]time.Duration{}
	for k, v := range variants {
		ws := all[k]
		sort.Slice(ws, func(i, j int) bool { return ws[i] < ws[j] })
		med[v.name] = ws[len(ws)/2]
		fmt.Printf("%-60s %8.3fs (min %.3fs, max %.3fs; %.0f MB/s)\n", v.name, med[v.name].Seconds(), ws[0].Seconds(), ws[len(ws)-1].Seconds(),
			float64(total)/med[v.name].Seconds()/1e6)
	}
	r, f := med[nRestore], med[nRestoreFloor]
	fmt.Printf("Restore / (cp -a + sync) = %.2fx by the medians (target <= 1.15x: %s); min/min %.2fx\n",
		r.Seconds()/f.Seconds(), verdict(r.Seconds() <= 1.15*f.Seconds()), all[0][0].Seconds()/all[1][0].Seconds())
	if zstd {
		fmt.Printf("Restore of the compressed backup / (cp -a + sync of the plain one) = %.2fx\n", med[nRestoreZstd].Seconds()/f.Seconds())
	}
	return nil
}
