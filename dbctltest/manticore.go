package dbctltest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dbctl/dbctl/internal/mysqlwire"
)

// Manticore is an embedded, in-process Manticore Search (RT mode) speaking
// the MySQL protocol on 127.0.0.1. It behaves like searchd 29.2.2 for the
// table-control statements (FREEZE, UNFREEZE, SHOW LOCKS, SHOW TABLE ...
// STATUS, FLUSH ..., OPTIMIZE, IMPORT TABLE) and for enough of the data
// statements (CREATE/DROP/TRUNCATE TABLE, INSERT, REPLACE, UPDATE, DELETE,
// SELECT by id, COUNT(*), SHOW TABLES) to put data in tables, including
// writers that block while a table is frozen. Tables are real files in
// DataDir. Any user name and password may log in, as on a real searchd
// without auth.
type Manticore struct {
	srv     *mysqlwire.Server
	eng     *mEngine
	dataDir string
	ownsDir bool
	faults  faults

	closeOnce sync.Once
	closeErr  error
}

// Option configures an embedded server.
type Option func(*config)

type config struct {
	addr    string
	dataDir string
}

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
	if s.eng, err = newEngine(real); err != nil {
		s.removeDir(dir)
		return nil, err
	}
	s.srv, err = mysqlwire.Listen(cfg.addr, mysqlwire.Config{ServerVersion: manticoreVersion, Handler: s})
	if err != nil {
		s.removeDir(dir)
		return nil, err
	}
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
		s.removeDir(s.dataDir)
	})
	return s.closeErr
}

// FailNext makes the next statement whose text contains match
// (case-insensitive) fail with the given error number and message, without
// being executed. SQLSTATE is 42000, as for every Manticore error.
func (s *Manticore) FailNext(match string, number uint16, message string) {
	s.faults.failNext(match, number, message)
}

// Delay makes every statement whose text contains match wait d before it
// runs; d <= 0 removes the delay.
func (s *Manticore) Delay(match string, d time.Duration) { s.faults.delay(match, d) }

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

// NewSession implements mysqlwire.Handler: anyone may log in.
func (s *Manticore) NewSession(mysqlwire.ConnInfo) (mysqlwire.Session, error) {
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

func (m *mSession) Query(ctx context.Context, q mysqlwire.Query) (*mysqlwire.Result, error) {
	if err := m.s.faults.before(ctx, q.SQL); err != nil {
		return nil, err
	}
	if p := newParser(q.SQL, manticoreLex); p.accept("SHOW") && p.accept("WARNINGS") {
		res := &mysqlwire.Result{Columns: charCols("Level", "Code", "Message")}
		res.Columns[1].Type = mysqlwire.TypeNewDecimal
		for _, w := range m.warnings {
			res.Rows = append(res.Rows, textRows([]string{"warning", fmt.Sprint(w.code), w.message})...)
		}
		return res, nil
	}
	res, warns, err := m.s.eng.exec(ctx, q.SQL)
	m.warnings = warns
	return res, err
}
