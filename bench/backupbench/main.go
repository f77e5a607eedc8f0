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
// total); then Restore into an empty data_dir against cp -a + sync
// (restore.go).
package main

import (
	"context"
	"flag"
	"fmt"
	"hash"
	"io"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"time"

	"github.com/dbctl/dbctl"
	"github.com/dbctl/dbctl/backup"
	"github.com/dbctl/dbctl/dbctltest"
	"github.com/klauspost/compress/zstd"
)

// Variant names the ratios look up.
const (
	nFreeze    = "floor: FREEZE, UNFREEZE"
	nMutable   = "floor: FREEZE, read mutable files, UNFREEZE"
	nNoStage   = "dbctl Backup NoStaging"
	nFloor     = "floor: FREEZE, copy, UNFREEZE"
	nFloorSync = "floor: FREEZE, copy, sync, UNFREEZE"
	nBackup    = "dbctl Backup (staged; sha256, fsync, manifest)"
	nNoSync    = "dbctl Backup NoSync (staged; sha256, manifest)"
	nCompress  = "dbctl Backup Compress (zstd, staged)"
	nCPUZstd   = "CPU floor: read + sha256 + zstd, no output"
	nCPUHash   = "CPU floor: read + sha256, no output"
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
	restore := flag.Bool("restore", true, "measure Restore into an empty data_dir against cp -a + sync after the variants")
	restoreZstd := flag.Bool("restore-zstd", false, "with -restore, also restore a compressed backup")
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
	c, err := dbctl.Open(srv.DSN(), nil)
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
		{nMutable, func(string) (result, error) { return mutableFloor(ctx, m, names, paths) }},
		{nFloor, func(dir string) (result, error) { return floor(ctx, m, names, dir, false) }},
		{nFloorSync, func(dir string) (result, error) { return floor(ctx, m, names, dir, true) }},
		{nBackup, func(dir string) (result, error) {
			return timedBackup(ctx, m, dir, backup.CreateOptions{})
		}},
		{nNoSync, func(dir string) (result, error) {
			return timedBackup(ctx, m, dir, backup.CreateOptions{NoSync: true})
		}},
		{nNoStage, func(dir string) (result, error) {
			return timedBackup(ctx, m, dir, backup.CreateOptions{NoStaging: true})
		}},
		{nCompress, func(dir string) (result, error) {
			return timedBackup(ctx, m, dir, backup.CreateOptions{Compress: true})
		}},
		{"dbctl Backup Compress, NoStaging, CompressAfterUnfreeze", func(dir string) (result, error) {
			return timedBackup(ctx, m, dir, backup.CreateOptions{Compress: true, NoStaging: true, CompressAfterUnfreeze: true})
		}},
		{nCPUHash, func(string) (result, error) { return cpuFloor(paths, false) }},
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
	// variant once, in an order shuffled anew (seeded: the same each
	// time), so that no variant always follows the same one (deleting the
	// previous output costs the next run disk and journal time on a file
	// system mounted with discard; a rotation kept each variant behind the
	// same neighbour).
	all := make([][]result, len(variants))
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < *runs; i++ {
		for _, k := range rng.Perm(len(variants)) {
			v := variants[k]
			dir := filepath.Join(*out, fmt.Sprintf("run-%d", i))
			_ = os.RemoveAll(dir)
			if err := prepare(*data, *out, total, *pause); err != nil {
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
	// medians by wall time; minFrozen is each variant's shortest freeze
	// window, the least noisy figure of a few milliseconds on a shared VM
	medians := map[string]result{}
	minFrozen := map[string]time.Duration{}
	for k, v := range variants {
		rs := all[k]
		sort.Slice(rs, func(i, j int) bool { return rs[i].wall < rs[j].wall })
		med := rs[len(rs)/2]
		medians[v.name] = med
		mf := rs[0].frozen
		for _, r := range rs {
			mf = min(mf, r.frozen)
		}
		minFrozen[v.name] = mf
		fmt.Printf("%-56s %9.3fs %9.3fs %10.0f %4d (wall min %.3fs max %.3fs; frozen min %.4fs)\n", v.name, med.wall.Seconds(), med.frozen.Seconds(),
			float64(med.bytes)/med.wall.Seconds()/1e6, len(rs), rs[0].wall.Seconds(), rs[len(rs)-1].wall.Seconds(), mf.Seconds())
	}
	fmt.Printf("\nbytes per run: %d (%.3f GiB)\n", total, float64(total)/(1<<30))
	if *incremental {
		if err := incrementals(ctx, c, m, *data, *out, *runs, total, *pause); err != nil {
			log.Fatal(err)
		}
	}
	if *restore {
		if err := restores(ctx, m, *out, *runs, *pause, *restoreZstd); err != nil {
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
	nsy, okNSY := medians[nNoSync]
	mf, okMF := medians[nMutable]
	ch, okCH := medians[nCPUHash]
	if !okCP || !okCPS || !okB || !okBC || !okFZ || !okNS || !okCZ || !okNSY || !okMF || !okCH {
		return // -only left out a variant the ratios need
	}
	fmt.Printf("\nstaged freeze window %.3fs = %.2fx FREEZE+UNFREEZE alone (%.3fs; target <= 3x: %s); without staging %.3fs\n",
		b.frozen.Seconds(), b.frozen.Seconds()/fz.wall.Seconds(), fz.wall.Seconds(), verdict(b.frozen.Seconds() <= 3*fz.wall.Seconds()), ns.frozen.Seconds())
	fmt.Printf("  by the shortest of each: staged %.4fs, FREEZE+UNFREEZE %.4fs, FREEZE+read mutable+UNFREEZE %.4fs: %.2fx and %.2fx (target <= 3x FREEZE+UNFREEZE: %s)\n",
		minFrozen[nBackup].Seconds(), minFrozen[nFreeze].Seconds(), minFrozen[nMutable].Seconds(),
		minFrozen[nBackup].Seconds()/minFrozen[nFreeze].Seconds(), minFrozen[nBackup].Seconds()/minFrozen[nMutable].Seconds(),
		verdict(minFrozen[nBackup] <= 3*minFrozen[nFreeze]))
	fmt.Printf("  the mutable files' bytes must be read inside the freeze: FREEZE, read them (%d bytes), UNFREEZE alone took %.3fs = %.2fx FREEZE+UNFREEZE; the staged window is %.2fx that floor\n",
		mf.bytes, mf.wall.Seconds(), mf.wall.Seconds()/fz.wall.Seconds(), b.frozen.Seconds()/mf.wall.Seconds())
	fmt.Printf("staged Backup wall = %.2fx floor copy (target <= 1.2x: %s); compressed: freeze %.3fs, wall = %.2fx CPU floor zstd (target <= 1.15x: %s)\n",
		b.wall.Seconds()/cp.wall.Seconds(), verdict(b.wall.Seconds() <= 1.2*cp.wall.Seconds()),
		bc.frozen.Seconds(), bc.wall.Seconds()/cz.wall.Seconds(), verdict(bc.wall.Seconds() <= 1.15*cz.wall.Seconds()))
	fmt.Printf("Backup / floor copy: %.2fx wall; Backup / floor copy+sync: %.2fx wall (like for like: target <= 1.2x: %s)\n",
		b.wall.Seconds()/cp.wall.Seconds(), b.wall.Seconds()/cps.wall.Seconds(), verdict(b.wall.Seconds() <= 1.2*cps.wall.Seconds()))
	fmt.Printf("Backup NoSync / floor copy (neither syncs): %.2fx wall (target <= 1.2x: %s), frozen %.3fs\n",
		nsy.wall.Seconds()/cp.wall.Seconds(), verdict(nsy.wall.Seconds() <= 1.2*cp.wall.Seconds()), nsy.frozen.Seconds())
	// A checksummed copy does the floor copy's work (one CPU: the kernel
	// copy) and the CPU floor's (every CPU: read + sha256); on n CPUs it
	// cannot take less than their sum spread over all of them.
	n := float64(runtime.NumCPU())
	bound := (cp.wall.Seconds() + n*ch.wall.Seconds()) / n
	fmt.Printf("copy + sha256 bound on %d CPUs: (%.3fs + %d x %.3fs) / %d = %.3fs = %.2fx the floor copy; Backup NoSync = %.2fx that bound, Backup = %.2fx\n",
		runtime.NumCPU(), cp.wall.Seconds(), runtime.NumCPU(), ch.wall.Seconds(), runtime.NumCPU(), bound, bound/cp.wall.Seconds(),
		nsy.wall.Seconds()/bound, b.wall.Seconds()/bound)
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

// prepare puts the machine in the same state before every run: no
// writeback of the last run in this one (sync), the pause, the source files
// in the page cache (as in the peer measurement: this machine reclaims idle
// page cache) and recently used free pages for the run's memory and writes
// (see prefault).
func prepare(data, out string, total int64, pause time.Duration) error {
	syncAll()
	time.Sleep(pause)
	if err := warm(data); err != nil {
		return err
	}
	return prefault(out, 2*total)
}

// immutable says whether a manifest path is a disk-chunk file searchd
// never changes in place (dbctl's immutableSuffixes).
func immutable(path string) bool {
	switch filepath.Ext(path) {
	case ".spd", ".spp", ".spi", ".spe", ".sph", ".spds", ".spt":
		return true
	}
	return false
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

func timedBackup(ctx context.Context, m *dbctl.Manticore, dir string, opts backup.CreateOptions) (result, error) {
	start := time.Now()
	man, err := backup.Create(ctx, m, dir, opts)
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
func incrementals(ctx context.Context, c *dbctl.Client, m *dbctl.Manticore, data, out string, runs int, total int64, pause time.Duration) error {
	base := filepath.Join(out, "inc-base")
	_ = os.RemoveAll(base)
	defer os.RemoveAll(base)
	if err := prepare(data, out, total, pause); err != nil {
		return err
	}
	start := time.Now()
	full, err := backup.Create(ctx, m, base, backup.CreateOptions{})
	if err != nil {
		return err
	}
	fullWall := time.Since(start)
	fmt.Printf("\nincremental (base: a full backup, %.3fs, frozen %.3fs)\n", fullWall.Seconds(), full.FreezeWindow.Seconds())
	one := func(name string) error {
		var rs []result
		var read, written int64
		var byTable map[string]int64
		for i := 0; i < runs; i++ {
			dir := filepath.Join(out, fmt.Sprintf("inc-%d", i))
			_ = os.RemoveAll(dir)
			if err := prepare(data, out, total, pause); err != nil { // as before every variant
				return err
			}
			start := time.Now()
			man, err := backup.Create(ctx, m, dir, backup.CreateOptions{Base: base})
			if err != nil {
				return err
			}
			rs = append(rs, result{wall: time.Since(start), frozen: man.FreezeWindow})
			read, written, byTable = 0, 0, map[string]int64{}
			for _, f := range man.Files {
				// read from the server: what was not linked by identity
				// (mutable files are always read inside the freeze, and
				// linked from the base when their bytes are the base's)
				if !f.FromBase || !immutable(f.Path) {
					read += f.Size
				}
				if !f.FromBase {
					written += f.Size
					byTable[f.Path] += f.Size
				}
			}
			_ = os.RemoveAll(dir)
		}
		sort.Slice(rs, func(i, j int) bool { return rs[i].wall < rs[j].wall })
		med := rs[len(rs)/2]
		fmt.Printf("%-40s wall %.3fs, min %.3fs (median %.3fx the full backup; target <= 0.2 s and <= 0.1x: %s), frozen %.3fs, read inside the freeze %d of %d bytes (%.2f%%), copied (written) %d bytes (%.4f%%): %v\n",
			name, med.wall.Seconds(), rs[0].wall.Seconds(), med.wall.Seconds()/fullWall.Seconds(),
			verdict(med.wall.Seconds() <= 0.2 && med.wall.Seconds() <= 0.1*fullWall.Seconds()),
			med.frozen.Seconds(), read, total, 100*float64(read)/float64(total), written, 100*float64(written)/float64(total), byTable)
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
	// a value the document cannot have yet: the attribute bytes change
	gid := time.Now().UnixNano()%1_000_000_000 + 1_000_000
	for _, q := range []string{fmt.Sprintf("UPDATE %s SET gid=%d WHERE id=1", first, gid), "FLUSH ATTRIBUTES"} {
		if _, err := c.DB().ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return one("after UPDATE of " + first)
}
