package dbctltest

// SHOW RECOVERY_WINDOW.

import (
	"sort"
	"strings"
	"time"

	"github.com/dbctl/dbctl/internal/mysqlwire"
)

// recoveryWindow: SHOW RECOVERY_WINDOW FOR ACCOUNT [a] | DATABASE db |
// TABLE db t. One row per table that something covers (rec 244-248, 307);
// snapshot entries are the caller's snapshots of that account, PITR
// entries every PITR of the account covering the table, whoever made it
// (rec 307 lists sys's cap_p_acc1 for acc1); an entry is listed only when
// the table existed at the snapshot's time or at the start of the PITR's
// window (golden matrixone-recovery-2.jsonl: table "later", made after
// cap_rw_s1 and cap_rw_p1, lists only cap_rw_s2, at every level). Entries
// are snapshots by time, then PITRs by creation (rec 246; -2 rec 12).
//
// Rows come in the order the tables were made (-2 rec 11: t1, then later).
// A level-wide answer (database or account) is built as v4.2.0 builds it,
// wrongly: all its rows share one buffer, each table's list written over
// the start of it in turn, and each row is that buffer cut to the length
// of its own list, so every row shows the lists of the rows after it over
// its own start (-2 rec 11: t1's row is later's list, then the rest of
// t1's own, "[{s2}] {s2}, {p1}]"; rec 244 and 245: every row is a prefix
// of the last one, cut in the middle of an entry). This model fits all
// three captures; the stored MatrixOne source is of a later version and
// renders these values differently, so the rule rests on the captures.
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
	now := m.s.tick()
	var lists []string
	for _, tb := range m.windowTables(a, t) {
		entries := m.windowEntries(account, tb[0], tb[1], now)
		if len(entries) == 0 {
			continue
		}
		lists = append(lists, "["+strings.Join(entries, ", ")+"]")
		res.Rows = append(res.Rows, []mysqlwire.Value{mysqlwire.V(t.level), mysqlwire.V(account), mysqlwire.V(tb[0]), mysqlwire.V(tb[1]), {}})
	}
	for i, v := range overlaid(lists) {
		res.Rows[i][4] = mysqlwire.V(v)
	}
	return res, nil
}

// windowTables returns the (database, table) pairs a recovery window
// covers, in the order the tables were made. Caller holds s.mu.
func (m *moSession) windowTables(a *moAccount, t snapshotTarget) [][2]string {
	type tbl struct {
		db, name string
		id       uint64
	}
	var all []tbl
	for dbName, db := range a.dbs {
		if (t.level == "database" || t.level == "table") && dbName != t.db {
			continue
		}
		for name, tb := range db.tables {
			if t.level == "table" && name != t.table {
				continue
			}
			all = append(all, tbl{dbName, name, tb.relID})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].id < all[j].id })
	out := make([][2]string, len(all))
	for i, x := range all {
		out[i] = [2]string{x.db, x.name}
	}
	return out
}

// windowEntries renders one table's entries. Caller holds s.mu.
func (m *moSession) windowEntries(account, db, table string, now time.Time) []string {
	loc := m.s.rec.zone
	existed := func(at time.Time) bool {
		d := m.s.stateAt(account, at)[db]
		return d != nil && d.tables[table] != nil
	}
	var entries []string
	if account == m.account.name {
		var snaps []*moSnapshot
		for _, sn := range m.s.rec.snapshots[account] {
			if sn.account == account && existed(sn.ts) {
				snaps = append(snaps, sn)
			}
		}
		sort.Slice(snaps, func(i, j int) bool { return snaps[i].ts.Before(snaps[j].ts) })
		for _, sn := range snaps {
			entries = append(entries, "{'timestamp':'"+sn.ts.In(loc).String()+"', 'source':'snapshot', 'source_name':'"+sn.name+"'}")
		}
	}
	pitrs := append([]*moPITR(nil), m.s.rec.pitrs...)
	sort.SliceStable(pitrs, func(i, j int) bool { return pitrs[i].created.Before(pitrs[j].created) })
	for _, pt := range pitrs {
		if pt.name == reservedPITR || pt.account != account || pt.level == "cluster" ||
			(pt.level == "database" && pt.db != db) || (pt.level == "table" && (pt.db != db || pt.table != table)) {
			continue
		}
		from := m.s.pitrValidFrom(pt, now)
		if !existed(from) {
			continue
		}
		// start and end are wall clocks of the server process's zone:
		// MatrixOne pkg/frontend/show_recovery_window.go renders the start
		// with .Local() (getStartTimeOfRecoveryWindow) and the end as
		// time.Now() (getEndTimeOfRecoveryWindow); the fraction digits are
		// v4.2.0's (capture 244; the stored source prints whole seconds).
		entries = append(entries, "{'start_time':'"+from.In(loc).Format("2006-01-02 15:04:05.999999999")+
			"', 'end_time':'"+now.In(loc).Format("2006-01-02 15:04:05.999999999")+"', 'source':'pitr', 'source_name':'"+pt.name+"'}")
	}
	return entries
}

// overlaid returns the values of a level-wide answer: one buffer that each
// list is written over in turn from its start, and each row that buffer
// cut to its own list's length (see recoveryWindow).
func overlaid(lists []string) []string {
	var buf []byte
	for _, l := range lists {
		if len(l) > len(buf) {
			buf = append(buf, make([]byte, len(l)-len(buf))...)
		}
		copy(buf, l)
	}
	out := make([]string, len(lists))
	for i, l := range lists {
		out[i] = string(buf[:len(l)])
	}
	return out
}
