package dbctl

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/dbctl/dbctl/internal/sqllit"
)

// Snapshots manages MatrixOne snapshots: CREATE / SHOW / DROP SNAPSHOT and
// RESTORE ... {SNAPSHOT = name}. Every statement needs a sys-account user
// with role moadmin or a tenant user with role accountadmin; anyone else
// gets ErrPermissionDenied (captures 194-200). Snapshots are visible only to
// the account that created them (captures 157-158, 185-186). Create, Drop
// and Restore change state: sent with no answer, their error wraps
// ErrOutcomeUnknown (see Restore). Safe for concurrent use.
type Snapshots struct {
	c *Client
}

// Snapshot is one row of SHOW SNAPSHOTS.
type Snapshot struct {
	// Name as the server stores it: lower-cased (capture 83).
	Name string
	// Timestamp is the snapshot time, in UTC, to the nanosecond.
	Timestamp time.Time
	Level     Level
	// Account is the account the snapshot covers ("" for a cluster
	// snapshot); Database and Table are "" when the level has none.
	Account, Database, Table string
}

// SnapshotRestoreOptions are the options of Snapshots.Restore.
type SnapshotRestoreOptions struct {
	// ToAccount restores an account-level snapshot into another account
	// (sys only). Refused for cluster, database and table restores: the
	// server ignores TO ACCOUNT there and restores into the caller's account
	// (matrixone-recovery.md §6.2; captures 139, 159-160, 190).
	ToAccount string
}

// Create takes a snapshot of t now and returns it as SHOW SNAPSHOTS lists
// it. Sent: "create snapshot `name` for cluster | account [`acc`] |
// database `db` | table `db` `tbl`" (captures 46-51, 67), then "show
// snapshots where snapshot_name = 'name'" (capture 84). Names longer than 64
// characters or holding a back-tick are ErrInvalidIdentifier, nothing sent.
// A taken name is ErrAlreadyExists; a missing database, table or account
// ErrTableNotFound; a tenant asking for the cluster or another account
// ErrPermissionDenied.
func (s *Snapshots) Create(ctx context.Context, name string, t Target) (*Snapshot, error) {
	op := "snapshot create " + name
	n, err := snapshotName(name)
	if err != nil {
		return nil, opErr(op, nil, "", err)
	}
	if err := t.Validate(); err != nil {
		return nil, opErr(op, nil, "", err)
	}
	stmt := "create snapshot " + quoteIdent(n) + " for " + t.forClause(false)
	var out *Snapshot
	err = s.c.withConn(ctx, op, func(conn *sql.Conn) error {
		if err := s.c.execChange(ctx, conn, op, stmt, createdCheck("snapshot", n)); err != nil {
			return err
		}
		out, err = s.get(ctx, op, conn, n)
		return err
	})
	return out, err
}

// List returns the caller's snapshots, newest first, as "show snapshots"
// returns them (capture 83). No snapshot is an empty list.
func (s *Snapshots) List(ctx context.Context) ([]Snapshot, error) {
	const op = "snapshot list"
	var out []Snapshot
	err := s.c.withConn(ctx, op, func(conn *sql.Conn) error {
		var err error
		out, err = s.list(ctx, op, conn, "show snapshots")
		return err
	})
	return out, err
}

// Get returns one snapshot by name (any case): "show snapshots where
// snapshot_name = 'name'" (capture 84). ErrSnapshotNotFound when the caller
// has none of that name.
func (s *Snapshots) Get(ctx context.Context, name string) (*Snapshot, error) {
	op := "snapshot get " + name
	n, err := snapshotName(name)
	if err != nil {
		return nil, opErr(op, nil, "", err)
	}
	var out *Snapshot
	err = s.c.withConn(ctx, op, func(conn *sql.Conn) error {
		out, err = s.get(ctx, op, conn, n)
		return err
	})
	return out, err
}

// Drop deletes a snapshot: "drop snapshot `name`" (capture 78, 318).
// ErrSnapshotNotFound when the caller has none of that name (captures 77,
// 192, 310).
func (s *Snapshots) Drop(ctx context.Context, name string) error {
	op := "snapshot drop " + name
	n, err := snapshotName(name)
	if err != nil {
		return opErr(op, nil, "", err)
	}
	return s.c.withConn(ctx, op, func(conn *sql.Conn) error {
		return s.c.execChange(ctx, conn, op, "drop snapshot "+quoteIdent(n), droppedCheck("snapshot", n))
	})
}

// Restore replaces the data of t with its state at the snapshot. What is
// replaced:
//
//   - TableTarget(db, tbl): every row of db.tbl (capture 108). The snapshot
//     may be of the table, its database or its account (capture 116).
//   - DatabaseTarget(db): the whole database db: tables dropped since the
//     snapshot come back, tables created since are dropped, rows are those
//     of the snapshot (captures 103-106); a dropped database is recreated
//     (capture 123). The snapshot may be of the database or its account
//     (capture 120).
//   - AccountTarget(acc): every database of the account, as above
//     (captures 153-156); with opts.ToAccount, the account ToAccount is
//     replaced instead (sys only).
//   - ClusterTarget(): EVERY ACCOUNT of the cluster, sys included, is
//     replaced by its state at the cluster snapshot. Sessions of all tenants
//     see the change.
//
// Sent: "restore cluster {snapshot = `name`}", "restore account `acc`
// {snapshot = `name`} [to account `b`]", "restore database `db` {snapshot =
// `name`}", "restore table `db`.`tbl` {snapshot = `name`}" (captures 103,
// 108, 114, 153; the documented "... from snapshot name" form is a syntax
// error on v4.2.0, captures 92-96). AccountTarget("") restores the caller's
// own account (its name is asked once per Client). Database and table
// restores go to the caller's account; opts.ToAccount with them is
// ErrInvalidArgument, nothing sent. A missing snapshot (or one of another
// account) is ErrSnapshotNotFound; a snapshot of the wrong level or object
// ErrInvalidArgument; a tenant restoring the cluster, sys or into another
// account ErrPermissionDenied. Nothing is replaced when an error is
// returned by the server's checks. When the restore was sent and no answer
// came (ctx ended first, the connection broke), the error is
// ErrOutcomeUnknown, wrapping ctx's error: MatrixOne runs a restore to the
// end when its client has left (issue 18: a table of 2,000,000 rows was
// restored three seconds after its client gave up), so look at the
// target's data before anything else. ValidateSnapshotRestore runs the checks
// made before sending, without a connection (e.g. before a confirmation).
func (s *Snapshots) Restore(ctx context.Context, name string, t Target, opts SnapshotRestoreOptions) error {
	op := snapshotRestoreOp(name, t, opts)
	if err := ValidateSnapshotRestore(name, t, opts); err != nil {
		return err
	}
	n := strings.ToLower(name)
	snap := " {snapshot = " + quoteIdent(n) + "}"
	replaced := t
	if opts.ToAccount != "" {
		replaced = AccountTarget(opts.ToAccount)
	}
	var stmt string
	switch t.Level {
	case LevelCluster:
		stmt = "restore cluster" + snap
	case LevelAccount:
		account := t.Account
		if account == "" {
			_, acc, err := s.c.resolveOwnAccount(ctx, op, t)
			if err != nil {
				return err
			}
			account = acc
		}
		stmt = "restore account " + quoteIdent(account) + snap
		if opts.ToAccount != "" {
			stmt += " to account " + quoteIdent(opts.ToAccount)
		}
	case LevelDatabase:
		stmt = "restore database " + quoteIdent(t.Database) + snap
	case LevelTable:
		stmt = "restore table " + quoteIdent(t.Database) + "." + quoteIdent(t.Table) + snap
	}
	return s.c.withConn(ctx, op, func(conn *sql.Conn) error {
		return s.c.execChange(ctx, conn, op, stmt, restoreCheck(replaced, "the snapshot's data"))
	})
}

// snapshotRestoreOp names a restore in errors: "snapshot restore s to
// database shop", "snapshot restore s of account acc1 into account acc2".
func snapshotRestoreOp(name string, t Target, opts SnapshotRestoreOptions) string {
	if opts.ToAccount != "" && t.Level == LevelAccount {
		return "snapshot restore " + name + " of " + t.String() + " into account " + opts.ToAccount
	}
	return "snapshot restore " + name + " to " + t.String()
}

// ValidateSnapshotRestore checks the arguments of Snapshots.Restore as
// Restore checks them, without connecting: the snapshot name (at most 64
// characters, no back-tick), the target (Target.Validate), and
// opts.ToAccount, which only an account restore takes (the server ignores
// TO ACCOUNT on the other levels and restores into the caller's account,
// matrixone-recovery.md §6.2; captures 139, 159-160, 190). It returns the
// error Restore would return (an *OpError of kind ErrInvalidIdentifier or
// ErrInvalidArgument), or nil. Whether the snapshot exists and fits the
// target is the server's to say, at Restore.
func ValidateSnapshotRestore(name string, t Target, opts SnapshotRestoreOptions) error {
	op := snapshotRestoreOp(name, t, opts)
	if _, err := snapshotName(name); err != nil {
		return opErr(op, nil, "", err)
	}
	if err := t.Validate(); err != nil {
		return opErr(op, nil, "", err)
	}
	if opts.ToAccount != "" {
		if t.Level != LevelAccount {
			return opErr(op, ErrInvalidArgument, fmt.Sprintf("ToAccount %q with a %s restore: the server ignores TO ACCOUNT there and restores into the caller's account", opts.ToAccount, t.Level), nil)
		}
		if err := validateRecoveryIdent("account", opts.ToAccount, maxRecoveryIdent); err != nil {
			return opErr(op, nil, "", err)
		}
	}
	return nil
}

func (s *Snapshots) get(ctx context.Context, op string, conn *sql.Conn, name string) (*Snapshot, error) {
	list, err := s.list(ctx, op, conn, "show snapshots where snapshot_name = "+sqllit.Quote(name))
	if err != nil {
		return nil, err
	}
	for i := range list {
		if list[i].Name == name {
			return &list[i], nil
		}
	}
	return nil, opErr(op, ErrSnapshotNotFound, fmt.Sprintf("no snapshot %q in SHOW SNAPSHOTS", name), nil)
}

func (s *Snapshots) list(ctx context.Context, op string, conn *sql.Conn, stmt string) ([]Snapshot, error) {
	t, err := s.c.query(ctx, conn, stmt)
	if err != nil {
		return nil, recoveryErr(op, err)
	}
	out, err := parseSnapshots(t)
	if err != nil {
		return nil, opErr(op, nil, "", err)
	}
	return out, nil
}

// parseSnapshots reads SHOW SNAPSHOTS by column name: SNAPSHOT_NAME,
// TIMESTAMP (UTC text with 0-9 fraction digits), SNAPSHOT_LEVEL,
// ACCOUNT_NAME, DATABASE_NAME, TABLE_NAME (capture 83).
func parseSnapshots(t *textTable) ([]Snapshot, error) {
	var idx [6]int
	for i, name := range []string{"SNAPSHOT_NAME", "TIMESTAMP", "SNAPSHOT_LEVEL", "ACCOUNT_NAME", "DATABASE_NAME", "TABLE_NAME"} {
		c, err := t.column(name)
		if err != nil {
			return nil, err
		}
		idx[i] = c
	}
	out := make([]Snapshot, 0, len(t.rows))
	for r := range t.rows {
		var v [6]string
		for i, c := range idx {
			var err error
			if v[i], err = t.text(r, c); err != nil {
				return nil, err
			}
		}
		ts, err := parseSnapshotTime(v[1])
		if err != nil {
			return nil, err
		}
		level, err := parseLevel(v[2])
		if err != nil {
			return nil, err
		}
		out = append(out, Snapshot{Name: v[0], Timestamp: ts, Level: level, Account: v[3], Database: v[4], Table: v[5]})
	}
	return out, nil
}

// parseSnapshotTime reads SHOW SNAPSHOTS' TIMESTAMP: UTC, whatever the
// session zone (capture 251), "2026-11-30 23:38:31.772340361" with 0-9
// fraction digits, trailing zeros dropped (capture 83).
func parseSnapshotTime(s string) (time.Time, error) {
	t, err := time.ParseInLocation(wallClockLayout, s, time.UTC)
	if err != nil || len(s) < len(wallClockLayout) || len(s) > len(wallClockLayout)+10 {
		return time.Time{}, fmt.Errorf("%w: snapshot timestamp %s: want UTC YYYY-MM-DD HH:MM:SS[.fraction]", ErrUnexpectedResult, quoteForMessage(s))
	}
	return t, nil
}

// parseLevel reads a level column (lower-case on the server).
func parseLevel(s string) (Level, error) {
	switch l := Level(strings.ToLower(s)); l {
	case LevelCluster, LevelAccount, LevelDatabase, LevelTable:
		return l, nil
	}
	return "", fmt.Errorf("%w: level %s", ErrUnexpectedResult, quoteForMessage(s))
}
