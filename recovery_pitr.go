package dbctl

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/dbctl/dbctl/internal/sqllit"
)

// PITRs manages MatrixOne point-in-time recovery: CREATE / SHOW / ALTER /
// DROP PITR, RESTORE ... FROM PITR and SHOW RECOVERY_WINDOW. The privilege
// and visibility rules are those of Snapshots (captures 201-203, 298-301).
//
// Times: SHOW PITR renders DATETIMEs in the session time zone (captures
// 239, 250), so it runs with the session at '+00:00' and its times come
// back in UTC; RESTORE reads its timestamp in the server process's zone,
// whatever the session's (matrixone-recovery.md §7), so each restore time
// is converted with that zone's offset at that instant (recovery_zone.go,
// Options.MatrixOneTimeZone). A session zone dbctl sets is put back after the
// operation: a connection of the application's pool keeps the zone the
// application gave it. The client's own time.Local plays no part. Safe for
// concurrent use.
//
// Create, Alter, Drop and Restore change state: when one was sent and no
// answer came (the caller's context ended, the connection broke), the
// error wraps ErrOutcomeUnknown, as MatrixOne goes on with a statement
// whose client has left (recovery_outcome.go).
type PITRs struct {
	c *Client
}

// PITR is one row of SHOW PITR.
type PITR struct {
	// Name as the server stores it: lower-cased (capture 239).
	Name string
	// Created and Modified are whole seconds (the server rounds them), in
	// UTC.
	Created, Modified time.Time
	Level             Level
	// Account is the covered account ("" for a cluster PITR); Database and
	// Table are "" when the level has none (the server shows "*").
	Account, Database, Table string
	Range                    Range
}

// Create starts a PITR on t and returns it as SHOW PITR lists it. Sent:
// "create pitr `name` for cluster | account [`acc`] | database `db` | table
// `db` `tbl` range N 'u'" (captures 204-208), then "show pitr where
// pitr_name = 'name'" (capture 240). AccountTarget("") and an
// AccountTarget naming the caller's own account send the form without a
// name: a tenant may not name itself (capture 295). A name holding a
// back-tick, the reserved ReservedPITRName or a range outside 1-100 is
// refused before sending. ErrAlreadyExists when the name is taken or the
// object already has a PITR (captures 209-218).
func (p *PITRs) Create(ctx context.Context, name string, t Target, r Range) (*PITR, error) {
	op := "pitr create " + name
	n, err := pitrName(name)
	if err != nil {
		return nil, opErr(op, nil, "", err)
	}
	if err := t.Validate(); err != nil {
		return nil, opErr(op, nil, "", err)
	}
	if r, err = r.validate(); err != nil {
		return nil, opErr(op, nil, "", err)
	}
	own := false
	if t.Level == LevelAccount && t.Account != "" {
		if own, _, err = p.c.resolveOwnAccount(ctx, op, t); err != nil {
			return nil, err
		}
	}
	stmt := "create pitr " + quoteIdent(n) + " for " + t.forClause(own) + " " + r.clause()
	var out *PITR
	err = p.c.withConn(ctx, op, func(conn *sql.Conn) error {
		if err := p.c.execChange(ctx, conn, op, stmt, createdCheck("PITR", n)); err != nil {
			return err
		}
		out, err = p.get(ctx, op, conn, n)
		return err
	})
	return out, err
}

// List returns the caller's PITRs, newest first ("show pitr", capture 239).
func (p *PITRs) List(ctx context.Context) ([]PITR, error) {
	const op = "pitr list"
	var out []PITR
	err := p.c.withConn(ctx, op, func(conn *sql.Conn) error {
		var err error
		out, err = p.list(ctx, op, conn, "show pitr")
		return err
	})
	return out, err
}

// Get returns one PITR by name (any case): "show pitr where pitr_name =
// 'name'" (capture 240). ErrPITRNotFound when the caller has none of that
// name.
func (p *PITRs) Get(ctx context.Context, name string) (*PITR, error) {
	op := "pitr get " + name
	n, err := pitrName(name)
	if err != nil {
		return nil, opErr(op, nil, "", err)
	}
	var out *PITR
	err = p.c.withConn(ctx, op, func(conn *sql.Conn) error {
		out, err = p.get(ctx, op, conn, n)
		return err
	})
	return out, err
}

// Alter changes the range of a PITR: "alter pitr `name` range N 'u'"
// (captures 255-256; the level and object cannot change). N must be 1-100:
// the server would take 0 (capture 257). ErrPITRNotFound when the caller has
// none of that name (captures 260, 299).
func (p *PITRs) Alter(ctx context.Context, name string, r Range) error {
	op := "pitr alter " + name
	n, err := pitrName(name)
	if err != nil {
		return opErr(op, nil, "", err)
	}
	if r, err = r.validate(); err != nil {
		return opErr(op, nil, "", err)
	}
	return p.c.withConn(ctx, op, func(conn *sql.Conn) error {
		return p.c.execChange(ctx, conn, op, "alter pitr "+quoteIdent(n)+" "+r.clause(),
			"the PITR "+n+" may have its new range: look at it (Get)")
	})
}

// Drop deletes a PITR: "drop pitr `name`" (capture 320). The reserved
// ReservedPITRName is refused before sending: the server would drop its own
// PITR on mo_catalog (matrixone-recovery.md §6.6). ErrPITRNotFound when the
// caller has none of that name (captures 298, 314, 316).
func (p *PITRs) Drop(ctx context.Context, name string) error {
	op := "pitr drop " + name
	n, err := pitrName(name)
	if err != nil {
		return opErr(op, nil, "", err)
	}
	return p.c.withConn(ctx, op, func(conn *sql.Conn) error {
		return p.c.execChange(ctx, conn, op, "drop pitr "+quoteIdent(n), droppedCheck("PITR", n))
	})
}

// Restore replaces the data of t with its state at time at, from PITR name.
// What is replaced:
//
//   - TableTarget(db, tbl): every row of db.tbl (§7: "restore database db
//     table t from pitr"). The PITR may be of the table, its database or
//     its account.
//   - DatabaseTarget(db): the whole database db, tables and rows, as at
//     time at (§7).
//   - AccountTarget(acc): every database of the account: databases
//     created after at are dropped (§7). AccountTarget("") or the caller's
//     own name restores the caller's account ("restore from pitr", the only
//     form a tenant may use, captures 304-305); another account needs sys.
//   - ClusterTarget(): EVERY ACCOUNT of the cluster is replaced by its state
//     at time at, from a cluster PITR (sys only).
//
// at is sent as the wall clock in the server process's zone with its
// nanoseconds, "YYYY-MM-DD HH:MM:SS.fffffffff" (§7; captures 264-266), so any
// time.Time works whatever its location. The zone's offset is the one at
// that instant, daylight saving time included: asked of the server on the
// operation's connection ("select @@time_zone", "set time_zone =
// 'SYSTEM'", "select from_unixtime(N)" once or twice, the session's zone
// put back before the restore is sent), or taken from
// Options.MatrixOneTimeZone. An instant whose wall clock the server would read
// as another instant (the first pass of the hour that repeats when the
// clocks go back: the server parses with Go's time.ParseInLocation in its
// zone, source pkg/frontend/pitr.go doResolveTimeStamp) is refused with
// ErrInvalidArgument, nothing restored. A time the server cannot hold
// (outside 1677-2262) or the zero time is ErrInvalidArgument, nothing sent.
// Sent: "restore cluster from pitr `p` 'ts'", "restore from pitr `p` 'ts'",
// "restore account `acc` from pitr `p` 'ts'", "restore database `db` from
// pitr `p` 'ts'", "restore database `db` table `tbl` from pitr `p` 'ts'"
// (captures 264-283). A time before the PITR began or after now is
// ErrInvalidArgument (the server's message says which), a missing PITR
// ErrPITRNotFound, a tenant naming another account ErrPermissionDenied.
// Nothing is replaced when an error is returned by the server's checks.
// When the restore was sent and no answer came (ctx ended first), the error
// is ErrOutcomeUnknown, wrapping ctx's error: the server may still restore
// (it does, issue 18), so look at the target's data before anything else.
// ValidatePITRRestore runs the checks made before sending, without a
// connection (e.g. before a confirmation).
func (p *PITRs) Restore(ctx context.Context, name string, at time.Time, t Target) error {
	op := pitrRestoreOp(name, t)
	if err := ValidatePITRRestore(name, at, t); err != nil {
		return err
	}
	n := strings.ToLower(name)
	own := false
	if t.Level == LevelAccount {
		var err error
		if own, _, err = p.c.resolveOwnAccount(ctx, op, t); err != nil {
			return err
		}
	}
	return p.c.withConn(ctx, op, func(conn *sql.Conn) error {
		var ts string
		err := p.c.zoneFor(ctx, op, conn, func(offs zoneOffsets) error {
			var err error
			ts, err = restoreWall(ctx, offs, at)
			return err
		})
		if err != nil {
			var oe *OpError
			if errors.As(err, &oe) {
				return err
			}
			return opErr(op, nil, "", err)
		}
		from := "from pitr " + quoteIdent(n) + " " + sqllit.Quote(ts)
		var stmt string
		switch {
		case t.Level == LevelCluster:
			stmt = "restore cluster " + from
		case t.Level == LevelAccount && own:
			stmt = "restore " + from
		case t.Level == LevelAccount:
			stmt = "restore account " + quoteIdent(t.Account) + " " + from
		case t.Level == LevelDatabase:
			stmt = "restore database " + quoteIdent(t.Database) + " " + from
		default:
			stmt = "restore database " + quoteIdent(t.Database) + " table " + quoteIdent(t.Table) + " " + from
		}
		return p.c.execChange(ctx, conn, op, stmt, restoreCheck(t, pitrState(at)))
	})
}

func pitrRestoreOp(name string, t Target) string {
	return "pitr restore " + name + " to " + t.String()
}

// ValidatePITRRestore checks the arguments of PITRs.Restore as Restore
// checks them, without connecting: the PITR name (no back-tick, not the
// reserved ReservedPITRName), the target (Target.Validate) and the time,
// which must not be zero and must fit MatrixOne's nanosecond timestamps
// (1677-09-21 to 2262-04-11 UTC; capture 265: 2999 wrapped to 1829). It
// returns the error Restore would return (an *OpError of kind
// ErrInvalidIdentifier or ErrInvalidArgument), or nil. Whether the time is
// inside the PITR's window is the server's to say, at Restore.
func ValidatePITRRestore(name string, at time.Time, t Target) error {
	op := pitrRestoreOp(name, t)
	if _, err := pitrName(name); err != nil {
		return opErr(op, nil, "", err)
	}
	if err := t.Validate(); err != nil {
		return opErr(op, nil, "", err)
	}
	if err := checkRestoreTime(at); err != nil {
		return opErr(op, nil, "", err)
	}
	return nil
}

func (p *PITRs) get(ctx context.Context, op string, conn *sql.Conn, name string) (*PITR, error) {
	list, err := p.list(ctx, op, conn, "show pitr where pitr_name = "+sqllit.Quote(name))
	if err != nil {
		return nil, err
	}
	for i := range list {
		if list[i].Name == name {
			return &list[i], nil
		}
	}
	return nil, opErr(op, ErrPITRNotFound, fmt.Sprintf("no PITR %q in SHOW PITR", name), nil)
}

// list runs a SHOW PITR with the session at '+00:00' (put back afterwards),
// so that its DATETIMEs are UTC whatever the session's or the server's zone.
func (p *PITRs) list(ctx context.Context, op string, conn *sql.Conn, stmt string) ([]PITR, error) {
	var out []PITR
	err := p.c.withSessionZone(ctx, op, conn, zoneUTC, func() error {
		t, err := p.c.query(ctx, conn, stmt)
		if err != nil {
			return recoveryErr(op, err)
		}
		if out, err = parsePITRs(t); err != nil {
			return opErr(op, nil, "", err)
		}
		return nil
	})
	return out, err
}

// parsePITRs reads SHOW PITR by column name (capture 239): PITR_NAME,
// CREATED_TIME and MODIFIED_TIME (DATETIME in the session zone, which list
// sets to UTC), PITR_LEVEL, ACCOUNT_NAME, DATABASE_NAME, TABLE_NAME ("*" when not
// applicable), PITR_LENGTH, PITR_UNIT.
func parsePITRs(t *textTable) ([]PITR, error) {
	names := []string{"PITR_NAME", "CREATED_TIME", "MODIFIED_TIME", "PITR_LEVEL", "ACCOUNT_NAME", "DATABASE_NAME", "TABLE_NAME", "PITR_LENGTH", "PITR_UNIT"}
	idx := make([]int, len(names))
	for i, name := range names {
		c, err := t.column(name)
		if err != nil {
			return nil, err
		}
		idx[i] = c
	}
	out := make([]PITR, 0, len(t.rows))
	for r := range t.rows {
		v := make([]string, len(idx))
		for i, c := range idx {
			var err error
			if v[i], err = t.text(r, c); err != nil {
				return nil, err
			}
		}
		var times [2]time.Time
		for i := range times {
			w, err := parseWallClock(v[1+i])
			if err != nil {
				return nil, err
			}
			times[i] = w
		}
		level, err := parseLevel(v[3])
		if err != nil {
			return nil, err
		}
		n, err := strconv.ParseUint(v[7], 10, 8)
		if err != nil {
			return nil, fmt.Errorf("%w: PITR_LENGTH %s", ErrUnexpectedResult, quoteForMessage(v[7]))
		}
		out = append(out, PITR{
			Name: v[0], Created: times[0], Modified: times[1], Level: level,
			Account: unstar(v[4]), Database: unstar(v[5]), Table: unstar(v[6]),
			Range: Range{N: int(n), Unit: v[8]},
		})
	}
	return out, nil
}

// unstar maps SHOW PITR's "*" (not applicable) to "".
func unstar(s string) string {
	if s == "*" {
		return ""
	}
	return s
}
