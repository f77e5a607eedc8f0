package dbctl

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/DATA-DOG/go-sqlmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Exact SQL of every recovery statement form (sqlmock, QueryMatcherEqual),
// the refusals before sending, and the mapping of server errors. The
// captures each form rests on are named in the docstrings of the methods.

var (
	snapCols   = []string{"SNAPSHOT_NAME", "TIMESTAMP", "SNAPSHOT_LEVEL", "ACCOUNT_NAME", "DATABASE_NAME", "TABLE_NAME"}
	pitrCols   = []string{"PITR_NAME", "CREATED_TIME", "MODIFIED_TIME", "PITR_LEVEL", "ACCOUNT_NAME", "DATABASE_NAME", "TABLE_NAME", "PITR_LENGTH", "PITR_UNIT"}
	windowCols = []string{"RecoveryWindowLevel", "AccountName", "DatabaseName", "TableName", "RecoveryWindows"}
	utc8       = time.FixedZone("UTC+08:00", 8*3600)
)

func TestSnapshotCreateSQL(t *testing.T) {
	ts := "2026-11-30 23:38:31.71322739"
	cases := []struct {
		name   string
		target Target
		stmt   string
		row    []string
	}{
		{"cap_sn_cluster", ClusterTarget(), "create snapshot `cap_sn_cluster` for cluster", []string{"cap_sn_cluster", ts, "cluster", "", "", ""}},
		{"cap_sn_acct", AccountTarget(""), "create snapshot `cap_sn_acct` for account", []string{"cap_sn_acct", ts, "account", "sys", "", ""}},
		{"cap_sn_acc1", AccountTarget("acc1"), "create snapshot `cap_sn_acc1` for account `acc1`", []string{"cap_sn_acc1", ts, "account", "acc1", "", ""}},
		{"cap_sn_db", DatabaseTarget("cap_db"), "create snapshot `cap_sn_db` for database `cap_db`", []string{"cap_sn_db", ts, "database", "sys", "cap_db", ""}},
		{"Cap_SN_Tbl", TableTarget("cap_db", "cap_t"), "create snapshot `cap_sn_tbl` for table `cap_db` `cap_t`", []string{"cap_sn_tbl", ts, "table", "sys", "cap_db", "cap_t"}},
		{"cap-dash.dot", AccountTarget(""), "create snapshot `cap-dash.dot` for account", []string{"cap-dash.dot", ts, "account", "sys", "", ""}},
	}
	for _, tc := range cases {
		t.Run(tc.stmt, func(t *testing.T) {
			c, mock := newMock(t)
			mock.ExpectExec(tc.stmt).WillReturnResult(sqlmock.NewResult(0, 0))
			lower := strings.ToLower(tc.name)
			mock.ExpectQuery("show snapshots where snapshot_name = '" + lower + "'").WillReturnRows(rowsOf(snapCols, tc.row))
			s, err := c.Snapshots().Create(context.Background(), tc.name, tc.target)
			require.NoError(t, err)
			assert.Equal(t, lower, s.Name)
			assert.Equal(t, tc.target.Level, s.Level)
			assert.Equal(t, time.Date(2026, 11, 30, 23, 38, 31, 713227390, time.UTC), s.Timestamp)
			assert.Equal(t, tc.row[3], s.Account)
			assert.Equal(t, tc.row[4], s.Database)
			assert.Equal(t, tc.row[5], s.Table)
		})
	}
}

func TestSnapshotListGetDropSQL(t *testing.T) {
	c, mock := newMock(t)
	mock.ExpectQuery("show snapshots").WillReturnRows(rowsOf(append(snapCols, "EXTRA"),
		[]string{"cap.dot", "2026-11-30 23:38:31.772340361", "account", "sys", "", "", "x"},
		[]string{"cap_sn_db", "2026-11-30 23:37:56", "database", "sys", "cap_db", "", "y"}))
	list, err := c.Snapshots().List(context.Background())
	require.NoError(t, err)
	require.Len(t, list, 2)
	assert.Equal(t, Snapshot{Name: "cap.dot", Timestamp: time.Date(2026, 11, 30, 23, 38, 31, 772340361, time.UTC), Level: LevelAccount, Account: "sys"}, list[0])
	assert.Equal(t, time.Date(2026, 11, 30, 23, 37, 56, 0, time.UTC), list[1].Timestamp)

	mock.ExpectQuery("show snapshots where snapshot_name = 'cap_mixed'").WillReturnRows(rowsOf(snapCols))
	_, err = c.Snapshots().Get(context.Background(), "Cap_Mixed")
	assert.True(t, errors.Is(err, ErrSnapshotNotFound), "%v", err)

	mock.ExpectExec("drop snapshot `cap_upper`").WillReturnResult(sqlmock.NewResult(0, 0))
	require.NoError(t, c.Snapshots().Drop(context.Background(), "CAP_UPPER"))

	mock.ExpectExec("drop snapshot `cap_sn_nope`").WillReturnError(myErr(20101, "HY000", "internal error: snapshot cap_sn_nope does not exist"))
	err = c.Snapshots().Drop(context.Background(), "cap_sn_nope")
	assert.True(t, errors.Is(err, ErrSnapshotNotFound), "%v", err)
	me, ok := serverError(err)
	require.True(t, ok)
	assert.Equal(t, uint16(20101), me.Number)
}

func TestSnapshotRestoreSQL(t *testing.T) {
	cases := []struct {
		name     string
		target   Target
		opts     SnapshotRestoreOptions
		identity []string // the identity query's answer, when the form needs it
		stmt     string
	}{
		{"cluster", ClusterTarget(), SnapshotRestoreOptions{}, nil, "restore cluster {snapshot = `cap_sn_cluster`}"},
		{"named account", AccountTarget("cap_acc"), SnapshotRestoreOptions{}, nil, "restore account `cap_acc` {snapshot = `cap_sn_cluster`}"},
		{"own account", AccountTarget(""), SnapshotRestoreOptions{}, []string{"acc1", "admin", "accountadmin"}, "restore account `acc1` {snapshot = `cap_sn_cluster`}"},
		{"to account", AccountTarget("cap_acc"), SnapshotRestoreOptions{ToAccount: "cap_acc2"}, nil, "restore account `cap_acc` {snapshot = `cap_sn_cluster`} to account `cap_acc2`"},
		{"database", DatabaseTarget("cap_db"), SnapshotRestoreOptions{}, nil, "restore database `cap_db` {snapshot = `cap_sn_cluster`}"},
		{"table", TableTarget("cap_db", "cap_t"), SnapshotRestoreOptions{}, nil, "restore table `cap_db`.`cap_t` {snapshot = `cap_sn_cluster`}"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, mock := newMock(t)
			if tc.identity != nil {
				mock.ExpectQuery(identityQuery).WillReturnRows(rowsOf(identityCols, tc.identity))
			}
			mock.ExpectExec(tc.stmt).WillReturnResult(sqlmock.NewResult(0, 0))
			require.NoError(t, c.Snapshots().Restore(context.Background(), "CAP_SN_CLUSTER", tc.target, tc.opts))
		})
	}
}

func TestPITRCreateSQL(t *testing.T) {
	cases := []struct {
		name     string
		target   Target
		r        Range
		identity []string
		stmt     string
		row      []string
	}{
		{"cap_p_cluster", ClusterTarget(), Range{1, RangeHours}, nil, "create pitr `cap_p_cluster` for cluster range 1 'h'",
			[]string{"cap_p_cluster", "2026-11-30 23:38:34", "2026-11-30 23:38:34", "cluster", "*", "*", "*", "1", "h"}},
		{"cap_p_acct", AccountTarget(""), Range{2, RangeDays}, nil, "create pitr `cap_p_acct` for account range 2 'd'",
			[]string{"cap_p_acct", "2026-11-30 23:38:34", "2026-11-30 23:38:34", "account", "sys", "*", "*", "2", "d"}},
		{"cap_p_acc1", AccountTarget("acc1"), Range{1, RangeMonths}, []string{"sys", "root", "moadmin"}, "create pitr `cap_p_acc1` for account `acc1` range 1 'mo'",
			[]string{"cap_p_acc1", "2026-11-30 23:38:34", "2026-11-30 23:38:34", "account", "acc1", "*", "*", "1", "mo"}},
		{"cap_pa_acct", AccountTarget("ACC1"), Range{1, RangeDays}, []string{"acc1", "admin", "accountadmin"}, "create pitr `cap_pa_acct` for account range 1 'd'",
			[]string{"cap_pa_acct", "2026-11-30 23:38:34", "2026-11-30 23:38:34", "account", "acc1", "*", "*", "1", "d"}},
		{"cap_p_db", DatabaseTarget("cap_db"), Range{1, "Y"}, nil, "create pitr `cap_p_db` for database `cap_db` range 1 'y'",
			[]string{"cap_p_db", "2026-11-30 23:38:34", "2026-11-30 23:38:34", "database", "sys", "cap_db", "*", "1", "y"}},
		{"Cap_P_Mixed", TableTarget("cap_db", "cap_u"), Range{100, "H"}, nil, "create pitr `cap_p_mixed` for table `cap_db` `cap_u` range 100 'h'",
			[]string{"cap_p_mixed", "2026-11-30 23:38:34", "2026-11-30 23:38:35", "table", "sys", "cap_db", "cap_u", "100", "h"}},
	}
	for _, tc := range cases {
		t.Run(tc.stmt, func(t *testing.T) {
			c, mock := newMock(t, Options{MatrixOneTimeZone: utc8})
			if tc.identity != nil {
				mock.ExpectQuery(identityQuery).WillReturnRows(rowsOf(identityCols, tc.identity))
			}
			mock.ExpectExec(tc.stmt).WillReturnResult(sqlmock.NewResult(0, 0))
			lower := strings.ToLower(tc.name)
			expectUTCSession(mock, "+08:00", "show pitr where pitr_name = '"+lower+"'", rowsOf(pitrCols, tc.row))
			p, err := c.PITRs().Create(context.Background(), tc.name, tc.target, tc.r)
			require.NoError(t, err)
			assert.Equal(t, lower, p.Name)
			assert.Equal(t, tc.target.Level, p.Level)
			// the DATETIME is UTC: SHOW PITR ran under '+00:00'
			assert.Equal(t, time.Date(2026, 11, 30, 23, 38, 34, 0, time.UTC), p.Created)
			assert.Equal(t, strings.ToLower(string(tc.r.Unit)), string(p.Range.Unit))
			assert.Equal(t, tc.r.N, p.Range.N)
			assert.Equal(t, strings.Trim(tc.row[4], "*"), p.Account)
			assert.Equal(t, strings.Trim(tc.row[5], "*"), p.Database)
			assert.Equal(t, strings.Trim(tc.row[6], "*"), p.Table)
		})
	}
}

func TestPITRListAlterDropSQL(t *testing.T) {
	c, mock := newMock(t)
	expectUTCSession(mock, "SYSTEM", "show pitr", rowsOf(pitrCols,
		[]string{"cap-p.dash", "2026-11-30 23:38:34", "2026-11-30 23:38:34", "account", "cap_acc", "*", "*", "1", "h"},
		[]string{"cap_p_db", "2026-11-30T23:38:34Z", "2026-11-30 23:38:34", "database", "sys", "cap_db", "*", "0", "h"}))
	list, err := c.PITRs().List(context.Background())
	require.NoError(t, err)
	require.Len(t, list, 2)
	assert.Equal(t, PITR{Name: "cap-p.dash", Created: time.Date(2026, 11, 30, 23, 38, 34, 0, time.UTC), Modified: time.Date(2026, 11, 30, 23, 38, 34, 0, time.UTC),
		Level: LevelAccount, Account: "cap_acc", Range: Range{1, RangeHours}}, list[0])
	assert.Equal(t, Range{0, RangeHours}, list[1].Range, "a range someone else altered to 0 is read as it is")
	assert.Equal(t, time.Date(2026, 11, 30, 23, 38, 34, 0, time.UTC), list[1].Created, "RFC 3339 text (parseTime=true) is read by its wall clock")

	mock.ExpectExec("alter pitr `cap_p_db` range 2 'mo'").WillReturnResult(sqlmock.NewResult(0, 0))
	require.NoError(t, c.PITRs().Alter(context.Background(), "cap_p_db", Range{2, "MO"}))

	mock.ExpectExec("alter pitr `cap_p_nope` range 1 'h'").WillReturnError(myErr(20101, "HY000", "internal error: pitr cap_p_nope does not exist"))
	assert.True(t, errors.Is(c.PITRs().Alter(context.Background(), "cap_p_nope", Range{1, "h"}), ErrPITRNotFound))

	mock.ExpectExec("drop pitr `cap_p_cluster`").WillReturnResult(sqlmock.NewResult(0, 0))
	require.NoError(t, c.PITRs().Drop(context.Background(), "CAP_P_CLUSTER"))

	// a session already at '+00:00' is not set at all
	mock.ExpectQuery(stmtSessionZone).WillReturnRows(rowsOf([]string{"@@time_zone"}, []string{"+00:00"}))
	mock.ExpectQuery("show pitr where pitr_name = 'cap_p_nope'").WillReturnRows(rowsOf(pitrCols))
	_, err = c.PITRs().Get(context.Background(), "cap_p_nope")
	assert.True(t, errors.Is(err, ErrPITRNotFound))
}

func TestPITRRestoreSQL(t *testing.T) {
	at := time.Date(2026, 11, 30, 23, 38, 40, 123456789, time.UTC)
	cases := []struct {
		name     string
		target   Target
		identity []string
		stmt     string
	}{
		{"cluster", ClusterTarget(), nil, "restore cluster from pitr `p` '2026-12-01 07:38:40.123456789'"},
		{"own account", AccountTarget(""), []string{"acc1", "admin", "accountadmin"}, "restore from pitr `p` '2026-12-01 07:38:40.123456789'"},
		{"own account named", AccountTarget("Acc1"), []string{"acc1", "admin", "accountadmin"}, "restore from pitr `p` '2026-12-01 07:38:40.123456789'"},
		{"other account", AccountTarget("cap_acc"), []string{"sys", "root", "moadmin"}, "restore account `cap_acc` from pitr `p` '2026-12-01 07:38:40.123456789'"},
		{"database", DatabaseTarget("cap_db"), nil, "restore database `cap_db` from pitr `p` '2026-12-01 07:38:40.123456789'"},
		{"table", TableTarget("cap_db", "cap_t"), nil, "restore database `cap_db` table `cap_t` from pitr `p` '2026-12-01 07:38:40.123456789'"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, mock := newMock(t, Options{MatrixOneTimeZone: utc8})
			if tc.identity != nil {
				mock.ExpectQuery(identityQuery).WillReturnRows(rowsOf(identityCols, tc.identity))
			}
			mock.ExpectExec(tc.stmt).WillReturnResult(sqlmock.NewResult(0, 0))
			// the same instant in any location gives the same text
			require.NoError(t, c.PITRs().Restore(context.Background(), "P", at.In(time.FixedZone("X", -7*3600)), tc.target))
		})
	}
}

func TestParseRange(t *testing.T) {
	for in, want := range map[string]Range{"2 d": {2, "d"}, "1mo": {1, "mo"}, " 3 H ": {3, "h"}, "100y": {100, "y"}} {
		got, err := ParseRange(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "0 h", "101 h", "-1 h", "1", "h", "1 w", "1000 h", "1.5 h"} {
		_, err := ParseRange(in)
		assert.ErrorIs(t, err, ErrInvalidArgument, in)
	}
	assert.Equal(t, "2 d", Range{2, "d"}.String())
}

func TestParseSnapshotTime(t *testing.T) {
	for in, ns := range map[string]int{"2026-11-30 23:38:31": 0, "2026-11-30 23:38:31.7": 700000000,
		"2026-11-30 23:38:31.76457664": 764576640, "2026-11-30 23:38:31.772340361": 772340361} {
		got, err := parseSnapshotTime(in)
		require.NoError(t, err, in)
		assert.Equal(t, time.Date(2026, 11, 30, 23, 38, 31, ns, time.UTC), got, in)
	}
	for _, in := range []string{"", "2026-11-30", "2026-11-30T23:38:31Z", "2026-11-30 23:38:31.1234567890", "yesterday"} {
		_, err := parseSnapshotTime(in)
		assert.ErrorIs(t, err, ErrUnexpectedResult, in)
	}
}

func TestParseWindowEntries(t *testing.T) {
	got, err := parseWindowEntries("[{'timestamp':'t1', 'source':'snapshot', 'source_name':'a'b'}, {'start_time':'s', 'end_time':'e', 'source':'pitr', 'source_name':'p'}]")
	require.NoError(t, err)
	assert.Equal(t, []map[string]string{
		{"timestamp": "t1", "source": "snapshot", "source_name": "a'b"},
		{"start_time": "s", "end_time": "e", "source": "pitr", "source_name": "p"},
	}, got)
	for _, in := range []string{"", "[]"} {
		got, err := parseWindowEntries(in)
		require.NoError(t, err)
		assert.Empty(t, got)
	}
	for _, in := range []string{"{", "[x]", "[{'a' 'b'}]", "[{'a':'b'} {'c':'d'}]", "[{'a':b}]"} {
		_, err := parseWindowEntries(in)
		assert.ErrorIs(t, err, ErrUnexpectedResult, in)
	}
}

func TestParsePITRsRejectsUnknownShapes(t *testing.T) {
	c, mock := newMock(t, Options{MatrixOneTimeZone: time.UTC})
	expectUTCSession(mock, "SYSTEM", "show pitr", rowsOf(pitrCols, []string{"p", "bad", "2026-11-30 23:38:34", "account", "sys", "*", "*", "1", "h"}))
	_, err := c.PITRs().List(context.Background())
	assert.ErrorIs(t, err, ErrUnexpectedResult)
	assert.Contains(t, err.Error(), `"bad"`)

	mock.ExpectQuery("show snapshots").WillReturnRows(rowsOf(snapCols[:3], []string{"s", "2026-11-30 23:38:31", "account"}))
	_, err = c.Snapshots().List(context.Background())
	assert.ErrorIs(t, err, ErrUnexpectedResult)

	mock.ExpectQuery("show snapshots").WillReturnRows(rowsOf(snapCols, []string{"s", "2026-11-30 23:38:31", "schema", "", "", ""}))
	_, err = c.Snapshots().List(context.Background())
	assert.ErrorIs(t, err, ErrUnexpectedResult)
}

func TestRecoveryNamesAreEscapedInLiterals(t *testing.T) {
	c, mock := newMock(t)
	mock.ExpectExec("create snapshot `it's\\x` for account").WillReturnResult(sqlmock.NewResult(0, 0))
	mock.ExpectQuery(`show snapshots where snapshot_name = 'it''s\\x'`).WillReturnRows(rowsOf(snapCols,
		[]string{`it's\x`, "2026-11-30 23:38:31", "account", "sys", "", ""}))
	s, err := c.Snapshots().Create(context.Background(), `It's\X`, AccountTarget(""))
	require.NoError(t, err)
	assert.Equal(t, `it's\x`, s.Name)
}

func TestRecoveryHonoursCancellation(t *testing.T) {
	c, _ := newMock(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := c.Snapshots().Drop(ctx, "s")
	assert.ErrorIs(t, err, context.Canceled)
	_, err = c.PITRs().List(ctx)
	assert.ErrorIs(t, err, context.Canceled)
}

// expectUTCSession expects a SHOW PITR run under '+00:00' on a session
// whose zone was orig, and the zone put back.
func expectUTCSession(mock sqlmock.Sqlmock, orig, stmt string, rows *sqlmock.Rows) {
	mock.ExpectQuery(stmtSessionZone).WillReturnRows(rowsOf([]string{"@@time_zone"}, []string{orig}))
	mock.ExpectExec("set time_zone = '+00:00'").WillReturnResult(sqlmock.NewResult(0, 0))
	mock.ExpectQuery(stmt).WillReturnRows(rows)
	mock.ExpectExec("set time_zone = '" + orig + "'").WillReturnResult(sqlmock.NewResult(0, 0))
}
