package dbctl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"
	_ "time/tzdata" // Europe/Berlin below, whatever the machine has

	"github.com/DATA-DOG/go-sqlmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// PITR restore times across daylight saving time, and the session time
// zone put back (issue 17). The server's answers to from_unixtime(N) are
// what MatrixOne computes, Go's offset of its zone at N
// (types.DatetimeFromUnix), here for a server process in Europe/Berlin.

func berlin(t testing.TB) *time.Location {
	loc, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	return loc
}

// expectFromUnixtime expects "select from_unixtime(N)" and answers the wall
// clock of N in loc.
func expectFromUnixtime(mock sqlmock.Sqlmock, loc *time.Location, n int64) {
	mock.ExpectQuery(fmt.Sprintf("select from_unixtime(%d)", n)).
		WillReturnRows(rowsOf([]string{fmt.Sprintf("from_unixtime(%d)", n)}, []string{time.Unix(n, 0).In(loc).Format(wallClockLayout)}))
}

func expectSessionZone(mock sqlmock.Sqlmock, zone string) {
	mock.ExpectQuery(stmtSessionZone).WillReturnRows(rowsOf([]string{"@@time_zone"}, []string{zone}))
}

func TestPITRRestoreConvertsWithTheOffsetAtThatInstant(t *testing.T) {
	loc := berlin(t)
	cases := []struct {
		name string
		at   time.Time
		// asked: the instants from_unixtime is asked for, in order
		asked []time.Time
		wall  string
	}{
		{"summer (CEST, +2)", time.Date(2026, 7, 1, 12, 0, 0, 5, time.UTC),
			[]time.Time{time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC), time.Date(2026, 7, 1, 14, 0, 0, 0, time.UTC)}, "2026-07-01 14:00:00.000000005"},
		{"winter (CET, +1)", time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC),
			[]time.Time{time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC), time.Date(2026, 12, 1, 13, 0, 0, 0, time.UTC)}, "2026-12-01 13:00:00"},
		// the wall clock 01:30 taken as UTC is after the switch to CEST:
		// the server looks again at 01:30 - 2h, which is CET (Go's
		// time.Date); the answer is 00:30Z, the instant asked for
		{"just before the clocks go forward", time.Date(2026, 3, 29, 0, 30, 0, 0, time.UTC),
			[]time.Time{time.Date(2026, 3, 29, 0, 30, 0, 0, time.UTC), time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC), time.Date(2026, 3, 28, 23, 30, 0, 0, time.UTC)}, "2026-03-29 01:30:00"},
		{"just after the clocks went forward", time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC),
			[]time.Time{time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC), time.Date(2026, 3, 29, 3, 0, 0, 0, time.UTC)}, "2026-03-29 03:00:00"},
		{"the second 02:30 of the night the clocks go back (CET)", time.Date(2026, 10, 25, 1, 30, 0, 0, time.UTC),
			[]time.Time{time.Date(2026, 10, 25, 1, 30, 0, 0, time.UTC), time.Date(2026, 10, 25, 2, 30, 0, 0, time.UTC)}, "2026-10-25 02:30:00"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, mock := newMock(t)
			// the application's session is at +08:00: set to SYSTEM for the
			// probe, and put back
			expectSessionZone(mock, "+08:00")
			mock.ExpectExec("set time_zone = 'SYSTEM'").WillReturnResult(sqlmock.NewResult(0, 0))
			for _, a := range tc.asked {
				expectFromUnixtime(mock, loc, a.Unix())
			}
			// put back before the restore, which does not depend on it
			mock.ExpectExec("set time_zone = '+08:00'").WillReturnResult(sqlmock.NewResult(0, 0))
			mock.ExpectExec("restore database `d` from pitr `p` '" + tc.wall + "'").WillReturnResult(sqlmock.NewResult(0, 0))
			require.NoError(t, c.PITRs().Restore(context.Background(), "p", tc.at, DatabaseTarget("d")))
		})
	}
}

// The first 02:30 of the night the clocks go back (CEST, 00:30Z) has a
// wall clock the server reads as the second one (01:30Z): refused, nothing
// restored, the session put back.
func TestPITRRestoreRefusesAWallClockTheServerReadsAsAnotherInstant(t *testing.T) {
	loc := berlin(t)
	at := time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC)
	c, mock := newMock(t)
	expectSessionZone(mock, "SYSTEM") // already SYSTEM: nothing set, nothing put back
	expectFromUnixtime(mock, loc, at.Unix())
	expectFromUnixtime(mock, loc, time.Date(2026, 10, 25, 2, 30, 0, 0, time.UTC).Unix())
	expectFromUnixtime(mock, loc, time.Date(2026, 10, 25, 1, 30, 0, 0, time.UTC).Unix())
	err := c.PITRs().Restore(context.Background(), "p", at, DatabaseTarget("d"))
	assert.ErrorIs(t, err, ErrInvalidArgument)
	assert.Contains(t, err.Error(), "2026-10-25 02:30:00 in the server's zone")
	assert.Contains(t, err.Error(), "would read it as 2026-10-25T01:30:00Z")

	// the same with the zone given: refused before anything is sent
	c2, _ := newMock(t, Options{MatrixOneTimeZone: loc})
	err = c2.PITRs().Restore(context.Background(), "p", at, DatabaseTarget("d"))
	assert.ErrorIs(t, err, ErrInvalidArgument)
}

// With Options.MatrixOneTimeZone the offsets come from the zone: no zone
// statement at all, the session untouched.
func TestPITRRestoreWithTheZoneGivenSendsOnlyTheRestore(t *testing.T) {
	c, mock := newMock(t, Options{MatrixOneTimeZone: berlin(t)})
	mock.ExpectExec("restore database `d` table `t` from pitr `p` '2026-07-01 14:00:00'").WillReturnResult(sqlmock.NewResult(0, 0))
	require.NoError(t, c.PITRs().Restore(context.Background(), "p", time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC), TableTarget("d", "t")))
	mock.ExpectExec("restore database `d` table `t` from pitr `p` '2026-12-01 13:00:00'").WillReturnResult(sqlmock.NewResult(0, 0))
	require.NoError(t, c.PITRs().Restore(context.Background(), "p", time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC), TableTarget("d", "t")))
}

// The session zone is put back whatever happens after it was set: the
// server refuses the restore (the zone was put back before it); the probe
// answers nonsense, and the session's zone is a name that needs escaping.
func TestSessionZoneIsPutBackAfterAFailure(t *testing.T) {
	loc := berlin(t)
	at := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

	c, mock := newMock(t)
	expectSessionZone(mock, "Europe/Berlin")
	mock.ExpectExec("set time_zone = 'SYSTEM'").WillReturnResult(sqlmock.NewResult(0, 0))
	expectFromUnixtime(mock, loc, at.Unix())
	expectFromUnixtime(mock, loc, at.Add(time.Hour).Unix())
	mock.ExpectExec("set time_zone = 'Europe/Berlin'").WillReturnResult(sqlmock.NewResult(0, 0))
	mock.ExpectExec("restore database `d` from pitr `p` '2026-12-01 13:00:00'").
		WillReturnError(myErr(20101, "HY000", "internal error: pitr p does not exist"))
	assert.ErrorIs(t, c.PITRs().Restore(context.Background(), "p", at, DatabaseTarget("d")), ErrPITRNotFound)

	expectSessionZone(mock, `it's\odd`)
	mock.ExpectExec("set time_zone = 'SYSTEM'").WillReturnResult(sqlmock.NewResult(0, 0))
	mock.ExpectQuery(fmt.Sprintf("select from_unixtime(%d)", at.Unix())).WillReturnRows(rowsOf([]string{"x"}, []string{"not a time"}))
	mock.ExpectExec(`set time_zone = 'it''s\\odd'`).WillReturnResult(sqlmock.NewResult(0, 0))
	assert.ErrorIs(t, c.PITRs().Restore(context.Background(), "p", at, DatabaseTarget("d")), ErrUnexpectedResult)

	// a NULL zone cannot be put back: nothing is set
	mock.ExpectQuery(stmtSessionZone).WillReturnRows(sqlmock.NewRows([]string{"@@time_zone"}).AddRow(nil))
	assert.ErrorIs(t, c.PITRs().Restore(context.Background(), "p", at, DatabaseTarget("d")), ErrUnexpectedResult)
}

// zoneResetWatch is a slog.Handler that cancels the caller's context once
// "set time_zone = 'SYSTEM'" has been sent (the statement logger runs after
// each statement, so the cancel falls between two statements) and keeps the
// context and error each later statement ran with.
type zoneResetWatch struct {
	cancel context.CancelFunc
	mu     sync.Mutex
	seen   []zoneResetSeen
}

type zoneResetSeen struct {
	sql         string
	ctxErr      error
	hasDeadline bool
	failed      bool
}

func (w *zoneResetWatch) Enabled(context.Context, slog.Level) bool { return true }
func (w *zoneResetWatch) WithAttrs([]slog.Attr) slog.Handler       { return w }
func (w *zoneResetWatch) WithGroup(string) slog.Handler            { return w }
func (w *zoneResetWatch) Handle(ctx context.Context, r slog.Record) error {
	seen := zoneResetSeen{ctxErr: ctx.Err()}
	_, seen.hasDeadline = ctx.Deadline()
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "sql":
			seen.sql = a.Value.String()
		case "error":
			seen.failed = true
		}
		return true
	})
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seen = append(w.seen, seen)
	if seen.sql == setZoneStmt(zoneSystem) {
		w.cancel()
	}
	return nil
}

func zoneResetMock(t *testing.T) (*Client, sqlmock.Sqlmock, *zoneResetWatch, context.Context) {
	db, mock, err := sqlmock.New(sqlmock.QueryMatcherOption(sqlmock.QueryMatcherEqual))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	w := &zoneResetWatch{cancel: cancel}
	return New(db, &Options{Logger: slog.New(w)}), mock, w, ctx
}

// The caller's context ends after the zone was set: the probe runs no
// more, and the session's zone is still put back, on a context the
// caller's cancel does not reach, bounded.
func TestSessionZoneIsPutBackAfterTheCallerLeft(t *testing.T) {
	c, mock, w, ctx := zoneResetMock(t)
	at := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	expectSessionZone(mock, "+08:00")
	mock.ExpectExec("set time_zone = 'SYSTEM'").WillReturnResult(sqlmock.NewResult(0, 0))
	// the caller's ctx is cancelled now: the delayed answer is never waited for
	mock.ExpectQuery(fmt.Sprintf("select from_unixtime(%d)", at.Unix())).WillDelayFor(time.Hour).
		WillReturnRows(rowsOf([]string{"x"}, []string{"2026-12-01 13:00:00"}))
	mock.ExpectExec("set time_zone = '+08:00'").WillReturnResult(sqlmock.NewResult(0, 0))

	err := c.PITRs().Restore(ctx, "p", at, DatabaseTarget("d"))
	assert.ErrorIs(t, err, context.Canceled)
	require.NoError(t, mock.ExpectationsWereMet(), "the zone was put back; nothing else was sent")
	w.mu.Lock()
	defer w.mu.Unlock()
	require.Len(t, w.seen, 4)
	assert.Equal(t, fmt.Sprintf("select from_unixtime(%d)", at.Unix()), w.seen[2].sql)
	assert.True(t, w.seen[2].failed, "the probe itself ran under the cancelled context")
	reset := w.seen[3]
	assert.Equal(t, "set time_zone = '+08:00'", reset.sql)
	assert.NoError(t, reset.ctxErr, "put back under a context the caller's cancel does not reach")
	assert.True(t, reset.hasDeadline, "... bounded by zoneResetTimeout")
	assert.False(t, reset.failed)
}

// Putting the zone back fails: the connection is discarded, not pooled
// with the session at SYSTEM.
func TestSessionZonePutBackFailureDiscardsTheConnection(t *testing.T) {
	c, mock, _, _ := zoneResetMock(t)
	expectSessionZone(mock, "+08:00")
	mock.ExpectExec("set time_zone = 'SYSTEM'").WillReturnResult(sqlmock.NewResult(0, 0))
	mock.ExpectQuery(fmt.Sprintf("select from_unixtime(%d)", time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC).Unix())).
		WillReturnRows(rowsOf([]string{"x"}, []string{"not a time"}))
	mock.ExpectExec("set time_zone = '+08:00'").WillReturnError(errors.New("connection reset"))
	mock.ExpectClose()
	err := c.PITRs().Restore(context.Background(), "p", time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC), DatabaseTarget("d"))
	assert.ErrorIs(t, err, ErrUnexpectedResult)
	assert.NoError(t, mock.ExpectationsWereMet(), "the connection was closed, not pooled")
}

// serverReadsWall is Go's time.Date in the zone, for every wall clock of a
// year of Berlin (every quarter hour, both transitions included).
func TestServerReadsWallIsTimeDate(t *testing.T) {
	loc := berlin(t)
	var walls []int64
	for w := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC); w.Year() == 2026; w = w.Add(15 * time.Minute) {
		walls = append(walls, w.Unix())
	}
	got, err := serverReadsWall(context.Background(), localOffsets(loc), walls)
	require.NoError(t, err)
	for _, w := range walls {
		wt := time.Unix(w, 0).UTC()
		want := time.Date(wt.Year(), wt.Month(), wt.Day(), wt.Hour(), wt.Minute(), wt.Second(), 0, loc)
		if !assert.Equal(t, want.Unix(), got[w], "wall %s", wt.Format(wallClockLayout)) {
			break
		}
	}
}
