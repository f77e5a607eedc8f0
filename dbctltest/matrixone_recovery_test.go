package dbctltest_test

import (
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/dbctl/dbctl/dbctltest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Behaviour of the recovery emulation beyond the golden replay: row history
// across restores, the server's time zone, the reserved PITR.

func recoveryDB(t *testing.T) (*dbctltest.MatrixOne, *sql.DB) {
	s := dbctltest.NewMatrixOne(t)
	db := openDB(t, s.DSN())
	db.SetMaxOpenConns(1) // one session: SET time_zone applies to what follows
	mustExec(t, db, "create database d", "create table d.t (id int primary key, v varchar(9))", "insert into d.t values (1,'a')")
	return s, db
}

func rowsText(t *testing.T, db *sql.DB, q string) []string {
	t.Helper()
	rows, err := db.Query(q)
	require.NoError(t, err)
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		require.NoError(t, rows.Scan(ptrs...))
		var parts []string
		for _, v := range vals {
			parts = append(parts, v.String)
		}
		out = append(out, strings.Join(parts, "|"))
	}
	return out
}

func TestMatrixOnePITRRestoresEachPointOfHistory(t *testing.T) {
	s, db := recoveryDB(t)
	s.SetTimeZone(time.FixedZone("IST", 5*3600+30*60))
	mustExec(t, db, "create pitr p for database d range 1 'h'")
	var points []time.Time
	var states [][]string
	for _, q := range []string{"insert into d.t values (2,'b')", "update d.t set v = 'z' where id = 1", "delete from d.t where id = 2", "drop table d.t"} {
		mustExec(t, db, q)
		points = append(points, time.Now())
		if q == "drop table d.t" {
			states = append(states, nil)
			continue
		}
		states = append(states, rowsText(t, db, "select * from d.t order by id"))
	}
	// restore every point, latest first and back again: the history is kept
	for _, i := range []int{2, 0, 1, 2} {
		ts := points[i].In(time.FixedZone("IST", 5*3600+30*60)).Format("2006-01-02 15:04:05.999999999")
		mustExec(t, db, "restore database d from pitr p '"+ts+"'")
		assert.Equal(t, states[i], rowsText(t, db, "select * from d.t order by id"), "point %d", i)
	}
	// the restore time is read in the server's zone: UTC text is 5:30 off
	_, err := db.Exec("restore database d from pitr p '" + points[0].UTC().Format("2006-01-02 15:04:05") + "'")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is less than the pitr valid time")
}

func TestMatrixOneSessionAndServerZones(t *testing.T) {
	s, db := recoveryDB(t)
	s.SetTimeZone(time.FixedZone("X", -3*3600))
	mustExec(t, db, "create pitr p for account range 1 'd'")
	created := func() time.Time {
		var name, c string
		require.NoError(t, db.QueryRow("show pitr").Scan(&name, &c, new(string), new(string), new(string), new(string), new(string), new(string), new(string)))
		tm, err := time.Parse("2006-01-02 15:04:05", c)
		require.NoError(t, err)
		return tm
	}
	system := created()
	mustExec(t, db, "set time_zone = '+08:00'")
	plus8 := created()
	assert.Equal(t, 11*time.Hour, plus8.Sub(system), "SHOW PITR follows the session zone; SYSTEM is the server's -03:00")
	var now string
	require.NoError(t, db.QueryRow("select now()").Scan(&now))
	nt, err := time.Parse("2006-01-02 15:04:05.000000", now)
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now().In(time.FixedZone("", 8*3600)), time.Date(nt.Year(), nt.Month(), nt.Day(), nt.Hour(), nt.Minute(), nt.Second(), nt.Nanosecond(), time.FixedZone("", 8*3600)), time.Minute)
	mustExec(t, db, "set time_zone = 'SYSTEM'")
	assert.Equal(t, system, created())
}

func TestMatrixOneReservedPITR(t *testing.T) {
	s, db := recoveryDB(t)
	assert.False(t, s.HasReservedPITR())
	mustExec(t, db, "create pitr p1 for database d range 1 'h'", "create pitr p2 for account range 1 'h'")
	assert.True(t, s.HasReservedPITR())
	assert.Equal(t, []string{"p2", "p1"}, rowsText(t, db, "select pitr_name from mo_catalog.mo_pitr where pitr_name like 'p%' order by pitr_name desc"))
	assert.Len(t, rowsText(t, db, "show pitr"), 2, "SHOW PITR hides the reserved one")
	mustExec(t, db, "drop pitr p1")
	assert.True(t, s.HasReservedPITR())
	mustExec(t, db, "drop pitr p2")
	assert.False(t, s.HasReservedPITR(), "gone with the last user PITR")
}

func TestMatrixOneSnapshotOfDroppedDatabase(t *testing.T) {
	_, db := recoveryDB(t)
	mustExec(t, db, "create snapshot s for account", "drop database d", "create database e")
	mustExec(t, db, "restore database d {snapshot = s}")
	assert.Equal(t, []string{"1|a"}, rowsText(t, db, "select * from d.t order by id"))
	mustExec(t, db, "restore account sys {snapshot = s}")
	_, err := db.Exec("create database e")
	assert.NoError(t, err, "e, made after the snapshot, was dropped by the account restore")
}
