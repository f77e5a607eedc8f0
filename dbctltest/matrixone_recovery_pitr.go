package dbctltest

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dbctl/dbctl/internal/mysqlwire"
)

// PITR: CREATE / ALTER / DROP / SHOW PITR, mo_catalog.mo_pitr, SHOW
// RECOVERY_WINDOW, and SHOW's dispatch.

// reservedPITR is the PITR the server keeps on mo_catalog while any user
// PITR exists (md §6.6, source); CREATE refuses the name (rec 235), DROP of
// it succeeds (md §6.6) and SHOW PITR hides it (md §2).
const reservedPITR = "sys_mo_catalog_pitr"

// parseRange reads RANGE n 'unit': a bare integer and a string (rec
// 221-223, 228-229 fail at the token that is not).
func parseRange(p *parser) (string, string, *mysqlwire.Error) {
	if e := expect(p, "RANGE"); e != nil {
		return "", "", e
	}
	if p.peek().kind != tInt {
		return "", "", errHere(p)
	}
	n := p.next().text
	if p.peek().kind != tString {
		return "", "", errHere(p)
	}
	return n, p.next().text, nil
}

// checkRange applies the value and unit rules: 1-100 on CREATE, 0-100 on
// ALTER (rec 219-220, 230, 257-258), units h d mo y in any case (rec 210,
// 224-227, 256, 259).
func checkRange(n, unit string, min uint64) (uint64, string, *mysqlwire.Error) {
	v, err := strconv.ParseUint(n, 10, 64)
	if err != nil || v < min || v > 100 {
		return 0, "", recErr("invalid pitr value %s", n)
	}
	u := strings.ToLower(unit)
	switch u {
	case "h", "d", "mo", "y":
		return v, u, nil
	}
	return 0, "", recErr("invalid pitr unit %s", unit)
}

// findPITR returns the caller's PITR of that name (others' are invisible,
// rec 298-301). Caller holds s.mu.
func (m *moSession) findPITR(name string) *moPITR {
	for _, pt := range m.s.rec.pitrs {
		if pt.owner == m.account.name && pt.name == name {
			return pt
		}
	}
	return nil
}

// createPITR: CREATE PITR [IF NOT EXISTS] name [FOR target] RANGE n 'u'
// [INTERNAL]; no FOR is the own account (rec 218).
func (m *moSession) createPITR(p *parser) (*mysqlwire.Result, *mysqlwire.Error) {
	ifNot := p.acceptSeq("IF", "NOT", "EXISTS")
	raw, e := ident(p)
	if e != nil {
		return nil, e
	}
	t := snapshotTarget{level: "account"}
	if p.accept("FOR") {
		if t, e = parseForClause(p, true); e != nil {
			return nil, e
		}
	}
	n, unit, e := parseRange(p)
	if e != nil {
		return nil, e
	}
	p.accept("INTERNAL")
	if e := end(p); e != nil {
		return nil, e
	}
	if !m.recAllowed() {
		return nil, moPrivErr // rec 202
	}
	if strings.ContainsRune(raw, '`') {
		return nil, moInvalidInput // as for snapshots (rec 71); not captured for PITR
	}
	name := strings.ToLower(raw)
	if name == reservedPITR {
		return nil, recErr("pitr name is reserved") // rec 235
	}
	if !m.isSys() {
		switch {
		case t.level == "cluster":
			return nil, recErr("only sys tenant can create cluster level pitr") // rec 294
		case t.level == "account" && t.named:
			return nil, recErr("only sys tenant can create tenant level pitr for other tenant") // rec 295-296, even naming itself
		}
	}
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	if m.findPITR(name) != nil {
		if ifNot {
			return &mysqlwire.Result{}, nil // rec 212
		}
		return nil, recErr("pitr %s already exists", name) // rec 211, 236
	}
	length, u, e := checkRange(n, unit, 1)
	if e != nil {
		return nil, e
	}
	if e := m.checkObject(t, "pitr"); e != nil {
		return nil, e
	}
	account := m.account.name
	if t.named {
		account = t.account
	}
	if t.level == "cluster" {
		account = ""
	}
	for _, pt := range m.s.rec.pitrs {
		if pt.owner != m.account.name || pt.level != t.level || pt.name == reservedPITR {
			continue
		}
		switch {
		case t.level == "cluster":
			return nil, recErr("cluster level pitr already exists") // rec 215
		case t.level == "account" && pt.account == account:
			return nil, recErr("account `%s` already has a pitr", account) // rec 216-218
		case t.level == "database" && pt.account == account && pt.db == t.db:
			return nil, recErr("database `%s` already has a pitr", t.db) // rec 213, 293
		case t.level == "table" && pt.account == account && pt.db == t.db && pt.table == t.table:
			return nil, recErr("database `%s` table `%s` already has a pitr", t.db, t.table) // rec 209, 214, 237
		}
	}
	now := m.s.tick()
	pt := &moPITR{name: name, owner: m.account.name, ownerID: m.account.id, created: now, modified: now,
		level: t.level, account: account, db: t.db, table: t.table, length: length, unit: u}
	if a := m.s.accounts[account]; a != nil {
		pt.accountID = a.id
	}
	if m.findReserved() == nil {
		m.s.rec.pitrs = append(m.s.rec.pitrs, &moPITR{name: reservedPITR, owner: "sys", created: now, modified: now,
			level: "database", account: "sys", db: "mo_catalog", length: 1, unit: "h"})
	}
	m.s.rec.pitrs = append(m.s.rec.pitrs, pt)
	return &mysqlwire.Result{}, nil
}

func (m *moSession) findReserved() *moPITR {
	for _, pt := range m.s.rec.pitrs {
		if pt.name == reservedPITR {
			return pt
		}
	}
	return nil
}

// alterPITR: ALTER PITR [IF EXISTS] name RANGE n 'u' (rec 255-262).
func (m *moSession) alterPITR(p *parser) (*mysqlwire.Result, *mysqlwire.Error) {
	ifExists := p.acceptSeq("IF", "EXISTS")
	raw, e := ident(p)
	if e != nil {
		return nil, e
	}
	n, unit, e := parseRange(p)
	if e != nil {
		return nil, e
	}
	if e := end(p); e != nil {
		return nil, e
	}
	if !m.recAllowed() {
		return nil, moPrivErr
	}
	length, u, e := checkRange(n, unit, 0)
	if e != nil {
		return nil, e
	}
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	pt := m.findPITR(strings.ToLower(raw))
	if pt == nil {
		if ifExists {
			return &mysqlwire.Result{}, nil // rec 261
		}
		return nil, recErr("pitr %s does not exist", strings.ToLower(raw)) // rec 260, 299
	}
	pt.length, pt.unit, pt.modified = length, u, m.s.tick()
	return &mysqlwire.Result{}, nil
}

// dropPITR: DROP PITR [IF EXISTS] name [INTERNAL]. Privilege first (rec
// 203); the reserved PITR can be dropped by sys (md §6.6); the server drops
// its own PITR with the last user one (md §6.6, source).
func (m *moSession) dropPITR(p *parser) (*mysqlwire.Result, *mysqlwire.Error) {
	ifExists := p.acceptSeq("IF", "EXISTS")
	raw, e := ident(p)
	if e != nil {
		return nil, e
	}
	p.accept("INTERNAL")
	if e := end(p); e != nil {
		return nil, e
	}
	if !m.recAllowed() {
		return nil, moPrivErr
	}
	name := strings.ToLower(raw)
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	pt := m.findPITR(name)
	if pt == nil {
		if ifExists {
			return &mysqlwire.Result{}, nil
		}
		return nil, recErr("pitr %s does not exist", name) // rec 314, 316
	}
	users := 0
	kept := m.s.rec.pitrs[:0:0]
	for _, x := range m.s.rec.pitrs {
		if x != pt {
			kept = append(kept, x)
			if x.name != reservedPITR {
				users++
			}
		}
	}
	if users == 0 {
		kept = nil
	}
	m.s.rec.pitrs = kept
	return &mysqlwire.Result{}, nil
}

// HasReservedPITR reports whether the server's internal PITR on mo_catalog
// (sys_mo_catalog_pitr) exists: made with the first user PITR, gone with
// the last, and dropped by a "drop pitr sys_mo_catalog_pitr" that MatrixOne
// does not refuse (md §6.6).
func (s *MatrixOne) HasReservedPITR() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, pt := range s.rec.pitrs {
		if pt.name == reservedPITR {
			return true
		}
	}
	return false
}

// pitrValidFrom is the earliest time a PITR restores to:
// max(now - range, modified_time) (MatrixOne
// pkg/frontend/show_recovery_window.go, getStartTimeOfRecoveryWindow: the
// range is taken from now in UTC by addTimeSpan, "h" as hours, "d", "mo"
// and "y" by AddDate; rec 264 shows the creation time for a new PITR). now
// is the emulated clock, in UTC (tick).
func (s *MatrixOne) pitrValidFrom(pt *moPITR, now time.Time) time.Time {
	n, now := int(pt.length), now.UTC()
	var from time.Time
	switch pt.unit {
	case "h":
		from = now.Add(-time.Duration(n) * time.Hour)
	case "d":
		from = now.AddDate(0, 0, -n)
	case "mo":
		from = now.AddDate(0, -n, 0)
	default:
		from = now.AddDate(-n, 0, 0)
	}
	if pt.modified.After(from) {
		return pt.modified
	}
	return from
}

// myPITRs returns the caller's PITRs, newest created first, without the
// reserved one (rec 239, 297). Caller holds s.mu.
func (m *moSession) myPITRs() []*moPITR {
	var out []*moPITR
	for _, pt := range m.s.rec.pitrs {
		if pt.owner == m.account.name && pt.name != reservedPITR {
			out = append(out, pt)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].created.After(out[j].created) })
	return out
}

func star(s string) string {
	if s == "" {
		return "*"
	}
	return s
}

// pitrRelation is SHOW PITR: DATETIMEs in the session zone at whole
// seconds (rec 239, 250), "*" where not applicable, PITR_LENGTH UNSIGNED
// TINYINT.
func (m *moSession) pitrRelation() *relation {
	rel := &relation{cols: []mysqlwire.Column{varchar("PITR_NAME"), {Name: "CREATED_TIME", Type: typeDatetime, Length: 19},
		{Name: "MODIFIED_TIME", Type: typeDatetime, Length: 19}, varchar("PITR_LEVEL"), varchar("ACCOUNT_NAME"),
		varchar("DATABASE_NAME"), varchar("TABLE_NAME"), colUTiny("PITR_LENGTH"), varchar("PITR_UNIT")}}
	zone := m.sessionZone()
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	for _, pt := range m.myPITRs() {
		rel.rows = append(rel.rows, []mysqlwire.Value{mysqlwire.V(pt.name), mysqlwire.V(wholeSeconds(pt.created, zone)),
			mysqlwire.V(wholeSeconds(pt.modified, zone)), mysqlwire.V(pt.level), mysqlwire.V(star(pt.account)),
			mysqlwire.V(star(pt.db)), mysqlwire.V(star(pt.table)), mysqlwire.V(strconv.FormatUint(pt.length, 10)), mysqlwire.V(pt.unit)})
	}
	return rel
}

// moPITRRelation is mo_catalog.mo_pitr (rec 40, 243): every account's
// PITRs, including the reserved one, "" where not applicable.
func (m *moSession) moPITRRelation() *relation {
	rel := &relation{cols: []mysqlwire.Column{varchar("pitr_id"), varchar("pitr_name"), colUBigint("create_account"),
		colBigint("create_time"), colBigint("modified_time"), varchar("level"), colUBigint("account_id"),
		varchar("account_name"), varchar("database_name"), varchar("table_name"), colUBigint("obj_id"),
		colUTiny("pitr_length"), varchar("pitr_unit"), colUTiny("pitr_status"), colBigint("pitr_status_changed_time"), varchar("kind")}}
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	for i, pt := range m.s.rec.pitrs {
		ns := func(t time.Time) mysqlwire.Value { return mysqlwire.V(strconv.FormatInt(t.UnixNano(), 10)) }
		u := func(v uint64) mysqlwire.Value { return mysqlwire.V(strconv.FormatUint(v, 10)) }
		rel.rows = append(rel.rows, []mysqlwire.Value{mysqlwire.V(fakeUUID(pt.created.UnixNano(), i)), mysqlwire.V(pt.name),
			u(uint64(pt.ownerID)), ns(pt.created), ns(pt.modified), mysqlwire.V(pt.level), u(uint64(pt.accountID)),
			mysqlwire.V(pt.account), mysqlwire.V(pt.db), mysqlwire.V(pt.table), u(0), u(pt.length), mysqlwire.V(pt.unit),
			u(1), ns(pt.modified), mysqlwire.V("user")})
	}
	return rel
}
