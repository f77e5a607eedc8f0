package dbctltest

// Session and account statements of the recovery capture: CREATE / DROP
// ACCOUNT, SET time_zone, SET @var, PREPARE, now().

import (
	"strconv"
	"strings"
	"time"

	"github.com/dbctl/dbctl/internal/mysqlwire"
)

// createAccount: CREATE ACCOUNT [IF NOT EXISTS] name ADMIN_NAME 'u'
// IDENTIFIED BY 'pw' (rec 145; sys only, other sessions not captured).
func (m *moSession) createAccount(p *parser) (*mysqlwire.Result, *mysqlwire.Error) {
	ifNot := p.acceptSeq("IF", "NOT", "EXISTS")
	name, e := ident(p)
	if e != nil {
		return nil, e
	}
	if e := expect(p, "ADMIN_NAME"); e != nil {
		return nil, e
	}
	if p.peek().kind != tString {
		return nil, errHere(p)
	}
	admin := p.next().text
	if e := expect(p, "IDENTIFIED"); e != nil {
		return nil, e
	}
	if e := expect(p, "BY"); e != nil {
		return nil, e
	}
	if p.peek().kind != tString {
		return nil, errHere(p)
	}
	pw := p.next().text
	for !p.atEnd() { // COMMENT '...', OPEN: accepted and ignored
		p.next()
	}
	if !m.isSys() || !m.recAllowed() {
		return nil, moPrivErr
	}
	name = strings.ToLower(name)
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	if m.s.accounts[name] != nil {
		if ifNot {
			return &mysqlwire.Result{}, nil
		}
		return nil, moErr(20101, "internal error: the tenant %s exists", name) // not captured
	}
	a := &moAccount{name: name, id: m.s.nextAccountID, dbs: map[string]*moDB{},
		users: map[string]*moUser{admin: {name: admin, password: pw, role: "accountadmin"}}}
	m.s.nextAccountID++
	m.s.accounts[name] = a
	m.s.recordVersion(a)
	return &mysqlwire.Result{}, nil
}

// dropAccount: DROP ACCOUNT [IF EXISTS] name (rec 25, 356). Its snapshots
// go with it; the PITRs it made stay in sys's table (not captured).
func (m *moSession) dropAccount(p *parser) (*mysqlwire.Result, *mysqlwire.Error) {
	ifExists := p.acceptSeq("IF", "EXISTS")
	name, e := ident(p)
	if e != nil {
		return nil, e
	}
	if e := end(p); e != nil {
		return nil, e
	}
	if !m.isSys() || !m.recAllowed() {
		return nil, moPrivErr
	}
	name = strings.ToLower(name)
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	if m.s.accounts[name] == nil || name == "sys" {
		if ifExists {
			return &mysqlwire.Result{}, nil
		}
		return nil, moErr(20101, "internal error: there is no account %s", name) // not captured
	}
	delete(m.s.accounts, name)
	delete(m.s.rec.snapshots, name)
	m.s.recordGone(name)
	return &mysqlwire.Result{}, nil
}

// sessionZone is the zone of this session's DATETIME and TIMESTAMP text.
// Caller must not hold s.mu.
func (m *moSession) sessionZone() *time.Location {
	if m.rec.tz != nil {
		return m.rec.tz
	}
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	return m.s.rec.zone
}

// setVar handles "set time_zone = 'SYSTEM' | '+hh:mm'" (rec 249, 254), or
// a zone name (MatrixOne docs, System-Parameters/0.6-timezone.md: "the
// value can be given as a named time zone"; not captured), and "set @v =
// 'text'" (rec 288); other SETs go to the base emulation. The value is kept
// as given for select @@time_zone.
func (m *moSession) setVar(p *parser) (*mysqlwire.Result, *mysqlwire.Error, bool) {
	switch {
	case p.peek().is("time_zone"):
		p.next()
		if !p.acceptPunct('=') || p.peek().kind != tString {
			return nil, errHere(p), true
		}
		v := p.next().text
		if strings.EqualFold(v, "SYSTEM") {
			m.rec.tz, m.rec.tzName = nil, v
			return &mysqlwire.Result{}, nil, true
		}
		loc, ok := parseOffsetZone(v)
		if !ok {
			var err error
			if loc, err = time.LoadLocation(v); err != nil || v == "" || strings.EqualFold(v, "Local") {
				return nil, moErr(20101, "internal error: unknown time zone %s", v), true // not captured
			}
		}
		m.rec.tz, m.rec.tzName = loc, v
		return &mysqlwire.Result{}, nil, true
	case p.peek().isPunct('@') && p.toks[p.i+1].kind == tIdent:
		p.next()
		name := strings.ToLower(p.next().text)
		if !p.acceptPunct('=') || p.peek().kind != tString {
			return nil, errHere(p), true
		}
		if m.rec.vars == nil {
			m.rec.vars = map[string]string{}
		}
		m.rec.vars[name] = p.next().text
		return &mysqlwire.Result{}, nil, true
	}
	return nil, nil, false
}

// parseOffsetZone reads "+08:00" / "-05:30".
func parseOffsetZone(v string) (*time.Location, bool) {
	if len(v) != 6 || (v[0] != '+' && v[0] != '-') || v[3] != ':' {
		return nil, false
	}
	h, err1 := strconv.Atoi(v[1:3])
	mi, err2 := strconv.Atoi(v[4:6])
	if err1 != nil || err2 != nil || h > 14 || mi > 59 {
		return nil, false
	}
	off := h*3600 + mi*60
	if v[0] == '-' {
		off = -off
	}
	return time.FixedZone(v, off), true
}

// prepare: PREPARE name FROM @v. A RESTORE cannot be prepared; the server
// answers with its own rendering of the statement (rec 289). Other
// statements: not emulated.
func (m *moSession) prepare(p *parser) (*mysqlwire.Result, *mysqlwire.Error) {
	if _, e := ident(p); e != nil {
		return nil, e
	}
	if e := expect(p, "FROM"); e != nil {
		return nil, e
	}
	if !p.acceptPunct('@') {
		return nil, errHere(p)
	}
	v, e := ident(p)
	if e != nil {
		return nil, e
	}
	text := m.rec.vars[strings.ToLower(v)]
	ip := newParser(text, matrixOneLex)
	if ip.next().is("RESTORE") {
		if st, perr := parseRestore(ip); perr == nil && st.pitr != "" {
			return nil, moErr(20101, "internal error: statement: '%s'", st.render())
		}
	}
	return nil, moErr(20105, "not supported: dbctltest does not emulate PREPARE of %q", text)
}

// timeZoneVar is select @@time_zone: the session's time_zone as it was set,
// "SYSTEM" for a session that never set it (MatrixOne docs,
// System-Parameters/0.6-timezone.md; not captured).
func (m *moSession) timeZoneVar() string {
	if m.rec.tzName == "" {
		return "SYSTEM"
	}
	return m.rec.tzName
}

// fromUnixtime is from_unixtime(N): the wall clock of Unix second N in the
// session zone, whole seconds, DATETIME; NULL outside 0..32536771199
// (source pkg/sql/plan/function, FromUnixTimeInt64 and
// types.DatetimeFromUnix: Go's offset of the zone at that instant). Not
// captured.
func (m *moSession) fromUnixtime(arg token) mysqlwire.Value {
	n, err := strconv.ParseInt(arg.text, 10, 64)
	if arg.kind != tInt || err != nil || n < 0 || n > 32536771199 {
		return mysqlwire.Null
	}
	return mysqlwire.V(time.Unix(n, 0).In(m.sessionZone()).Format("2006-01-02 15:04:05"))
}

// nowText renders the server clock in the session zone, as select now()
// does: TIMESTAMP with microseconds (rec 252).
func (m *moSession) nowText() string {
	m.s.mu.Lock()
	now := m.s.tick()
	m.s.mu.Unlock()
	return now.In(m.sessionZone()).Format("2006-01-02 15:04:05.000000")
}
