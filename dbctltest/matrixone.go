package dbctltest

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dbctl/dbctl/internal/mysqlwire"
	"github.com/dbctl/dbctl/internal/sqlshape"
)

// matrixOneVersion is @@version of the emulated server (MatrixOne v4.2.0).
const matrixOneVersion = "8.0.30-MatrixOne-v4.2.0"

// MatrixOne is an embedded, in-process MatrixOne speaking the MySQL protocol
// on 127.0.0.1. It has accounts, users and roles with real password checks
// (sys with root and dump, password 111, role moadmin, as a fresh server),
// the identity functions, a catalog of databases and tables, and
// select mo_ctl(...) with the answers, column metadata and error packets of
// MatrixOne v4.2.0, including the errno-0 ExpectedEOB packet and the
// privilege error for sessions that are not sys/moadmin.
type MatrixOne struct {
	srv    *mysqlwire.Server
	faults faults

	mu            sync.Mutex
	accounts      map[string]*moAccount
	nextAccountID uint32
	nextRelID     uint64

	// checkpointWork is how long a checkpoint takes on the TN; a timeout
	// parameter shorter than this fails with "context deadline exceeded".
	checkpointWork time.Duration

	// rec is the recovery state: snapshots, PITRs, history
	// (matrixone_recovery.go).
	rec *moRecovery

	closeOnce sync.Once
	closeErr  error
}

type moAccount struct {
	name  string
	id    uint32
	users map[string]*moUser
	dbs   map[string]*moDB
}

type moUser struct {
	name, password, role string
}

type moDB struct {
	name   string
	tables map[string]*moTable
}

type moTable struct {
	name  string
	relID uint64
	rows  int
	dirty bool // rows not yet flushed by the TN
	// cols and data are the table's columns and rows
	// (matrixone_recovery_data.go).
	cols []moCol
	data [][]mysqlwire.Value
}

// NewMatrixOne starts an embedded MatrixOne for a test and closes it when
// the test ends.
func NewMatrixOne(tb testing.TB, opts ...Option) *MatrixOne {
	tb.Helper()
	s, err := StartMatrixOne(opts...)
	if err != nil {
		tb.Fatalf("dbctltest: start MatrixOne: %v", err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// StartMatrixOne starts an embedded MatrixOne; the caller must Close it.
func StartMatrixOne(opts ...Option) (*MatrixOne, error) {
	cfg := newConfig(opts)
	s := &MatrixOne{
		faults:         faults{state: "HY000"},
		accounts:       map[string]*moAccount{},
		nextAccountID:  10001,
		nextRelID:      272450,
		checkpointWork: 2 * time.Millisecond,
		rec:            newRecovery(),
	}
	s.accounts["sys"] = &moAccount{name: "sys", id: 0, dbs: map[string]*moDB{}, users: map[string]*moUser{
		"root": {name: "root", password: "111", role: "moadmin"},
		"dump": {name: "dump", password: "111", role: "moadmin"},
	}}
	s.recordVersion(s.accounts["sys"])
	srv, err := mysqlwire.Listen(cfg.addr, mysqlwire.Config{ServerVersion: matrixOneVersion, Handler: mysqlwire.HandlerFunc(s.newSession)})
	if err != nil {
		return nil, err
	}
	s.srv = srv
	return s, nil
}

// DSN returns the DSN of sys root (password 111, role moadmin).
func (s *MatrixOne) DSN() string { return s.DSNFor("sys", "root", "111") }

// DSNFor returns the DSN of a user of an account. Users of other accounts
// log in as "account#user": "account:user" would be split by
// go-sql-driver's DSN parser at the first ':'.
func (s *MatrixOne) DSNFor(account, user, password string) string {
	login := user
	if account != "" && account != "sys" {
		login = account + "#" + user
	}
	return fmt.Sprintf("%s:%s@tcp(%s)/", login, password, s.srv.Addr())
}

// Addr returns host:port.
func (s *MatrixOne) Addr() string { return s.srv.Addr() }

// Close stops the server.
func (s *MatrixOne) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.srv.Close() })
	return s.closeErr
}

// CreateAccount creates an account with its admin user (role
// accountadmin), as CREATE ACCOUNT does.
func (s *MatrixOne) CreateAccount(name, admin, password string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	name = strings.ToLower(name)
	if s.accounts[name] != nil {
		return fmt.Errorf("dbctltest: account %s already exists", name)
	}
	s.accounts[name] = &moAccount{name: name, id: s.nextAccountID, dbs: map[string]*moDB{},
		users: map[string]*moUser{admin: {name: admin, password: password, role: "accountadmin"}}}
	s.nextAccountID++
	s.recordVersion(s.accounts[name])
	return nil
}

// CreateUser creates a user in an account with a default role (moadmin and
// public are the roles that matter for mo_ctl).
func (s *MatrixOne) CreateUser(account, user, password, role string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[strings.ToLower(account)]
	if a == nil {
		return fmt.Errorf("dbctltest: no account %s", account)
	}
	if a.users[user] != nil {
		return fmt.Errorf("dbctltest: user %s already exists in %s", user, account)
	}
	a.users[user] = &moUser{name: user, password: password, role: role}
	return nil
}

// HasAccount reports whether the account exists.
func (s *MatrixOne) HasAccount(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accounts[strings.ToLower(name)] != nil
}

// AccountID returns the id of an account (sys is 0), for
// FlushAccountTable.
func (s *MatrixOne) AccountID(name string) (uint32, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[strings.ToLower(name)]
	if a == nil {
		return 0, false
	}
	return a.id, true
}

// TableFlushed reports whether every row inserted into db.table of the sys
// account has been flushed (by mo_ctl flush or a checkpoint).
func (s *MatrixOne) TableFlushed(db, table string) (flushed, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.accounts["sys"].dbs[strings.ToLower(db)]
	if d == nil || d.tables[strings.ToLower(table)] == nil {
		return false, false
	}
	return !d.tables[strings.ToLower(table)].dirty, true
}

// FailNext makes the next statement whose text contains match
// (case-insensitive) fail with the given error number and message
// (SQLSTATE HY000, as MatrixOne's own errors).
func (s *MatrixOne) FailNext(match string, number uint16, message string) {
	s.faults.failNext(match, number, message)
}

// Delay makes every statement whose text contains match wait d first; d <= 0
// removes the delay.
func (s *MatrixOne) Delay(match string, d time.Duration) { s.faults.delay(match, d) }

// Hold makes every statement whose text contains match wait until release
// is called or the server closes (see Manticore.Hold).
func (s *MatrixOne) Hold(match string) (release func()) { return s.faults.hold(match) }

// Held reports how many statements wait on a Hold now.
func (s *MatrixOne) Held() int { return s.faults.waiting() }

// DropConnections cuts every open client connection now.
func (s *MatrixOne) DropConnections() { s.srv.DropConnections() }

func moErr(code uint16, format string, args ...any) *mysqlwire.Error {
	return &mysqlwire.Error{Code: code, State: "HY000", Message: fmt.Sprintf(format, args...)}
}

// expectedEOB is the errno-0 packet MatrixOne sends when flush cannot
// resolve a database or account.
var expectedEOB = &mysqlwire.Error{Code: 0, State: "00000", Message: "ExpectedEOB"}

// newSession checks the login: "user" (account sys), "account#user" or
// "account:user", optionally followed by "#role"/":role".
func (s *MatrixOne) newSession(info mysqlwire.ConnInfo) (mysqlwire.Session, error) {
	sep := "#"
	if !strings.Contains(info.User, "#") && strings.Contains(info.User, ":") {
		sep = ":"
	}
	parts := strings.Split(info.User, sep)
	account, user, role := "sys", parts[0], ""
	if len(parts) >= 2 {
		account, user = strings.ToLower(parts[0]), parts[1]
	}
	if len(parts) >= 3 {
		role = parts[2]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[account]
	if a == nil {
		return nil, moErr(20101, "internal error: there is no account %s", account)
	}
	u := a.users[user]
	if u == nil {
		return nil, moErr(20101, "internal error: there is no user %s", user)
	}
	if !info.CheckNativePassword(u.password) {
		return nil, moErr(20101, "internal error: check password failed")
	}
	if role == "" {
		role = u.role
	}
	return &moSession{s: s, account: a, user: u.name, role: role}, nil
}

type moSession struct {
	s       *MatrixOne
	account *moAccount
	user    string
	role    string
	db      string
	rec     recSession
}

func (m *moSession) InitDB(db string) error {
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	if m.account.dbs[strings.ToLower(db)] == nil {
		return &mysqlwire.Error{Code: 1049, State: "HY000", Message: "invalid database " + db}
	}
	m.db = strings.ToLower(db)
	return nil
}

func (m *moSession) Close() {}

// Query runs one statement. ctx is the server's, not the client's: a
// statement delayed or held by the faults, a RESTORE included, runs to the
// end after its client has gone, as MatrixOne v4.2.0 does (issue 18: a
// snapshot restore whose client gave up at 10 ms had landed three seconds
// later; the same for PITR restores).
func (m *moSession) Query(ctx context.Context, q mysqlwire.Query) (*mysqlwire.Result, error) {
	sqlshape.Record("matrixone", q.SQL) // for the statement-coverage test (internal/shapecheck)
	if err := m.s.faults.before(ctx, q.SQL); err != nil {
		return nil, err
	}
	res, err := m.exec(ctx, q)
	if err == nil {
		m.afterWrite(q.SQL)
	}
	return res, err
}

// varchar is MatrixOne's column for strings: VAR_STRING, charset 33, length
// 0xFFFFFFFF, no flags (go-sql-driver: "VARCHAR", nullable).
func varchar(name string) mysqlwire.Column {
	return mysqlwire.Column{Name: name, Type: mysqlwire.TypeVarString, Length: 0xffffffff}
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
