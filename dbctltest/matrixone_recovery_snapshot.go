package dbctltest

import (
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/dbctl/dbctl/internal/mysqlwire"
)

// Snapshots: CREATE / DROP / SHOW SNAPSHOTS, RESTORE ... {SNAPSHOT = name},
// SELECT from mo_catalog.mo_snapshots (md §1-§5).

// snapshotTarget is the object clause of CREATE SNAPSHOT / PITR and SHOW
// RECOVERY_WINDOW.
type snapshotTarget struct {
	level, account, db, table string
	named                     bool // FOR ACCOUNT name (not the own account)
}

// parseForClause reads CLUSTER | ACCOUNT [name] | DATABASE db [TABLE t]
// (dbTable: the PITR form, rec 209-210) | TABLE db t (two identifiers, rec
// 51; "db.t" fails at the dot, rec 63).
func parseForClause(p *parser, dbTable bool) (snapshotTarget, *mysqlwire.Error) {
	var t snapshotTarget
	switch {
	case p.accept("CLUSTER"):
		t.level = "cluster"
	case p.accept("ACCOUNT"):
		t.level = "account"
		if p.peek().kind == tIdent && !p.peek().is("RANGE") {
			t.account, t.named = strings.ToLower(p.next().text), true
		}
	case p.accept("DATABASE"):
		n, e := ident(p)
		if e != nil {
			return t, e
		}
		t.level, t.db = "database", strings.ToLower(n)
		if dbTable && p.accept("TABLE") {
			n, e := ident(p)
			if e != nil {
				return t, e
			}
			t.level, t.table = "table", strings.ToLower(n)
		}
	case p.accept("TABLE"):
		d, e := ident(p)
		if e != nil {
			return t, e
		}
		n, e := ident(p)
		if e != nil {
			return t, e
		}
		t.level, t.db, t.table = "table", strings.ToLower(d), strings.ToLower(n)
	default:
		return t, errHere(p)
	}
	return t, nil
}

// checkObject verifies the object of a snapshot or PITR exists. what is
// "snapshot" or "pitr" for the system-object messages (rec 55-61,
// 231-234). Caller holds s.mu.
func (m *moSession) checkObject(t snapshotTarget, what string) *mysqlwire.Error {
	switch t.level {
	case "account":
		if t.named && m.s.accounts[t.account] == nil {
			return recErr("account %s does not exist", t.account)
		}
	case "database", "table":
		if systemDBs[t.db] {
			if t.level == "table" {
				return recErr("can not create pitr for system table %s.%s", t.db, t.table) // rec 60 (sic)
			}
			if what == "pitr" {
				return recErr("can not create pitr for current database %s", t.db) // rec 234
			}
			return recErr("can not create snapshot for system database %s", t.db) // rec 58
		}
		d := m.account.dbs[t.db]
		if d == nil {
			return recErr("database %s does not exist", t.db)
		}
		if t.level == "table" && d.tables[t.table] == nil {
			return recErr("table %s.%s does not exist", t.db, t.table)
		}
	}
	return nil
}

// createSnapshot: CREATE SNAPSHOT [IF NOT EXISTS] name FOR target. Checks
// in the order the captures show: privilege (rec 195), the tenant's level
// rules before the duplicate name (rec 171-173 reuse the taken cap_a_bad),
// the object, then the name. The stored name is cut to 64 characters, so a
// second create of a long name collides on the cut one (rec 72-73).
func (m *moSession) createSnapshot(p *parser) (*mysqlwire.Result, *mysqlwire.Error) {
	ifNot := p.acceptSeq("IF", "NOT", "EXISTS")
	raw, e := ident(p)
	if e != nil {
		return nil, e
	}
	if e := expect(p, "FOR"); e != nil {
		return nil, e
	}
	t, e := parseForClause(p, false)
	if e != nil {
		return nil, e
	}
	if e := end(p); e != nil {
		return nil, e
	}
	if !m.recAllowed() {
		return nil, moPrivErr
	}
	if strings.ContainsRune(raw, '`') {
		return nil, moInvalidInput
	}
	name := strings.ToLower(raw)
	if !m.isSys() {
		switch {
		case t.level == "cluster":
			return nil, recErr("only sys tenant can create cluster level snapshot")
		case t.level == "account" && t.named && t.account != m.account.name:
			return nil, recErr("only sys tenant can create tenant level snapshot for other tenant")
		}
	}
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	if e := m.checkObject(t, "snapshot"); e != nil {
		return nil, e
	}
	mine := m.s.rec.snapshots[m.account.name]
	if mine == nil {
		mine = map[string]*moSnapshot{}
		m.s.rec.snapshots[m.account.name] = mine
	}
	if mine[name] != nil {
		if ifNot {
			return &mysqlwire.Result{}, nil // rec 54
		}
		return nil, recErr("snapshot %s already exists", name) // rec 52-53, 80-82
	}
	stored := name
	if utf8.RuneCountInString(stored) > 64 {
		stored = string([]rune(stored)[:64])
		if mine[stored] != nil {
			return nil, moErr(1062, "Duplicate entry '%s' for key 'sname'", stored) // rec 73
		}
	}
	sn := &moSnapshot{name: stored, owner: m.account.name, ts: m.s.tick(), level: t.level}
	switch t.level {
	case "cluster":
		sn.objID = math.MaxUint64 // rec 90
	case "account":
		sn.account = m.account.name
		if t.named {
			sn.account = t.account
		}
		sn.objID = uint64(m.s.accounts[sn.account].id)
	case "database":
		sn.account, sn.db = m.account.name, t.db
	case "table":
		sn.account, sn.db, sn.table = m.account.name, t.db, t.table
		sn.objID = m.account.dbs[t.db].tables[t.table].relID
	}
	mine[stored] = sn
	return &mysqlwire.Result{}, nil
}

// dropSnapshot: DROP SNAPSHOT [IF EXISTS] name. Privilege before IF EXISTS
// (rec 198), a back-tick refused even with IF EXISTS (rec 12), only the
// caller's own snapshots (rec 192-193), the exact stored name (rec 77).
func (m *moSession) dropSnapshot(p *parser) (*mysqlwire.Result, *mysqlwire.Error) {
	ifExists := p.acceptSeq("IF", "EXISTS")
	raw, e := ident(p)
	if e != nil {
		return nil, e
	}
	if e := end(p); e != nil {
		return nil, e
	}
	if !m.recAllowed() {
		return nil, moPrivErr
	}
	if strings.ContainsRune(raw, '`') {
		return nil, moInvalidInput
	}
	name := strings.ToLower(raw)
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	mine := m.s.rec.snapshots[m.account.name]
	if mine[name] == nil {
		if ifExists {
			return &mysqlwire.Result{}, nil
		}
		return nil, recErr("snapshot %s does not exist", name)
	}
	delete(mine, name)
	return &mysqlwire.Result{}, nil
}

// snapshotRelation is SHOW SNAPSHOTS: six VARCHARs, newest first, the
// timestamp as UTC text with the fraction's trailing zeros dropped (rec
// 83), "" where a level has no account/database/table.
func (m *moSession) snapshotRelation() *relation {
	rel := &relation{cols: []mysqlwire.Column{varchar("SNAPSHOT_NAME"), varchar("TIMESTAMP"), varchar("SNAPSHOT_LEVEL"),
		varchar("ACCOUNT_NAME"), varchar("DATABASE_NAME"), varchar("TABLE_NAME")}}
	for _, sn := range m.mySnapshots() {
		rel.rows = append(rel.rows, []mysqlwire.Value{mysqlwire.V(sn.name), mysqlwire.V(sn.ts.UTC().Format("2006-01-02 15:04:05.999999999")),
			mysqlwire.V(sn.level), mysqlwire.V(sn.account), mysqlwire.V(sn.db), mysqlwire.V(sn.table)})
	}
	return rel
}

// mySnapshots returns the session account's snapshots, newest first.
func (m *moSession) mySnapshots() []*moSnapshot {
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	var out []*moSnapshot
	for _, sn := range m.s.rec.snapshots[m.account.name] {
		out = append(out, sn)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ts.After(out[j].ts) })
	return out
}

// moSnapshotsRelation is mo_catalog.mo_snapshots of the session's account
// (rec 39, 90; tenants see their own, rec 175).
func (m *moSession) moSnapshotsRelation() *relation {
	rel := &relation{cols: []mysqlwire.Column{varchar("snapshot_id"), varchar("sname"), colBigint("ts"), varchar("level"),
		varchar("account_name"), varchar("database_name"), varchar("table_name"), colUBigint("obj_id"), varchar("kind")}}
	for i, sn := range m.mySnapshots() {
		rel.rows = append(rel.rows, []mysqlwire.Value{mysqlwire.V(fakeUUID(sn.ts.UnixNano(), i)), mysqlwire.V(sn.name),
			mysqlwire.V(strconv.FormatInt(sn.ts.UnixNano(), 10)), mysqlwire.V(sn.level), mysqlwire.V(sn.account),
			mysqlwire.V(sn.db), mysqlwire.V(sn.table), mysqlwire.V(strconv.FormatUint(sn.objID, 10)), mysqlwire.V("user")})
	}
	return rel
}

func fakeUUID(a int64, b int) string {
	h := strconv.FormatUint(uint64(a)^uint64(b)<<32, 16)
	for len(h) < 32 {
		h = "0" + h
	}
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// findSnapshot returns the caller's snapshot of that name or the "find 0"
// error (rec 125-128, 158, 185-186). Caller holds s.mu.
func (m *moSession) findSnapshot(name string) (*moSnapshot, *mysqlwire.Error) {
	sn := m.s.rec.snapshots[m.account.name][strings.ToLower(name)]
	if sn == nil {
		return nil, recErr("find 0 snapshot records by name(%s), expect only 1", strings.ToLower(name))
	}
	return sn, nil
}
