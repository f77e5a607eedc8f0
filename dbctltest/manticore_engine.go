package dbctltest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dbctl/dbctl/internal/mysqlwire"
)

// manticoreVersion is what the emulated server reports, as 29.2.2 does.
const manticoreVersion = "29.2.2 fe8f84c8b@260821"

// mEngine is the state of one emulated searchd.
type mEngine struct {
	mu      sync.Mutex
	st      store
	tables  map[string]*mTable
	changed chan struct{} // closed and replaced on every change blocked writers wait for
	attrTag int64
	started time.Time
}

func newEngine(dataDir string) (*mEngine, error) {
	e := &mEngine{st: store{dataDir: dataDir}, changed: make(chan struct{}), started: time.Now()}
	tables, err := e.st.load()
	if err != nil {
		return nil, err
	}
	e.tables = tables
	if err := e.st.saveState(e.tables); err != nil {
		return nil, err
	}
	return e, nil
}

func (e *mEngine) broadcast() {
	close(e.changed)
	e.changed = make(chan struct{})
}

// waitFrozen blocks, with e.mu held on entry and exit, while the table is
// frozen: the way UPDATE, FLUSH RAMCHUNK and writes to disk chunks wait on
// the real server. There is no timeout, and a client that goes away does not
// end the wait; only UNFREEZE, DROP or the server's shutdown (ctx) do.
func (e *mEngine) waitFrozen(ctx context.Context, name string) (*mTable, error) {
	for {
		t := e.tables[name]
		if t == nil || t.locked == 0 {
			return t, nil
		}
		ch := e.changed
		e.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			e.mu.Lock()
			return nil, mysqlwire.Errorf(1064, "42000", "server shutdown")
		}
		e.mu.Lock()
	}
}

// mErr is Manticore's error: everything is 1064/42000.
func mErr(format string, args ...any) *mysqlwire.Error {
	return &mysqlwire.Error{Code: 1064, State: "42000", Message: fmt.Sprintf(format, args...)}
}

// Manticore result columns: STRING (go-sql-driver "CHAR"), nullable.
func charCols(names ...string) []mysqlwire.Column {
	out := make([]mysqlwire.Column, len(names))
	for i, n := range names {
		out[i] = mysqlwire.Column{Name: n, Schema: "Manticore", Type: mysqlwire.TypeString, Length: 255}
	}
	return out
}

func textRows(rows ...[]string) [][]mysqlwire.Value {
	out := make([][]mysqlwire.Value, len(rows))
	for i, r := range rows {
		out[i] = make([]mysqlwire.Value, len(r))
		for j, v := range r {
			out[i][j] = mysqlwire.V(v)
		}
	}
	return out
}

// warning is one row of SHOW WARNINGS.
type warning struct {
	code    int
	message string
}

// freeze runs FREEZE on the named tables (lower-cased, repeats count twice).
func (e *mEngine) freeze(names []string, like *string) (*mysqlwire.Result, []warning, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var notSuitable []string
	frozen := map[string]bool{}
	for _, n := range names {
		t := e.tables[n]
		if t == nil || !t.freezable() {
			notSuitable = append(notSuitable, n)
			continue
		}
		if t.locked == 0 && !frozen[n] {
			// Save the RAM chunk (to <t>.ram, not to a new disk chunk, as
			// 29.2.2 does) and the attributes, then stop saving.
			if err := e.saveTable(t); err != nil {
				return nil, nil, mErr("FREEZE %s: %v", n, err)
			}
		}
		t.locked++
		frozen[n] = true
	}
	res := &mysqlwire.Result{Columns: charCols("file", "normalized")}
	var files []string
	for n := range frozen {
		files = append(files, e.st.files(e.tables[n])...)
	}
	sort.Strings(files)
	for _, f := range files {
		if like != nil && !likeMatch(*like, f) {
			continue
		}
		res.Rows = append(res.Rows, []mysqlwire.Value{mysqlwire.V(f), mysqlwire.V(f)})
	}
	var warns []warning
	if len(notSuitable) > 0 {
		warns = []warning{{1000, "Some tables are not suitable for freezing: " + strings.Join(notSuitable, ",")}}
		res.Warnings = 1
	}
	return res, warns, nil
}

// saveTable saves everything of a table that is only in memory: the RAM
// chunk, and the attribute updates and kill lists of its disk chunks (each
// such save counts for the FLUSH ATTRIBUTES tag).
func (e *mEngine) saveTable(t *mTable) error {
	if t.Type == "rt" {
		for _, c := range t.chunks {
			if c.attrDirty {
				if err := e.st.saveChunkAttrs(t, c); err != nil {
					return err
				}
				e.attrTag++
			}
		}
		return e.st.saveRAM(t)
	}
	return e.st.saveMeta(t)
}

// shutdown is a clean stop: every table that is not frozen is saved. A
// frozen table is left as a dirty shutdown leaves it (searchd would replay
// its binlog; this emulation has none, so its unsaved changes are lost).
func (e *mEngine) shutdown() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, n := range e.sortedNames() {
		if t := e.tables[n]; t.locked == 0 && t.Type != "distributed" {
			if err := e.saveTable(t); err != nil {
				return err
			}
		}
	}
	return nil
}

func (e *mEngine) unfreeze(names []string) *mysqlwire.Result {
	e.mu.Lock()
	defer e.mu.Unlock()
	var affected uint64
	for _, n := range names {
		t := e.tables[n]
		if t == nil || !t.freezable() {
			continue
		}
		affected++
		if t.locked > 0 {
			t.locked--
		}
	}
	e.broadcast()
	return &mysqlwire.Result{AffectedRows: affected}
}

func (e *mEngine) showLocks() *mysqlwire.Result {
	e.mu.Lock()
	defer e.mu.Unlock()
	res := &mysqlwire.Result{Columns: charCols("Type", "Name", "Lock Type", "Additional Info")}
	for _, n := range e.sortedNames() {
		t := e.tables[n]
		if t.locked > 0 {
			res.Rows = append(res.Rows, textRows([]string{t.Type, n, "freeze", "Count: " + strconv.Itoa(t.locked)})...)
		}
	}
	return res
}

func (e *mEngine) sortedNames() []string {
	names := make([]string, 0, len(e.tables))
	for n := range e.tables {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (e *mEngine) showTables(like *string) *mysqlwire.Result {
	e.mu.Lock()
	defer e.mu.Unlock()
	res := &mysqlwire.Result{Columns: charCols("Table", "Type")}
	for _, n := range e.sortedNames() {
		if like != nil && !likeMatch(*like, n) {
			continue
		}
		res.Rows = append(res.Rows, textRows([]string{n, e.tables[n].Type})...)
	}
	return res
}

var statsKeys = []string{"insert_replace", "search", "update"}

func (e *mEngine) tableStatus(name string, like *string) (*mysqlwire.Result, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	t := e.tables[name]
	if t == nil || t.Type == "distributed" {
		return nil, mErr("SHOW TABLE STATUS requires an existing table")
	}
	var kv [][2]string
	add := func(k string, v any) { kv = append(kv, [2]string{k, fmt.Sprint(v)}) }
	diskBytes := 0
	for _, f := range e.st.files(t) {
		if fi, err := os.Stat(f); err == nil {
			diskBytes += int(fi.Size())
		}
	}
	ramBytes := int(t.ramSize())
	add("table_type", t.Type)
	if t.Type == "percolate" {
		add("stored_queries", len(t.Queries))
		add("ram_bytes", ramBytes+4096)
		add("disk_bytes", diskBytes)
		add("max_stack_need", 19528)
		add("average_stack_base", 24576)
		add("desired_thread_stack", 44160)
	} else {
		killed := 0
		for _, c := range t.chunks {
			killed += len(c.Killed)
		}
		docs := t.docCount()
		rate := 0.0
		if docs+killed > 0 {
			rate = 100 * float64(killed) / float64(docs+killed)
		}
		add("indexed_documents", docs)
		add("indexed_bytes", ramBytes/4)
		add("ram_bytes", ramBytes+2800)
		add("disk_bytes", diskBytes)
		for _, k := range []string{"disk_mapped", "disk_mapped_cached", "disk_mapped_doclists", "disk_mapped_cached_doclists", "disk_mapped_hitlists", "disk_mapped_cached_hitlists"} {
			add(k, 0)
		}
		add("killed_documents", killed)
		add("killed_rate", fmt.Sprintf("%.2f%%", rate))
		add("ram_chunk", ramBytes)
		segs := 0
		if len(t.ram) > 0 {
			segs = 1
		}
		add("ram_chunk_segments_count", segs)
		add("disk_chunks", len(t.chunks))
		add("mem_limit", t.memLimit())
		add("mem_limit_rate", "33.33%")
		add("ram_bytes_retired", 0)
		add("optimizing", 0)
	}
	add("locked", t.locked)
	add("tid", t.TID)
	add("tid_saved", t.tidSaved)
	for _, w := range []string{"1min", "5min", "15min", "total"} {
		add("query_time_"+w, `{"queries":0, "avg":"-", "min":"-", "max":"-", "pct95":"-", "pct99":"-"}`)
	}
	for _, w := range []string{"1min", "5min", "15min", "total"} {
		add("found_rows_"+w, `{"queries":0, "avg":"-", "min":"-", "max":"-", "pct95":"-", "pct99":"-"}`)
	}
	t.counters["status"]++
	for _, c := range []string{"search", "excerpt", "update", "keywords", "status", "delete", "insert", "replace", "commit", "suggest", "callpq", "getfield", "shard_write", "optimize"} {
		add("command_"+c, t.counters[c])
	}
	for _, k := range statsKeys {
		n := t.counters[k]
		if k == "insert_replace" {
			n = t.counters["insert"] + t.counters["replace"]
		}
		for _, s := range []string{"avg", "min", "max", "pct95", "pct99"} {
			v := "N/A N/A N/A"
			if n > 0 {
				v = "0.100 0.100 0.100"
			}
			add(k+"_stats_ms_"+s, v)
		}
	}
	res := &mysqlwire.Result{Columns: charCols("Variable_name", "Value")}
	for _, p := range kv {
		if like != nil && !likeMatch(*like, p[0]) {
			continue
		}
		res.Rows = append(res.Rows, textRows([]string{p[0], p[1]})...)
	}
	return res, nil
}

// flushAttributes saves the attribute updates of every table that is not
// frozen and returns the tag: the number of saves since the start.
func (e *mEngine) flushAttributes() (*mysqlwire.Result, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, n := range e.sortedNames() {
		t := e.tables[n]
		if t.locked > 0 {
			continue
		}
		for _, c := range t.chunks {
			if c.attrDirty {
				if err := e.st.saveChunkAttrs(t, c); err != nil {
					return nil, mErr("FLUSH ATTRIBUTES: %v", err)
				}
				e.attrTag++
			}
		}
	}
	return &mysqlwire.Result{
		Columns: []mysqlwire.Column{{Name: "tag", Schema: "Manticore", Type: mysqlwire.TypeLong, Flags: mysqlwire.FlagUnsigned, Length: 11}},
		Rows:    textRows([]string{strconv.FormatInt(e.attrTag, 10)}),
	}, nil
}

// flushRAMChunk turns the RAM chunk into a new disk chunk; it waits while
// the table is frozen.
func (e *mEngine) flushRAMChunk(ctx context.Context, name string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if t := e.tables[name]; t == nil || t.Type != "rt" {
		return mErr("FLUSH RAMCHUNK requires an existing RT table")
	}
	t, err := e.waitFrozen(ctx, name)
	if err != nil {
		return err
	}
	if t == nil {
		return mErr("FLUSH RAMCHUNK requires an existing RT table")
	}
	return e.ramToChunk(t)
}

func (e *mEngine) ramToChunk(t *mTable) error {
	if len(t.ram) == 0 {
		return nil
	}
	c := &mChunk{ID: t.NextChunk, Docs: t.ram, Killed: map[int64]bool{}}
	t.NextChunk++
	t.chunks = append(t.chunks, c)
	t.ramReset()
	if err := e.st.saveChunk(t, c); err != nil {
		return mErr("FLUSH RAMCHUNK: %v", err)
	}
	t.ramFile = false
	_ = removeFile(e.st.path(t.Name, "ram"))
	return e.st.saveMeta(t)
}

// flushTable saves the RAM chunk to <t>.ram (FLUSH TABLE / FLUSH RTINDEX).
// On a frozen table it answers OK without saving.
func (e *mEngine) flushTable(name string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	t := e.tables[name]
	if t == nil || t.Type != "rt" {
		return mErr("FLUSH RTINDEX requires an existing RT table")
	}
	if t.locked > 0 {
		return nil
	}
	if err := e.saveTable(t); err != nil {
		return mErr("FLUSH RTINDEX: %v", err)
	}
	return nil
}

func (e *mEngine) optimize(name string, cutoff int, sync bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	t := e.tables[name]
	if t == nil || t.Type == "percolate" {
		return mErr("OPTIMIZE TABLE requires an existing RT, distributed, or shard table")
	}
	if t.Type == "distributed" {
		if !sync {
			return mErr("OPTIMIZE TABLE on a distributed table requires OPTION sync=1")
		}
		return nil
	}
	if t.locked > 0 {
		if sync {
			return mErr("Can't optimize frozen table")
		}
		return nil // queued; compaction is off while frozen
	}
	t.counters["optimize"]++
	target := optimizeTarget(cutoff)
	// Merge the two smallest chunks until at most target remain, and drop
	// killed documents from every chunk rewritten.
	for len(t.chunks) > target {
		sort.Slice(t.chunks, func(i, j int) bool { return t.chunks[i].alive() < t.chunks[j].alive() })
		a, b := t.chunks[0], t.chunks[1]
		merged := &mChunk{ID: t.NextChunk, Killed: map[int64]bool{}}
		t.NextChunk++
		for _, c := range []*mChunk{a, b} {
			for _, d := range c.Docs {
				if !c.Killed[d.ID] {
					merged.Docs = append(merged.Docs, d)
				}
			}
			e.st.removeChunk(t, c)
		}
		t.chunks = append([]*mChunk{merged}, t.chunks[2:]...)
		if err := e.st.saveChunk(t, merged); err != nil {
			return mErr("OPTIMIZE: %v", err)
		}
	}
	sort.Slice(t.chunks, func(i, j int) bool { return t.chunks[i].ID < t.chunks[j].ID })
	return e.st.saveMeta(t)
}

// likeMatch is SQL LIKE with % and _ (case-insensitive, as Manticore).
func likeMatch(pattern, s string) bool {
	pattern, s = strings.ToLower(pattern), strings.ToLower(s)
	var match func(p, s string) bool
	match = func(p, s string) bool {
		for len(p) > 0 {
			switch p[0] {
			case '%':
				for i := 0; i <= len(s); i++ {
					if match(p[1:], s[i:]) {
						return true
					}
				}
				return false
			case '_':
				if s == "" {
					return false
				}
			case '\\':
				if len(p) > 1 {
					p = p[1:]
				}
				fallthrough
			default:
				if s == "" || s[0] != p[0] {
					return false
				}
			}
			p, s = p[1:], s[1:]
		}
		return s == ""
	}
	return match(pattern, s)
}

// realDir resolves symlinks so that "normalized" paths are real paths.
func realDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(abs)
}
