package dbctltest

import (
	"strings"

	"github.com/dbctl/dbctl/internal/mysqlwire"
)

// RESTORE, both forms (md §1):
//
//	RESTORE {CLUSTER | ACCOUNT a | DATABASE [a.]db | TABLE [a.]db.t} {SNAPSHOT = name} [TO ACCOUNT b]
//	RESTORE [CLUSTER | ACCOUNT a [DATABASE db [TABLE t]] | DATABASE db [TABLE t]] FROM PITR name 'ts'
//
// The documented "FROM SNAPSHOT" form is a syntax error at SNAPSHOT (rec
// 92-96).

type restoreStmt struct {
	level           string // cluster, account, database, table; "" = own account (FROM PITR)
	account         string // the account named ("" when none)
	db, table       string
	snapshot        string
	toAccount       string
	pitr, ts        string
	hasTo, hasQuals bool
}

// render is the server's own text of a PITR restore, which it shows when
// refusing to prepare one (rec 289).
func (r restoreStmt) render() string {
	var b strings.Builder
	b.WriteString("restore")
	if r.level == "cluster" {
		b.WriteString(" cluster")
	}
	if r.account != "" {
		b.WriteString(" account " + r.account)
	}
	if r.db != "" {
		b.WriteString(" database " + r.db)
	}
	if r.table != "" {
		b.WriteString(" table " + r.table)
	}
	b.WriteString(" from pitr " + r.pitr + " timestamp = " + r.ts)
	return b.String()
}

func parseRestore(p *parser) (restoreStmt, *mysqlwire.Error) {
	var r restoreStmt
	lower := func(s string) string { return strings.ToLower(s) }
	switch {
	case p.accept("CLUSTER"):
		r.level = "cluster"
	case p.accept("ACCOUNT"):
		a, e := ident(p)
		if e != nil {
			return r, e
		}
		r.level, r.account = "account", lower(a)
		if p.accept("DATABASE") {
			if e := parseRestoreDB(p, &r); e != nil {
				return r, e
			}
			return r, parseTableFromPITR(p, &r)
		}
	case p.accept("DATABASE"):
		if e := parseRestoreDB(p, &r); e != nil {
			return r, e
		}
		if p.acceptPunct('.') {
			d2, e := ident(p)
			if e != nil {
				return r, e
			}
			r.account, r.db, r.hasQuals = r.db, lower(d2), true
		} else if p.peek().is("TABLE") {
			return r, parseTableFromPITR(p, &r)
		}
	case p.accept("TABLE"):
		parts := []string{}
		for {
			n, e := ident(p)
			if e != nil {
				return r, e
			}
			parts = append(parts, lower(n))
			if len(parts) == 3 || !p.acceptPunct('.') {
				break
			}
		}
		if len(parts) < 2 {
			return r, errHere(p)
		}
		r.level = "table"
		if len(parts) == 3 {
			r.account, parts, r.hasQuals = parts[0], parts[1:], true
		}
		r.db, r.table = parts[0], parts[1]
	case p.peek().is("FROM"):
		return r, parseFromPITR(p, &r)
	default:
		return r, errHere(p)
	}
	if p.peek().isPunct('{') {
		p.next()
		if e := expect(p, "SNAPSHOT"); e != nil {
			return r, e
		}
		if !p.acceptPunct('=') {
			return r, errHere(p)
		}
		t := p.next()
		if t.kind != tIdent && t.kind != tString {
			return r, syntaxAt(p, p.i-1)
		}
		r.snapshot = lower(t.text) // lower-cased even as a string (rec 140-142)
		if !p.acceptPunct('}') {
			return r, errHere(p)
		}
		if p.accept("TO") {
			if e := expect(p, "ACCOUNT"); e != nil {
				return r, e
			}
			a, e := ident(p)
			if e != nil {
				return r, e
			}
			r.toAccount, r.hasTo = lower(a), true
		}
		return r, end(p)
	}
	if r.hasQuals {
		return r, errHere(p)
	}
	return r, parseFromPITR(p, &r)
}

// parseRestoreDB reads the database name after DATABASE.
func parseRestoreDB(p *parser, r *restoreStmt) *mysqlwire.Error {
	d, e := ident(p)
	if e != nil {
		return e
	}
	r.level, r.db = "database", strings.ToLower(d)
	return nil
}

// parseTableFromPITR reads what follows DATABASE db in a PITR restore:
// [TABLE t] FROM PITR ...
func parseTableFromPITR(p *parser, r *restoreStmt) *mysqlwire.Error {
	if p.accept("TABLE") {
		t, e := ident(p)
		if e != nil {
			return e
		}
		r.level, r.table = "table", strings.ToLower(t)
	}
	return parseFromPITR(p, r)
}

// parseFromPITR reads FROM PITR name 'ts' [[AS] src]: the time must be a
// string (a number, TIMESTAMP '...' or {timestamp = ...} fail there, rec
// 272, 286-287).
func parseFromPITR(p *parser, r *restoreStmt) *mysqlwire.Error {
	if e := expect(p, "FROM"); e != nil {
		return e
	}
	if e := expect(p, "PITR"); e != nil {
		return e
	}
	n, e := ident(p)
	if e != nil {
		return e
	}
	r.pitr = strings.ToLower(n)
	if p.peek().kind != tString {
		return errHere(p)
	}
	r.ts = p.next().text
	p.accept("AS")
	if p.peek().kind == tIdent {
		p.next()
	}
	return end(p)
}

func (m *moSession) restore(p *parser) (*mysqlwire.Result, *mysqlwire.Error) {
	r, e := parseRestore(p)
	if e != nil {
		return nil, e
	}
	if !m.recAllowed() {
		return nil, moPrivErr // rec 199
	}
	if r.pitr != "" {
		return m.restorePITR(r)
	}
	return m.restoreSnapshot(r)
}

// restoreSnapshot checks and runs a snapshot restore; every refusal
// changes nothing (md §5).
func (m *moSession) restoreSnapshot(r restoreStmt) (*mysqlwire.Result, *mysqlwire.Error) {
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	own := m.account.name
	if (r.level == "database" || r.level == "table") && r.account != "" && r.account != own {
		return nil, recErr("can't restore database from other account's snapshot") // rec 138, 191
	}
	sn, e := m.findSnapshot(r.snapshot)
	if e != nil {
		return nil, e
	}
	// The tenant rules of source pkg/frontend/snapshot.go, checkRestorePriv
	// (rec 187-189): the snapshot is looked up first.
	if !m.isSys() {
		switch {
		case r.level == "cluster":
			return nil, recErr("non-sys account can't restore cluster level snapshot") // rec 187
		case r.level == "account" && r.account == "sys":
			return nil, recErr("non-sys account can't restore sys account") // rec 188
		case r.level == "account" && r.hasTo:
			return nil, recErr("non-sys account can't restore snapshot to another account") // rec 189
		}
	}
	switch r.level {
	case "cluster":
		if sn.level != "cluster" {
			return nil, recErr("snapshot %s is not cluster level snapshot", sn.name) // rec 129-130
		}
		// Every account goes back to the snapshot (md §1; never run on the
		// captured server, nor by any test here).
		for _, a := range m.s.accounts {
			a.dbs = copyDBs(orEmpty(m.s.stateAt(a.name, sn.ts)))
			m.s.recordVersion(a)
		}
		return &mysqlwire.Result{}, nil
	case "account":
		if sn.level == "database" || sn.level == "table" {
			return nil, recErr("can't restore account from db or table level snapshot") // rec 131-132
		}
		if sn.level == "account" && sn.account != r.account {
			return nil, recErr("accountName(%s) does not match snapshot.accountName(%s)", r.account, sn.account) // rec 133, 162
		}
		target := r.account
		if r.hasTo {
			if r.toAccount == "sys" && r.account != "sys" {
				return nil, recErr("non-sys account's snapshot can't restore to sys account") // rec 161
			}
			target = r.toAccount
		}
		a := m.s.accounts[target]
		if a == nil {
			return nil, recErr("account %s does not exist", target) // not captured
		}
		// The whole account: databases made since are dropped (rec 153-156).
		a.dbs = copyDBs(orEmpty(m.s.stateAt(r.account, sn.ts)))
		m.s.recordVersion(a)
		return &mysqlwire.Result{}, nil
	}
	// database or table: always into the caller's account; TO ACCOUNT is
	// ignored (rec 139, 159-160, 190; md §6.2).
	if systemDBs[r.db] {
		return nil, recErr("can't restore db: %s", r.db) // rec 137
	}
	switch {
	case sn.level == "cluster":
		// rec 136; the same text for a table (source checkRestorePriv)
		return nil, recErr("can't restore db from cluster level snapshot")
	case sn.account != own:
		// a snapshot sys took of another account (source checkRestorePriv;
		// not captured for a database or table)
		return nil, recErr("accountName(%s) does not match snapshot.accountName(%s)", own, sn.account)
	case sn.level == "table" && r.level == "database":
		return nil, recErr("can't restore db from table level snapshot") // rec 118
	case sn.level == "table" && r.table != sn.table:
		return nil, recErr("tableName(%s) does not match snapshot.tableName(%s)", r.table, sn.table) // rec 117, 135
	case (sn.level == "database" || sn.level == "table") && r.db != sn.db:
		return nil, recErr("databaseName(%s) does not match snapshot.databaseName(%s)", r.db, sn.db) // rec 134
	}
	from := m.s.stateAt(sn.account, sn.ts)
	if r.level == "table" && (from[r.db] == nil || from[r.db].tables[r.table] == nil) {
		// source pkg/frontend/snapshot.go, restoreToDatabaseOrTable (not captured)
		return nil, recErr("table %s not exists at snapshot %s", r.table, sn.name)
	}
	m.restoreObject(m.account, r, from)
	return &mysqlwire.Result{}, nil
}

// restoreObject replaces a database or a table of account a with its
// state in from (the account's databases at the restore time) and records
// the change. A database absent then is dropped (as an account restore
// drops the databases made since, rec 153-156; for a single database not
// captured); a dropped database comes back (rec 123).
func (m *moSession) restoreObject(a *moAccount, r restoreStmt, from map[string]*moDB) {
	src := from[r.db]
	if r.level == "database" {
		if src == nil {
			delete(a.dbs, r.db)
		} else {
			a.dbs[r.db] = copyDB(src) // replaced, not merged (rec 103-106)
		}
		m.s.recordVersion(a)
		return
	}
	dst := a.dbs[r.db]
	if dst == nil {
		dst = &moDB{name: r.db, tables: map[string]*moTable{}}
		a.dbs[r.db] = dst
	}
	if src == nil || src.tables[r.table] == nil {
		delete(dst.tables, r.table)
	} else {
		dst.tables[r.table] = copyTable(src.tables[r.table]) // rec 108-109
	}
	m.s.recordVersion(a)
}

func orEmpty(dbs map[string]*moDB) map[string]*moDB {
	if dbs == nil {
		return map[string]*moDB{}
	}
	return dbs
}
