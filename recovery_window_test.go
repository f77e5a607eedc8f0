package dbctl

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/DATA-DOG/go-sqlmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Recovery windows from the per-table answers (issue 18): the level-wide
// answer of MatrixOne v4.2.0 only lists the tables. The answers below are
// golden matrixone-recovery-2.jsonl, records 11-13, as the server sent them.

const (
	rw2s1 = "{'timestamp':'2026-12-06 06:51:42.050314733 +0000 UTC', 'source':'snapshot', 'source_name':'cap_rw_s1'}"
	rw2s2 = "{'timestamp':'2026-12-06 06:51:42.078256559 +0000 UTC', 'source':'snapshot', 'source_name':'cap_rw_s2'}"
	// the database-level answer: t1's row overwritten by later's list
	rw2DBt1    = "[" + rw2s2 + "] " + rw2s2 + ", {'start_time':'2026-12-06 06:51:42.060480089', 'end_time':'2026-12-06 06:51:42.088690054', 'source':'pitr', 'source_name':'cap_rw_p1'}]"
	rw2DBlater = "[" + rw2s2 + "]"
	rw2t1      = "[" + rw2s1 + ", " + rw2s2 + ", {'start_time':'2026-12-06 06:51:42.060480089', 'end_time':'2026-12-06 06:51:42.093307518', 'source':'pitr', 'source_name':'cap_rw_p1'}]"
	rw2later   = "[" + rw2s2 + "]"
)

func rw2Windows(level Level) []RecoveryWindow {
	ts := func(ns int) time.Time { return time.Date(2026, 12, 6, 6, 51, 42, ns, time.UTC) }
	return []RecoveryWindow{
		{Level: level, Account: "sys", Database: "cap_rw", Table: "t1", Raw: rw2t1,
			Snapshots: []WindowSource{{Source: "snapshot", Name: "cap_rw_s1", Timestamp: ts(50314733)}, {Source: "snapshot", Name: "cap_rw_s2", Timestamp: ts(78256559)}},
			PITRs:     []WindowSource{{Source: "pitr", Name: "cap_rw_p1", Start: ts(60480089), End: ts(93307518)}}},
		{Level: level, Account: "sys", Database: "cap_rw", Table: "later", Raw: rw2later,
			Snapshots: []WindowSource{{Source: "snapshot", Name: "cap_rw_s2", Timestamp: ts(78256559)}}},
	}
}

func TestRecoveryWindowOfADatabaseIsItsTablesWindows(t *testing.T) {
	c, mock := newMock(t, Options{MatrixOneTimeZone: time.UTC})
	mock.ExpectQuery("show recovery_window for database `cap_rw`").WillReturnRows(rowsOf(windowCols,
		[]string{"database", "sys", "cap_rw", "t1", rw2DBt1}, []string{"database", "sys", "cap_rw", "later", rw2DBlater}))
	mock.ExpectQuery("show recovery_window for table `cap_rw` `t1`").WillReturnRows(rowsOf(windowCols, []string{"table", "sys", "cap_rw", "t1", rw2t1}))
	mock.ExpectQuery("show recovery_window for table `cap_rw` `later`").WillReturnRows(rowsOf(windowCols, []string{"table", "sys", "cap_rw", "later", rw2later}))
	ws, err := c.PITRs().RecoveryWindow(context.Background(), DatabaseTarget("cap_rw"))
	require.NoError(t, err)
	assert.Equal(t, rw2Windows(LevelDatabase), ws)
}

func TestRecoveryWindowForms(t *testing.T) {
	// the caller's own account: listed by the account-level answer, each
	// table asked on its own; a table that no longer has a window is left out
	c, mock := newMock(t, Options{MatrixOneTimeZone: time.UTC})
	mock.ExpectQuery("show recovery_window for account").WillReturnRows(rowsOf(windowCols,
		[]string{"account", "sys", "cap_rw", "t1", "[{'start_time':'2026-11-30 23:38:"}, []string{"account", "sys", "cap_rw", "later", rw2DBlater},
		[]string{"account", "sys", "cap_rw", "t1", rw2DBt1}))
	mock.ExpectQuery("show recovery_window for table `cap_rw` `t1`").WillReturnRows(rowsOf(windowCols, []string{"table", "sys", "cap_rw", "t1", rw2t1}))
	mock.ExpectQuery("show recovery_window for table `cap_rw` `later`").WillReturnRows(rowsOf(windowCols, []string{"table", "sys", "cap_rw", "later", rw2later}))
	ws, err := c.PITRs().RecoveryWindow(context.Background(), AccountTarget(""))
	require.NoError(t, err)
	assert.Equal(t, rw2Windows(LevelAccount), ws)

	// a table
	mock.ExpectQuery("show recovery_window for table `cap_rw` `later`").WillReturnRows(rowsOf(windowCols, []string{"table", "sys", "cap_rw", "later", rw2later}))
	ws, err = c.PITRs().RecoveryWindow(context.Background(), TableTarget("cap_rw", "later"))
	require.NoError(t, err)
	assert.Equal(t, rw2Windows(LevelTable)[1:], ws)
	mock.ExpectQuery("show recovery_window for table `cap_rw` `gone`").WillReturnRows(rowsOf(windowCols))
	ws, err = c.PITRs().RecoveryWindow(context.Background(), TableTarget("cap_rw", "gone"))
	require.NoError(t, err)
	assert.Empty(t, ws)

	// another account (sys only): its own answer, trusted for one table
	// (capture 247) and refused for more, whose rows overwrite each other
	c, mock = newMock(t, Options{MatrixOneTimeZone: time.UTC})
	expectSysRoot(mock)
	one := "[{'start_time':'2026-11-30 23:38:34.645828105', 'end_time':'2026-11-30 23:38:34.81999765', 'source':'pitr', 'source_name':'cap_p_acc1'}]"
	mock.ExpectQuery("show recovery_window for account `acc1`").WillReturnRows(rowsOf(windowCols, []string{"account", "acc1", "cap_db", "cap_t", one}))
	ws, err = c.PITRs().RecoveryWindow(context.Background(), AccountTarget("acc1"))
	require.NoError(t, err)
	require.Len(t, ws, 1)
	assert.Equal(t, []WindowSource{{Source: "pitr", Name: "cap_p_acc1", Start: time.Date(2026, 11, 30, 23, 38, 34, 645828105, time.UTC),
		End: time.Date(2026, 11, 30, 23, 38, 34, 819997650, time.UTC)}}, ws[0].PITRs)
	mock.ExpectQuery("show recovery_window for account `acc1`").WillReturnRows(rowsOf(windowCols,
		[]string{"account", "acc1", "cap_db", "cap_t", one}, []string{"account", "acc1", "cap_db", "cap_u", one}))
	_, err = c.PITRs().RecoveryWindow(context.Background(), AccountTarget("acc1"))
	assert.ErrorIs(t, err, ErrNotSupported)
	assert.Contains(t, err.Error(), "cap_db.cap_t, cap_db.cap_u")
}

// Without Options.MatrixOneTimeZone, the PITR wall clocks are read with the
// server's offsets there, on the same connection, the session's zone put
// back. The server here is in Berlin (CET, +1).
func TestRecoveryWindowAsksTheServerZone(t *testing.T) {
	loc := berlin(t)
	c, mock := newMock(t)
	raw := "[{'start_time':'2026-12-06 07:51:42.060480089', 'end_time':'2026-12-06 07:51:42.093307518', 'source':'pitr', 'source_name':'cap_rw_p1'}]"
	mock.ExpectQuery("show recovery_window for table `cap_rw` `t1`").WillReturnRows(rowsOf(windowCols, []string{"table", "sys", "cap_rw", "t1", raw}))
	expectSessionZone(mock, "+08:00")
	mock.ExpectExec("set time_zone = 'SYSTEM'").WillReturnResult(sqlmock.NewResult(0, 0))
	w := time.Date(2026, 12, 6, 7, 51, 42, 0, time.UTC).Unix()
	mock.ExpectQuery(fmt.Sprintf("select from_unixtime(%d)", w)).
		WillReturnRows(rowsOf([]string{"x"}, []string{time.Unix(w, 0).In(loc).Format(wallClockLayout)}))
	mock.ExpectQuery(fmt.Sprintf("select from_unixtime(%d)", w-3600)).
		WillReturnRows(rowsOf([]string{"x"}, []string{time.Unix(w-3600, 0).In(loc).Format(wallClockLayout)}))
	mock.ExpectExec("set time_zone = '+08:00'").WillReturnResult(sqlmock.NewResult(0, 0))
	ws, err := c.PITRs().RecoveryWindow(context.Background(), TableTarget("cap_rw", "t1"))
	require.NoError(t, err)
	require.Len(t, ws, 1)
	assert.Equal(t, []WindowSource{{Source: "pitr", Name: "cap_rw_p1", Start: time.Date(2026, 12, 6, 6, 51, 42, 60480089, time.UTC),
		End: time.Date(2026, 12, 6, 6, 51, 42, 93307518, time.UTC)}}, ws[0].PITRs)
}

// End to end: the script of matrixone-recovery-2 against the embedded
// MatrixOne, whose database-level answer is as wrong as the real one; the
// windows dbctl returns are each table's own.
func TestRecoveryWindowE2EIsRightWhereTheServerIsWrong(t *testing.T) {
	ctx := context.Background()
	s := recoveryServer(t)
	c := openClient(t, s.DSN())
	mustExecAll(t, c.DB(), "create database cap_rw", "create table cap_rw.t1 (id int)", "insert into cap_rw.t1 values (1),(2)")
	s1, err := c.Snapshots().Create(ctx, "cap_rw_s1", DatabaseTarget("cap_rw"))
	require.NoError(t, err)
	p1, err := c.PITRs().Create(ctx, "cap_rw_p1", DatabaseTarget("cap_rw"), Range{7, RangeDays})
	require.NoError(t, err)
	mustExecAll(t, c.DB(), "create table cap_rw.later (id int)")
	s2, err := c.Snapshots().Create(ctx, "cap_rw_s2", DatabaseTarget("cap_rw"))
	require.NoError(t, err)

	// the server's own database-level answer is wrong
	var raw []string
	rows, err := c.DB().Query("show recovery_window for database cap_rw")
	require.NoError(t, err)
	for rows.Next() {
		var l, a, d, tb, v string
		require.NoError(t, rows.Scan(&l, &a, &d, &tb, &v))
		raw = append(raw, tb+" "+v)
	}
	require.NoError(t, rows.Close())
	require.Len(t, raw, 2)
	assert.NotContains(t, raw[0], "cap_rw_s1", "t1's row lost a snapshot, as on the real server")

	before := time.Now()
	ws, err := c.PITRs().RecoveryWindow(ctx, DatabaseTarget("cap_rw"))
	require.NoError(t, err)
	require.Len(t, ws, 2)
	assert.Equal(t, "t1", ws[0].Table)
	assert.Equal(t, []WindowSource{{Source: "snapshot", Name: "cap_rw_s1", Timestamp: s1.Timestamp}, {Source: "snapshot", Name: "cap_rw_s2", Timestamp: s2.Timestamp}}, ws[0].Snapshots)
	require.Len(t, ws[0].PITRs, 1)
	assert.Equal(t, "cap_rw_p1", ws[0].PITRs[0].Name)
	assert.WithinDuration(t, p1.Created, ws[0].PITRs[0].Start, time.Second)
	assert.False(t, ws[0].PITRs[0].End.Before(before.Add(-time.Millisecond)), "end is the server's clock at the query")
	assert.Equal(t, "later", ws[1].Table)
	assert.Equal(t, []WindowSource{{Source: "snapshot", Name: "cap_rw_s2", Timestamp: s2.Timestamp}}, ws[1].Snapshots)
	assert.Empty(t, ws[1].PITRs)

	// the end is not a bound: a restore to a time after it is valid
	at := time.Now()
	require.True(t, at.After(ws[0].PITRs[0].End))
	require.NoError(t, c.PITRs().Restore(ctx, "cap_rw_p1", at, TableTarget("cap_rw", "t1")))
}
