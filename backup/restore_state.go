package backup

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
)

// manticoreEntry is the manticore.json entry searchd writes for an RT or
// percolate table (src/searchdconfig.cpp IndexDesc_t::Save: the type's
// name, "rt" or "percolate" as GetIndexTypeName gives it and SHOW TABLES
// reports it, and the path stripped to the table's name, which
// IndexDesc_t::Parse reads back as <data_dir>/<name>/<name>);
// manticore.md §7: "h_copy": {"type": "rt", "path": "h_copy"}.
type manticoreEntry struct {
	Type string `json:"type"`
	Path string `json:"path"`
}

// keepTables rewrites a restored manticore.json (every Restore, issue 17)
// so that it lists exactly the tables the backup holds, and the
// distributed tables it lists (they have no files). The file a backup
// keeps is the one of the freeze instant (statefile.go): searchd may have
// added a table created meanwhile, which the backup does not hold (its
// entry is removed, as are entries of tables a partial backup left out, and
// of tables FREEZE cannot back up), or dropped one the backup holds (its
// files were read before the DROP; searchd drops a frozen table at once,
// manticore.md §4.3). The entry of such a table is rebuilt as searchd
// writes it (manticoreEntry) and its name returned, so that the restored
// data_dir serves every table the backup holds, as the operator who
// restores it expects; Restore reports them (RestoreReport.Rebuilt). Other
// keys ("clusters", settings) are kept as they are. A manticore.json that
// is not a JSON object, or whose "indexes" is not one, is an error.
func keepTables(path string, man *Manifest) (rebuilt []string, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	if doc == nil {
		return nil, fmt.Errorf("%w: manticore.json is not a JSON object", ErrInvalid)
	}
	indexes := map[string]json.RawMessage{}
	if raw, ok := doc["indexes"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &indexes); err != nil {
			return nil, fmt.Errorf("%w: manticore.json \"indexes\": %v", ErrInvalid, err)
		}
	}
	have := map[string]string{}
	for _, t := range man.Tables {
		have[t.Name] = t.Type
	}
	for name, raw := range indexes {
		var ix struct {
			Type string `json:"type"`
		}
		_ = json.Unmarshal(raw, &ix)
		typ, held := have[name]
		switch {
		case held && ix.Type == typ:
		case !held && ix.Type == "distributed":
		default:
			// not the backup's table (or another table of that name,
			// made after the freeze): removed, rebuilt below if held
			delete(indexes, name)
		}
	}
	for _, t := range man.Tables {
		if _, ok := indexes[t.Name]; ok {
			continue
		}
		if t.Type != "rt" && t.Type != "percolate" {
			return nil, fmt.Errorf("%w: table %s is in the backup but not in its manticore.json, and the manifest gives no type for it (%q)", ErrInvalid, t.Name, t.Type)
		}
		entry, err := json.Marshal(manticoreEntry{Type: t.Type, Path: t.Name})
		if err != nil {
			return nil, err
		}
		indexes[t.Name] = entry
		rebuilt = append(rebuilt, t.Name)
	}
	sort.Strings(rebuilt)
	if doc["indexes"], err = json.Marshal(indexes); err != nil {
		return nil, err
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		return nil, err
	}
	return rebuilt, syncFile(path)
}
