package dbctl

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/dbctl/dbctl/internal/sqllit"
)

// MoCtl runs MatrixOne's mo_ctl control function. Every call needs a session
// of the sys account with the moadmin role (root or dump on a fresh server);
// see Options.SkipSysAccountCheck. Safe for concurrent use.
//
// Each call sends exactly one statement,
//
//	select mo_ctl('dn', '<command>', '<parameter>')
//
// with every argument written as an escaped string literal, reads column 0
// of its single row (the column's name is the server's re-rendering of the
// expression and is not relied on) and decodes the pretty-printed JSON.
type MoCtl struct {
	c *Client
}

// moService is the service that TN-routed commands must name. MatrixOne
// v4.2.0 calls the component TN but accepts only 'dn' (or 'cn') here; 'tn'
// is refused with 20105.
const moService = "dn"

// FlushTable forces the TN to flush every block of database.table and
// returns when they are flushed (about 500 ms when there was data to flush,
// 1-3 ms otherwise). Names are lower-cased first (see Options.KeepNameCase).
// A name containing '.' cannot be flushed by name: use FlushTableByID. A
// missing database or table is ErrTableNotFound. When the flush was sent
// and no answer came (ctx ended first), the error is ErrOutcomeUnknown,
// wrapping ctx's error: the TN may still flush, and nothing is lost either
// way.
func (m *MoCtl) FlushTable(ctx context.Context, database, table string) (*MoCtlResult, error) {
	op := "mo_ctl flush " + database + "." + table
	param, err := m.flushName(database, table)
	if err != nil {
		return nil, opErr(op, nil, "", err)
	}
	return m.flush(ctx, op, param)
}

// FlushAccountTable flushes database.table of the account with accountID,
// from the sys account (the "db.table.accountId" form). An unknown account
// is ErrTableNotFound.
func (m *MoCtl) FlushAccountTable(ctx context.Context, database, table string, accountID uint32) (*MoCtlResult, error) {
	op := fmt.Sprintf("mo_ctl flush %s.%s (account %d)", database, table, accountID)
	param, err := m.flushName(database, table)
	if err != nil {
		return nil, opErr(op, nil, "", err)
	}
	return m.flush(ctx, op, param+"."+strconv.FormatUint(uint64(accountID), 10))
}

// FlushTableByID flushes the table with the given id (mo_catalog.mo_tables
// rel_id). This is the only way to flush a table whose name contains a dot.
// Note that MatrixOne answers OK for an id that names no table.
func (m *MoCtl) FlushTableByID(ctx context.Context, tableID uint64) (*MoCtlResult, error) {
	id := strconv.FormatUint(tableID, 10)
	return m.flush(ctx, "mo_ctl flush table id "+id, id)
}

func (m *MoCtl) flushName(database, table string) (string, error) {
	if err := validateMoName("database", database); err != nil {
		return "", err
	}
	if err := validateMoName("table", table); err != nil {
		return "", err
	}
	if m.c.opts.lowerCaseNames {
		database, table = strings.ToLower(database), strings.ToLower(table)
	}
	return database + "." + table, nil
}

func (m *MoCtl) flush(ctx context.Context, op, param string) (*MoCtlResult, error) {
	return m.statusCommand(ctx, op, "flush", func() (string, error) { return param, nil }, "Flush", flushCheck)
}

// IncrementalCheckpoint flushes all blocks on the TN, writes an incremental
// checkpoint and truncates the WAL. Its parameter is the TN's timeout for
// the work (matrixone.md §6.6, Appendix C: "1ns" fails with "force flush
// failed: context deadline exceeded"; ” or "0" is the default of 90 s).
// When ctx has a deadline, dbctl sends the time left minus a margin for the
// answer to come back (see checkpointMargin), so that the server's own
// timeout answer arrives before the caller's deadline and is reported as
// ErrServerTimeout: the checkpoint was not written, and nothing is lost.
// When the time left is not more than the margin, nothing is sent and the
// error wraps context.DeadlineExceeded. Without a deadline ” is sent. If
// the caller's context still ends first (a slow network), the error is
// ErrOutcomeUnknown: the TN may still write the checkpoint.
func (m *MoCtl) IncrementalCheckpoint(ctx context.Context) (*MoCtlResult, error) {
	return m.statusCommand(ctx, "mo_ctl checkpoint", "checkpoint", func() (string, error) { return m.timeoutParam(ctx) }, "Checkpoint", checkpointCheck)
}

// GlobalCheckpoint writes a global checkpoint. It takes the same timeout
// parameter (matrixone.md Appendix C: globalcheckpoint '1ns' times out the
// same way), sent by the rule of IncrementalCheckpoint.
func (m *MoCtl) GlobalCheckpoint(ctx context.Context) (*MoCtlResult, error) {
	return m.statusCommand(ctx, "mo_ctl globalcheckpoint", "globalcheckpoint", func() (string, error) { return m.timeoutParam(ctx) }, "GlobalCheckpoint", checkpointCheck)
}

// Server-side timeouts. The server's timeout answer needs a round trip
// (client to CN, CN to TN and back) after the TN gives up: "1ns" came back
// in 1.6-12.8 ms on the captured server (matrixone.md Appendix C, K3).
const (
	// checkpointMarginBase is the fixed part of the margin.
	checkpointMarginBase = 100 * time.Millisecond
	// minServerTimeout is the shortest timeout sent: the server parses the
	// parameter with Go's time.ParseDuration (an invalid one is "time:
	// invalid duration", golden matrixone.jsonl record 32), any positive
	// duration is taken, and dbctl sends whole milliseconds; "0s" would
	// mean the default of 90 s.
	minServerTimeout = time.Millisecond
)

// checkpointMargin is what the server's timeout answer is given to come
// back: 100 ms plus three times the client's measured round trip (the time
// its identity query took, which may include dialing a connection; 0 when
// the sys-account check is off).
func (m *MoCtl) checkpointMargin() time.Duration {
	return checkpointMarginBase + 3*time.Duration(m.c.identityRTT.Load())
}

// timeoutParam renders the server-side timeout for ctx: the time left
// before its deadline minus checkpointMargin, in whole milliseconds ("" for
// the server's default when ctx has no deadline). It is computed right
// before sending, after the sys-account check has taken its share of the
// time.
func (m *MoCtl) timeoutParam(ctx context.Context) (string, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return "", nil
	}
	left := time.Until(deadline)
	margin := m.checkpointMargin()
	send := (left - margin).Truncate(time.Millisecond)
	if send < minServerTimeout {
		return "", fmt.Errorf("the deadline leaves %s, not more than the %s the server's own timeout answer needs to come back: nothing was sent: %w",
			left.Truncate(time.Millisecond), margin.Truncate(time.Millisecond), context.DeadlineExceeded)
	}
	return send.String(), nil
}

// statusCommand runs a TN command that changes state (check says what to
// look at when its answer is lost) and whose answer is an array of
// {"returnStr": "OK"}, and checks that every shard said OK.
func (m *MoCtl) statusCommand(ctx context.Context, op, command string, param func() (string, error), method, check string) (*MoCtlResult, error) {
	if err := m.ensureSysAccount(ctx, op); err != nil {
		return nil, err
	}
	p, err := param()
	if err != nil {
		return nil, opErr(op, nil, "", err)
	}
	r, err := m.call(ctx, op, moService, command, p, check)
	if err != nil {
		return nil, err
	}
	if !strings.EqualFold(r.Method, method) {
		return r, opErr(op, ErrUnexpectedResult, fmt.Sprintf("method %q, want %q: %s", r.Method, method, quoteForMessage(r.Raw)), nil)
	}
	if err := r.check(); err != nil {
		return r, opErr(op, nil, "", err)
	}
	if _, err := r.returnStrs(); err != nil {
		return r, opErr(op, nil, "", err)
	}
	return r, nil
}

// Ping asks the TN shards to answer and returns them: with no shardIDs,
// every shard (mo_ctl('dn', 'ping', <empty string>)); else each shard
// named, one statement per id (mo_ctl('dn', 'ping', '<id>'); matrixone.md
// §5), in the order given. An id that names no shard answers with an
// empty array, reported as ErrEmptyResult naming the id.
func (m *MoCtl) Ping(ctx context.Context, shardIDs ...uint64) ([]TNShard, error) {
	if len(shardIDs) == 0 {
		return m.ping(ctx, "mo_ctl ping", "")
	}
	var out []TNShard
	for _, sid := range shardIDs {
		id := strconv.FormatUint(sid, 10)
		shards, err := m.ping(ctx, "mo_ctl ping shard "+id, id)
		if err != nil {
			return nil, err
		}
		out = append(out, shards...)
	}
	return out, nil
}

func (m *MoCtl) ping(ctx context.Context, op, param string) ([]TNShard, error) {
	if err := m.ensureSysAccount(ctx, op); err != nil {
		return nil, err
	}
	r, err := m.call(ctx, op, moService, "ping", param, "")
	if err != nil {
		return nil, err
	}
	if err := r.check(); err != nil {
		return nil, opErr(op, nil, "", err)
	}
	shards, err := parseTNShards(r)
	if err != nil {
		return nil, opErr(op, nil, "", err)
	}
	return shards, nil
}

// Exec runs any mo_ctl command: service ('dn' for TN-routed commands, 'cn'
// for CN-local ones), command (case-insensitive) and parameter, each sent as
// an escaped string literal. JSON answers are decoded and checked like the
// typed calls (an empty result array is ErrEmptyResult, a returnStr other
// than OK ErrMoCtlFailed, returned together with the result). Answers that are
// not JSON (inspect, mergeobjects) come back in Raw with no error. A
// command that may change state (any but ping, inspect, getsnapshot,
// getprotocolversion) whose answer is lost is ErrOutcomeUnknown (see
// IncrementalCheckpoint); its parameter is sent as given, a checkpoint's
// timeout included.
func (m *MoCtl) Exec(ctx context.Context, service, command, parameter string) (*MoCtlResult, error) {
	op := "mo_ctl " + service + " " + command
	if strings.TrimSpace(service) == "" || strings.TrimSpace(command) == "" {
		return nil, opErr(op, ErrInvalidArgument, "service and command must not be empty", nil)
	}
	if err := m.ensureSysAccount(ctx, op); err != nil {
		return nil, err
	}
	r, err := m.call(ctx, op, service, command, parameter, execCheck(command))
	if err != nil {
		return nil, err
	}
	if !r.JSON {
		return r, nil
	}
	if err := r.check(); err != nil {
		return r, opErr(op, nil, "", err)
	}
	return r, nil
}

// moCtlStatement returns the exact statement the typed calls and Exec send
// for the given arguments: "select mo_ctl('dn', 'flush', 'db1.t”x')".
func moCtlStatement(service, command, parameter string) string {
	return "select mo_ctl(" + sqllit.Quote(service) + ", " + sqllit.Quote(command) + ", " + sqllit.Quote(parameter) + ")"
}

// execCheck is what Exec's error says to check for a command whose answer
// was lost: "" for the commands that only read.
func execCheck(command string) string {
	switch strings.ToUpper(strings.TrimSpace(command)) {
	case "PING", "INSPECT", "GETSNAPSHOT", "GETPROTOCOLVERSION":
		return ""
	case "FLUSH":
		return flushCheck
	case "CHECKPOINT", "GLOBALCHECKPOINT":
		return checkpointCheck
	}
	return moCtlCheck
}

// call sends one mo_ctl statement and decodes its single value. A value
// that is not JSON comes back undecoded (JSON false) with no error. check
// is "" for a command that only reads; for one that changes state, a
// failure with no answer from the server is ErrOutcomeUnknown saying check.
func (m *MoCtl) call(ctx context.Context, op, service, command, param, check string) (*MoCtlResult, error) {
	isFlush := strings.EqualFold(command, "flush")
	stmt := moCtlStatement(service, command, param)
	var t *textTable
	var err error
	if check == "" {
		if t, err = m.c.query(ctx, m.c.db, stmt); err != nil {
			return nil, opErr(op, classifyMoError(err, isFlush), "", err)
		}
	} else {
		// a connection is taken first, so that a context that ends while
		// the pool dials is "not sent", not "unknown"
		err = m.c.withConn(ctx, op, func(conn *sql.Conn) error {
			if err := notSent(ctx, op); err != nil {
				return err
			}
			var qerr error
			if t, qerr = m.c.query(ctx, conn, stmt); qerr != nil {
				return changeFailed(ctx, op, qerr, classifyMoError(qerr, isFlush), check)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if len(t.cols) == 0 || len(t.rows) != 1 {
		return nil, opErr(op, ErrUnexpectedResult, fmt.Sprintf("want 1 row of 1 column, got %d rows of %d columns", len(t.rows), len(t.cols)), nil)
	}
	raw, err := t.text(0, 0)
	if err != nil {
		return nil, opErr(op, nil, "", err)
	}
	r, err := decodeMoCtl(raw)
	if err != nil {
		return &MoCtlResult{Raw: raw}, nil
	}
	return r, nil
}

// classifyMoError maps MatrixOne's error packets to sentinels. MatrixOne
// sends MO codes (20xxx) where it has no MySQL code, 1146 for a missing
// table, 1105 for raw Go errors, and errno 0 with SQLSTATE 00000 and
// "ExpectedEOB" when flush cannot resolve the database or account: that
// packet is an error, not a success.
func classifyMoError(err error, isFlush bool) error {
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return nil
	}
	msg := me.Message
	switch {
	case me.Number == 1146:
		return ErrTableNotFound
	case me.Number == 0 && isFlush:
		return ErrTableNotFound
	case me.Number == 0:
		return ErrUnexpectedResult
	case strings.Contains(msg, "do not have privilege"):
		return ErrNotSysAccount
	case strings.Contains(msg, "context deadline exceeded"):
		return ErrServerTimeout
	case me.Number == 20105 || me.Number == 20424:
		return ErrNotSupported
	case me.Number == 20203 || me.Number == 20301,
		strings.Contains(msg, "invalid duration"),
		strings.Contains(msg, "handleFlush:"),
		strings.Contains(msg, "strconv.Parse"):
		return ErrInvalidArgument
	}
	return nil
}
