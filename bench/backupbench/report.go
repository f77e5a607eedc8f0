package main

import (
	"fmt"
	"runtime"
	"sort"
	"time"

	"github.com/klauspost/compress/zstd"
)

// Variant names the report looks up.
const (
	nFreeze      = "floor: FREEZE, UNFREEZE"
	nMutable     = "floor: FREEZE, read mutable files, UNFREEZE"
	nFloorCP     = "floor: FREEZE, cp, UNFREEZE"
	nFloorCPSync = "floor: FREEZE, cp, sync, UNFREEZE"
	nBackup      = "backup.Create (synced)"
	nNoSync      = "backup.Create NoSync"
	nZFastest    = "backup.Create Compress fastest"
	nZDefault    = "backup.Create Compress default"
	nZBetter     = "backup.Create Compress better"
	nFloorZstd   = "floor: zstd -3 -T1 file by file"
	nIncCLI      = "dbctl CLI backup --base, nothing changed"
	nIncLib      = "backup.Create Base, nothing changed"
	nRestore     = "backup.Restore (plain backup)"
	nRestoreZ    = "backup.Restore (compressed backup)"
	nFloorCPA    = "floor: cp -a backup files + sync"
	nCPUHash     = "CPU floor: sha256 (mapped)"
	nCPUFastest  = "CPU floor: read + sha256 + zstd fastest"
	nCPUDefault  = "CPU floor: read + sha256 + zstd default"
)

// The encoder levels of the CPU floors: backup.LevelFastest and
// backup.LevelDefault.
const (
	levelFastest = zstd.SpeedFastest
	levelDefault = zstd.SpeedDefault
)

func numCPU() int { return runtime.NumCPU() }

// summary is a variant's runs: the median run by wall time, the range,
// the shortest freeze window and the load averages seen.
type summary struct {
	med                result
	minWall, maxWall   time.Duration
	minFrozen          time.Duration
	minLoad, maxLoad   float64
	minStored, maxStor int64
}

func summarize(rs []result) summary {
	sorted := append([]result(nil), rs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].wall < sorted[j].wall })
	s := summary{med: sorted[len(sorted)/2], minWall: sorted[0].wall, maxWall: sorted[len(sorted)-1].wall,
		minFrozen: sorted[0].frozen, minLoad: sorted[0].load, maxLoad: sorted[0].load,
		minStored: sorted[0].stored, maxStor: sorted[0].stored}
	for _, r := range sorted {
		s.minFrozen = min(s.minFrozen, r.frozen)
		s.minLoad, s.maxLoad = min(s.minLoad, r.load), max(s.maxLoad, r.load)
		s.minStored, s.maxStor = min(s.minStored, r.stored), max(s.maxStor, r.stored)
	}
	return s
}

// printTable prints one line per variant and returns the summaries by name.
func printTable(variants []variant, all [][]result) map[string]summary {
	out := map[string]summary{}
	fmt.Printf("%-46s %9s %9s %9s %9s %8s %14s %7s  %s\n", "variant", "median", "min", "max", "frozen", "MB/s", "stored bytes", "stored", "load avg")
	minLoad, maxLoad := 1e9, -1.0
	for k, v := range variants {
		s := summarize(all[k])
		out[v.name] = s
		mbs, ratio := "", ""
		if s.med.bytes > 0 {
			mbs = fmt.Sprintf("%.0f", float64(s.med.bytes)/s.med.wall.Seconds()/1e6)
			if s.med.stored > 0 {
				ratio = fmt.Sprintf("%.4f", float64(s.med.stored)/float64(s.med.bytes))
			}
		}
		frozen := ""
		if s.med.frozen > 0 {
			frozen = fmt.Sprintf("%.4fs", s.med.frozen.Seconds())
		}
		fmt.Printf("%-46s %8.3fs %8.3fs %8.3fs %9s %8s %14d %7s  %.1f-%.1f\n", v.name, s.med.wall.Seconds(), s.minWall.Seconds(),
			s.maxWall.Seconds(), frozen, mbs, s.med.stored, ratio, s.minLoad, s.maxLoad)
		minLoad, maxLoad = min(minLoad, s.minLoad), max(maxLoad, s.maxLoad)
	}
	fmt.Printf("\n(median of %d runs each; stored: bytes written / bytes; load avg: the 1-minute load average at the runs' starts, %.1f to %.1f on %d CPUs)\n",
		len(all[0]), minLoad, maxLoad, numCPU())
	return out
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

// report prints the targets as ratios of this run's medians (and
// the floors that bound them).
func report(s map[string]summary) {
	w := func(n string) float64 { return s[n].med.wall.Seconds() }
	fmt.Println("\ntargets (ratios of medians from this run):")
	b, cps := w(nBackup), w(nFloorCPSync)
	fmt.Printf("  synced plain backup %.3fs = %.2fx FREEZE, cp, sync, UNFREEZE %.3fs (target <= 1.2x: %s); freeze window %.4fs, shortest %.4fs (<= 0.1 s: %s)\n",
		b, b/cps, cps, verdict(b <= 1.2*cps), s[nBackup].med.frozen.Seconds(), s[nBackup].minFrozen.Seconds(), verdict(s[nBackup].med.frozen <= 100*time.Millisecond))
	cp, ns := w(nFloorCP), w(nNoSync)
	fmt.Printf("  NoSync backup %.3fs = %.2fx FREEZE, cp, UNFREEZE %.3fs; synced / NoSync %.2fx, floors: cp+sync / cp %.2fx\n", ns, ns/cp, cp, b/ns, cps/cp)
	n := float64(numCPU())
	bound := (cp + n*w(nCPUHash)) / n
	// a checksummed copy does the floor copy's work (one copy of each
	// byte) and sha256 of each byte: on n CPUs at best their sum over n
	fmt.Printf("  copy + sha256 bound on %d CPUs: (cp %.3fs + %d x sha256 %.3fs) / %d = %.3fs; NoSync = %.2fx that bound\n",
		numCPU(), cp, numCPU(), w(nCPUHash), numCPU(), bound, ns/bound)
	zs, zw := float64(s[nFloorZstd].med.stored), w(nFloorZstd)
	for _, name := range []string{nZFastest, nZDefault, nZBetter} {
		st := float64(s[name].med.stored)
		fmt.Printf("  %-32s %.3fs = 1/%.2f of zstd -3 -T1 (%.3fs); stored %.0f = %.4fx zstd -3's %.0f; freeze window %.4fs\n",
			name, w(name), zw/w(name), zw, st, st/zs, zs, s[name].med.frozen.Seconds())
	}
	zd := w(nZDefault)
	fmt.Printf("  default level: size <= 1.02x zstd -3: %s; wall <= 1/3 of zstd -3 -T1: %s\n",
		verdict(float64(s[nZDefault].med.stored) <= 1.02*zs), verdict(zd <= zw/3))
	fmt.Printf("  CPU floors on %d CPUs, nothing written: read+sha256+zstd default %.3fs = 1/%.2f of zstd -3 -T1; fastest %.3fs = 1/%.2f\n",
		numCPU(), w(nCPUDefault), zw/w(nCPUDefault), w(nCPUFastest), zw/w(nCPUFastest))
	r, ra := w(nRestore), w(nFloorCPA)
	fmt.Printf("  restore %.3fs = %.2fx cp -a + sync %.3fs (target <= 1.15x: %s); compressed backup %.3fs = %.2fx\n",
		r, r/ra, ra, verdict(r <= 1.15*ra), w(nRestoreZ), w(nRestoreZ)/ra)
	inc := s[nIncCLI]
	fmt.Printf("  incremental, nothing changed, through the CLI: %.3fs (shortest %.3fs; target <= 0.2 s: %s), written %d bytes; in process %.3fs; full backup %.3fs\n",
		w(nIncCLI), inc.minWall.Seconds(), verdict(w(nIncCLI) <= 0.2), inc.med.stored, w(nIncLib), b)
}
