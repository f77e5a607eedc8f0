package dbctl

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/dbctl/dbctl/dbctltest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// End to end against the embedded MatrixOne: PITR times across daylight
// saving time, and the application's session zone kept (issue 17).

// A server process in Europe/Berlin, asked in December: restores to a
// summer instant (CEST) and to a winter one (CET) bring back the rows of
// those instants. One hour either side, the rows differ, so an offset off
// by an hour (the zone's December offset used for July, as dbctl did
// before) would show here.
func TestPITRRestoreAcrossDaylightSavingTime(t *testing.T) {
	ctx := context.Background()
	s := recoveryServer(t)
	s.SetTimeZone(berlin(t))
	y := time.Now().Year() + 1 // the emulated clock runs only forward
	day := func(month time.Month, hour, min int) time.Time {
		return time.Date(y, month, 1, hour, min, 0, 0, time.UTC)
	}
	s.SetClock(day(time.July, 10, 0))
	c := openClient(t, s.DSN())
	mustExecAll(t, c.DB(), "create database d", "create table d.t (id int primary key, v varchar(9))")
	_, err := c.PITRs().Create(ctx, "p", DatabaseTarget("d"), Range{1, RangeYears})
	require.NoError(t, err)
	steps := []struct {
		at   time.Time
		stmt string
	}{
		{day(time.July, 11, 30), "insert into d.t values (1,'s1')"},
		{day(time.July, 12, 30), "insert into d.t values (2,'s2')"},
		{day(time.December, 11, 30), "insert into d.t values (3,'w1')"},
		{day(time.December, 12, 30), "insert into d.t values (4,'w2')"},
		{day(time.December, 13, 30), "delete from d.t"},
	}
	for _, st := range steps {
		s.SetClock(st.at)
		mustExecAll(t, c.DB(), st.stmt)
	}
	s.SetClock(day(time.December, 14, 0))

	cases := []struct {
		at   time.Time
		want []string
	}{
		{day(time.July, 11, 0), nil},
		{day(time.July, 12, 0), []string{"1=s1"}},
		{day(time.July, 13, 0), []string{"1=s1", "2=s2"}},
		{day(time.December, 11, 0), []string{"1=s1", "2=s2"}},
		{day(time.December, 12, 0), []string{"1=s1", "2=s2", "3=w1"}},
		{day(time.December, 13, 0), []string{"1=s1", "2=s2", "3=w1", "4=w2"}},
	}
	for _, tc := range cases {
		require.NoError(t, c.PITRs().Restore(ctx, "p", tc.at, DatabaseTarget("d")), tc.at)
		assert.Equal(t, tc.want, tableRows(t, c.DB(), "d.t"), "restored to %s (%s in Berlin)", tc.at.Format(time.RFC3339), tc.at.In(berlin(t)).Format("15:04 MST"))
	}
}

// An application connection that set time_zone = '+08:00' keeps it after
// dbctl used it: New(db, nil) over a pool of one connection, every recovery
// operation that touches the zone.
func TestApplicationSessionZoneIsKept(t *testing.T) {
	ctx := context.Background()
	s := recoveryServer(t)
	s.SetTimeZone(berlin(t))
	db, err := sql.Open("mysql", s.DSN())
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	db.SetMaxOpenConns(1) // one connection: the application's and dbctl's
	mustExecAll(t, db, "set time_zone = '+08:00'")
	zone := func() string {
		var z string
		require.NoError(t, db.QueryRow("select @@time_zone").Scan(&z))
		return z
	}
	require.Equal(t, "+08:00", zone())

	c := New(db, nil)
	mustExecAll(t, db, "create database d", "create table d.t (id int primary key, v varchar(9))")
	p, err := c.PITRs().Create(ctx, "p", DatabaseTarget("d"), Range{1, RangeDays})
	require.NoError(t, err)
	assert.Equal(t, "+08:00", zone(), "after Create")
	assert.Equal(t, time.UTC, p.Created.Location())
	mustExecAll(t, db, "insert into d.t values (1,'a')")
	at := time.Now()
	mustExecAll(t, db, "delete from d.t")
	require.NoError(t, c.PITRs().Restore(ctx, "p", at, DatabaseTarget("d")))
	assert.Equal(t, "+08:00", zone(), "after Restore")
	assert.Equal(t, []string{"1=a"}, tableRows(t, db, "d.t"))
	_, err = c.PITRs().List(ctx)
	require.NoError(t, err)
	assert.Equal(t, "+08:00", zone(), "after List")
	ws, err := c.PITRs().RecoveryWindow(ctx, DatabaseTarget("d"))
	require.NoError(t, err)
	require.Len(t, ws, 1)
	assert.Equal(t, "+08:00", zone(), "after RecoveryWindow")

	// the application's now() is still rendered at +08:00
	var now string
	require.NoError(t, db.QueryRow("select now()").Scan(&now))
	assert.Equal(t, time.Now().In(time.FixedZone("", 8*3600)).Format("2006-01-02 15"), now[:13])
}

// A PITR's window converted with the server's offsets: the start is the
// PITR's creation, the end the server's clock, both in UTC, across the
// change to daylight saving time between them.
func TestRecoveryWindowTimesAcrossDaylightSavingTime(t *testing.T) {
	ctx := context.Background()
	s := dbctltest.NewMatrixOne(t)
	s.SetTimeZone(berlin(t))
	y := time.Now().Year() + 1
	created := time.Date(y, time.March, 20, 12, 0, 0, 0, time.UTC) // CET (the change is on the last Sunday of March)
	s.SetClock(created)
	c := openClient(t, s.DSN())
	mustExecAll(t, c.DB(), "create database d", "create table d.t (id int)")
	_, err := c.PITRs().Create(ctx, "p", DatabaseTarget("d"), Range{1, RangeMonths})
	require.NoError(t, err)
	later := time.Date(y, time.April, 5, 12, 0, 0, 0, time.UTC) // CEST
	s.SetClock(later)
	ws, err := c.PITRs().RecoveryWindow(ctx, TableTarget("d", "t"))
	require.NoError(t, err)
	require.Len(t, ws, 1)
	require.Len(t, ws[0].PITRs, 1)
	w := ws[0].PITRs[0]
	assert.WithinDuration(t, created, w.Start, time.Second, "start %s", w.Start)
	assert.WithinDuration(t, later, w.End, time.Second, "end %s", w.End)
	assert.Equal(t, time.UTC, w.Start.Location())
}
