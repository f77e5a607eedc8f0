// Command backupbench measures dbctl's backups side by side with their
// floors, in one run, on a data_dir made by bench/gendata:
//
//	go run ./bench/gendata -dir /tmp/dbctl-bench-data
//	go run ./bench/backupbench -data /tmp/dbctl-bench-data
//
// It starts the embedded server on the data_dir, builds cmd/dbctl (or takes
// -dbctl), makes the backups the variants start from (the base of the
// incremental backups, a plain and a compressed backup to restore), and
// runs every variant -runs times, interleaved in an order shuffled anew
// each round (seeded), each after the same preparation (sync, pause, the
// data and the backup a variant reads in the page cache, recently used
// free pages: see prefault). The variants:
//
//   - backup.Create: synced (the default), NoSync, and Compress at each
//     level (fastest, default, better) with the bytes stored;
//   - an incremental backup with nothing changed, through the CLI (the
//     whole dbctl process: start, connection, settings, FREEZE, exit) and
//     in process;
//   - backup.Restore of the plain and of the compressed backup into an
//     empty data_dir (every byte verified);
//   - the floors: FREEZE+UNFREEZE alone; FREEZE, read the mutable files,
//     UNFREEZE; FREEZE, cp, UNFREEZE and the same with a sync (the peer
//     measurement's, reference/peer-backup.md §4); zstd -3 -T1 of the same
//     files one by one (what manticore-backup --compress does); cp -a of a
//     backup's files into an empty folder + sync (the restore's floor); and
//     the CPU floors on every core, nothing written: read + sha256, and
//     read + sha256 + zstd at the fastest and default levels.
//
// It prints per variant the median, shortest and longest wall time, the
// freeze window, MB/s and the bytes stored, the load average the runs saw,
// then the targets as ratios of this run's medians, and
// incremental backups after an UPDATE of one table (in process).
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"time"

	"github.com/dbctl/dbctl"
	"github.com/dbctl/dbctl/backup"
	"github.com/dbctl/dbctl/dbctltest"
)

// result is one run of a variant.
type result struct {
	wall, frozen time.Duration
	// bytes is the original bytes handled; stored the bytes written: the
	// compressed size, or for an incremental backup what was not linked
	// from the base.
	bytes, stored int64
	load          float64 // 1-minute load average when the run started
}

// variant is one thing measured: run makes its output in dir (which does
// not exist), warm names what it reads besides the data_dir.
type variant struct {
	name string
	warm []string
	run  func(dir string) (result, error)
}

func main() {
	data := flag.String("data", "", "data_dir made by bench/gendata (required)")
	out := flag.String("out", "", "where to write backups (default: beside -data)")
	runs := flag.Int("runs", 5, "runs per variant")
	only := flag.String("only", "", "run only the variants whose names match this regexp (no ratios then)")
	pause := flag.Duration("pause", 3*time.Second, "pause after sync before each run (the peer measurement slept 3 s)")
	cli := flag.String("dbctl", "", "dbctl binary for the CLI variants (default: built from this module)")
	seed := flag.Uint64("seed", 1, "seed of the shuffled order")
	update := flag.Bool("update", true, "after the variants, incremental backups after an UPDATE of one table's first document")
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
	bin, err := buildCLI(*cli, *out)
	if err != nil {
		log.Fatal(err)
	}
	// what the incremental and restore variants start from
	base := filepath.Join(*out, "base")
	restorePlain := filepath.Join(*out, "restore-src")
	restoreZ := filepath.Join(*out, "restore-src-zstd")
	starts := map[string]backup.CreateOptions{base: {}, restorePlain: {}, restoreZ: {Compress: true}}
	defer func() {
		for d := range starts {
			_ = os.RemoveAll(d)
		}
	}()

	create := func(opts backup.CreateOptions) func(string) (result, error) {
		return func(dir string) (result, error) { return timedCreate(ctx, m, dir, opts) }
	}
	restore := func(src string) func(string) (result, error) {
		return func(dir string) (result, error) { return timedRestore(ctx, src, dir) }
	}
	variants := []variant{
		{name: nFreeze, run: func(string) (result, error) { return freezeOnly(ctx, m, names) }},
		{name: nMutable, run: func(string) (result, error) { return mutableFloor(ctx, m, names, paths) }},
		{name: nFloorCP, run: func(dir string) (result, error) { return floorCP(ctx, m, names, dir, false) }},
		{name: nFloorCPSync, run: func(dir string) (result, error) { return floorCP(ctx, m, names, dir, true) }},
		{name: nBackup, run: create(backup.CreateOptions{})},
		{name: nNoSync, run: create(backup.CreateOptions{NoSync: true})},
		{name: nZFastest, run: create(backup.CreateOptions{Compress: true, CompressLevel: backup.LevelFastest})},
		{name: nZDefault, run: create(backup.CreateOptions{Compress: true})},
		{name: nZBetter, run: create(backup.CreateOptions{Compress: true, CompressLevel: backup.LevelBetter})},
		{name: nFloorZstd, run: func(dir string) (result, error) { return zstdFloor(paths, dir) }},
		{name: nIncCLI, warm: []string{base}, run: func(dir string) (result, error) { return cliBackup(bin, srv.DSN(), dir, "--base", base) }},
		{name: nIncLib, warm: []string{base}, run: create(backup.CreateOptions{Base: base})},
		{name: nRestore, warm: []string{restorePlain}, run: restore(restorePlain)},
		{name: nRestoreZ, warm: []string{restoreZ}, run: restore(restoreZ)},
		{name: nFloorCPA, warm: []string{restorePlain}, run: func(dir string) (result, error) { return restoreFloor(restorePlain, dir) }},
		{name: nCPUHash, run: func(string) (result, error) { return cpuFloor(paths, 0) }},
		{name: nCPUFastest, run: func(string) (result, error) { return cpuFloor(paths, levelFastest) }},
		{name: nCPUDefault, run: func(string) (result, error) { return cpuFloor(paths, levelDefault) }},
	}
	nVariants := len(variants)
	if _, err := exec.LookPath("zstd"); err != nil {
		fmt.Println("no zstd on PATH: the zstd -3 floor is left out (apt-get install zstd)")
		kept := variants[:0]
		for _, v := range variants {
			if v.name != nFloorZstd {
				kept = append(kept, v)
			}
		}
		variants = kept
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
	// the backups the selected variants start from (their warm folders),
	// made afresh (one a killed run left may be of other data)
	made := map[string]bool{}
	makeStart := func(dir string) {
		if opts, ok := starts[dir]; ok && !made[dir] {
			_ = os.RemoveAll(dir)
			if _, err := backup.Create(ctx, m, dir, opts); err != nil {
				log.Fatal(err)
			}
			made[dir] = true
		}
	}
	for _, v := range variants {
		for _, dir := range v.warm {
			makeStart(dir)
		}
	}
	host, _ := os.Hostname()
	fmt.Printf("data: %s, tables %v, %d files, %d bytes (%.3f GiB); %d CPUs, host %s, %s\n\n",
		*data, names, len(paths), total, float64(total)/(1<<30), numCPU(), host, time.Now().UTC().Format(time.RFC3339))
	// Interleaved: each round runs every variant once, in an order
	// shuffled anew (seeded), so that no variant always follows the same
	// one (deleting the previous output costs the next run disk and journal
	// time; a rotation kept each variant behind the same neighbour).
	all := make([][]result, len(variants))
	rng := rand.New(rand.NewPCG(*seed, 2))
	dir := filepath.Join(*out, "run")
	for i := 0; i < *runs; i++ {
		for _, k := range rng.Perm(len(variants)) {
			v := variants[k]
			_ = os.RemoveAll(dir)
			if err := prepare(append([]string{*data}, v.warm...), *out, total, *pause); err != nil {
				log.Fatal(err)
			}
			load := loadAvg()
			r, err := v.run(dir)
			if err != nil {
				log.Fatalf("%s: %v", v.name, err)
			}
			r.load = load
			all[k] = append(all[k], r)
			_ = os.RemoveAll(dir)
		}
	}
	med := printTable(variants, all)
	if len(variants) == nVariants {
		report(med)
	} else {
		fmt.Println("\n(some variants left out: no ratios)")
	}
	if *update {
		makeStart(base)
		if err := afterUpdate(ctx, c, m, *data, *out, base, *runs, total, *pause); err != nil {
			log.Fatal(err)
		}
	}
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
// writeback of the last run in this one (sync), the pause, what the run
// reads in the page cache (as in the peer measurement: this machine
// reclaims idle page cache) and recently used free pages for the run's
// memory and writes (see prefault).
func prepare(read []string, out string, total int64, pause time.Duration) error {
	syncAll()
	time.Sleep(pause)
	for _, d := range read {
		if err := warm(d); err != nil {
			return err
		}
	}
	return prefault(out, 2*total)
}

func timedCreate(ctx context.Context, m *dbctl.Manticore, dir string, opts backup.CreateOptions) (result, error) {
	start := time.Now()
	man, err := backup.Create(ctx, m, dir, opts)
	if err != nil {
		return result{}, err
	}
	wall := time.Since(start)
	r := result{wall: wall, frozen: man.FreezeWindow}
	for _, f := range man.Files {
		r.bytes += f.Size
		if !f.FromBase {
			r.stored += f.StoredSize
		}
	}
	return r, nil
}

// timedRestore restores the backup src into dir, an empty data_dir.
func timedRestore(ctx context.Context, src, dir string) (result, error) {
	start := time.Now()
	if err := backup.Restore(ctx, src, dir, backup.RestoreOptions{}); err != nil {
		return result{}, err
	}
	wall := time.Since(start)
	n, err := treeSize(dir)
	return result{wall: wall, bytes: n, stored: n}, err
}
