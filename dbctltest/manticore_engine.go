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
	conf    serverConf          // SHOW SETTINGS; set once the server listens
	locks   map[string]*os.File // <t>/<t>.lock held while the table is served (manticore_lock*.go)
	// binlogLock is binlog/binlog.lock, held while the server runs
	binlogLock *os.File
	user       *fileUser // WithUser: file access checked as this user (nil: no checks)
	// unserved are tables of manticore.json not served because the user
	// cannot lock them (WithUser); they stay in manticore.json.
	unserved map[string]*mTable
	// blocked counts the statements waiting on a freeze now (Blocked).
	blocked int
}

func (e *mEngine) setConf(c serverConf) {
	e.mu.Lock()
	e.conf = c
	e.mu.Unlock()
}

func newEngine(dataDir string, user *fileUser) (*mEngine, error) {
	e := &mEngine{st: store{dataDir: dataDir}, changed: make(chan struct{}), started: time.Now(), user: user,
		unserved: map[string]*mTable{}}
	tables, err := e.st.load()
	if err != nil {
		return nil, err
	}
	e.tables = tables
	if err := e.lockBinlog(); err != nil {
		return nil, fmt.Errorf("dbctltest: %w", err)
	}
	for _, n := range e.sortedNames() {
		if t := e.tables[n]; t.Type != "distributed" && !e.user.canCreateIn(e.st.tableDir(n)) {
			// searchd cannot create <t>.lock: it does not serve the table
			// (issue 9 §2.D), and keeps it in manticore.json.
			e.unserved[n] = t
			delete(e.tables, n)
			continue
		}
		if err := e.lockTable(e.tables[n]); err != nil {
			e.releaseLocks()
			return nil, fmt.Errorf("dbctltest: table %s: %w", n, err)
		}
	}
	if err := e.saveState(); err != nil {
		e.releaseLocks()
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
// the real server, which then applies them (manticore.md §4.3, measured on
// 29.2.2: "FLUSH RAMCHUNK t blocks until UNFREEZE, then creates a disk
// chunk"; "client killed / Go context deadline while blocked: server keeps
// the statement queued and applies it after UNFREEZE"). There is no
// timeout, and a client that goes away does not end the wait; only
// UNFREEZE, DROP or the server's shutdown (ctx) do. The caller applies the
// statement before it releases e.mu, so once Blocked no longer counts it,
// its effect is visible.
func (e *mEngine) waitFrozen(ctx context.Context, name string) (*mTable, error) {
	for {
		t := e.tables[name]
		if t == nil || t.locked == 0 {
			return t, nil
		}
		ch := e.changed
		e.blocked++
		e.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			e.mu.Lock()
			e.blocked--
			return nil, mysqlwire.Errorf(1064, "42000", "server shutdown")
		}
		e.mu.Lock()
		e.blocked--
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
		// manticore-2.jsonl: "SHOW WARNINGS" after "FREEZE cap_rt, cap_dist,
		// cap_nope": the names in statement order, joined by ", ".
		warns = []warning{{1000, "Some tables are not suitable for freezing: " + strings.Join(notSuitable, ", ")}}
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

// unfreeze runs UNFREEZE: each named RT or percolate table's counter goes
// down by one (not below 0); rows affected counts those tables, frozen or
// not, and ignores missing and distributed ones, with no warning
// (manticore-2.jsonl: "UNFREEZE cap_nope, cap_rt" affected 1 with cap_rt
// not frozen any more, "UNFREEZE cap_pq" 1, "UNFREEZE cap_dist" 0).
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

// showLocks answers SHOW LOCKS: one row per frozen table (manticore-2.jsonl:
// "SHOW LOCKS" with cap_rt, then cap_pq frozen, and empty at the end).
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

// showTables answers SHOW TABLES [LIKE 'p']: Table and Type, sorted by
// name (manticore-2.jsonl: "SHOW TABLES LIKE 'cap%'"; manticore.jsonl:
// "SHOW TABLES").
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

// realDir resolves symlinks so that "normalized" paths are real paths.
func realDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(abs)
}
