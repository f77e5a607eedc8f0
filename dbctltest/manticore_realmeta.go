package dbctltest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// A data_dir restored from a real searchd's backup holds tables whose
// files searchd wrote: a .meta whose "schema" is an object of "fields" and
// "attributes", "chunk_names", "total_documents" and "tid", a .settings
// that is a JSON object, and disk chunks and a .ram in searchd's binary
// formats (../shared/reference/data/real-table-files/: cap_imp.meta and
// cap_imp.settings of searchd 29.2.2). The emulator serves such a
// "foreign" table with its schema, chunk list and document count: SHOW
// TABLES, DESCRIBE, SHOW TABLE ... STATUS, FREEZE (listing the table's
// files as they are), UNFREEZE, SELECT COUNT(*), IMPORT TABLE from it,
// DROP TABLE. It cannot decode searchd's chunk files, so statements that
// read or change rows of such a table fail with an error that says so
// (foreignErr), and it never writes the table's files.

// realMeta is the part of a real .meta the emulator reads.
type realMeta struct {
	MetaVersion    *int    `json:"meta_version"`
	TotalDocuments int64   `json:"total_documents"`
	TID            int64   `json:"tid"`
	ChunkNames     []int   `json:"chunk_names"`
	Schema         *schema `json:"schema"`
}

type schema struct {
	Fields []struct {
		Name string `json:"name"`
	} `json:"fields"`
	Attributes []struct {
		Name string `json:"name"`
		Type int64  `json:"type"`
	} `json:"attributes"`
}

// realAttrTypes maps searchd's attribute type codes (enum ESphAttr,
// src/sphinxexpr.h / src/sphinxdefs.h) to the emulator's column types.
var realAttrTypes = map[int64]string{
	1:          "uint",      // SPH_ATTR_INTEGER
	2:          "timestamp", // SPH_ATTR_TIMESTAMP
	4:          "bool",      // SPH_ATTR_BOOL
	5:          "float",     // SPH_ATTR_FLOAT
	6:          "bigint",    // SPH_ATTR_BIGINT
	7:          "string",    // SPH_ATTR_STRING
	12:         "json",      // SPH_ATTR_JSON
	0x40000001: "multi",     // SPH_ATTR_UINT32SET
	0x40000002: "multi64",   // SPH_ATTR_INT64SET
}

// tokenCountAttr is SPH_ATTR_TOKENCOUNT: the field lengths searchd keeps
// as attributes with index_field_lengths, not columns of the table.
const tokenCountAttr = 11

// isRealMeta reports whether b is a .meta searchd wrote: it has
// "meta_version", or its "schema" is an object (the emulator's own .meta
// has a "schema" array and no "meta_version").
func isRealMeta(b []byte) bool {
	var probe map[string]json.RawMessage
	if json.Unmarshal(b, &probe) != nil {
		return false
	}
	if _, ok := probe["meta_version"]; ok {
		return true
	}
	s := bytes.TrimSpace(probe["schema"])
	return len(s) > 0 && s[0] == '{'
}

// loadRealTable reads a table whose .meta (b) searchd wrote, and its
// .settings when there is one.
func (s *store) loadRealTable(name string, b []byte) (*mTable, error) {
	settings, err := os.ReadFile(s.path(name, "settings"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("dbctltest: table %s: %w", name, err)
	}
	return parseRealTable(name, b, settings)
}

// parseRealTable builds a foreign table from searchd's .meta and .settings
// (empty: none). Attribute types it does not know fail, naming the raw
// value.
func parseRealTable(name string, meta, settings []byte) (*mTable, error) {
	var m realMeta
	if err := json.Unmarshal(meta, &m); err != nil {
		return nil, fmt.Errorf("dbctltest: table %s: searchd's .meta: %w", name, err)
	}
	if m.Schema == nil {
		return nil, fmt.Errorf("dbctltest: table %s: searchd's .meta has no schema: %.200s", name, meta)
	}
	t := &mTable{Name: name, Type: "rt", TID: m.TID, tidSaved: m.TID, counters: map[string]int{},
		foreign: true, foreignDocs: m.TotalDocuments, Settings: map[string]string{}}
	for _, f := range m.Schema.Fields {
		t.Fields = append(t.Fields, mField{Name: strings.ToLower(f.Name), Type: "text"})
	}
	for _, a := range m.Schema.Attributes {
		if a.Name == "id" || strings.HasPrefix(a.Name, "$") || a.Type == tokenCountAttr {
			continue // the document id, and internal attributes ("$_blob_locator")
		}
		typ, ok := realAttrTypes[a.Type]
		if !ok {
			return nil, fmt.Errorf("dbctltest: table %s: attribute %q has type %d, which the emulator does not know", name, a.Name, a.Type)
		}
		t.Fields = append(t.Fields, mField{Name: strings.ToLower(a.Name), Type: typ})
	}
	for _, id := range m.ChunkNames {
		t.chunks = append(t.chunks, &mChunk{ID: id, Killed: map[int64]bool{}})
		t.ChunkIDs = append(t.ChunkIDs, id)
		if id >= t.NextChunk {
			t.NextChunk = id + 1
		}
	}
	if len(bytes.TrimSpace(settings)) > 0 {
		var kv map[string]any
		if err := json.Unmarshal(settings, &kv); err != nil {
			return nil, fmt.Errorf("dbctltest: table %s: searchd's .settings: %w: %.200s", name, err, settings)
		}
		for k, v := range kv {
			t.Settings[k] = fmt.Sprint(v)
		}
	}
	return t, nil
}

// foreignFiles lists the files of a foreign table as they are in its
// folder (searchd's FREEZE lists the table's own files there), without
// the emulator's <t>.lock.
func (s *store) foreignFiles(t *mTable) []string {
	entries, err := os.ReadDir(s.tableDir(t.Name))
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		if e.Type().IsRegular() && e.Name() != t.Name+".lock" {
			out = append(out, filepath.Join(s.tableDir(t.Name), e.Name()))
		}
	}
	sort.Strings(out)
	return out
}

// foreignErr is the emulator's refusal of a statement that needs the rows
// of a table searchd wrote (it is not an answer of searchd).
func foreignErr(t *mTable) error {
	return mErr("dbctltest: table '%s' was written by a real searchd: the emulator reads its schema and document count (%d), not its rows", t.Name, t.foreignDocs)
}
