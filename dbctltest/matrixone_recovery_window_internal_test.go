package dbctltest

import (
	"database/sql"
	"regexp"
	"testing"
	"time"
	_ "time/tzdata" // America/New_York below, whatever the machine has

	_ "github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The start of a PITR's recovery window is max(now - range, modified_time)
// as MatrixOne's getStartTimeOfRecoveryWindow computes it, the range taken
// from now in UTC (addTimeSpan).
func TestPITRValidFromIsTheLaterOfRangeAndLastChange(t *testing.T) {
	now := time.Date(2026, 3, 31, 12, 0, 0, 0, time.UTC)
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	cases := []struct {
		name     string
		now      time.Time
		modified time.Time
		length   uint64
		unit     string
		want     time.Time
	}{
		{"changed inside the range: the change", now, now.Add(-10 * time.Minute), 1, "h", now.Add(-10 * time.Minute)},
		{"changed before the range: now - range", now, now.Add(-3 * time.Hour), 1, "h", now.Add(-time.Hour)},
		{"days", now, now.AddDate(0, 0, -30), 7, "d", time.Date(2026, 3, 24, 12, 0, 0, 0, time.UTC)},
		{"months by AddDate: 31 March - 1 month is 3 March", now, now.AddDate(-1, 0, 0), 1, "mo", time.Date(2026, 3, 3, 12, 0, 0, 0, time.UTC)},
		{"years", time.Date(2028, 2, 29, 0, 0, 0, 0, time.UTC), time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), 1, "y", time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)},
		// 8 March 2026 08:00 EDT: a day back in New York's own calendar
		// would be 13:00 UTC (EST); the server counts days in UTC
		{"days are counted in UTC", time.Date(2026, 3, 8, 12, 0, 0, 0, time.UTC).In(ny), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), 1, "d", time.Date(2026, 3, 7, 12, 0, 0, 0, time.UTC)},
		{"equal: either", now, now.Add(-time.Hour), 1, "h", now.Add(-time.Hour)},
	}
	s := &MatrixOne{}
	for _, tc := range cases {
		got := s.pitrValidFrom(&moPITR{modified: tc.modified, length: tc.length, unit: tc.unit}, tc.now)
		assert.True(t, tc.want.Equal(got), "%s: got %s, want %s", tc.name, got.UTC(), tc.want)
	}
}

// SHOW RECOVERY_WINDOW renders that start, and the end (now), as wall
// clocks of the server process's zone (.Local() and time.Now() in
// show_recovery_window.go).
func TestShowRecoveryWindowStartAndZone(t *testing.T) {
	s := NewMatrixOne(t)
	ist := time.FixedZone("IST", 5*3600+30*60)
	s.SetTimeZone(ist)
	db, err := sql.Open("mysql", s.DSN())
	require.NoError(t, err)
	defer db.Close()
	for _, q := range []string{"create database d", "create table d.t (id int primary key, v varchar(9))", "create pitr p for database d range 1 'h'"} {
		_, err := db.Exec(q)
		require.NoError(t, err, q)
	}
	// three hours later the PITR was last changed 3 hours ago: its window
	// starts 1 hour ago. (The clock is set a millisecond short of 3 hours,
	// so that the server's time, set from a reading taken just before,
	// cannot be ahead of before below.)
	const later = 3*time.Hour - time.Millisecond
	s.SetClock(time.Now().Add(later))
	before := time.Now().Add(later)
	var level, account, dbName, table, windows string
	require.NoError(t, db.QueryRow("show recovery_window for database d").Scan(&level, &account, &dbName, &table, &windows))
	after := time.Now().Add(3 * time.Hour)
	m := regexp.MustCompile(`'start_time':'([^']+)', 'end_time':'([^']+)'`).FindStringSubmatch(windows)
	require.NotNil(t, m, windows)
	start, err := time.ParseInLocation("2006-01-02 15:04:05.999999999", m[1], ist)
	require.NoError(t, err)
	end, err := time.ParseInLocation("2006-01-02 15:04:05.999999999", m[2], ist)
	require.NoError(t, err)
	assert.False(t, start.Before(before.Add(-time.Hour)) || start.After(after.Add(-time.Hour)), "start %s: want now - 1h in IST, in [%s, %s]", start, before.Add(-time.Hour), after.Add(-time.Hour))
	assert.False(t, end.Before(before) || end.After(after), "end %s: want now in IST, in [%s, %s]", end, before, after)
}
