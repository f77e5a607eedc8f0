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
