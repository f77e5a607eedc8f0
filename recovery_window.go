package dbctl

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// RecoveryWindow is one row of SHOW RECOVERY_WINDOW: what one table can be
// restored to.
type RecoveryWindow struct {
	// Level is the level asked for (account, database or table).
	Level                    Level
	Account, Database, Table string
	// Snapshots are the snapshots covering the table (Source "snapshot").
	Snapshots []WindowSource
	// PITRs are the PITR ranges covering the table (Source "pitr").
	PITRs []WindowSource
	// Raw is the RecoveryWindows value as the server sent it.
	Raw string
}

// WindowSource is one entry of a recovery window: a snapshot, restorable
// to its Timestamp, or a PITR, restorable to any time from Start to End.
// The fields of the other kind are zero.
type WindowSource struct {
	// Source is the entry's kind as the server names it: "snapshot" or
	// "pitr" (capture 244).
	Source string
	// Name is the snapshot's or PITR's name as the server stores it
	// (lower-cased).
	Name string

	// Timestamp is a snapshot's time to the nanosecond, in UTC. The server
	// sends it as Go's time.Time.String() with its numeric offset
	// ("2026-11-30 23:38:31.679045024 +0000 UTC", capture 244), which is
	// read by that offset, so the server's zone does not matter.
	Timestamp time.Time

	// Start is the earliest time a PITR restores to: the later of now
	// minus the PITR's range and its last change (creation or ALTER)
	// (MatrixOne pkg/frontend/show_recovery_window.go,
	// getStartTimeOfRecoveryWindow).
	//
	// End is the server's clock when SHOW RECOVERY_WINDOW ran
	// (getEndTimeOfRecoveryWindow; golden matrixone-recovery-2.jsonl: the
	// end_time is the time of the query), not the end of what the PITR
	// keeps: an active PITR goes on recording, so a restore to any time up
	// to the server's now is valid, a later one than End included (issue
	// 18). Only a time after the server's clock is refused ("is bigger than
	// now timestamp", matrixone-recovery.md §5).
	//
	// The server sends both as wall clocks of its process's zone, 0-9
	// fraction digits and no offset (capture 244); dbctl converts them to
	// instants with the zone's offset there (asked of the server, or
	// Options.MatrixOneTimeZone) and returns them in UTC, to the nanosecond
	// the server sent. A wall clock of the hour that repeats when the
	// clocks are turned back is read as the server itself would read it in
	// a restore (Go's time.Date in its zone).
	Start, End time.Time
}

// windowStmt is SHOW RECOVERY_WINDOW for t: level-wide, it lists a target's
// tables; for a table, it is that table's window.
func windowStmt(t Target, own bool) string { return "show recovery_window for " + t.forClause(own) }

// RecoveryWindow lists, per table of t, the snapshots and PITR ranges it can
// be restored from, as "show recovery_window for table `db` `tbl`" answers
// for each table (captures 246, 307; golden matrixone-recovery-2.jsonl).
//
// The per-table answers are used because the database- and account-level
// answers of MatrixOne v4.2.0 are wrong whenever they list more than one
// table: the tables' lists share one buffer, so every row but the last is
// overwritten by the rows after it (matrixone-recovery-2.jsonl: table t1's
// row lost a snapshot, listed another twice and is malformed; captures
// 244-245: rows cut in the middle of an entry). So for a database, and for
// the caller's own account, the level-wide statement ("show
// recovery_window for database `db`" / "for account") is sent only to list
// the tables, then the per-table statement once per table, all on one
// connection. For another account (sys only) no per-table form exists (it
// always means the session's own account): its account-level answer is used
// when it lists at most one table, and ErrNotSupported is returned when it
// lists more, since those rows cannot be trusted; log in as that account's
// admin instead.
//
// One window per table that something covers; tables nothing covers are not
// listed; an unknown database gives none (capture 248). Level is the level
// asked for. A cluster target is ErrInvalidArgument (there is no cluster
// form); a tenant asking for another account ErrPermissionDenied (capture
// 308). The list may name PITRs the caller cannot use (a PITR sys made for
// the account, capture 307). See WindowSource for what End means.
func (p *PITRs) RecoveryWindow(ctx context.Context, t Target) ([]RecoveryWindow, error) {
	op := "recovery window " + t.String()
	if t.Level == LevelCluster {
		return nil, opErr(op, ErrInvalidArgument, "SHOW RECOVERY_WINDOW has no cluster form", nil)
	}
	if err := t.Validate(); err != nil {
		return nil, opErr(op, nil, "", err)
	}
	own := true
	if t.Level == LevelAccount && t.Account != "" {
		var err error
		if own, _, err = p.c.resolveOwnAccount(ctx, op, t); err != nil {
			return nil, err
		}
	}
	var out []RecoveryWindow
	err := p.c.withConn(ctx, op, func(conn *sql.Conn) error {
		var err error
		if !own {
			out, err = p.otherAccountWindows(ctx, op, conn, t)
		} else {
			out, err = p.tableWindows(ctx, op, conn, t)
		}
		if err != nil || len(out) == 0 {
			return err
		}
		return p.c.zoneFor(ctx, op, conn, func(offs zoneOffsets) error {
			return windowInstants(ctx, offs, out)
		})
	})
	return out, err
}

// tableWindows lists t's tables (unless t is one) and asks each table's
// window.
func (p *PITRs) tableWindows(ctx context.Context, op string, conn *sql.Conn, t Target) ([]RecoveryWindow, error) {
	tables := [][2]string{{t.Database, t.Table}}
	if t.Level != LevelTable {
		list, err := p.c.query(ctx, conn, windowStmt(t, true))
		if err != nil {
			return nil, recoveryErr(op, err)
		}
		if tables, err = windowTables(list); err != nil {
			return nil, opErr(op, nil, "", err)
		}
	}
	var out []RecoveryWindow
	for _, tb := range tables {
		ans, err := p.c.query(ctx, conn, windowStmt(TableTarget(tb[0], tb[1]), true))
		if err != nil {
			return nil, recoveryErr(op, err)
		}
		ws, err := parseRecoveryWindows(ans)
		if err != nil {
			return nil, opErr(op, nil, "", err)
		}
		if len(ws) > 1 {
			return nil, opErr(op, ErrUnexpectedResult, fmt.Sprintf("%d rows for table %s.%s, want at most 1", len(ws), tb[0], tb[1]), nil)
		}
		for _, w := range ws {
			w.Level = t.Level
			out = append(out, w)
		}
	}
	return out, nil
}

// otherAccountWindows is the account-level answer for another account,
// trusted only when it lists at most one table (see RecoveryWindow).
func (p *PITRs) otherAccountWindows(ctx context.Context, op string, conn *sql.Conn, t Target) ([]RecoveryWindow, error) {
	ans, err := p.c.query(ctx, conn, windowStmt(t, false))
	if err != nil {
		return nil, recoveryErr(op, err)
	}
	if len(ans.rows) > 1 {
		tables, _ := windowTables(ans)
		return nil, opErr(op, ErrNotSupported, fmt.Sprintf("the server's account-level answer lists %d tables (%s), and MatrixOne v4.2.0 overwrites every row of such an answer but the last; the per-table form covers only the session's own account: ask as an admin of account %s", len(ans.rows), tableList(tables), t.Account), nil)
	}
	out, err := parseRecoveryWindows(ans)
	if err != nil {
		return nil, opErr(op, nil, "", err)
	}
	return out, nil
}

// windowTables reads the (database, table) pairs of a level-wide answer, in
// the server's order, each once. Only the name columns are read: the
// RecoveryWindows values of such an answer are not to be trusted.
func windowTables(t *textTable) ([][2]string, error) {
	dc, err := t.column("DatabaseName")
	if err != nil {
		return nil, err
	}
	tc, err := t.column("TableName")
	if err != nil {
		return nil, err
	}
	var out [][2]string
	seen := map[[2]string]bool{}
	for r := range t.rows {
		var k [2]string
		if k[0], err = t.text(r, dc); err != nil {
			return nil, err
		}
		if k[1], err = t.text(r, tc); err != nil {
			return nil, err
		}
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out, nil
}

func tableList(tables [][2]string) string {
	names := make([]string, len(tables))
	for i, tb := range tables {
		names[i] = tb[0] + "." + tb[1]
	}
	return strings.Join(names, ", ")
}

// windowInstants turns the PITR start and end wall clocks of ws into
// instants, reading each as the server reads a wall clock of its zone.
func windowInstants(ctx context.Context, offs zoneOffsets, ws []RecoveryWindow) error {
	var walls []int64
	for _, w := range ws {
		for _, p := range w.PITRs {
			walls = append(walls, p.Start.Unix(), p.End.Unix())
		}
	}
	if len(walls) == 0 {
		return nil
	}
	inst, err := serverReadsWall(ctx, offs, walls)
	if err != nil {
		return err
	}
	at := func(wall time.Time) time.Time {
		return time.Unix(inst[wall.Unix()], int64(wall.Nanosecond())).UTC()
	}
	for i := range ws {
		for j := range ws[i].PITRs {
			p := &ws[i].PITRs[j]
			p.Start, p.End = at(p.Start), at(p.End)
		}
	}
	return nil
}
