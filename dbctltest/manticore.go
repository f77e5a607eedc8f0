package dbctltest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dbctl/dbctl/internal/mysqlwire"
	"github.com/dbctl/dbctl/internal/sqlshape"
)

// Manticore is an embedded, in-process Manticore Search (RT mode) speaking
// the MySQL protocol on 127.0.0.1. It behaves like searchd 29.2.2 for the
// table-control statements (FREEZE, UNFREEZE, SHOW WARNINGS, SHOW LOCKS,
// SHOW TABLE ... STATUS, FLUSH ..., OPTIMIZE, IMPORT TABLE, SHOW SETTINGS)
// over rt, percolate and distributed tables, as the golden captures
// recorded them, and for enough of the data statements (CREATE/DROP/
// TRUNCATE TABLE, INSERT, REPLACE, UPDATE, DELETE, SELECT by id or
// MATCH('words'), COUNT(*), SHOW TABLES) to put data in tables, including
// writers that block while a table is frozen. Tables are real files in
// DataDir (with the copies of their wordforms, stopwords and exceptions
// files, and a locked <table>.lock while served); the configuration file
// is in ServerRoot. Any user name and password may log in, as on a real
// searchd without auth.
//
// Every statement received is recorded, as a shape, for the
// statement-coverage test (internal/shapecheck).
type Manticore struct {
	srv     *mysqlwire.Server
	eng     *mEngine
	dataDir string
	ownsDir bool
	root    string // the server root: folder of manticore.conf (manticore_settings.go)
	faults  faults

	closeOnce sync.Once
	closeErr  error
}

// Option configures an embedded server.
type Option func(*config)

type config struct {
	addr      string
	dataDir   string
	user      *fileUser
	startedAt time.Time
}

// WithUser makes the embedded Manticore check file access as searchd
// running as that user would (the process itself keeps its own rights):
// a table whose folder the user cannot write is not served, because
// searchd cannot create its <table>.lock there, and IMPORT TABLE finds no
// files in a folder the user cannot read (issue 9 §2.D, seen on a real
// searchd running as user manticore; no capture). It lets a test running
// as root check that a restored data_dir or a backup folder is usable by a
// non-root searchd. Linux only; ignored by MatrixOne.
func WithUser(uid, gid int) Option {
	return func(c *config) { c.user = &fileUser{uid: uint32(uid), gid: uint32(gid)} }
}

// WithStartedAt makes the embedded Manticore report SHOW STATUS uptime as
// a searchd started at t would (src/searchd.cpp BuildStatus: uptime is
// time(nullptr) minus the daemon's start, in whole seconds). Default: the
// moment it starts, so uptime restarts at 0 with every start, as searchd's
// does. A test uses it to stand for a searchd that has run a while, so
// that a restart, even within the same second, changes the start time a
// client derives (now minus uptime). Ignored by MatrixOne.
func WithStartedAt(t time.Time) Option { return func(c *config) { c.startedAt = t } }

// WithAddr sets the listen address. Default "127.0.0.1:0" (a free port).
func WithAddr(addr string) Option { return func(c *config) { c.addr = addr } }

// WithDataDir starts Manticore on an existing data_dir (its manticore.json
// and table files, e.g. a restored backup) and leaves it in place on Close.
// Default: a new temporary directory, removed on Close. Ignored by
// MatrixOne.
func WithDataDir(dir string) Option { return func(c *config) { c.dataDir = dir } }

func newConfig(opts []Option) config {
	c := config{addr: "127.0.0.1:0"}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	return c
}

// NewManticore starts an embedded Manticore for a test and closes it when
// the test ends. It fails the test if the server cannot start.
func NewManticore(tb testing.TB, opts ...Option) *Manticore {
	tb.Helper()
	s, err := StartManticore(opts...)
	if err != nil {
		tb.Fatalf("dbctltest: start Manticore: %v", err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// StartManticore starts an embedded Manticore; the caller must Close it.
func StartManticore(opts ...Option) (*Manticore, error) {
	cfg := newConfig(opts)
	s := &Manticore{faults: faults{state: "42000"}}
	dir := cfg.dataDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "dbctltest-manticore-")
		if err != nil {
			return nil, err
		}
		dir, s.ownsDir = tmp, true
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	real, err := realDir(dir)
	if err != nil {
		s.removeDir(dir)
		return nil, err
	}
	s.dataDir = real
	if s.eng, err = newEngine(real, cfg.user); err != nil {
		s.removeDir(dir)
		return nil, err
	}
	if !cfg.startedAt.IsZero() {
		s.eng.started = cfg.startedAt
	}
	fail := func(err error) (*Manticore, error) {
		s.eng.releaseLocks()
		s.removeDir(dir)
		if s.root != "" {
			_ = os.RemoveAll(s.root)
		}
		return nil, err
	}
	if s.root, err = os.MkdirTemp("", "dbctltest-manticore-root-"); err != nil {
		return fail(err)
	}
	s.srv, err = mysqlwire.Listen(cfg.addr, mysqlwire.Config{ServerVersion: manticoreVersion, Handler: mysqlwire.HandlerFunc(s.newSession)})
	if err != nil {
		return fail(err)
	}
	conf := serverConf{root: s.root, dataDir: real, listen: s.srv.Addr()}
	if err := conf.write(); err != nil {
		_ = s.srv.Close()
		return fail(err)
	}
	s.eng.setConf(conf)
	return s, nil
}

func (s *Manticore) removeDir(dir string) {
	if s.ownsDir {
		_ = os.RemoveAll(dir)
	}
}

// DSN returns a go-sql-driver/mysql DSN for the server.
func (s *Manticore) DSN() string { return fmt.Sprintf("root@tcp(%s)/", s.srv.Addr()) }

// Addr returns host:port.
func (s *Manticore) Addr() string { return s.srv.Addr() }

// DataDir returns the absolute, symlink-free data_dir; FREEZE lists files
// under it.
func (s *Manticore) DataDir() string { return s.dataDir }

// ServerRoot returns the folder of the server's configuration file (a
// temporary folder of its own, removed on Close); SHOW SETTINGS reports
// ConfigFile as configuration_file.
func (s *Manticore) ServerRoot() string { return s.root }

// ConfigFile returns the path of the server's manticore.conf.
func (s *Manticore) ConfigFile() string { return filepath.Join(s.root, "manticore.conf") }

// Close stops the server; statements blocked on a freeze end with an error.
// A temporary data_dir is removed; a data_dir given with WithDataDir gets a
// clean shutdown (tables saved) except for frozen tables, which are left as
// after a dirty shutdown. The freeze counters are not saved (as on the real
// server, where they live in memory only).
func (s *Manticore) Close() error {
	s.closeOnce.Do(func() {
		s.closeErr = s.srv.Close()
		if !s.ownsDir {
			if err := s.eng.shutdown(); err != nil && s.closeErr == nil {
				s.closeErr = err
			}
		}
		s.eng.releaseLocks()
		s.removeDir(s.dataDir)
		_ = os.RemoveAll(s.root)
	})
	return s.closeErr
}

// FailNext makes the next statement whose text contains match
// (case-insensitive; "^" anchors match at the start of the statement) fail
// with the given error number and message, without being executed.
// SQLSTATE is 42000, as for every Manticore error.
func (s *Manticore) FailNext(match string, number uint16, message string) {
	s.faults.failNext(match, number, message)
}

// Delay makes every statement whose text contains match (case-insensitive;
// "^" anchors match at the start, so "^FREEZE" leaves UNFREEZE alone) wait
// d before it runs; d <= 0 removes the delay. The delayed statement runs
// after the wait even if its client has closed the connection meanwhile,
// as on searchd: Delay("^FREEZE", 400*time.Millisecond) with a client
// deadline of 100 ms leaves the table frozen once the wait is over.
func (s *Manticore) Delay(match string, d time.Duration) { s.faults.delay(match, d) }

// Hold makes every statement whose text contains match (as for Delay)
// wait, before it runs, until release is called or the server closes: a
// deterministic Delay. Like a delayed one, a held statement runs when
// released even if its client has gone.
func (s *Manticore) Hold(match string) (release func()) { return s.faults.hold(match) }

// Held is how many statements wait on a Hold now: a test waits for it to
// know that a statement has reached the server before it acts.
func (s *Manticore) Held() int { return s.faults.waiting() }

// Blocked is how many statements wait on a freeze now (UPDATE, FLUSH
// RAMCHUNK, writes to disk chunks, an INSERT past rt_mem_limit): a test
// waits for it to know that a statement has reached the server and is
// blocked, with no timing. A statement no longer counted has been applied
// (or has failed). searchd itself shows no such thing: SHOW THREADS does not
// list statements waiting on a freeze (manticore.md §4.3).
func (s *Manticore) Blocked() int {
	s.eng.mu.Lock()
	defer s.eng.mu.Unlock()
	return s.eng.blocked
}

// DropConnections cuts every open client connection now. Statements being
// executed finish on the server (as they do on searchd).
func (s *Manticore) DropConnections() { s.srv.DropConnections() }

// Locked returns a table's freeze counter, read directly from the server's
// state (no SQL), and whether the table exists.
func (s *Manticore) Locked(table string) (int, bool) {
	s.eng.mu.Lock()
	defer s.eng.mu.Unlock()
	t := s.eng.tables[strings.ToLower(table)]
	if t == nil {
		return 0, false
	}
	return t.locked, true
}

// newSession is the server's mysqlwire.Handler: anyone may log in.
func (s *Manticore) newSession(mysqlwire.ConnInfo) (mysqlwire.Session, error) {
	return &mSession{s: s}, nil
}

type mSession struct {
	s        *Manticore
	warnings []warning
}

func (m *mSession) InitDB(db string) error {
	if db == "" || strings.EqualFold(db, "Manticore") {
		return nil
	}
	return &mysqlwire.Error{Code: 1046, State: "42000", Message: "no such database " + db}
}

func (m *mSession) Close() {}

// Query runs one statement. The statement's shape is recorded for the
// statement-coverage test (internal/shapecheck) before anything else.
//
// The statement runs to its end even when the client has gone: ctx ends
// only when the server closes, as searchd completes a statement whose
// connection was closed (issue 9 §2.C). An injected Delay therefore
// delays, and does not cancel, the statement.
func (m *mSession) Query(ctx context.Context, q mysqlwire.Query) (*mysqlwire.Result, error) {
	sqlshape.Record("manticore", q.SQL)
	if err := m.s.faults.before(ctx, q.SQL); err != nil {
		return nil, err
	}
	if p := newParser(q.SQL, manticoreLex); p.accept("SHOW") && p.accept("WARNINGS") && p.atEnd() {
		return m.showWarnings(), nil
	}
	res, warns, err := m.s.eng.exec(ctx, q.SQL)
	// A warning stays on its connection until a statement sets a new one:
	// clean FREEZEs, UNFREEZE, SHOW LOCKS, SHOW TABLE ... STATUS and failed
	// statements leave it in place (manticore-2.jsonl: the SHOW WARNINGS
	// after "UNFREEZE cap_rt", "FREEZE cap_pq" and "FREEZE cap_wf" still
	// return the warning of an earlier FREEZE). Other statements (SELECT,
	// INSERT, ...) are assumed to keep it too: no capture shows them.
	if len(warns) > 0 {
		m.warnings = warns
	}
	return res, err
}

// showWarnings answers SHOW WARNINGS: an OK packet (no result set) while
// no statement of the connection raised a warning (manticore-2.jsonl: the
// first "SHOW WARNINGS" on conn other; manticore.md §4.5), else the last
// warning raised, as Level/Code/Message with Code a DECIMAL
// (manticore-2.jsonl: "SHOW WARNINGS" after "FREEZE cap_rt, cap_dist,
// cap_nope").
func (m *mSession) showWarnings() *mysqlwire.Result {
	if len(m.warnings) == 0 {
		return &mysqlwire.Result{}
	}
	res := &mysqlwire.Result{Columns: charCols("Level", "Code", "Message")}
	res.Columns[1].Type = mysqlwire.TypeNewDecimal
	for _, w := range m.warnings {
		res.Rows = append(res.Rows, textRows([]string{"warning", fmt.Sprint(w.code), w.message})...)
	}
	return res
}
