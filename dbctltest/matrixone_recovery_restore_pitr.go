package dbctltest

// RESTORE ... FROM PITR.

import (
	"time"

	"github.com/dbctl/dbctl/internal/mysqlwire"
)

// restorePITR checks a PITR restore in the server's order (md §5 "check
// order"): privilege (done), the time's format, the PITR, level and
// ownership, the time window; then restores the object's state at that
// time from the history.
func (m *moSession) restorePITR(r restoreStmt) (*mysqlwire.Result, *mysqlwire.Error) {
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	loc := m.s.rec.zone
	// Parsed in the server process's zone, whatever the session's (md §7),
	// with Go's time.Parse message on failure (rec 267-271).
	at, err := time.ParseInLocation("2006-01-02 15:04:05", r.ts, loc)
	if err != nil {
		return nil, moErr(1105, "%s", err.Error())
	}
	own := m.account.name
	if r.account != "" {
		switch {
		case !m.isSys() && (r.account != own || r.level == "account"):
			// a tenant may not name another account, nor itself for a whole
			// account restore (rec 303-304); naming itself with a database
			// is accepted (rec 306).
			return nil, recErr("account %s is not allowed to restore other account %s", own, r.account)
		case r.account != own && r.level != "account":
			return nil, recErr("account %s is not allowed to restore database %s", r.account, r.db) // md §5 (CLI run)
		}
	}
	pt := m.findPITR(r.pitr)
	if pt == nil {
		return nil, recErr("pitr %s does not exist", r.pitr) // rec 273, 301
	}
	restoreLevel := r.level
	if restoreLevel == "" {
		restoreLevel = "account"
	}
	if e := m.checkPITRLevel(pt, r, restoreLevel); e != nil {
		return nil, e
	}
	target := own
	if restoreLevel == "account" && r.account != "" {
		target = r.account
	}
	if systemDBs[r.db] {
		return nil, recErr("database %s can not be restore", r.db) // rec 285
	}
	// Go's UnixNano wraps past 2262, as the server's does (rec 265: 2999
	// became 1829).
	wrapped := time.Unix(0, at.UnixNano())
	now := m.s.tick()
	valid := m.s.pitrValidFrom(pt, now)
	if wrapped.Before(valid) {
		return nil, recErr("input timestamp %s is less than the pitr valid time %s", wholeSeconds(wrapped, loc), wholeSeconds(valid, loc)) // rec 264
	}
	if wrapped.After(now) {
		return nil, recErr("input timestamp %s is bigger than now timestamp %s", wholeSeconds(wrapped, loc), wholeSeconds(now, loc)) // md §5
	}
	switch restoreLevel {
	case "cluster":
		for _, a := range m.s.accounts {
			a.dbs = copyDBs(orEmpty(m.s.stateAt(a.name, wrapped)))
			m.s.recordVersion(a)
		}
	case "account":
		a := m.s.accounts[target]
		if a == nil {
			return nil, recErr("account %s does not exist", target) // not captured
		}
		a.dbs = copyDBs(orEmpty(m.s.stateAt(target, wrapped))) // md §7: cap_adb2 gone
		m.s.recordVersion(a)
	default:
		m.restoreObject(m.account, r, m.s.stateAt(own, wrapped))
	}
	return &mysqlwire.Result{}, nil
}

// checkPITRLevel applies the level and ownership rules of source
// pkg/frontend/pitr.go, checkPitrValidOrNot; the texts the capture saw are
// cited, the others are the source's (not captured). Caller holds s.mu.
func (m *moSession) checkPITRLevel(pt *moPITR, r restoreStmt, level string) *mysqlwire.Error {
	own, db, tbl := m.account.name, r.db, r.table
	otherAccount := pt.level == "account" && pt.account != own
	switch level {
	case "cluster":
		if pt.level != "cluster" {
			return recErr("restore level %s is not allowed for cluster restore", pt.level) // rec 284, 302
		}
		if !m.isSys() {
			return recErr("account %s is not allowed to restore cluster level pitr %s", own, pt.name)
		}
	case "account":
		if r.account == "" { // the own account: "restore from pitr"
			switch {
			case pt.level == "database" || pt.level == "table":
				return recErr("restore level %s is not allowed for account restore", pt.level)
			case otherAccount:
				return recErr("pitr %s is not allowed to restore account %s", pt.name, own)
			case pt.level == "cluster" && !m.isSys():
				return recErr("account %s is not allowed to restore cluster level pitr %s", own, pt.name)
			}
			return nil
		}
		switch {
		case pt.level == "cluster":
			return recErr("source account %s can not be empty when restore cluster level pitr %s", r.account, pt.name)
		case pt.level == "database" || pt.level == "table":
			return recErr("can not restore database or table level pitr %s with source account %s", pt.name, r.account)
		case pt.account != r.account:
			return recErr("pitr %s is not allowed to restore account %s", pt.name, r.account) // not in the source either
		}
	case "database":
		switch {
		case pt.level == "table":
			return recErr("restore level table is not allowed for database restore") // rec 278
		case otherAccount:
			return recErr("pitr %s is not allowed to restore account %s database %s", pt.name, own, db)
		case pt.level == "database" && pt.db != db:
			return recErr("pitr %s is not allowed to restore database %s", pt.name, db)
		}
	case "table":
		switch {
		case otherAccount:
			return recErr("pitr %s is not allowed to restore account %s database %s table %s", pt.name, own, db, tbl)
		case pt.level == "database" && pt.db != db:
			return recErr("pitr %s is not allowed to restore database %s table %s", pt.name, db, tbl)
		case pt.level == "table" && (pt.db != db || pt.table != tbl):
			return recErr("pitr %s is not allowed to restore table %s.%s", pt.name, db, tbl) // rec 277
		}
	}
	return nil
}
