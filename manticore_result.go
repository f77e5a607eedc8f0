package dbctl

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// FrozenFile is one row of FREEZE's answer, attributed to its table.
type FrozenFile struct {
	// Table is the (lower-case) table the file belongs to.
	Table string
	// File is the path as the server listed it in column "file": relative
	// to data_dir or absolute, depending on how data_dir is configured.
	File string
	// Normalized is the absolute, real path (column "normalized").
	Normalized string
}

// Lock is one row of SHOW LOCKS.
type Lock struct {
	// Type is the table type: "rt", "percolate", "plain", ...
	Type string
	// Name is the lower-case table name.
	Name string
	// LockType is "freeze" (FREEZE counter) or "read" (LOCK TABLES ... READ).
	LockType string
	// AdditionalInfo is the raw text, e.g. "Count: 2".
	AdditionalInfo string
	// Count is the number parsed from AdditionalInfo.
	Count int
}

// TableInfo is one row of SHOW TABLES.
type TableInfo struct {
	// Name is the lower-case table name.
	Name string
	// Type is "rt", "percolate", "distributed", "local" (plain), ...
	Type string
	// Freezable is whether FREEZE works on a table of this type: RT and
	// percolate only; plain and distributed tables get a warning instead
	// (manticore-2.jsonl, "FREEZE cap_dist").
	Freezable bool
}

// TableStatus is the answer of SHOW TABLE t STATUS, parsed by
// Variable_name (golden manticore.jsonl, "SHOW TABLE gold_a STATUS").
//
// Which variables a table lists depends on its type and on the server's
// version (a distributed table lists no counters: manticore-2.jsonl, "SHOW
// TABLE cap_dist STATUS"; older servers call table_type index_type), so a
// variable that is missing leaves its field zero: check Vars when zero and
// absent must differ. A variable that is listed but whose value does not
// parse fails the call with ErrUnexpectedResult naming the raw value.
type TableStatus struct {
	// TableType is "rt", "percolate", "distributed", ... ("table_type",
	// or "index_type" on older servers).
	TableType string
	// IndexedDocuments is the number of documents ("indexed_documents").
	IndexedDocuments int64
	// DiskChunks is the number of disk chunks of an RT table
	// ("disk_chunks").
	DiskChunks int
	// DiskBytes is the size of the table's files, in bytes ("disk_bytes").
	DiskBytes int64
	// RAMBytes is the RAM the table uses, in bytes ("ram_bytes").
	RAMBytes int64
	// RAMChunkSegments is the number of RAM chunk segments of an RT table
	// ("ram_chunk_segments_count").
	RAMChunkSegments int
	// Locked is the FREEZE counter ("locked"): 0 when the table is not
	// frozen, N after N freezes not yet undone.
	Locked int
	// Optimizing is whether an OPTIMIZE is running on the table
	// ("optimizing" not 0).
	Optimizing bool
	// Vars holds every Variable_name with its Value, as text (a NULL value
	// as "").
	Vars map[string]string
}

// parseTableStatus fills a TableStatus from SHOW TABLE t STATUS's
// variables: each known variable that is present must parse.
func parseTableStatus(vars map[string]string) (*TableStatus, error) {
	s := &TableStatus{Vars: vars, TableType: vars["table_type"]}
	if _, ok := vars["table_type"]; !ok {
		s.TableType = vars["index_type"]
	}
	var optimizing int64
	for _, f := range []struct {
		key string
		i64 *int64
		i   *int
	}{
		{key: "indexed_documents", i64: &s.IndexedDocuments},
		{key: "disk_bytes", i64: &s.DiskBytes},
		{key: "ram_bytes", i64: &s.RAMBytes},
		{key: "optimizing", i64: &optimizing},
		{key: "disk_chunks", i: &s.DiskChunks},
		{key: "ram_chunk_segments_count", i: &s.RAMChunkSegments},
		{key: "locked", i: &s.Locked},
	} {
		bits := 64
		if f.i != nil {
			bits = strconv.IntSize
		}
		n, err := statusInt(vars, f.key, bits)
		if err != nil {
			return nil, err
		}
		if f.i != nil {
			*f.i = int(n)
		} else {
			*f.i64 = n
		}
	}
	s.Optimizing = optimizing != 0
	return s, nil
}

// statusInt parses the integer variable key; 0 when it is missing.
func statusInt(vars map[string]string, key string, bits int) (int64, error) {
	v, ok := vars[key]
	if !ok {
		return 0, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, bits)
	if err != nil {
		return 0, fmt.Errorf("%w: table status %q is not an integer: %s", ErrUnexpectedResult, key, quoteForMessage(v))
	}
	return n, nil
}

// parseVariables reads a Variable_name/Value result (SHOW TABLE t STATUS,
// SHOW STATUS uses Counter/Value).
func parseVariables(t *textTable) (map[string]string, error) {
	kc, err := t.column("Variable_name", "Counter", "Variable")
	if err != nil {
		return nil, err
	}
	vc, err := t.column("Value")
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(t.rows))
	for i := range t.rows {
		k, err := t.text(i, kc)
		if err != nil {
			return nil, err
		}
		// A NULL value is kept as "": a known variable of TableStatus then
		// fails to parse, naming it; any other is kept as it is.
		out[k] = t.rows[i][vc].String
	}
	return out, nil
}

// countRe finds the counter in SHOW LOCKS' "Additional Info" ("Count: 2").
var countRe = regexp.MustCompile(`(?i)\bcount:\s*(\d+)`)

// parseLocks reads SHOW LOCKS by column name.
func parseLocks(t *textTable) ([]Lock, error) {
	var idx [4]int
	for i, names := range [4][]string{{"Type"}, {"Name", "Table", "Index"}, {"Lock Type"}, {"Additional Info", "Info"}} {
		c, err := t.column(names...)
		if err != nil {
			return nil, err
		}
		idx[i] = c
	}
	out := make([]Lock, 0, len(t.rows))
	for r := range t.rows {
		var v [4]string
		for i, c := range idx {
			s, err := t.text(r, c)
			if err != nil {
				return nil, err
			}
			v[i] = s
		}
		m := countRe.FindStringSubmatch(v[3])
		if m == nil {
			return nil, fmt.Errorf("%w: SHOW LOCKS additional info without a count: %s", ErrUnexpectedResult, quoteForMessage(v[3]))
		}
		n, err := strconv.Atoi(m[1])
		if err != nil {
			return nil, fmt.Errorf("%w: SHOW LOCKS count out of range: %s", ErrUnexpectedResult, quoteForMessage(v[3]))
		}
		out = append(out, Lock{Type: v[0], Name: strings.ToLower(v[1]), LockType: v[2], AdditionalInfo: v[3], Count: n})
	}
	return out, nil
}

// parseTables reads SHOW TABLES ("Table", formerly "Index"; "Type").
func parseTables(t *textTable) ([]TableInfo, error) {
	nc, err := t.column("Table", "Index", "Name")
	if err != nil {
		return nil, err
	}
	tc, err := t.column("Type")
	if err != nil {
		return nil, err
	}
	out := make([]TableInfo, 0, len(t.rows))
	for r := range t.rows {
		n, err := t.text(r, nc)
		if err != nil {
			return nil, err
		}
		typ := t.rows[r][tc].String
		out = append(out, TableInfo{Name: strings.ToLower(n), Type: typ, Freezable: typ == "rt" || typ == "percolate"})
	}
	return out, nil
}

// parseWarnings reads SHOW WARNINGS and returns the messages. searchd
// answers an OK packet when the connection has no warning (manticore-2.jsonl,
// "SHOW WARNINGS" on connection "other"; manticore.md §4.5), which reads as
// a table without columns: no warnings. A result set must have "Message".
func parseWarnings(t *textTable) ([]string, error) {
	if len(t.cols) == 0 {
		return nil, nil
	}
	mc, err := t.column("Message")
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(t.rows))
	for r := range t.rows {
		out = append(out, t.rows[r][mc].String)
	}
	return out, nil
}

// parseFreezeFiles reads FREEZE's file list and attributes each file to one
// of tables (lower-case). In RT mode every table keeps its files in its own
// folder, <data_dir>/<table>/, and not every file there is named after the
// table: a table created with wordforms, stopwords or exceptions keeps its
// copies as wordforms_chunk0_0.txt and so on (manticore-2.jsonl "FREEZE
// cap_wf"). So a file belongs to the table whose folder holds it; failing
// that (tables declared in a config file with their own path), to the table
// its base name starts with ("t.meta", "t.0.spa": table names have no dots);
// failing that, when FREEZE named one table, to it. A file that fits no
// table is a shape this package does not understand and fails with the raw
// path. Which tables were frozen follows from the result: a table FREEZE
// could not freeze lists no file.
func parseFreezeFiles(t *textTable, tables []string) ([]FrozenFile, error) {
	fc, err := t.column("file")
	if err != nil {
		return nil, err
	}
	nc, nerr := t.column("normalized") // older servers: "file" only
	want := make(map[string]struct{}, len(tables))
	for _, n := range tables {
		want[n] = struct{}{}
	}
	out := make([]FrozenFile, 0, len(t.rows))
	for r := range t.rows {
		file, err := t.text(r, fc)
		if err != nil {
			return nil, err
		}
		norm := file
		if nerr == nil {
			if norm, err = t.text(r, nc); err != nil {
				return nil, err
			}
		}
		table, ok := fileTable(norm, want)
		if !ok {
			table, ok = fileTable(file, want)
		}
		if !ok && len(want) == 1 {
			table, ok = tables[0], true
		}
		if !ok {
			return nil, fmt.Errorf("%w: FREEZE listed a file of no requested table: %s", ErrUnexpectedResult, quoteForMessage(file))
		}
		out = append(out, FrozenFile{Table: table, File: file, Normalized: norm})
	}
	return out, nil
}

// fileTable attributes a server path to a table of want: by its folder
// first, then by the prefix of its base name.
func fileTable(p string, want map[string]struct{}) (string, bool) {
	dir, base := splitServerPath(p)
	if _, parent := splitServerPath(dir); parent != "" {
		if _, ok := want[strings.ToLower(parent)]; ok {
			return strings.ToLower(parent), true
		}
	}
	prefix, _, _ := strings.Cut(base, ".")
	if _, ok := want[strings.ToLower(prefix)]; ok {
		return strings.ToLower(prefix), true
	}
	return "", false
}

// splitServerPath splits a path of the server's file system, which may use
// '/' or '\' whatever this process runs on.
func splitServerPath(p string) (dir, base string) {
	i := strings.LastIndexAny(p, `/\`)
	if i < 0 {
		return "", p
	}
	return p[:i], p[i+1:]
}
