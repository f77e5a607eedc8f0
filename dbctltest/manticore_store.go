package dbctltest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
)

// The emulated Manticore keeps every table in memory and mirrors it to real
// files in data_dir, named as searchd names them: <t>/<t>.meta,
// <t>.settings, <t>.ram (the saved RAM chunk) and <t>.<N>.sp* for disk chunk
// N. File contents are this package's own encodings (see
// manticore_chunkfiles.go), but they change exactly when the real server
// would write them, so a backup copies real bytes and a
// server started on a restored data_dir sees the same tables and rows.

// mField is one column of a table.
type mField struct {
	Name string `json:"name"`
	Type string `json:"type"` // text, uint, bigint, float, string, json, multi, multi64, bool, timestamp
}

func (f mField) blob() bool {
	return f.Type == "string" || f.Type == "json" || f.Type == "multi" || f.Type == "multi64"
}

// mDoc is one document; values are kept as text.
type mDoc struct {
	ID   int64             `json:"id"`
	Vals map[string]string `json:"vals"`
}

type mChunk struct {
	ID        int            `json:"id"`
	Docs      []mDoc         `json:"-"`
	Killed    map[int64]bool `json:"-"`
	attrDirty bool
	pos       map[int64]int // id -> index in Docs, built on first use (chunks never grow)
}

func (c *mChunk) find(id int64) int {
	if c.Killed[id] {
		return -1
	}
	if c.pos == nil {
		c.pos = make(map[int64]int, len(c.Docs))
		for i := range c.Docs {
			c.pos[c.Docs[i].ID] = i
		}
	}
	if i, ok := c.pos[id]; ok {
		return i
	}
	return -1
}

func (c *mChunk) alive() int { return len(c.Docs) - len(c.Killed) }

type mTable struct {
	Name      string            `json:"name"`
	Type      string            `json:"type"` // rt, percolate, distributed
	Fields    []mField          `json:"schema"`
	ChunkIDs  []int             `json:"chunks"`
	NextChunk int               `json:"next_chunk"`
	TID       int64             `json:"tid"`
	Settings  map[string]string `json:"settings,omitempty"`
	Locals    []string          `json:"locals,omitempty"`
	Agents    []string          `json:"agents,omitempty"`
	Queries   []mDoc            `json:"stored_queries,omitempty"` // percolate

	ram      []mDoc
	ramPos   map[int64]int // id -> index in ram; nil (rebuilt on use) after ram changes other than an append
	ramBytes int64         // sum of docSize over ram
	chunks   []*mChunk
	ramFile  bool // <t>.ram exists
	tidSaved int64
	locked   int
	nextID   int64
	counters map[string]int
	// foreign: the table's files were written by a real searchd
	// (manticore_realmeta.go); foreignDocs is its .meta's total_documents.
	foreign     bool
	foreignDocs int64
}

func (t *mTable) freezable() bool { return t.Type == "rt" || t.Type == "percolate" }

// defaultMemLimit is searchd's rt_mem_limit: 128 MiB.
const defaultMemLimit = 128 << 20

// memLimit is the table's rt_mem_limit in bytes ("128k", "64M", "1G" or a
// number).
func (t *mTable) memLimit() int64 {
	v := strings.TrimSpace(strings.ToLower(t.Settings["rt_mem_limit"]))
	if v == "" {
		return defaultMemLimit
	}
	mult := int64(1)
	switch v[len(v)-1] {
	case 'k':
		mult, v = 1<<10, v[:len(v)-1]
	case 'm':
		mult, v = 1<<20, v[:len(v)-1]
	case 'g':
		mult, v = 1<<30, v[:len(v)-1]
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return defaultMemLimit
	}
	return n * mult
}

// docSize is what a document costs in the RAM chunk (an estimate: its
// values plus a fixed overhead).
func docSize(d mDoc) int64 {
	n := int64(64)
	for k, v := range d.Vals {
		n += int64(len(k) + len(v))
	}
	return n
}

// ramSize is the size of the RAM chunk.
func (t *mTable) ramSize() int64 { return t.ramBytes }

// ramReset empties the RAM chunk.
func (t *mTable) ramReset() {
	t.ram, t.ramPos, t.ramBytes = nil, nil, 0
}

func (t *mTable) field(name string) (mField, bool) {
	for _, f := range t.Fields {
		if strings.EqualFold(f.Name, name) {
			return f, true
		}
	}
	return mField{}, false
}

func (t *mTable) hasBlob() bool {
	for _, f := range t.Fields {
		if f.blob() {
			return true
		}
	}
	return false
}

// ramAppend adds a document to the RAM chunk.
func (t *mTable) ramAppend(d mDoc) {
	t.ram = append(t.ram, d)
	t.ramBytes += docSize(d)
	if t.ramPos != nil {
		t.ramPos[d.ID] = len(t.ram) - 1
	}
}

// ramRemove removes the document at index i of the RAM chunk.
func (t *mTable) ramRemove(i int) {
	t.ramBytes -= docSize(t.ram[i])
	t.ram = append(t.ram[:i], t.ram[i+1:]...)
	t.ramPos = nil
}

// where a document lives: in RAM (chunk == nil) or in a disk chunk.
func (t *mTable) locate(id int64) (chunk *mChunk, idx int) {
	if t.ramPos == nil {
		t.ramPos = make(map[int64]int, len(t.ram))
		for i := range t.ram {
			t.ramPos[t.ram[i].ID] = i
		}
	}
	if i, ok := t.ramPos[id]; ok {
		return nil, i
	}
	for _, c := range t.chunks {
		if i := c.find(id); i >= 0 {
			return c, i
		}
	}
	return nil, -1
}

func (t *mTable) docCount() int {
	if t.foreign {
		return int(t.foreignDocs)
	}
	n := len(t.ram)
	for _, c := range t.chunks {
		n += c.alive()
	}
	if t.Type == "percolate" {
		n = len(t.Queries)
	}
	return n
}

// chunkExts are the files of one disk chunk, without .spb, which exists
// only for tables with blob attributes (strings, JSON, MVA).
var chunkExts = []string{"spa", "spd", "spds", "spe", "sph", "sphi", "spi", "spm", "spp", "spt"}

// store is the on-disk side.
type store struct {
	dataDir string // absolute, symlinks resolved
}

func (s *store) tableDir(name string) string { return filepath.Join(s.dataDir, name) }

func (s *store) path(name, suffix string) string {
	return filepath.Join(s.dataDir, name, name+"."+suffix)
}

// files lists a table's files, sorted by name as searchd lists them.
func (s *store) files(t *mTable) []string {
	var out []string
	if t.Type == "distributed" {
		return nil
	}
	if t.foreign {
		return s.foreignFiles(t)
	}
	out = append(out, s.path(t.Name, "meta"), s.path(t.Name, "settings"))
	// the table's copies of its external files, in its folder
	// (manticore-2.jsonl: "FREEZE cap_wf"; manticore_textproc.go)
	for _, f := range externalFiles(t) {
		out = append(out, filepath.Join(s.tableDir(t.Name), f))
	}
	if t.Type == "rt" {
		if t.ramFile {
			out = append(out, s.path(t.Name, "ram"))
		}
		for _, c := range t.chunks {
			for _, ext := range chunkExtsOf(t) {
				out = append(out, s.path(t.Name, strconv.Itoa(c.ID)+"."+ext))
			}
		}
	}
	sort.Strings(out)
	return out
}

func chunkExtsOf(t *mTable) []string {
	if !t.hasBlob() {
		return chunkExts
	}
	exts := append([]string{"spa", "spb"}, chunkExts[1:]...)
	return exts
}

func writeFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

// replaceFile replaces path's content the way searchd saves manticore.json
// on CREATE, DROP and IMPORT TABLE (src/searchdconfig.cpp ConfigWrite,
// called through SaveConfigInt by CreateNewIndexConfigless, DropIndexInt
// and AddExistingIndexConfigless): the new content is written to
// "<path>.new", the current file renamed to "<path>.old", the new one
// renamed to path, and the old one unlinked. A reader (a backup copying
// the data_dir's state) sees the old file or the new one, never a partial
// one, a new file (another inode) after each save, and, between the two
// renames, no file at all; when the second rename fails the old file is
// renamed back, as ConfigWrite does.
func replaceFile(path string, data []byte) error {
	tmp, old := path+".new", path+".old"
	if err := writeFile(tmp, data); err != nil {
		return err
	}
	hadOld := false
	if err := os.Rename(path, old); err == nil {
		hadOld = true
	} else if !errors.Is(err, fs.ErrNotExist) {
		_ = os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		if hadOld {
			_ = os.Rename(old, path)
		}
		_ = os.Remove(tmp)
		return err
	}
	if hadOld {
		_ = os.Remove(old) // unlink's result is not checked there either
	}
	return nil
}

func jsonLines(docs []mDoc) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for _, d := range docs {
		_ = enc.Encode(d)
	}
	return b.Bytes()
}

func (s *store) saveMeta(t *mTable) error {
	if t.foreign {
		return nil // searchd's files are never rewritten in the emulator's format
	}
	t.ChunkIDs = t.ChunkIDs[:0]
	for _, c := range t.chunks {
		t.ChunkIDs = append(t.ChunkIDs, c.ID)
	}
	b, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return err
	}
	t.tidSaved = t.TID
	return writeTableFile(s.path(t.Name, "meta"), b)
}

func (s *store) saveSettings(t *mTable) error {
	settings := map[string]string{"rt_mem_limit": "134217728"}
	for k, v := range t.Settings {
		settings[k] = v
	}
	b, _ := json.MarshalIndent(settings, "", "  ")
	return writeTableFile(s.path(t.Name, "settings"), b)
}

// saveRAM writes the RAM chunk to <t>.ram. After FLUSH RAMCHUNK moved it
// to disk the file is gone, and an empty RAM chunk does not bring it back.
func (s *store) saveRAM(t *mTable) error {
	if t.foreign {
		return nil
	}
	if t.Type != "rt" || (len(t.ram) == 0 && !t.ramFile) {
		return s.saveMeta(t)
	}
	t.ramFile = true
	if err := writeTableFile(s.path(t.Name, "ram"), jsonLines(t.ram)); err != nil {
		return err
	}
	return s.saveMeta(t)
}

func (s *store) dropTable(name string) error { return os.RemoveAll(s.tableDir(name)) }

// manticoreJSON is data_dir/manticore.json: the tables and their paths.
type manticoreJSON struct {
	Clusters map[string]any            `json:"clusters"`
	Indexes  map[string]manticoreIndex `json:"indexes"`
}

type manticoreIndex struct {
	Type   string   `json:"type"`
	Path   string   `json:"path,omitempty"`
	Locals []string `json:"locals,omitempty"`
	Agents []string `json:"agents,omitempty"`
}

func (s *store) saveState(tables map[string]*mTable) error {
	doc := manticoreJSON{Clusters: map[string]any{}, Indexes: map[string]manticoreIndex{}}
	for name, t := range tables {
		ix := manticoreIndex{Type: t.Type, Locals: t.Locals, Agents: t.Agents}
		if t.Type != "distributed" {
			ix.Path = name
		}
		doc.Indexes[name] = ix
	}
	b, _ := json.MarshalIndent(doc, "", "  ")
	if err := replaceFile(filepath.Join(s.dataDir, "manticore.json"), b); err != nil {
		return err
	}
	// searchd keeps session-independent state (UDFs, plugins) here.
	if _, err := os.Stat(filepath.Join(s.dataDir, "state.sql")); errors.Is(err, fs.ErrNotExist) {
		return writeFile(filepath.Join(s.dataDir, "state.sql"), []byte{})
	}
	return nil
}

// optimizeTarget is searchd's default cutoff: twice the CPU cores.
func optimizeTarget(cutoff int) int {
	if cutoff > 0 {
		return cutoff
	}
	return 2 * runtime.NumCPU()
}

func removeFile(path string) error {
	err := os.Remove(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}
