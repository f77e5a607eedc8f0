package dbctl

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// MoCtl runs MatrixOne's mo_ctl control function. Every call needs a session
// of the sys account with the moadmin role (root or dump on a fresh server);
// see WithSysAccountCheck. Safe for concurrent use.
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
// 1-3 ms otherwise). Names are lower-cased first (see WithLowerCaseNames).
// A name containing '.' cannot be flushed by name: use FlushTableByID. A
// missing database or table is ErrTableNotFound.
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
	return m.statusCommand(ctx, op, "flush", func() (string, error) { return param, nil }, "Flush", true)
}

// IncrementalCheckpoint flushes all blocks on the TN, writes an incremental
// checkpoint and truncates the WAL. When ctx has a deadline, the time left is
// sent as the server-side timeout (a Go duration such as "29.998s"), so the
// server gives up (ErrServerTimeout) rather than working on after the caller
// stopped waiting; without one the server's default of 90 s applies.
func (m *MoCtl) IncrementalCheckpoint(ctx context.Context) (*MoCtlResult, error) {
	return m.statusCommand(ctx, "mo_ctl checkpoint", "checkpoint", func() (string, error) { return timeoutParam(ctx) }, "Checkpoint", false)
}

// GlobalCheckpoint writes a global checkpoint. The timeout rule is the one of
// IncrementalCheckpoint.
func (m *MoCtl) GlobalCheckpoint(ctx context.Context) (*MoCtlResult, error) {
	return m.statusCommand(ctx, "mo_ctl globalcheckpoint", "globalcheckpoint", func() (string, error) { return timeoutParam(ctx) }, "GlobalCheckpoint", false)
}

// timeoutParam renders the time left before ctx's deadline as a Go duration
// for the server, or "" (server default) when there is no deadline. It is
// computed right before sending, after the sys-account check has taken its
// share of the time.
func timeoutParam(ctx context.Context) (string, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return "", nil
	}
	left := time.Until(deadline).Truncate(time.Millisecond)
	if left < time.Millisecond {
		// "0s" would mean "use the default of 90 s" to the server.
		return "", context.DeadlineExceeded
	}
	return left.String(), nil
}

// statusCommand runs a TN command whose answer is an array of
// {"returnStr": "OK"} and checks that every shard said OK.
func (m *MoCtl) statusCommand(ctx context.Context, op, command string, param func() (string, error), method string, isFlush bool) (*MoCtlResult, error) {
	if err := m.ensureSysAccount(ctx, op); err != nil {
		return nil, err
	}
	p, err := param()
	if err != nil {
		return nil, opErr(op, nil, "", err)
	}
	r, err := m.call(ctx, op, moService, command, p, isFlush)
	if err != nil {
		return nil, err
	}
	if !strings.EqualFold(r.Method, method) {
		return r, opErr(op, ErrUnexpectedResult, fmt.Sprintf("method %q, want %q: %s", r.Method, method, quoteForMessage(r.Raw)), nil)
	}
	if err := r.check(); err != nil {
		return r, opErr(op, nil, "", err)
	}
	if _, err := r.ReturnStrs(); err != nil {
		return r, opErr(op, nil, "", err)
	}
	return r, nil
}

// Ping asks every TN shard to answer and returns them.
func (m *MoCtl) Ping(ctx context.Context) ([]TNShard, error) {
	return m.ping(ctx, "mo_ctl ping", "")
}

// PingShard pings one TN shard by id. An unknown id answers with an empty
// array, reported as ErrEmptyResult.
func (m *MoCtl) PingShard(ctx context.Context, shardID uint64) ([]TNShard, error) {
	id := strconv.FormatUint(shardID, 10)
	return m.ping(ctx, "mo_ctl ping shard "+id, id)
}

func (m *MoCtl) ping(ctx context.Context, op, param string) ([]TNShard, error) {
	if err := m.ensureSysAccount(ctx, op); err != nil {
		return nil, err
	}
	r, err := m.call(ctx, op, moService, "ping", param, false)
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
// than OK a *MoCtlError, returned together with the result). Answers that are
// not JSON (inspect, mergeobjects) come back in Raw with no error.
func (m *MoCtl) Exec(ctx context.Context, service, command, parameter string) (*MoCtlResult, error) {
	op := "mo_ctl " + service + " " + command
	if strings.TrimSpace(service) == "" || strings.TrimSpace(command) == "" {
		return nil, opErr(op, ErrInvalidArgument, "service and command must not be empty", nil)
	}
	if err := m.ensureSysAccount(ctx, op); err != nil {
		return nil, err
	}
	r, err := m.call(ctx, op, service, command, parameter, strings.EqualFold(command, "flush"))
	if err != nil {
		return nil, err
	}
	if !r.IsJSON() {
		return r, nil
	}
	if err := r.check(); err != nil {
		return r, opErr(op, nil, "", err)
	}
	return r, nil
}

// MoCtlStatement returns the exact statement the typed calls and Exec send
// for the given arguments.
func MoCtlStatement(service, command, parameter string) string {
	return "select mo_ctl(" + QuoteString(service) + ", " + QuoteString(command) + ", " + QuoteString(parameter) + ")"
}

// call sends one mo_ctl statement and decodes its single value. A value
// that is not JSON comes back undecoded (IsJSON false) with no error.
func (m *MoCtl) call(ctx context.Context, op, service, command, param string, isFlush bool) (*MoCtlResult, error) {
	t, err := m.c.query(ctx, m.c.db, MoCtlStatement(service, command, param))
	if err != nil {
		return nil, opErr(op, classifyMoError(err, isFlush), "", err)
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

// CheckSysAccount asks the server who this session is and reports
// ErrNotSysAccount, naming the account and role, unless it is the sys
// account with the moadmin role. The answer replaces the one cached for the
// client's first mo_ctl.
func (m *MoCtl) CheckSysAccount(ctx context.Context) (*Identity, error) {
	const op = "mo_ctl sys-account check"
	id, err := m.queryIdentity(ctx, op)
	if err != nil {
		return nil, err
	}
	m.c.identityMu.Lock()
	m.c.identity = id
	m.c.identityMu.Unlock()
	return id, identityError(op, id)
}

// ensureSysAccount runs the sys-account check once per Client (unless it is
// turned off) and refuses before any mo_ctl is sent. A failed query is not
// cached, so the next call asks again.
func (m *MoCtl) ensureSysAccount(ctx context.Context, op string) error {
	if !m.c.opts.sysAccountCheck {
		return nil
	}
	m.c.identityMu.Lock()
	defer m.c.identityMu.Unlock()
	if m.c.identity == nil {
		id, err := m.queryIdentity(ctx, op)
		if err != nil {
			return err
		}
		m.c.identity = id
	}
	return identityError(op, m.c.identity)
}

const identityQuery = "select current_account_name(), current_user_name(), current_role_name()"

func (m *MoCtl) queryIdentity(ctx context.Context, op string) (*Identity, error) {
	t, err := m.c.query(ctx, m.c.db, identityQuery)
	if err != nil {
		return nil, opErr(op, nil, "", err)
	}
	if len(t.rows) != 1 || len(t.cols) < 3 {
		return nil, opErr(op, ErrUnexpectedResult, fmt.Sprintf("identity query: want 1 row of 3 columns, got %d rows of %d columns", len(t.rows), len(t.cols)), nil)
	}
	var vals [3]string
	for i := range vals {
		if vals[i], err = t.text(0, i); err != nil {
			return nil, opErr(op, nil, "identity query", err)
		}
	}
	return &Identity{Account: vals[0], User: vals[1], Role: vals[2]}, nil
}

func identityError(op string, id *Identity) error {
	if id.IsSysAdmin() {
		return nil
	}
	return opErr(op, ErrNotSysAccount, fmt.Sprintf("session is account %q, user %q, role %q", id.Account, id.User, id.Role), nil)
}
