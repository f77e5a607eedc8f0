package dbctl

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// MatrixOne recovery: snapshots, point-in-time recovery (PITR) and RESTORE,
// as MatrixOne v4.2.0 accepts them (../shared/reference/matrixone-recovery.md
// and golden/matrixone-recovery.jsonl, cited below as "capture N" = record N,
// counted from 0). Every identifier is validated and back-quoted, every
// operation runs on one *sql.Conn, and the failures the server reports as
// 20101 are classified by their text (recovery_errors.go).

// Level is the scope of a snapshot, a PITR or a restore.
type Level string

// The levels, spelled as SHOW SNAPSHOTS / SHOW PITR spell them.
const (
	LevelCluster  Level = "cluster"
	LevelAccount  Level = "account"
	LevelDatabase Level = "database"
	LevelTable    Level = "table"
)

// Target names what a snapshot or PITR covers, or what a restore replaces.
// Build it with ClusterTarget, AccountTarget, DatabaseTarget or TableTarget.
type Target struct {
	Level Level
	// Account is the account of an account-level target; "" means the
	// caller's own account. Database and table targets are always in the
	// caller's account (the server does not let a session create or restore
	// them in another one), so Account must be "" for them.
	Account string
	// Database is the database of a database or table target.
	Database string
	// Table is the table of a table target.
	Table string
}

// ClusterTarget is the whole cluster: every account. Only the sys account
// may use it.
func ClusterTarget() Target { return Target{Level: LevelCluster} }

// AccountTarget is one account; "" is the caller's own account.
func AccountTarget(account string) Target { return Target{Level: LevelAccount, Account: account} }

// DatabaseTarget is a database of the caller's account.
func DatabaseTarget(database string) Target {
	return Target{Level: LevelDatabase, Database: database}
}

// TableTarget is a table of the caller's account.
func TableTarget(database, table string) Target {
	return Target{Level: LevelTable, Database: database, Table: table}
}

// String renders the target for messages: "cluster", "account acc1",
// "account (own)", "database db1", "table db1.t".
func (t Target) String() string {
	switch t.Level {
	case LevelCluster:
		return "cluster"
	case LevelAccount:
		if t.Account == "" {
			return "account (own)"
		}
		return "account " + t.Account
	case LevelDatabase:
		return "database " + t.Database
	case LevelTable:
		return "table " + t.Database + "." + t.Table
	}
	return "level " + string(t.Level)
}

// maxSnapshotName is the width of mo_catalog.mo_snapshots.sname
// (VARCHAR(64), capture 39). A longer name is cut silently by the server
// and can then be neither used nor dropped by the name that created it
// (captures 72-78), so it is refused here.
const maxSnapshotName = 64

// maxRecoveryIdent bounds the other names (PITR names are VARCHAR(5000),
// capture 40; database and table names are VARCHAR(5000) in the catalog).
const maxRecoveryIdent = 5000

// validateRecoveryIdent checks a snapshot, PITR, account, database or table
// name. MatrixOne takes any character in back-quotes except the back-quote
// itself: `cap-dash` and `cap.dot` are accepted (captures 69-70), a
// back-quote inside is refused even by DROP ... IF EXISTS (captures 12, 71).
func validateRecoveryIdent(kind, name string, max int) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty %s name", ErrInvalidIdentifier, kind)
	case strings.ContainsRune(name, '`'):
		return fmt.Errorf("%w: %s name %q contains a back-tick, which MatrixOne refuses", ErrInvalidIdentifier, kind, name)
	case strings.ContainsRune(name, 0):
		return fmt.Errorf("%w: %s name %q contains a NUL byte", ErrInvalidIdentifier, kind, name)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: %s name %q is not valid UTF-8", ErrInvalidIdentifier, kind, name)
	case utf8.RuneCountInString(name) > max:
		return fmt.Errorf("%w: %s name %q is %d characters long; the server keeps only %d (a longer name is cut silently and cannot be used by its full name)",
			ErrInvalidIdentifier, kind, name, utf8.RuneCountInString(name), max)
	}
	return nil
}

// snapshotName validates a snapshot name and lower-cases it: the server
// folds every name, back-quoted or not (captures 67-68, 81-82, 91).
func snapshotName(name string) (string, error) {
	if err := validateRecoveryIdent("snapshot", name, maxSnapshotName); err != nil {
		return "", err
	}
	return strings.ToLower(name), nil
}

// pitrName validates a PITR name, refuses the reserved one and lower-cases
// it (capture 236: `CAP_P_MIXED` collides with cap_p_mixed).
func pitrName(name string) (string, error) {
	if err := validateRecoveryIdent("PITR", name, maxRecoveryIdent); err != nil {
		return "", err
	}
	n := strings.ToLower(name)
	if n == ReservedPITRName {
		return "", fmt.Errorf("%w: PITR name %q is the server's internal PITR on mo_catalog", ErrInvalidIdentifier, name)
	}
	return n, nil
}

// quoteIdent back-quotes a name validated by validateRecoveryIdent (which
// guarantees there is no back-quote inside).
func quoteIdent(name string) string { return "`" + name + "`" }

// Validate checks t as every operation checks it before sending anything:
// a known level, the names that level needs and no others, and each name a
// name MatrixOne keeps as given (not empty, no back-tick, no NUL, valid
// UTF-8, at most 5000 characters; captures 12, 69-71). A database or table
// target naming an Account is refused: such targets are always in the
// caller's own account. Errors: ErrInvalidArgument (level, extra or missing
// names), ErrInvalidIdentifier (a name). Nothing is sent: a CLI or service
// can check its input with it before asking for a confirmation.
func (t Target) Validate() error {
	switch t.Level {
	case LevelCluster:
		if t.Account != "" || t.Database != "" || t.Table != "" {
			return fmt.Errorf("%w: a cluster target names no account, database or table", ErrInvalidArgument)
		}
	case LevelAccount:
		if t.Database != "" || t.Table != "" {
			return fmt.Errorf("%w: an account target names no database or table", ErrInvalidArgument)
		}
		if t.Account != "" {
			return validateRecoveryIdent("account", t.Account, maxRecoveryIdent)
		}
	case LevelDatabase, LevelTable:
		if t.Account != "" {
			return fmt.Errorf("%w: a %s target is always in the caller's own account; Account must be empty (got %q)", ErrInvalidArgument, t.Level, t.Account)
		}
		if err := validateRecoveryIdent("database", t.Database, maxRecoveryIdent); err != nil {
			return err
		}
		if t.Level == LevelTable {
			return validateRecoveryIdent("table", t.Table, maxRecoveryIdent)
		}
		if t.Table != "" {
			return fmt.Errorf("%w: a database target names no table", ErrInvalidArgument)
		}
	default:
		return fmt.Errorf("%w: unknown level %q (want cluster, account, database or table)", ErrInvalidArgument, t.Level)
	}
	return nil
}

// forClause renders the object clause of CREATE SNAPSHOT / CREATE PITR /
// SHOW RECOVERY_WINDOW: "cluster", "account", "account `a`",
// "database `d`", "table `d` `t`" (two identifiers, no dot: the dotted form
// is a syntax error there, capture 63). own means the account is the
// caller's and is left out.
func (t Target) forClause(own bool) string {
	switch t.Level {
	case LevelCluster:
		return "cluster"
	case LevelAccount:
		if own || t.Account == "" {
			return "account"
		}
		return "account " + quoteIdent(t.Account)
	case LevelDatabase:
		return "database " + quoteIdent(t.Database)
	default:
		return "table " + quoteIdent(t.Database) + " " + quoteIdent(t.Table)
	}
}

// Snapshots returns the MatrixOne snapshot manager.
func (c *Client) Snapshots() *Snapshots { return &Snapshots{c: c} }

// PITRs returns the MatrixOne point-in-time-recovery manager.
func (c *Client) PITRs() *PITRs { return &PITRs{c: c} }

// resolveOwnAccount reports whether an account target is the caller's own
// account: "" always is; a name is compared with the session's account
// (the identity query of the sys-account check, cached per Client).
func (c *Client) resolveOwnAccount(ctx context.Context, op string, t Target) (own bool, account string, err error) {
	id, err := c.sessionIdentity(ctx, op)
	if err != nil {
		return false, "", err
	}
	if t.Account == "" || strings.EqualFold(t.Account, id.Account) {
		return true, strings.ToLower(id.Account), nil
	}
	return false, t.Account, nil
}

// nsRange is what a MatrixOne timestamp can hold: nanoseconds since 1970 in
// an int64. Times past 2262 wrap (capture 265: 2999 became 1829).
var (
	minServerTime = time.Unix(0, -1<<63).UTC()
	maxServerTime = time.Unix(0, 1<<63-1).UTC()
)

// checkRestoreTime refuses a PITR restore time the server cannot hold:
// the zero time, or one outside MatrixOne's int64 nanosecond clock.
func checkRestoreTime(at time.Time) error {
	if at.IsZero() {
		return fmt.Errorf("%w: restore time is the zero time", ErrInvalidArgument)
	}
	if at.Before(minServerTime) || at.After(maxServerTime) {
		return fmt.Errorf("%w: restore time %s is outside what MatrixOne can represent (%s to %s)",
			ErrInvalidArgument, at.UTC().Format(time.RFC3339Nano), minServerTime.Format(time.RFC3339), maxServerTime.Format(time.RFC3339))
	}
	return nil
}

// withConn runs f on one connection taken from the pool for the operation.
func (c *Client) withConn(ctx context.Context, op string, f func(*sql.Conn) error) error {
	conn, err := c.conn(ctx, op)
	if err != nil {
		return err
	}
	defer conn.Close()
	return f(conn)
}
