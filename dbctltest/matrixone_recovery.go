package dbctltest

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dbctl/dbctl/internal/mysqlwire"
)

// MatrixOne recovery: snapshots, PITR, RESTORE, SHOW RECOVERY_WINDOW, and
// the row storage and history they need. Every answer rests on a record of
// ../shared/reference/golden/matrixone-recovery.jsonl, cited as "rec N"
// (N counted from 0), on ../shared/reference/matrixone-recovery.md (§), or
// is marked "not captured" (and listed for the lead's unverified.txt).

// Column types the recovery statements answer with (protocol values; the
// names are go-sql-driver's DatabaseTypeName()).
const (
	typeTimestamp byte = 0x07 // TIMESTAMP: select now() (rec 252)
	typeDatetime  byte = 0x0c // DATETIME: SHOW PITR times (rec 239)
	typeJSON      byte = 0xf5 // JSON: SHOW RECOVERY_WINDOW (rec 244)
)

func colBigint(name string) mysqlwire.Column {
	return mysqlwire.Column{Name: name, Type: mysqlwire.TypeLongLong, Length: 20}
}
func colUBigint(name string) mysqlwire.Column {
	return mysqlwire.Column{Name: name, Type: mysqlwire.TypeLongLong, Flags: mysqlwire.FlagUnsigned, Length: 20}
}
func colUTiny(name string) mysqlwire.Column {
	return mysqlwire.Column{Name: name, Type: mysqlwire.TypeTiny, Flags: mysqlwire.FlagUnsigned, Length: 3}
}
func colInt(name string) mysqlwire.Column {
	return mysqlwire.Column{Name: name, Type: mysqlwire.TypeLong, Length: 11}
}

// moRecovery is the server-wide recovery state, guarded by MatrixOne.mu.
type moRecovery struct {
	// zone is the server process's time zone (SetTimeZone; UTC by default,
	// as the captured server, md header).
	zone *time.Location
	// last is the last instant handed out by tick.
	last time.Time
	// clockOffset is added to the real clock (SetClock).
	clockOffset time.Duration
	// snapshots by owning (creating) account, then name: each account sees
	// only its own (rec 157, 174-175, 185-186).
	snapshots map[string]map[string]*moSnapshot
	// pitrs live in one table in the sys account, each with the account
	// that created it (md §2 "SHOW PITR").
	pitrs []*moPITR
	// history of each account's databases, one version per change, for
	// snapshot and PITR restores.
	history map[string][]moVersion
}

type moSnapshot struct {
	name, owner               string
	ts                        time.Time
	level, account, db, table string
	objID                     uint64
}

type moPITR struct {
	name, owner               string
	ownerID                   uint32
	created, modified         time.Time
	level, account, db, table string
	accountID                 uint32
	length                    uint64
	unit                      string
}

type moVersion struct {
	ts  time.Time
	dbs map[string]*moDB // nil: the account did not exist
}

// recSession is the per-session state of the recovery statements.
type recSession struct {
	tz     *time.Location    // nil: SYSTEM (the server's zone)
	tzName string            // time_zone as set ("" = never set: SYSTEM)
	vars   map[string]string // user variables (set @v = '...', rec 288)
}

func newRecovery() *moRecovery {
	return &moRecovery{zone: time.UTC, snapshots: map[string]map[string]*moSnapshot{}, history: map[string][]moVersion{}}
}

// SetTimeZone sets the zone of the emulated server process: the zone of
// SYSTEM sessions (now(), SHOW PITR) and the zone RESTORE ... FROM PITR reads
// its timestamp in (md §7). Default UTC.
func (s *MatrixOne) SetTimeZone(loc *time.Location) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rec.zone = loc
}

// SetClock sets the emulated server's clock to t from now on; it then runs
// on with the real clock. Every time the server records or checks reads
// this clock: snapshots, PITRs, the row history PITR restores read, now(),
// SHOW RECOVERY_WINDOW, and the "bigger than now timestamp" check of
// RESTORE ... FROM PITR. The clock never runs backwards: set it back, and
// the server's times stand still until the clock passes the last one.
func (s *MatrixOne) SetClock(t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rec.clockOffset = time.Until(t)
}

// tick returns the server clock, strictly increasing so that a snapshot
// taken right after a change sees it. Caller holds s.mu.
//
// Its last nanosecond digit is never 0, so that the renderings that drop
// trailing zeros (SHOW SNAPSHOTS, recovery windows) always have nine
// fraction digits. A real clock's do not (capture 83: ".09098641"), which
// moves where the overwritten rows of a level-wide SHOW RECOVERY_WINDOW
// are cut (matrixone_recovery_window.go); one width makes the emulator's
// answers comparable with the capture's, times masked
// (golden matrixone-recovery-2.jsonl, whose times all have nine digits).
func (s *MatrixOne) tick() time.Time {
	now := time.Now().Add(s.rec.clockOffset).UTC().Round(0)
	if !now.After(s.rec.last) {
		now = s.rec.last.Add(time.Nanosecond)
	}
	for now.Nanosecond()%10 == 0 {
		now = now.Add(time.Nanosecond)
	}
	s.rec.last = now
	return now
}

// recordVersion stores the account's current databases. Caller holds s.mu.
func (s *MatrixOne) recordVersion(a *moAccount) {
	s.rec.history[a.name] = append(s.rec.history[a.name], moVersion{ts: s.tick(), dbs: copyDBs(a.dbs)})
}

// recordGone marks an account as dropped in its history.
func (s *MatrixOne) recordGone(name string) {
	s.rec.history[name] = append(s.rec.history[name], moVersion{ts: s.tick()})
}

// stateAt returns the account's databases at ts (nil if it had none).
func (s *MatrixOne) stateAt(account string, ts time.Time) map[string]*moDB {
	h := s.rec.history[account]
	i := sort.Search(len(h), func(i int) bool { return h[i].ts.After(ts) })
	if i == 0 {
		return nil
	}
	return h[i-1].dbs
}

func copyDBs(dbs map[string]*moDB) map[string]*moDB {
	out := make(map[string]*moDB, len(dbs))
	for k, d := range dbs {
		out[k] = copyDB(d)
	}
	return out
}

func copyDB(d *moDB) *moDB {
	nd := &moDB{name: d.name, tables: make(map[string]*moTable, len(d.tables))}
	for k, t := range d.tables {
		nd.tables[k] = copyTable(t)
	}
	return nd
}

// copyTable copies a table; rows are never changed in place (UPDATE builds
// new ones), so sharing them is safe, but the slice is new so that appends
// do not alias.
func copyTable(t *moTable) *moTable {
	nt := *t
	nt.data = append([][]mysqlwire.Value(nil), t.data...)
	return &nt
}

// moPrivErr is the answer to anyone but a sys moadmin or a tenant
// accountadmin, checked before anything else (rec 194-203, md §0).
var moPrivErr = moErr(20101, "internal error: do not have privilege to execute the statement")

func (m *moSession) recAllowed() bool {
	if m.account.name == "sys" {
		return strings.EqualFold(m.role, "moadmin")
	}
	return strings.EqualFold(m.role, "accountadmin")
}

func (m *moSession) isSys() bool { return m.account.name == "sys" }

// syntaxAt is MatrixOne's parser error for the token at index i: the column
// is where that token ends and "near" quotes the text from the end of the
// token before it (rec 62-66, 87, 89, 92-96, 143-144, 221-229, 262, 272,
// 286-287, 312, 317 all fit this rule).
func syntaxAt(p *parser, i int) *mysqlwire.Error {
	end := len(p.sql)
	if i+1 < len(p.toks) {
		end = trimBackSpace(p.sql, p.toks[i+1].pos)
	}
	if p.toks[i].kind == tEnd {
		end = len(p.sql)
	}
	prevEnd := trimBackSpace(p.sql, p.toks[i].pos)
	return &mysqlwire.Error{Code: 1064, State: "HY000", Message: "SQL parser error: You have an error in your SQL syntax; check the manual that corresponds to your MatrixOne server version for the right syntax to use. syntax error at line 1 column " + strconv.Itoa(end) + " near \"" + p.sql[prevEnd:] + "\";"}
}

func trimBackSpace(s string, i int) int {
	for i > 0 && (s[i-1] == ' ' || s[i-1] == '\t' || s[i-1] == '\n' || s[i-1] == '\r') {
		i--
	}
	return i
}

// errHere is the syntax error at the next token.
func errHere(p *parser) *mysqlwire.Error { return syntaxAt(p, p.i) }

// ident reads an identifier (bare or back-quoted) or fails at it.
func ident(p *parser) (string, *mysqlwire.Error) {
	if p.peek().kind != tIdent {
		return "", errHere(p)
	}
	return p.next().text, nil
}

// expect consumes keyword kw or fails at the next token.
func expect(p *parser, kw string) *mysqlwire.Error {
	if !p.accept(kw) {
		return errHere(p)
	}
	return nil
}

// end fails unless the statement is over.
func end(p *parser) *mysqlwire.Error {
	if !p.atEnd() {
		return errHere(p)
	}
	return nil
}

// moInvalidInput is the answer to a back-tick inside a snapshot name, also
// for DROP ... IF EXISTS (rec 12, 71).
var moInvalidInput = moErr(20101, "internal error: invalid input")

// systemDBs are the databases no snapshot or PITR may name (rec 58-61,
// 234 for the first three; the others are MatrixOne's other system
// databases, not captured).
var systemDBs = map[string]bool{"mo_catalog": true, "information_schema": true, "system": true,
	"system_metrics": true, "mysql": true, "mo_task": true, "mo_debug": true}

// recExec runs the statements of the recovery emulation; ok is false for
// the statements the base emulation answers.
func (m *moSession) recExec(ctx context.Context, kw token, p *parser, q mysqlwire.Query) (res *mysqlwire.Result, err error, ok bool) {
	wrap := func(r *mysqlwire.Result, e *mysqlwire.Error) (*mysqlwire.Result, error, bool) {
		if e != nil {
			return nil, e, true
		}
		return r, nil, true
	}
	switch {
	case kw.is("CREATE"):
		switch {
		case p.accept("SNAPSHOT"):
			return wrap(m.createSnapshot(p))
		case p.accept("PITR"):
			return wrap(m.createPITR(p))
		case p.accept("TABLE"):
			return wrap(m.createTableCols(p))
		case p.accept("ACCOUNT"):
			return wrap(m.createAccount(p))
		}
	case kw.is("DROP"):
		switch {
		case p.accept("SNAPSHOT"):
			return wrap(m.dropSnapshot(p))
		case p.accept("PITR"):
			return wrap(m.dropPITR(p))
		case p.accept("ACCOUNT"):
			return wrap(m.dropAccount(p))
		}
	case kw.is("ALTER") && p.accept("PITR"):
		return wrap(m.alterPITR(p))
	case kw.is("RESTORE"):
		return wrap(m.restore(p))
	case kw.is("SHOW"):
		return wrap(m.show(p))
	case kw.is("INSERT"):
		return wrap(m.insertRows(p))
	case kw.is("DELETE"):
		return wrap(m.deleteRows(p))
	case kw.is("UPDATE"):
		return wrap(m.updateRows(p))
	case kw.is("SELECT"):
		if r, e, handled := m.selectRows(p); handled {
			return wrap(r, e)
		}
		p.i = 1
	case kw.is("SET"):
		if r, e, handled := m.setVar(p); handled {
			return wrap(r, e)
		}
		p.i = 1
	case kw.is("PREPARE"):
		return wrap(m.prepare(p))
	case kw.is("BACKUP"):
		// BACKUP is for the sys account only (rec 309; md §1, source
		// pkg/frontend/authenticate.go). Not emulated for sys: it would
		// write a full backup (not captured).
		if !m.isSys() || !m.recAllowed() {
			return nil, moPrivErr, true
		}
		return nil, moErr(20105, "not supported: dbctltest does not emulate BACKUP"), true
	}
	p.i = 1
	return nil, nil, false
}

// afterWrite records a new version of the session's account after a
// statement that may have changed its databases.
func (m *moSession) afterWrite(sql string) {
	p := newParser(sql, matrixOneLex)
	kw := p.next()
	if !(kw.is("CREATE") || kw.is("DROP") || kw.is("INSERT") || kw.is("DELETE") || kw.is("UPDATE") || kw.is("TRUNCATE")) {
		return
	}
	if p.peek().is("SNAPSHOT") || p.peek().is("PITR") || p.peek().is("ACCOUNT") {
		return
	}
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	if m.s.accounts[m.account.name] == m.account {
		m.s.recordVersion(m.account)
	}
}

// wholeSeconds renders a time as MatrixOne renders DATETIME values and the
// times in its messages: whole seconds (rec 239, 264).
func wholeSeconds(t time.Time, loc *time.Location) string {
	return t.In(loc).Format("2006-01-02 15:04:05")
}

func recErr(format string, args ...any) *mysqlwire.Error {
	return moErr(20101, "internal error: "+format, args...)
}
