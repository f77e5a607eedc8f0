package backup

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/dbctl/dbctl"

	"github.com/dbctl/dbctl/internal/crashpoint"
)

// selectTables resolves the tables to back up against SHOW TABLES.
func selectTables(ctx context.Context, m *dbctl.Manticore, op string, want []string) (map[string]string, []SkippedTable, error) {
	all, err := m.Tables(ctx)
	if err != nil {
		return nil, nil, err
	}
	types := map[string]string{}
	for _, t := range all {
		types[t.Name] = t.Type
	}
	names := make([]string, 0, len(all))
	if len(want) == 0 {
		for _, t := range all {
			names = append(names, t.Name)
		}
	} else {
		if names, err = tableNames(want); err != nil {
			return nil, nil, opErr(op, nil, "", err)
		}
		var missing []string
		for _, n := range names {
			if _, ok := types[n]; !ok {
				missing = append(missing, n)
			}
		}
		if len(missing) > 0 {
			return nil, nil, opErr(op, dbctl.ErrTableNotFound, strings.Join(missing, ", "), nil)
		}
	}
	selected := map[string]string{}
	var skipped []SkippedTable
	for _, n := range names {
		switch typ := types[n]; typ {
		case "rt", "percolate":
			selected[n] = typ
		case "distributed":
			skipped = append(skipped, SkippedTable{Name: n, Type: typ, Reason: "distributed tables have no files of their own (their definition is in state/manticore.json)"})
		default:
			skipped = append(skipped, SkippedTable{Name: n, Type: typ, Reason: "FREEZE supports only RT and percolate tables"})
		}
	}
	if len(selected) == 0 {
		return nil, nil, opErr(op, dbctl.ErrNoTables, "no RT or percolate table among the selected ones", nil)
	}
	return selected, skipped, nil
}

// plan maps every listed file to its place in the backup and adds the
// data_dir's state files (read by readState, statefile.go).
func (b *backupRun) plan(files []dbctl.FrozenFile, selected map[string]string) (string, error) {
	tables := map[string]*ManifestTable{}
	dataDir := ""
	for _, f := range files {
		src := f.Normalized
		if src == "" {
			src = f.File
		}
		if !filepath.IsAbs(src) {
			return "", opErr(b.op, dbctl.ErrUnexpectedResult, "FREEZE listed a relative path: "+quoteForMessage(src), nil)
		}
		base := filepath.Base(src)
		if filepath.Base(filepath.Dir(src)) == f.Table && dataDir == "" {
			dataDir = filepath.Dir(filepath.Dir(src))
		}
		rel := "data/" + f.Table + "/" + base
		b.jobs = append(b.jobs, backupJob{src: src, dst: filepath.Join(b.tmp, "data", f.Table, base),
			file: ManifestFile{Path: rel, Table: f.Table, Source: src}})
		if tables[f.Table] == nil {
			tables[f.Table] = &ManifestTable{Name: f.Table, Type: selected[f.Table]}
		}
		if tables[f.Table].DirMode == 0 && filepath.Base(filepath.Dir(src)) == f.Table {
			if fi, err := os.Stat(filepath.Dir(src)); err == nil {
				tables[f.Table].DirMode = fi.Mode().Perm() // given back by Restore (issue 18)
			}
		}
		tables[f.Table].Files++
	}
	if b.settings != nil && filepath.IsAbs(b.settings.DataDir) {
		dataDir = filepath.Clean(b.settings.DataDir)
	}
	if dataDir == "" {
		return "", opErr(b.op, dbctl.ErrUnexpectedResult, "cannot tell the data_dir from the FREEZE file list", nil)
	}
	if err := b.planConfig(); err != nil {
		return "", err
	}
	for _, name := range stateFiles {
		// manticore.json is always planned: in the instant searchd
		// replaces it there is none (statefile.go), and readState waits
		// for it. state.sql is replaced by one rename (never missing): it
		// is kept when it is there now.
		src := filepath.Join(dataDir, name)
		if _, err := os.Lstat(src); err != nil && name != "manticore.json" {
			continue
		}
		b.jobs = append(b.jobs, backupJob{src: src, dst: filepath.Join(b.tmp, "state", name), state: true,
			file: ManifestFile{Path: "state/" + name, Source: src}})
	}
	for _, t := range tables {
		b.man.Tables = append(b.man.Tables, *t)
	}
	sort.Slice(b.man.Tables, func(i, j int) bool { return b.man.Tables[i].Name < b.man.Tables[j].Name })
	dsts := make([]string, len(b.jobs))
	for i := range b.jobs {
		j := &b.jobs[i]
		dsts[i] = j.dst
		if fi, err := os.Stat(j.src); err == nil && j.state {
			// a size for the progress and the copy order; the identity is
			// taken from the descriptor the bytes are read from (readState)
			j.size = fi.Size()
			b.total += fi.Size()
		} else if err == nil {
			id := identityOf(fi)
			j.size, j.file.Identity, j.file.Mode = fi.Size(), &id, fi.Mode().Perm()
			b.total += fi.Size()
			b.reuse(j)
		}
	}
	b.filesTotal.Store(int64(len(b.jobs)))
	b.bytesTotal.Store(b.total)
	if err := crashpoint.Hit("backup.mkdir folders"); err != nil {
		return "", opErr(b.op, nil, "create directories", err)
	}
	if err := mkdirAll(parentDirs(dsts)); err != nil {
		return "", opErr(b.op, nil, "create directories", err)
	}
	return dataDir, nil
}

// tableNames validates every name, lower-cases it (Manticore stores and
// reports table names in lower case) and drops repeats, keeping the first
// occurrence's order, as the dbctl.Manticore manager does with the names of
// a FREEZE; zero names is dbctl.ErrNoTables.
func tableNames(tables []string) ([]string, error) {
	if len(tables) == 0 {
		return nil, dbctl.ErrNoTables
	}
	out := make([]string, 0, len(tables))
	seen := make(map[string]struct{}, len(tables))
	for _, t := range tables {
		lt, err := oneTable(t)
		if err != nil {
			return nil, err
		}
		if _, dup := seen[lt]; dup {
			continue
		}
		seen[lt] = struct{}{}
		out = append(out, lt)
	}
	return out, nil
}

// oneTable validates a Manticore table name (dbctl.ValidateManticoreTable:
// dbctl.ErrInvalidIdentifier) and lower-cases it.
func oneTable(name string) (string, error) {
	if err := dbctl.ValidateManticoreTable(name); err != nil {
		return "", err
	}
	return strings.ToLower(name), nil
}
