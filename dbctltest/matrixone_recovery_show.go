package dbctltest

// SHOW: SNAPSHOTS and PITR with WHERE, RECOVERY_WINDOW, TABLES, DATABASES
// LIKE.

import (
	"sort"
	"strings"

	"github.com/dbctl/dbctl/internal/mysqlwire"
)

// show dispatches SHOW SNAPSHOTS | PITR [WHERE ...], SHOW RECOVERY_WINDOW,
// SHOW TABLES, SHOW DATABASES LIKE.
func (m *moSession) show(p *parser) (*mysqlwire.Result, *mysqlwire.Error) {
	var rel func() *relation
	switch {
	case p.accept("SNAPSHOTS"):
		rel = m.snapshotRelation
	case p.accept("PITR"):
		rel = m.pitrRelation
	case p.accept("RECOVERY_WINDOW"):
		return m.recoveryWindow(p)
	case p.accept("TABLES"):
		return m.showTables(p)
	case p.accept("DATABASES"):
		return m.showDatabases(p)
	default:
		return nil, moErr(20105, "not supported: dbctltest does not emulate %s", p.sql)
	}
	var where *whereExpr
	if p.accept("WHERE") {
		w, e := parseWhere(p)
		if e != nil {
			return nil, e
		}
		where = w
	}
	if e := end(p); e != nil { // no LIKE (rec 89)
		return nil, e
	}
	if !m.recAllowed() {
		return nil, moPrivErr // rec 194, 201
	}
	r, e := rel().filter(where)
	if e != nil {
		return nil, e
	}
	return &mysqlwire.Result{Columns: r.cols, Rows: r.rows}, nil
}

// recoveryWindow: SHOW RECOVERY_WINDOW FOR ACCOUNT [a] | DATABASE db |
// TABLE db t. One row per table that something covers (rec 244-248, 307);
// snapshot entries are the caller's snapshots of that account, PITR
// entries every PITR of the account covering the table, whoever made it
// (rec 307 lists sys's cap_p_acc1 for acc1).
func (m *moSession) recoveryWindow(p *parser) (*mysqlwire.Result, *mysqlwire.Error) {
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
	if t.level == "cluster" {
		return nil, syntaxAt(p, p.i-1) // no cluster form (md §1; not captured)
	}
	if !m.recAllowed() {
		return nil, moPrivErr
	}
	account := m.account.name
	if t.named {
		account = t.account
	}
	if !m.isSys() && account != m.account.name {
		return nil, recErr("only sys account can show other account's recovery window") // rec 308
	}
	res := &mysqlwire.Result{Columns: []mysqlwire.Column{varchar("RecoveryWindowLevel"), varchar("AccountName"),
		varchar("DatabaseName"), varchar("TableName"), {Name: "RecoveryWindows", Type: typeJSON, Length: 0xffffffff}}}
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	a := m.s.accounts[account]
	if a == nil {
		return res, nil
	}
	loc := m.s.rec.zone
	now := m.s.tick()
	var snaps []*moSnapshot
	if account == m.account.name {
		for _, sn := range m.s.rec.snapshots[account] {
			if sn.account == account {
				snaps = append(snaps, sn)
			}
		}
		sort.Slice(snaps, func(i, j int) bool { return snaps[i].ts.Before(snaps[j].ts) })
	}
	pitrs := append([]*moPITR(nil), m.s.rec.pitrs...)
	sort.SliceStable(pitrs, func(i, j int) bool { return pitrs[i].created.Before(pitrs[j].created) })
	for _, dbName := range sortedKeys(a.dbs) {
		if (t.level == "database" || t.level == "table") && dbName != t.db {
			continue
		}
		for _, tbl := range sortedKeys(a.dbs[dbName].tables) {
			if t.level == "table" && tbl != t.table {
				continue
			}
			var entries []string
			for _, sn := range snaps {
				entries = append(entries, "{'timestamp':'"+sn.ts.In(loc).String()+"', 'source':'snapshot', 'source_name':'"+sn.name+"'}")
			}
			for _, pt := range pitrs {
				if pt.name == reservedPITR || pt.account != account {
					continue
				}
				if (pt.level == "database" && pt.db != dbName) || (pt.level == "table" && (pt.db != dbName || pt.table != tbl)) || pt.level == "cluster" {
					continue
				}
				// start and end are wall clocks of the server process's zone:
				// MatrixOne pkg/frontend/show_recovery_window.go renders the
				// start with .Local() (getStartTimeOfRecoveryWindow) and the end
				// as time.Now() (getEndTimeOfRecoveryWindow); the fraction
				// digits are v4.2.0's (capture 244; the stored source prints
				// whole seconds).
				entries = append(entries, "{'start_time':'"+m.s.pitrValidFrom(pt, now).In(loc).Format("2006-01-02 15:04:05.999999999")+
					"', 'end_time':'"+now.In(loc).Format("2006-01-02 15:04:05.999999999")+"', 'source':'pitr', 'source_name':'"+pt.name+"'}")
			}
			if len(entries) == 0 {
				continue
			}
			res.Rows = append(res.Rows, []mysqlwire.Value{mysqlwire.V(t.level), mysqlwire.V(account), mysqlwire.V(dbName),
				mysqlwire.V(tbl), mysqlwire.V("[" + strings.Join(entries, ", ") + "]")})
		}
	}
	return res, nil
}

// showTables: SHOW TABLES FROM db (rec 106), sorted.
func (m *moSession) showTables(p *parser) (*mysqlwire.Result, *mysqlwire.Error) {
	dbName := m.db
	if p.accept("FROM") || p.accept("IN") {
		n, e := ident(p)
		if e != nil {
			return nil, e
		}
		dbName = strings.ToLower(n)
	}
	if e := end(p); e != nil {
		return nil, e
	}
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	db := m.account.dbs[dbName]
	if db == nil {
		return nil, moErr(1049, "Unknown database %s", dbName) // not captured
	}
	res := &mysqlwire.Result{Columns: []mysqlwire.Column{varchar("Tables_in_" + dbName)}}
	for _, n := range sortedKeys(db.tables) {
		res.Rows = append(res.Rows, []mysqlwire.Value{mysqlwire.V(n)})
	}
	return res, nil
}

// showDatabases: SHOW DATABASES LIKE 'pattern' (rec 156). Without LIKE the
// list would include the system databases: not captured, not emulated.
func (m *moSession) showDatabases(p *parser) (*mysqlwire.Result, *mysqlwire.Error) {
	if !p.accept("LIKE") || p.peek().kind != tString {
		return nil, moErr(20105, "not supported: dbctltest emulates only SHOW DATABASES LIKE 'pattern'")
	}
	pat := p.next().text
	if e := end(p); e != nil {
		return nil, e
	}
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	res := &mysqlwire.Result{Columns: []mysqlwire.Column{varchar("Database")}}
	names := sortedKeys(m.account.dbs)
	sort.Strings(names)
	for _, n := range names {
		if sqlLike(n, pat) {
			res.Rows = append(res.Rows, []mysqlwire.Value{mysqlwire.V(n)})
		}
	}
	return res, nil
}

// sqlLike is SQL LIKE: % any run, _ one character, case-sensitive.
func sqlLike(s, pat string) bool {
	if pat == "" {
		return s == ""
	}
	switch pat[0] {
	case '%':
		for i := 0; i <= len(s); i++ {
			if sqlLike(s[i:], pat[1:]) {
				return true
			}
		}
		return false
	case '_':
		return s != "" && sqlLike(s[1:], pat[1:])
	case '\\':
		if len(pat) > 1 {
			return s != "" && s[0] == pat[1] && sqlLike(s[1:], pat[2:])
		}
	}
	return s != "" && s[0] == pat[0] && sqlLike(s[1:], pat[1:])
}
