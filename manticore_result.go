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
}

// Freezable reports whether FREEZE works on a table of this type (RT and
// percolate only; plain and distributed tables get a warning instead).
func (t TableInfo) Freezable() bool { return t.Type == "rt" || t.Type == "percolate" }

// TableStatus is the answer of SHOW TABLE t STATUS: every Variable_name with
// its Value, as text. The typed accessors parse the common keys and fail,
// naming the raw value, when it is missing or not a number.
type TableStatus map[string]string

// Locked returns the FREEZE counter ("locked"): 0 when the table is not
// frozen, N after N freezes not yet undone.
func (s TableStatus) Locked() (int, error) { return s.intKey("locked") }

// TableType returns "rt", "percolate", ... (key "table_type"; older servers
// call it "index_type").
func (s TableStatus) TableType() (string, error) { return s.stringKey("table_type", "index_type") }

// IndexedDocuments returns the number of documents in the table.
func (s TableStatus) IndexedDocuments() (int64, error) { return s.int64Key("indexed_documents") }

// RAMBytes returns the RAM the table uses.
func (s TableStatus) RAMBytes() (int64, error) { return s.int64Key("ram_bytes") }

// DiskBytes returns the size of the table's files.
func (s TableStatus) DiskBytes() (int64, error) { return s.int64Key("disk_bytes") }

// DiskChunks returns the number of disk chunks of an RT table.
func (s TableStatus) DiskChunks() (int, error) { return s.intKey("disk_chunks") }

// RAMChunkSegments returns the number of RAM chunk segments of an RT table.
func (s TableStatus) RAMChunkSegments() (int, error) { return s.intKey("ram_chunk_segments_count") }

// Optimizing reports whether an OPTIMIZE is running on the table.
func (s TableStatus) Optimizing() (bool, error) {
	n, err := s.intKey("optimizing")
	return n != 0, err
}

func (s TableStatus) stringKey(keys ...string) (string, error) {
	for _, k := range keys {
		if v, ok := s[k]; ok {
			return v, nil
		}
	}
	return "", fmt.Errorf("%w: table status has no %q", ErrUnexpectedResult, keys[0])
}

func (s TableStatus) int64Key(key string) (int64, error) {
	v, err := s.stringKey(key)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: table status %q is not an integer: %s", ErrUnexpectedResult, key, quoteForMessage(v))
	}
	return n, nil
}

func (s TableStatus) intKey(key string) (int, error) {
	n, err := s.int64Key(key)
	return int(n), err
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
		// A NULL value is kept as "" rather than failing the whole status:
		// only the accessor of that key will report it.
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
		out = append(out, TableInfo{Name: strings.ToLower(n), Type: t.rows[r][tc].String})
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
