package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/dbctl/dbctl"
	"github.com/dbctl/dbctl/backup"
)

// afterUpdate measures incremental backups on base after an UPDATE of the
// first table's document 1 (bench/gendata numbers each table's documents
// from 1) and FLUSH ATTRIBUTES: what each read inside the freeze and wrote,
// against the total.
func afterUpdate(ctx context.Context, c *dbctl.Client, m *dbctl.Manticore, data, out, base string, runs int, total int64, pause time.Duration) error {
	tables, err := m.Tables(ctx)
	if err != nil || len(tables) == 0 {
		return err
	}
	first := tables[0].Name
	gid := time.Now().UnixNano()%1_000_000_000 + 1_000_000 // a value the document cannot have yet
	for _, q := range []string{fmt.Sprintf("UPDATE %s SET gid=%d WHERE id=1", first, gid), "FLUSH ATTRIBUTES"} {
		if _, err := c.DB().ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	var rs []result
	var read, written int64
	byFile := map[string]int64{}
	for i := 0; i < runs; i++ {
		dir := filepath.Join(out, fmt.Sprintf("inc-%d", i))
		_ = os.RemoveAll(dir)
		if err := prepare([]string{data, base}, out, total, pause); err != nil {
			return err
		}
		start := time.Now()
		man, err := backup.Create(ctx, m, dir, backup.CreateOptions{Base: base})
		if err != nil {
			return err
		}
		rs = append(rs, result{wall: time.Since(start), frozen: man.FreezeWindow})
		read, written, byFile = 0, 0, map[string]int64{}
		for _, f := range man.Files {
			// read from the server: what was not linked by identity
			// (mutable files are always read inside the freeze, and
			// linked from the base when their bytes are the base's)
			if !f.FromBase || !immutable(f.Path) {
				read += f.Size
			}
			if !f.FromBase {
				written += f.Size
				byFile[f.Path] += f.Size
			}
		}
		_ = os.RemoveAll(dir)
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].wall < rs[j].wall })
	fmt.Printf("\nincremental after UPDATE of %s (in process): wall %.3fs (min %.3fs), frozen %.4fs, read inside the freeze %d of %d bytes (%.2f%%), written %d bytes (%.4f%%): %v\n",
		first, rs[len(rs)/2].wall.Seconds(), rs[0].wall.Seconds(), rs[len(rs)/2].frozen.Seconds(), read, total,
		100*float64(read)/float64(total), written, 100*float64(written)/float64(total), byFile)
	return nil
}
