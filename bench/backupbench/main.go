// Command backupbench measures Manticore.Backup against a plain copy of the
// same files, on a data_dir made by bench/gendata:
//
//	go run ./bench/gendata -dir /tmp/dbctl-bench-data
//	go run ./bench/backupbench -data /tmp/dbctl-bench-data
//
// It starts the embedded server on the data_dir and, -runs times each, runs:
// FREEZE+UNFREEZE alone (the least a freeze window can be), the floor
// (FREEZE, copy every listed file with the kernel's copy, UNFREEZE), the
// floor with a sync before the UNFREEZE (both exactly as the peer
// measurement's floors: one file after the other, then one sync), Backup
// (staged, and with NoStaging), Backup with Compress (staged, and without
// staging compressing after the unfreeze), and the CPU floors: reading,
// hashing (and compressing, as Backup does: zstd fastest) the same files on
// one worker per CPU without writing anything, the least a checksummed
// backup costs on this machine. It prints the median wall time, the freeze
// window, MB/s and the ratios. Then incremental backups: on an unchanged
// base, and after an UPDATE of one table (bytes read from the server vs
// total).
package main

import (
	"context"
	"flag"
	"fmt"
	"hash"
	"io"
	"log"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"syscall"
	"time"

	"github.com/dbctl/dbctl"
	"github.com/dbctl/dbctl/dbctltest"
	"github.com/klauspost/compress/zstd"
)

// Variant names the ratios look up.
const (
	nFreeze    = "floor: FREEZE, UNFREEZE"
	nNoStage   = "dbctl Backup NoStaging"
	nFloor     = "floor: FREEZE, copy, UNFREEZE"
	nFloorSync = "floor: FREEZE, copy, sync, UNFREEZE"
	nBackup    = "dbctl Backup (staged; sha256, fsync, manifest)"
	nCompress  = "dbctl Backup Compress (zstd, staged)"
	nCPUZstd   = "CPU floor: read + sha256 + zstd, no output"
)

type result struct {
	wall, frozen time.Duration
	bytes        int64
}

func main() {
	data := flag.String("data", "", "data_dir made by bench/gendata (required)")
	out := flag.String("out", "", "where to write backups (default: beside -data)")
	runs := flag.Int("runs", 3, "runs per variant")
	only := flag.String("only", "", "run only the variants whose names match this regexp (no ratios then)")
	pause := flag.Duration("pause", 3*time.Second, "pause after sync before each run (the peer measurement slept 3 s)")
	incremental := flag.Bool("incremental", true, "measure incremental backups after the variants (UPDATEs one table's first document)")
	flag.Parse()
	if *data == "" {
		log.Fatal("backupbench: -data is required")
	}
	if *out == "" {
		*out = filepath.Join(filepath.Dir(*data), "dbctl-bench-out")
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		log.Fatal(err)
	}
	srv, err := dbctltest.StartManticore(dbctltest.WithDataDir(*data))
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	c, err := dbctl.Open(srv.DSN())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	m := c.Manticore()
	tables, err := m.Tables(ctx)
	if err != nil {
		log.Fatal(err)
	}
	var names []string
	for _, t := range tables {
		names = append(names, t.Name)
	}

	paths, total, err := listed(ctx, m, names)
	if err != nil {
		log.Fatal(err)
	}

	variants := []struct {
		name string
		run  func(dir string) (result, error)
	}{
		{nFreeze, func(string) (result, error) { return freezeOnly(ctx, m, names) }},
		{nFloor, func(dir string) (result, error) { return floor(ctx, m, names, dir, false) }},
		{nFloorSync, func(dir string) (result, error) { return floor(ctx, m, names, dir, true) }},
		{nBackup, func(dir string) (result, error) {
			return backup(ctx, m, dir, dbctl.BackupOptions{})
		}},
		{nNoStage, func(dir string) (result, error) {
			return backup(ctx, m, dir, dbctl.BackupOptions{NoStaging: true})
		}},
		{nCompress, func(dir string) (result, error) {
			return backup(ctx, m, dir, dbctl.BackupOptions{Compress: true})
		}},
		{"dbctl Backup Compress, NoStaging, CompressAfterUnfreeze", func(dir string) (result, error) {
			return backup(ctx, m, dir, dbctl.BackupOptions{Compress: true, NoStaging: true, CompressAfterUnfreeze: true})
		}},
		{"CPU floor: read + sha256, no output", func(string) (result, error) { return cpuFloor(paths, false) }},
		{nCPUZstd, func(string) (result, error) { return cpuFloor(paths, true) }},
	}
	if *only != "" {
		re, err := regexp.Compile(*only)
		if err != nil {
			log.Fatal(err)
		}
		kept := variants[:0]
		for _, v := range variants {
			if re.MatchString(v.name) {
				kept = append(kept, v)
			}
		}
		variants = kept
	}
	fmt.Printf("data: %s, tables %v\n\n", *data, names)
	fmt.Printf("%-56s %10s %10s %10s %9s\n", "variant", "wall", "frozen", "MB/s", "runs")
	// Interleaved, as the peer measurement was: each iteration runs every
	// variant once, starting one further along each time, so that no
	// variant always follows the same one (deleting the previous output
	// costs the next run disk time on a file system mounted with discard).
	all := make([][]result, len(variants))
	for i := 0; i < *runs; i++ {
		for n := range variants {
			k := (i + n) % len(variants)
			v := variants[k]
			dir := filepath.Join(*out, fmt.Sprintf("run-%d", i))
			_ = os.RemoveAll(dir)
			syscall.Sync()
			time.Sleep(*pause)
			// warm cache, as in the peer measurement: read every source
			// file once (this machine reclaims idle page cache).
			if err := warm(*data); err != nil {
				log.Fatal(err)
			}
			if err := prefault(*out, 2*total); err != nil {
				log.Fatal(err)
			}
			r, err := v.run(dir)
			if err != nil {
				log.Fatalf("%s: %v", v.name, err)
			}
			all[k] = append(all[k], r)
			_ = os.RemoveAll(dir)
		}
	}
	medians := map[string]result{}
	for k, v := range variants {
		rs := all[k]
		sort.Slice(rs, func(i, j int) bool { return rs[i].wall < rs[j].wall })
		med := rs[len(rs)/2]
		medians[v.name] = med
		fmt.Printf("%-56s %9.3fs %9.3fs %10.0f %4d (min %.3fs, max %.3fs)\n", v.name, med.wall.Seconds(), med.frozen.Seconds(),
			float64(med.bytes)/med.wall.Seconds()/1e6, len(rs), rs[0].wall.Seconds(), rs[len(rs)-1].wall.Seconds())
	}
	fmt.Printf("\nbytes per run: %d (%.3f GiB)\n", total, float64(total)/(1<<30))
	if *incremental {
		if err := incrementals(ctx, c, m, *out, *runs, total, *pause); err != nil {
			log.Fatal(err)
		}
	}
	cp, okCP := medians[nFloor]
	cps, okCPS := medians[nFloorSync]
	b, okB := medians[nBackup]
	bc, okBC := medians[nCompress]
	fz, okFZ := medians[nFreeze]
	ns, okNS := medians[nNoStage]
	cz, okCZ := medians[nCPUZstd]
	if !okCP || !okCPS || !okB || !okBC || !okFZ || !okNS || !okCZ {
		return // -only left out a variant the ratios need
	}
	fmt.Printf("\nstaged freeze window %.3fs = %.2fx FREEZE+UNFREEZE alone (%.3fs; target <= 3x: %s); without staging %.3fs\n",
		b.frozen.Seconds(), b.frozen.Seconds()/fz.wall.Seconds(), fz.wall.Seconds(), verdict(b.frozen.Seconds() <= 3*fz.wall.Seconds()), ns.frozen.Seconds())
	fmt.Printf("staged Backup wall = %.2fx floor copy (target <= 1.2x: %s); compressed: freeze %.3fs, wall = %.2fx CPU floor zstd (target <= 1.15x: %s)\n",
		b.wall.Seconds()/cp.wall.Seconds(), verdict(b.wall.Seconds() <= 1.2*cp.wall.Seconds()),
		bc.frozen.Seconds(), bc.wall.Seconds()/cz.wall.Seconds(), verdict(bc.wall.Seconds() <= 1.15*cz.wall.Seconds()))
	fmt.Printf("Backup / floor copy: %.2fx wall; Backup / floor copy+sync: %.2fx wall\n", b.wall.Seconds()/cp.wall.Seconds(), b.wall.Seconds()/cps.wall.Seconds())
	// The targets are for the peer machine, whose floors were cp
	// 0.36 s and cp + sync 0.66 s for 1.141 GB: total <= 0.95 s is 1.44x
	// the cp + sync floor, frozen <= 0.65 s is 1.81x the cp floor. The same
	// ratios against this run's floors:
	fmt.Printf("targets at this run's floors: total <= %.3fs (1.44x floor copy+sync): %s; frozen <= %.3fs (1.81x floor copy): %s\n",
		1.44*cps.wall.Seconds(), verdict(b.wall.Seconds() <= 1.44*cps.wall.Seconds()),
		1.81*cp.wall.Seconds(), verdict(b.frozen.Seconds() <= 1.81*cp.wall.Seconds()))
	fmt.Printf("peer manticore-backup (reference, 1.06 GiB): 3.79 s, frozen 3.3 s; --compress 6.64 s, frozen 6.2 s\n")
	fmt.Printf("speed-up vs peer (scaled to bytes): plain %.2fx, frozen %.2fx, compressed %.2fx\n",
		3.79/(b.wall.Seconds()*1141012886/float64(b.bytes)), 3.3/(b.frozen.Seconds()*1141012886/float64(b.bytes)),
		6.64/(bc.wall.Seconds()*1141012886/float64(bc.bytes)))
}

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

// listed returns the files FREEZE lists and their total size.
func listed(ctx context.Context, m *dbctl.Manticore, names []string) ([]string, int64, error) {
	files, err := m.Freeze(ctx, names...)
	if err != nil {
		return nil, 0, err
	}
	var paths []string
	var n int64
	for _, f := range files {
		fi, err := os.Stat(f.Normalized)
		if err != nil {
			_ = m.Unfreeze(ctx, names...)
			return nil, 0, err
		}
		paths = append(paths, f.Normalized)
		n += fi.Size()
	}
	return paths, n, m.Unfreeze(ctx, names...)
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

func backup(ctx context.Context, m *dbctl.Manticore, dir string, opts dbctl.BackupOptions) (result, error) {
	start := time.Now()
	man, err := m.Backup(ctx, dir, opts)
	if err != nil {
		return result{}, err
	}
	var bytes int64
	for _, f := range man.Files {
		bytes += f.Size
	}
	return result{wall: time.Since(start), frozen: man.FreezeWindow, bytes: bytes}, nil
}

// incrementals measures incremental backups: a full one as the base, then
// -runs on the unchanged server, then -runs after an UPDATE of the first
// table's document 1 (with FLUSH ATTRIBUTES), printing what each read
// from the server against the total.
func incrementals(ctx context.Context, c *dbctl.Client, m *dbctl.Manticore, out string, runs int, total int64, pause time.Duration) error {
	base := filepath.Join(out, "inc-base")
	_ = os.RemoveAll(base)
	defer os.RemoveAll(base)
	syscall.Sync()
	time.Sleep(pause)
	start := time.Now()
	full, err := m.Backup(ctx, base, dbctl.BackupOptions{})
	if err != nil {
		return err
	}
	fullWall := time.Since(start)
	fmt.Printf("\nincremental (base: a full backup, %.3fs, frozen %.3fs)\n", fullWall.Seconds(), full.FreezeWindow.Seconds())
	one := func(name string) error {
		var rs []result
		var read int64
		var byTable map[string]int64
		for i := 0; i < runs; i++ {
			dir := filepath.Join(out, fmt.Sprintf("inc-%d", i))
			_ = os.RemoveAll(dir)
			syscall.Sync() // as before every variant: no writeback of the last run in this one
			time.Sleep(pause)
			start := time.Now()
			man, err := m.Backup(ctx, dir, dbctl.BackupOptions{Base: base})
			if err != nil {
				return err
			}
			rs = append(rs, result{wall: time.Since(start), frozen: man.FreezeWindow})
			read, byTable = 0, map[string]int64{}
			for _, f := range man.Files {
				if !f.FromBase {
					read += f.Size
					byTable[f.Table] += f.Size
				}
			}
			_ = os.RemoveAll(dir)
		}
		sort.Slice(rs, func(i, j int) bool { return rs[i].wall < rs[j].wall })
		med := rs[len(rs)/2]
		fmt.Printf("%-40s wall %.3fs (%.3fx the full backup; target <= 0.2 s and <= 0.1x: %s), frozen %.3fs, read from the server %d of %d bytes (%.2f%%); by table: %v\n",
			name, med.wall.Seconds(), med.wall.Seconds()/fullWall.Seconds(),
			verdict(med.wall.Seconds() <= 0.2 && med.wall.Seconds() <= 0.1*fullWall.Seconds()),
			med.frozen.Seconds(), read, total, 100*float64(read)/float64(total), byTable)
		return nil
	}
	if err := one("nothing changed"); err != nil {
		return err
	}
	tables, err := m.Tables(ctx)
	if err != nil || len(tables) == 0 {
		return err
	}
	first := tables[0].Name
	// bench/gendata numbers each table's documents from 1
	for _, q := range []string{"UPDATE " + first + " SET gid=4242 WHERE id=1", "FLUSH ATTRIBUTES"} {
		if _, err := c.DB().ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return one("after UPDATE of " + first)
}
