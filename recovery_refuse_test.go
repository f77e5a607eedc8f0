package dbctl

// Refusals before sending (newMock fails a test on any statement) and the
// classification of the server's recovery errors.

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every refusal before sending: newMock fails the test on any statement.
func TestRecoveryRefusesBeforeSending(t *testing.T) {
	long := "cap_0123456789012345678901234567890123456789012345678901234567890123456789"
	ctx := context.Background()
	cases := []struct {
		name string
		kind error
		call func(c *Client) error
	}{
		{"snapshot name over 64", ErrInvalidIdentifier, func(c *Client) error { _, err := c.Snapshots().Create(ctx, long, AccountTarget("")); return err }},
		{"snapshot name 65 runes", ErrInvalidIdentifier, func(c *Client) error { return c.Snapshots().Drop(ctx, strings.Repeat("é", 65)) }},
		{"back-tick in snapshot", ErrInvalidIdentifier, func(c *Client) error { return c.Snapshots().Drop(ctx, "cap`tick") }},
		{"empty snapshot", ErrInvalidIdentifier, func(c *Client) error { _, err := c.Snapshots().Get(ctx, ""); return err }},
		{"back-tick in database", ErrInvalidIdentifier, func(c *Client) error {
			_, err := c.Snapshots().Create(ctx, "s", DatabaseTarget("a`b"))
			return err
		}},
		{"back-tick in pitr", ErrInvalidIdentifier, func(c *Client) error { return c.PITRs().Drop(ctx, "p`") }},
		{"reserved pitr drop", ErrInvalidIdentifier, func(c *Client) error { return c.PITRs().Drop(ctx, "SYS_MO_CATALOG_PITR") }},
		{"reserved pitr alter", ErrInvalidIdentifier, func(c *Client) error { return c.PITRs().Alter(ctx, ReservedPITRName, Range{1, "h"}) }},
		{"reserved pitr create", ErrInvalidIdentifier, func(c *Client) error {
			_, err := c.PITRs().Create(ctx, ReservedPITRName, AccountTarget(""), Range{1, "h"})
			return err
		}},
		{"reserved pitr restore", ErrInvalidIdentifier, func(c *Client) error {
			return c.PITRs().Restore(ctx, ReservedPITRName, time.Now(), DatabaseTarget("d"))
		}},
		{"range 0 on alter", ErrInvalidArgument, func(c *Client) error { return c.PITRs().Alter(ctx, "p", Range{0, "h"}) }},
		{"negative range", ErrInvalidArgument, func(c *Client) error { return c.PITRs().Alter(ctx, "p", Range{-1, "h"}) }},
		{"range 101", ErrInvalidArgument, func(c *Client) error {
			_, err := c.PITRs().Create(ctx, "p", AccountTarget(""), Range{101, "h"})
			return err
		}},
		{"range 0 on create", ErrInvalidArgument, func(c *Client) error {
			_, err := c.PITRs().Create(ctx, "p", AccountTarget(""), Range{0, "d"})
			return err
		}},
		{"unit m", ErrInvalidArgument, func(c *Client) error { return c.PITRs().Alter(ctx, "p", Range{1, "m"}) }},
		{"unit empty", ErrInvalidArgument, func(c *Client) error { return c.PITRs().Alter(ctx, "p", Range{1, ""}) }},
		{"ToAccount on database", ErrInvalidArgument, func(c *Client) error {
			return c.Snapshots().Restore(ctx, "s", DatabaseTarget("d"), SnapshotRestoreOptions{ToAccount: "cap_acc"})
		}},
		{"ToAccount on table", ErrInvalidArgument, func(c *Client) error {
			return c.Snapshots().Restore(ctx, "s", TableTarget("d", "t"), SnapshotRestoreOptions{ToAccount: "cap_acc"})
		}},
		{"ToAccount on cluster", ErrInvalidArgument, func(c *Client) error {
			return c.Snapshots().Restore(ctx, "s", ClusterTarget(), SnapshotRestoreOptions{ToAccount: "cap_acc"})
		}},
		{"account on a database target", ErrInvalidArgument, func(c *Client) error {
			return c.Snapshots().Restore(ctx, "s", Target{Level: LevelDatabase, Account: "acc1", Database: "d"}, SnapshotRestoreOptions{})
		}},
		{"unknown level", ErrInvalidArgument, func(c *Client) error { _, err := c.Snapshots().Create(ctx, "s", Target{Level: "db"}); return err }},
		{"restore time after 2262", ErrInvalidArgument, func(c *Client) error {
			return c.PITRs().Restore(ctx, "p", time.Date(2999, 1, 1, 0, 0, 0, 0, time.UTC), DatabaseTarget("d"))
		}},
		{"restore time before 1678", ErrInvalidArgument, func(c *Client) error {
			return c.PITRs().Restore(ctx, "p", time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC), DatabaseTarget("d"))
		}},
		{"zero restore time", ErrInvalidArgument, func(c *Client) error { return c.PITRs().Restore(ctx, "p", time.Time{}, DatabaseTarget("d")) }},
		{"cluster recovery window", ErrInvalidArgument, func(c *Client) error { _, err := c.PITRs().RecoveryWindow(ctx, ClusterTarget()); return err }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := newMock(t)
			err := tc.call(c)
			require.Error(t, err)
			assert.ErrorIs(t, err, tc.kind)
			assert.True(t, strings.HasPrefix(err.Error(), "dbctl: "), err.Error())
		})
	}
}

func TestClassifyRecoveryError(t *testing.T) {
	cases := []struct {
		number uint16
		msg    string
		want   error
	}{
		{20101, "internal error: do not have privilege to execute the statement", ErrPermissionDenied},
		{20101, "internal error: only sys tenant can create cluster level snapshot", ErrPermissionDenied},
		{20101, "internal error: only sys tenant can create tenant level pitr for other tenant", ErrPermissionDenied},
		{20101, "internal error: non-sys account can't restore sys account", ErrPermissionDenied},
		{20101, "internal error: non-sys account's snapshot can't restore to sys account", ErrPermissionDenied},
		{20101, "internal error: account acc1 is not allowed to restore other account sys", ErrPermissionDenied},
		{20101, "internal error: only sys account can show other account's recovery window", ErrPermissionDenied},
		{20101, "internal error: snapshot cap_sn_nope does not exist", ErrSnapshotNotFound},
		{20101, "internal error: find 0 snapshot records by name(cap_sn_nope), expect only 1", ErrSnapshotNotFound},
		{20101, "internal error: pitr cap_p_nope does not exist", ErrPITRNotFound},
		{20101, "internal error: snapshot cap_sn_db already exists", ErrAlreadyExists},
		{20101, "internal error: pitr cap_p_db already exists", ErrAlreadyExists},
		{20101, "internal error: database `cap_db` table `cap_t` already has a pitr", ErrAlreadyExists},
		{20101, "internal error: cluster level pitr already exists", ErrAlreadyExists},
		{1062, "Duplicate entry 'cap_0123' for key 'sname'", ErrAlreadyExists},
		{20101, "internal error: database cap_nodb does not exist", ErrTableNotFound},
		{20101, "internal error: table cap_db.cap_notbl does not exist", ErrTableNotFound},
		{20101, "internal error: account cap_noacct does not exist", ErrTableNotFound},
		{20101, "internal error: invalid pitr value 0", ErrInvalidArgument},
		{20101, "internal error: invalid pitr unit ", ErrInvalidArgument},
		{20101, "internal error: input timestamp 2000-01-01 00:00:00 is less than the pitr valid time 2026-11-30 23:38:34", ErrInvalidArgument},
		{20101, "internal error: input timestamp 2026-12-01 00:38:48 is bigger than now timestamp 2026-11-30 23:38:48", ErrInvalidArgument},
		{1105, `parsing time "yesterday" as "2006-01-02 15:04:05": cannot parse "yesterday" as "2006"`, ErrInvalidArgument},
		{1105, `parsing time "2026-11-30 10:00:00 +08:00": extra text: " +08:00"`, ErrInvalidArgument},
		// 1105 is MatrixOne's generic error: without the recorded text it
		// is not the caller's argument
		{1105, "internal error: connection reset by peer", nil},
		{1105, "txn already aborted", nil},
		{20101, "internal error: snapshot cap_sn_db is not cluster level snapshot", ErrInvalidArgument},
		{20101, "internal error: can't restore db from table level snapshot", ErrInvalidArgument},
		{20101, "internal error: tableName(cap_u) does not match snapshot.tableName(cap_t)", ErrInvalidArgument},
		{20101, "internal error: restore level table is not allowed for database restore", ErrInvalidArgument},
		{20101, "internal error: pitr cap_p_tbl is not allowed to restore table cap_db.cap_u", ErrInvalidArgument},
		{20101, "internal error: can not create snapshot for system database mo_catalog", ErrInvalidArgument},
		{20101, "internal error: database mo_catalog can not be restore", ErrInvalidArgument},
		{20101, "internal error: pitr name is reserved", ErrInvalidArgument},
		{20101, "internal error: invalid input", ErrInvalidIdentifier},
		{1064, "SQL parser error: ...", nil},
	}
	for _, tc := range cases {
		err := recoveryErr("op", myErr(tc.number, "HY000", tc.msg))
		if tc.want == nil {
			var oe *OpError
			require.True(t, errors.As(err, &oe))
			assert.Nil(t, oe.Kind, tc.msg)
		} else {
			assert.ErrorIs(t, err, tc.want, tc.msg)
		}
		var me *mysql.MySQLError
		assert.True(t, errors.As(err, &me), "the server error stays wrapped: %s", tc.msg)
	}
	assert.Nil(t, classifyRecoveryError(errors.New("network")))
}

func TestPermissionDeniedKeepsServerError(t *testing.T) {
	c, mock := newMock(t)
	mock.ExpectExec("restore database `cap_db` {snapshot = `cap_sn_db`}").WillReturnError(myErr(20101, "HY000", "internal error: do not have privilege to execute the statement"))
	err := c.Snapshots().Restore(context.Background(), "cap_sn_db", DatabaseTarget("cap_db"), SnapshotRestoreOptions{})
	assert.True(t, errors.Is(err, ErrPermissionDenied))
	assert.Equal(t, "dbctl: snapshot restore cap_sn_db to database cap_db: permission denied: Error 20101 (HY000): internal error: do not have privilege to execute the statement", err.Error())
}

// The exported checks are the ones Restore runs: same error, same text,
// nothing sent (newMock fails the test on any statement); valid input
// passes both.
func TestValidateRestoreIsRestoresCheck(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 11, 30, 23, 38, 40, 0, time.UTC)
	snap := func(name string, tg Target, opts SnapshotRestoreOptions) (func() error, func(*Client) error) {
		return func() error { return ValidateSnapshotRestore(name, tg, opts) },
			func(c *Client) error { return c.Snapshots().Restore(ctx, name, tg, opts) }
	}
	pitr := func(name string, at time.Time, tg Target) (func() error, func(*Client) error) {
		return func() error { return ValidatePITRRestore(name, at, tg) },
			func(c *Client) error { return c.PITRs().Restore(ctx, name, at, tg) }
	}
	type check struct {
		validate func() error
		restore  func(*Client) error
	}
	of := func(v func() error, r func(*Client) error) check { return check{v, r} }
	cases := []struct {
		call check
		kind error
		msg  string
	}{
		{of(snap("s`", DatabaseTarget("d"), SnapshotRestoreOptions{})), ErrInvalidIdentifier, `dbctl: snapshot restore s` + "`" + ` to database d: invalid identifier: snapshot name "s` + "`" + `" contains a back-tick, which MatrixOne refuses`},
		{of(snap("s", DatabaseTarget("d"), SnapshotRestoreOptions{ToAccount: "acc2"})), ErrInvalidArgument, `dbctl: snapshot restore s to database d: invalid argument: ToAccount "acc2" with a database restore: the server ignores TO ACCOUNT there and restores into the caller's account`},
		{of(snap("s", AccountTarget("acc1"), SnapshotRestoreOptions{ToAccount: "a`"})), ErrInvalidIdentifier, `dbctl: snapshot restore s of account acc1 into account a` + "`" + `: invalid identifier: account name "a` + "`" + `" contains a back-tick, which MatrixOne refuses`},
		{of(snap("s", TableTarget("d", ""), SnapshotRestoreOptions{})), ErrInvalidIdentifier, "dbctl: snapshot restore s to table d.: invalid identifier: empty table name"},
		{of(pitr(ReservedPITRName, at, ClusterTarget())), ErrInvalidIdentifier, `dbctl: pitr restore sys_mo_catalog_pitr to cluster: invalid identifier: PITR name "sys_mo_catalog_pitr" is the server's internal PITR on mo_catalog`},
		{of(pitr("p", time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), DatabaseTarget("d"))), ErrInvalidArgument, "dbctl: pitr restore p to database d: invalid argument: restore time 3000-01-01T00:00:00Z is outside what MatrixOne can represent (1677-09-21T00:12:43Z to 2262-04-11T23:47:16Z)"},
		{of(pitr("p", at, Target{Level: "db"})), ErrInvalidArgument, `dbctl: pitr restore p to level db: invalid argument: unknown level "db" (want cluster, account, database or table)`},
	}
	for _, tc := range cases {
		err := tc.call.validate()
		assert.ErrorIs(t, err, tc.kind)
		assert.EqualError(t, err, tc.msg)
		c, _ := newMock(t)
		assert.Equal(t, err, tc.call.restore(c))
	}
	assert.NoError(t, ValidateSnapshotRestore("S", AccountTarget("acc1"), SnapshotRestoreOptions{ToAccount: "acc2"}))
	assert.NoError(t, ValidatePITRRestore("P", at, TableTarget("d", "t")))
	assert.NoError(t, AccountTarget("").Validate())
}
