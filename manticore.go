package dbctl

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"
)

// Manticore runs Manticore Search's table-control statements over the
// MySQL protocol. Table names are validated against Manticore's rules,
// lower-cased (the server stores and reports them in lower case) and written
// in back-ticks; nothing is sent when a name is invalid. Identifiers are
// never passed as '?' parameters, because Manticore's prepared-statement
// emulation would substitute them as quoted strings, and every call sends
// exactly one statement, because Manticore drops or never sends results of
// multi-statement strings. Safe for concurrent use.
type Manticore struct {
	c *Client
}

// TableStatus runs SHOW TABLE t STATUS and parses it by variable name (see
// TableStatus for what a missing or malformed variable gives). A missing
// table is ErrTableNotFound.
func (m *Manticore) TableStatus(ctx context.Context, table string) (*TableStatus, error) {
	op := "manticore table status " + table
	name, err := oneManticoreTable(table)
	if err != nil {
		return nil, opErr(op, nil, "", err)
	}
	t, err := m.c.query(ctx, m.c.db, "SHOW TABLE "+quoteManticoreIdent(name)+" STATUS")
	if err != nil {
		return nil, manticoreErr(op, err)
	}
	vars, err := parseVariables(t)
	if err != nil {
		return nil, opErr(op, nil, "", err)
	}
	st, err := parseTableStatus(vars)
	if err != nil {
		return nil, opErr(op, nil, "", err)
	}
	return st, nil
}

// Locks returns SHOW LOCKS: one row per frozen or read-locked table (a table
// can have a "freeze" and a "read" row).
func (m *Manticore) Locks(ctx context.Context) ([]Lock, error) {
	const op = "manticore show locks"
	t, err := m.c.query(ctx, m.c.db, "SHOW LOCKS")
	if err != nil {
		return nil, manticoreErr(op, err)
	}
	locks, err := parseLocks(t)
	if err != nil {
		return nil, opErr(op, nil, "", err)
	}
	return locks, nil
}

// Tables returns SHOW TABLES.
func (m *Manticore) Tables(ctx context.Context) ([]TableInfo, error) {
	const op = "manticore show tables"
	t, err := m.c.query(ctx, m.c.db, "SHOW TABLES")
	if err != nil {
		return nil, manticoreErr(op, err)
	}
	tables, err := parseTables(t)
	if err != nil {
		return nil, opErr(op, nil, "", err)
	}
	return tables, nil
}

// ServerVersion returns the daemon's version string (SHOW STATUS LIKE
// 'version'; SHOW VERSION needs Manticore Buddy and SELECT @@version answers
// "<empty>").
func (m *Manticore) ServerVersion(ctx context.Context) (string, error) {
	const op = "manticore server version"
	t, err := m.c.query(ctx, m.c.db, "SHOW STATUS LIKE 'version'")
	if err != nil {
		return "", manticoreErr(op, err)
	}
	vars, err := parseVariables(t)
	if err != nil {
		return "", opErr(op, nil, "", err)
	}
	v, ok := vars["version"]
	if !ok {
		return "", opErr(op, ErrEmptyResult, "no version row", nil)
	}
	return v, nil
}

// FlushAttributes writes in-memory attribute updates of every table to disk
// and returns the server's tag (the number of attribute saves since start;
// it grows only when something was saved). Never blocked by FREEZE. A ctx
// that ends after it was sent gives ErrOutcomeUnknown (repeating it is
// harmless).
func (m *Manticore) FlushAttributes(ctx context.Context) (int64, error) {
	const op = "manticore flush attributes"
	conn, err := m.c.conn(ctx, op)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	if err := ctx.Err(); err != nil {
		return 0, opErr(op, nil, "not sent", err)
	}
	t, err := m.c.query(ctx, conn, "FLUSH ATTRIBUTES")
	if err != nil {
		return 0, outcomeErr(ctx, op, err, "FLUSH ATTRIBUTES was sent and its answer did not come; attributes may have been saved (repeating it is harmless)")
	}
	if len(t.rows) != 1 || len(t.cols) == 0 {
		return 0, opErr(op, ErrUnexpectedResult, fmt.Sprintf("want 1 row with column \"tag\", got %d rows of %q", len(t.rows), t.cols), nil)
	}
	c, err := t.column("tag")
	if err != nil {
		c = 0 // a renamed single column still carries the tag
	}
	v, err := t.text(0, c)
	if err != nil {
		return 0, opErr(op, nil, "", err)
	}
	tag, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return 0, opErr(op, ErrUnexpectedResult, "tag is not an integer: "+quoteForMessage(v), nil)
	}
	return tag, nil
}

// FlushHostnames renews the IP addresses of agent host names and returns how
// many names were resolved (0 unless hostname_lookup = request). A ctx that
// ends after it was sent gives ErrOutcomeUnknown (repeating it is
// harmless).
func (m *Manticore) FlushHostnames(ctx context.Context) (int64, error) {
	const op = "manticore flush hostnames"
	return m.execOutcome(ctx, op, "FLUSH HOSTNAMES",
		"FLUSH HOSTNAMES was sent and its answer did not come; the names may have been renewed (repeating it is harmless)")
}

// FlushRAMChunk turns the RAM chunk of an RT table into a new disk chunk
// (FLUSH RAMCHUNK).
//
// On a frozen table this blocks until the table is unfrozen (measured on
// 29.2.2, manticore.md §4.3; the manual says otherwise), with no
// server-side timeout, and the server applies it after the UNFREEZE even
// when its client has gone. So when ctx ends (or the connection breaks)
// after the statement was sent and before its answer, the error is
// ErrOutcomeUnknown wrapping ctx's error: the flush will still happen when
// the table is unfrozen (SHOW LOCKS shows the freeze; SHOW TABLE t STATUS
// LIKE 'disk_chunks' shows the new chunk afterwards). An error before it is
// sent (an invalid name, a context already ended) means it was not sent.
func (m *Manticore) FlushRAMChunk(ctx context.Context, table string) error {
	op := "manticore flush ramchunk " + table
	name, err := oneManticoreTable(table)
	if err != nil {
		return opErr(op, nil, "", err)
	}
	_, err = m.execOutcome(ctx, op, "FLUSH RAMCHUNK "+quoteManticoreIdent(name),
		"FLUSH RAMCHUNK was sent and its answer did not come; searchd finishes it without its client, "+
			"and while the table is frozen it waits and is applied when the table is unfrozen "+
			"(check SHOW LOCKS, then SHOW TABLE "+name+" STATUS LIKE 'disk_chunks')")
	return err
}

// FlushTable (FLUSH TABLE, formerly FLUSH RTINDEX) saves the RAM chunk of an
// RT table so the binary log can be cleaned. Not blocked by FREEZE
// (manticore.md §4.3). A ctx that ends after it was sent gives
// ErrOutcomeUnknown: the save may have happened; repeating it is harmless.
func (m *Manticore) FlushTable(ctx context.Context, table string) error {
	op := "manticore flush table " + table
	name, err := oneManticoreTable(table)
	if err != nil {
		return opErr(op, nil, "", err)
	}
	_, err = m.execOutcome(ctx, op, "FLUSH TABLE "+quoteManticoreIdent(name),
		"FLUSH TABLE was sent and its answer did not come; the RAM chunk may have been saved (repeating it is harmless)")
	return err
}

// OptimizeOptions are the OPTION clause of OPTIMIZE TABLE.
type OptimizeOptions struct {
	// Cutoff is the number of disk chunks to merge down to; 0 leaves the
	// server's default (twice the number of CPU cores).
	Cutoff int
	// Sync waits for the merge to finish. Without it the server only queues
	// the job. Even with it, a cancelled ctx closes the connection but the
	// merge goes on on the server (ErrOutcomeUnknown).
	Sync bool
}

// Optimize merges the disk chunks of an RT table (OPTIMIZE TABLE).
//
// A frozen table is refused before anything is sent: ErrTableFrozen when
// SHOW LOCKS lists a freeze of the table. searchd refuses OPTIMIZE ...
// sync=1 of a frozen table itself ("Can't optimize frozen table",
// manticore.md §4.3), but it answers OK to an OPTIMIZE without sync and
// drops the job: the disk chunks never merge, also after the UNFREEZE
// (issue 18, on 29.2.2; src/sphinxrt.cpp RtIndex_c::StartOptimize starts
// nothing while the table holds a freeze lock, and RtIndex_c::Optimize
// returns at once while MergeCanRun is false, which the FREEZE's
// StopOptimize makes it). A FREEZE taken by someone else between the SHOW
// LOCKS and the OPTIMIZE still drops the job: the check narrows the window,
// it cannot close it. Read locks (LOCK TABLES ... READ) are not checked.
//
// Without Sync, success means the job was queued, not that the chunks were
// merged. Once the statement was sent, a ctx that ends first gives
// ErrOutcomeUnknown: a queued job or a synchronous merge runs on.
func (m *Manticore) Optimize(ctx context.Context, table string, opts OptimizeOptions) error {
	op := "manticore optimize " + table
	name, err := oneManticoreTable(table)
	if err != nil {
		return opErr(op, nil, "", err)
	}
	if opts.Cutoff < 0 {
		return opErr(op, ErrInvalidArgument, fmt.Sprintf("cutoff %d is negative", opts.Cutoff), nil)
	}
	var parts []string
	if opts.Cutoff > 0 {
		parts = append(parts, "cutoff="+strconv.Itoa(opts.Cutoff))
	}
	if opts.Sync {
		parts = append(parts, "sync=1")
	}
	suffix := ""
	if len(parts) > 0 {
		suffix = " OPTION " + strings.Join(parts, ", ")
	}
	locks, err := m.Locks(ctx)
	if err != nil {
		return opErr(op, nil, "not sent: could not check for a freeze", err)
	}
	for _, l := range locks {
		if l.Name == name && l.LockType == "freeze" && l.Count > 0 {
			return opErr(op, ErrTableFrozen, fmt.Sprintf("not sent: SHOW LOCKS lists a freeze of %s (%s); searchd would refuse OPTIMIZE ... sync=1 "+
				"and accept and then drop an OPTIMIZE without it (the chunks would never merge); run it after the UNFREEZE", name, l.AdditionalInfo), nil)
		}
	}
	pending := "OPTIMIZE was sent and its answer did not come; searchd may have queued it"
	if opts.Sync {
		pending = "OPTIMIZE ... sync=1 was sent and its answer did not come; searchd goes on merging without its client"
	}
	_, err = m.execOutcome(ctx, op, "OPTIMIZE TABLE "+quoteManticoreIdent(name)+suffix,
		pending+" (SHOW TABLE "+name+" STATUS LIKE 'optimizing' and 'disk_chunks' tell)")
	return err
}

func oneManticoreTable(table string) (string, error) {
	if err := ValidateManticoreTable(table); err != nil {
		return "", err
	}
	return strings.ToLower(table), nil
}

// manticoreErr wraps a failed statement. Manticore answers almost every
// error with 1064/42000, so the sentinel is chosen by the message.
func manticoreErr(op string, err error) error {
	return opErr(op, classifyManticoreError(err), "", err)
}

func classifyManticoreError(err error) error {
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return nil
	}
	msg := me.Message
	switch {
	case me.Number == 1146,
		strings.Contains(msg, "requires an existing"),
		strings.Contains(msg, "unknown table"),
		strings.Contains(msg, "unknown local table"),
		strings.Contains(msg, "no such table"),
		strings.HasSuffix(msg, "' absent"):
		return ErrTableNotFound
	case strings.Contains(msg, "frozen table"):
		return ErrTableFrozen
	}
	return nil
}
