package dbctltest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
)

// load reads the tables of an existing data_dir (manticore.json, then each
// table's .meta, .ram and disk chunks).
func (s *store) load() (map[string]*mTable, error) {
	tables := map[string]*mTable{}
	b, err := os.ReadFile(filepath.Join(s.dataDir, "manticore.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return tables, nil
	}
	if err != nil {
		return nil, err
	}
	var doc manticoreJSON
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("dbctltest: manticore.json: %w", err)
	}
	for name, ix := range doc.Indexes {
		if ix.Type == "distributed" {
			tables[name] = &mTable{Name: name, Type: "distributed", Locals: ix.Locals, Agents: ix.Agents, counters: map[string]int{}}
			continue
		}
		t, err := s.loadTable(name)
		if err != nil {
			return nil, err
		}
		if t.foreign && ix.Type != "" {
			t.Type = ix.Type // a real percolate table's .meta does not say
		}
		tables[name] = t
	}
	return tables, nil
}

func (s *store) loadTable(name string) (*mTable, error) {
	b, err := os.ReadFile(s.path(name, "meta"))
	if err != nil {
		return nil, fmt.Errorf("dbctltest: table %s: %w", name, err)
	}
	if isRealMeta(b) {
		return s.loadRealTable(name, b)
	}
	t := &mTable{counters: map[string]int{}}
	if err := json.Unmarshal(b, t); err != nil {
		return nil, fmt.Errorf("dbctltest: table %s meta: %w", name, err)
	}
	t.Name, t.tidSaved = name, t.TID
	if ram, err := os.ReadFile(s.path(name, "ram")); err == nil {
		t.ramFile = true
		if t.ram, err = readDocs(ram); err != nil {
			return nil, fmt.Errorf("dbctltest: table %s ram: %w", name, err)
		}
		for _, d := range t.ram {
			t.ramBytes += docSize(d)
		}
	}
	for _, id := range t.ChunkIDs {
		c := &mChunk{ID: id, Killed: map[int64]bool{}}
		data, err := os.ReadFile(s.path(name, strconv.Itoa(id)+".spds"))
		if err != nil {
			return nil, fmt.Errorf("dbctltest: table %s chunk %d: %w", name, id, err)
		}
		if c.Docs, err = decodeDocstore(data); err != nil {
			return nil, fmt.Errorf("dbctltest: table %s chunk %d: %w", name, id, err)
		}
		for _, ext := range []string{"spa", "spb"} {
			if b, err := os.ReadFile(s.path(name, strconv.Itoa(id)+"."+ext)); err == nil {
				if err := readAttrBlock(b, c.Docs); err != nil {
					return nil, fmt.Errorf("dbctltest: table %s chunk %d .%s: %w", name, id, ext, err)
				}
			}
		}
		if km, err := os.ReadFile(s.path(name, strconv.Itoa(id)+".spm")); err == nil {
			var killed []int64
			_ = json.Unmarshal(km, &killed)
			for _, k := range killed {
				c.Killed[k] = true
			}
		}
		t.chunks = append(t.chunks, c)
	}
	for _, d := range t.allDocs() {
		if d.ID >= t.nextID {
			t.nextID = d.ID
		}
	}
	return t, nil
}

func (t *mTable) allDocs() []mDoc {
	var out []mDoc
	for _, c := range t.chunks {
		for _, d := range c.Docs {
			if !c.Killed[d.ID] {
				out = append(out, d)
			}
		}
	}
	return append(out, t.ram...)
}

func readDocs(b []byte) ([]mDoc, error) {
	var out []mDoc
	dec := json.NewDecoder(bytes.NewReader(b))
	for dec.More() {
		var d mDoc
		if err := dec.Decode(&d); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}
