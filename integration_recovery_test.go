package dbctl_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dbctl/dbctl"
	"github.com/dbctl/dbctl/internal/itest"
	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Recovery: snapshots, PITR and restores of objects the test creates, with
// unique names, dropped afterwards. Never a cluster restore, never the sys
// account: account-level restores run on a throwaway account.

// realServerPause waits out the whole second a real MatrixOne may need
// between creating a PITR and a restore time inside it; the embedded server
// keeps nanoseconds and needs no pause.
func realServerPause(target matrixOneTarget) {
	if target.srv == nil {
		time.Sleep(1100 * time.Millisecond)
	}
}

func rowsOf(t *testing.T, db *sql.DB, table string) []string {
	t.Helper()
	rows, err := db.Query("select id, v from " + table + " order by id")
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, v string
		require.NoError(t, rows.Scan(&id, &v))
		out = append(out, id+"="+v)
	}
	require.NoError(t, rows.Err())
	return out
}

func TestIntegrationRecoveryDatabase(t *testing.T) {
	target := newMatrixOneTarget(t)
	c := itest.OpenClient(t, target.dsn)
	ctx := context.Background()
	db := itest.UniqueName("dbctl_rc_")
	t.Cleanup(func() { _, _ = c.DB().Exec("drop database if exists " + db) })
	itest.ExecAll(t, c.DB(), "create database "+db, "create table "+db+".t (id int primary key, v varchar(20))",
		"insert into "+db+".t values (1,'one'),(2,'two')")

	snap := itest.UniqueName("dbctl_sn_")
	t.Cleanup(func() { _ = c.Snapshots().Drop(context.Background(), snap) })
	sn, err := c.Snapshots().Create(ctx, strings.ToUpper(snap), dbctl.DatabaseTarget(db))
	require.NoError(t, err)
	assert.Equal(t, dbctl.Snapshot{Name: snap, Timestamp: sn.Timestamp, Level: dbctl.LevelDatabase, Account: "sys", Database: db}, *sn)
	got, err := c.Snapshots().Get(ctx, snap)
	require.NoError(t, err)
	assert.Equal(t, sn, got)
	list, err := c.Snapshots().List(ctx)
	require.NoError(t, err)
	assert.Contains(t, list, *sn)
	_, err = c.Snapshots().Create(ctx, snap, dbctl.DatabaseTarget(db))
	assert.True(t, errors.Is(err, dbctl.ErrAlreadyExists), "%v", err)

	itest.ExecAll(t, c.DB(), "delete from "+db+".t where id = 1", "insert into "+db+".t values (3,'three')", "create table "+db+".extra (x int)")
	require.NoError(t, c.Snapshots().Restore(ctx, snap, dbctl.DatabaseTarget(db), dbctl.SnapshotRestoreOptions{}))
	assert.Equal(t, []string{"1=one", "2=two"}, rowsOf(t, c.DB(), db+".t"))
	itest.ExecAll(t, c.DB(), "delete from "+db+".t")
	require.NoError(t, c.Snapshots().Restore(ctx, snap, dbctl.TableTarget(db, "t"), dbctl.SnapshotRestoreOptions{}))
	assert.Equal(t, []string{"1=one", "2=two"}, rowsOf(t, c.DB(), db+".t"))

	pitr := itest.UniqueName("dbctl_p_")
	t.Cleanup(func() { _ = c.PITRs().Drop(context.Background(), pitr) })
	before := time.Now().Add(-time.Second)
	p, err := c.PITRs().Create(ctx, pitr, dbctl.DatabaseTarget(db), dbctl.Range{N: 1, Unit: dbctl.RangeHours})
	require.NoError(t, err)
	assert.Equal(t, pitr, p.Name)
	assert.False(t, p.Created.Before(before) || p.Created.After(time.Now().Add(time.Second)), "created %s: the server's zone is mixed up", p.Created)
	realServerPause(target)
	itest.ExecAll(t, c.DB(), "insert into "+db+".t values (3,'three')")
	at := time.Now()
	realServerPause(target)
	itest.ExecAll(t, c.DB(), "delete from "+db+".t", "insert into "+db+".t values (9,'nine')")
	require.NoError(t, c.PITRs().Restore(ctx, pitr, at, dbctl.DatabaseTarget(db)))
	assert.Equal(t, []string{"1=one", "2=two", "3=three"}, rowsOf(t, c.DB(), db+".t"))
	itest.ExecAll(t, c.DB(), "delete from "+db+".t")
	require.NoError(t, c.PITRs().Restore(ctx, pitr, at, dbctl.TableTarget(db, "t")))
	assert.Equal(t, []string{"1=one", "2=two", "3=three"}, rowsOf(t, c.DB(), db+".t"))
	err = c.PITRs().Restore(ctx, pitr, before.Add(-time.Hour), dbctl.DatabaseTarget(db))
	assert.ErrorIs(t, err, dbctl.ErrInvalidArgument)

	require.NoError(t, c.PITRs().Alter(ctx, pitr, dbctl.Range{N: 2, Unit: dbctl.RangeDays}))
	p, err = c.PITRs().Get(ctx, pitr)
	require.NoError(t, err)
	assert.Equal(t, dbctl.Range{N: 2, Unit: dbctl.RangeDays}, p.Range)

	ws, err := c.PITRs().RecoveryWindow(ctx, dbctl.TableTarget(db, "t"))
	require.NoError(t, err)
	require.Len(t, ws, 1)
	var names []string
	for _, w := range ws[0].PITRs {
		names = append(names, w.Name)
	}
	assert.Contains(t, names, pitr)

	require.NoError(t, c.PITRs().Drop(ctx, pitr))
	assert.True(t, errors.Is(c.PITRs().Drop(ctx, pitr), dbctl.ErrPITRNotFound))
	require.NoError(t, c.Snapshots().Drop(ctx, snap))
	_, err = c.Snapshots().Get(ctx, snap)
	assert.True(t, errors.Is(err, dbctl.ErrSnapshotNotFound))
}

func TestIntegrationRecoveryAccount(t *testing.T) {
	target := newMatrixOneTarget(t)
	c := itest.OpenClient(t, target.dsn)
	ctx := context.Background()
	acc := itest.UniqueName("dbctl_acc_")
	pw := itest.UniqueName("pw")
	itest.ExecAll(t, c.DB(), "create account "+acc+" admin_name 'admin' identified by '"+pw+"'")
	t.Cleanup(func() { _, _ = c.DB().Exec("drop account if exists " + acc) })
	cfg, err := mysql.ParseDSN(target.dsn)
	require.NoError(t, err)
	cfg.User, cfg.Passwd = acc+"#admin", pw
	tenant := itest.OpenClient(t, cfg.FormatDSN())
	itest.ExecAll(t, tenant.DB(), "create database adb", "create table adb.t (id int, v varchar(5))", "insert into adb.t values (1,'a'),(2,'b')")

	snap := itest.UniqueName("dbctl_sn_")
	t.Cleanup(func() { _ = c.Snapshots().Drop(context.Background(), snap) })
	sn, err := c.Snapshots().Create(ctx, snap, dbctl.AccountTarget(acc))
	require.NoError(t, err)
	assert.Equal(t, acc, sn.Account)
	itest.ExecAll(t, tenant.DB(), "delete from adb.t where id = 2", "create database adb2")
	require.NoError(t, c.Snapshots().Restore(ctx, snap, dbctl.AccountTarget(acc), dbctl.SnapshotRestoreOptions{}))
	assert.Equal(t, []string{"1=a", "2=b"}, rowsOf(t, tenant.DB(), "adb.t"))
	itest.ExecAll(t, tenant.DB(), "create database adb2") // gone with the restore

	pitr := itest.UniqueName("dbctl_p_")
	t.Cleanup(func() { _ = c.PITRs().Drop(context.Background(), pitr) })
	_, err = c.PITRs().Create(ctx, pitr, dbctl.AccountTarget(acc), dbctl.Range{N: 1, Unit: dbctl.RangeHours})
	require.NoError(t, err)
	realServerPause(target)
	itest.ExecAll(t, tenant.DB(), "insert into adb.t values (3,'c')")
	at := time.Now()
	realServerPause(target)
	itest.ExecAll(t, tenant.DB(), "delete from adb.t")
	require.NoError(t, c.PITRs().Restore(ctx, pitr, at, dbctl.AccountTarget(acc)))
	assert.Equal(t, []string{"1=a", "2=b", "3=c"}, rowsOf(t, tenant.DB(), "adb.t"))

	// the tenant: sys's objects are invisible, the cluster is not its to snapshot
	_, err = tenant.Snapshots().Get(ctx, snap)
	assert.True(t, errors.Is(err, dbctl.ErrSnapshotNotFound), "%v", err)
	_, err = tenant.Snapshots().Create(ctx, itest.UniqueName("dbctl_sn_"), dbctl.ClusterTarget())
	assert.True(t, errors.Is(err, dbctl.ErrPermissionDenied), "%v", err)
	_, err = tenant.PITRs().RecoveryWindow(ctx, dbctl.AccountTarget("sys"))
	assert.True(t, errors.Is(err, dbctl.ErrPermissionDenied), "%v", err)
}

// A restore whose deadline passes while the server works is reported as
// ErrOutcomeUnknown, and the restore lands afterwards (issue 18). On a real
// server the table is made large enough for the restore to outlast a 20 ms
// deadline (2,000,000 rows took 3 s in the issue); on the embedded one the
// restore is held on the server instead.
func TestIntegrationRestoreOutcomeUnknown(t *testing.T) {
	target := newMatrixOneTarget(t)
	c := itest.OpenClient(t, target.dsn)
	ctx := context.Background()
	db := itest.UniqueName("dbctl_ou_")
	t.Cleanup(func() { _, _ = c.DB().Exec("drop database if exists " + db) })
	itest.ExecAll(t, c.DB(), "create database "+db, "create table "+db+".t (id int primary key, v varchar(20))")
	want := 3
	if target.srv == nil {
		want = 500000
		itest.ExecAll(t, c.DB(), "insert into "+db+".t select result, 'x' from generate_series(1, 500000) g")
	} else {
		itest.ExecAll(t, c.DB(), "insert into "+db+".t values (1,'x'),(2,'x'),(3,'x')")
	}
	snap := itest.UniqueName("dbctl_sn_")
	t.Cleanup(func() { _ = c.Snapshots().Drop(context.Background(), snap) })
	_, err := c.Snapshots().Create(ctx, snap, dbctl.TableTarget(db, "t"))
	require.NoError(t, err)
	itest.ExecAll(t, c.DB(), "delete from "+db+".t")
	count := func() int {
		var n int
		require.NoError(t, c.DB().QueryRow("select count(*) from "+db+".t").Scan(&n))
		return n
	}
	require.Equal(t, 0, count())

	release := func() {}
	if target.srv != nil {
		release = target.srv.Hold("restore table")
	}
	defer release()
	rctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	err = c.Snapshots().Restore(rctx, snap, dbctl.TableTarget(db, "t"), dbctl.SnapshotRestoreOptions{})
	if err == nil {
		t.Skip("the server restored within 20 ms: nothing to see")
	}
	require.ErrorIs(t, err, dbctl.ErrOutcomeUnknown)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "table "+db+".t may already hold, or soon hold")
	release()
	// while the restore runs, a real server may refuse the read (the table
	// is being replaced): that is "not yet", not a failure
	landed := func() bool {
		var n int
		return c.DB().QueryRow("select count(*) from "+db+".t").Scan(&n) == nil && n == want
	}
	require.Eventually(t, landed, time.Minute, 50*time.Millisecond, "the restore lands after its caller left")
}

// dbctl leaves the application's session time_zone as it was, on a pool of
// one connection that both use (issue 17).
func TestIntegrationSessionZoneKept(t *testing.T) {
	target := newMatrixOneTarget(t)
	app, err := sql.Open("mysql", target.dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = app.Close() })
	app.SetMaxOpenConns(1)
	itest.ExecAll(t, app, "set time_zone = '+08:00'")
	zone := func() string {
		var z string
		require.NoError(t, app.QueryRow("select @@time_zone").Scan(&z))
		return z
	}
	require.Equal(t, "+08:00", zone())

	c := dbctl.New(app, nil)
	ctx := context.Background()
	db := itest.UniqueName("dbctl_tz_")
	t.Cleanup(func() { _, _ = app.Exec("drop database if exists " + db) })
	itest.ExecAll(t, app, "create database "+db, "create table "+db+".t (id int primary key, v varchar(20))", "insert into "+db+".t values (1,'one')")
	pitr := itest.UniqueName("dbctl_p_")
	t.Cleanup(func() { _ = c.PITRs().Drop(context.Background(), pitr) })
	before := time.Now().Add(-time.Second)
	p, err := c.PITRs().Create(ctx, pitr, dbctl.DatabaseTarget(db), dbctl.Range{N: 1, Unit: dbctl.RangeHours})
	require.NoError(t, err)
	assert.Equal(t, "+08:00", zone(), "after Create")
	assert.False(t, p.Created.Before(before) || p.Created.After(time.Now().Add(time.Second)), "created %s", p.Created)
	realServerPause(target)
	at := time.Now()
	realServerPause(target)
	itest.ExecAll(t, app, "delete from "+db+".t")
	require.NoError(t, c.PITRs().Restore(ctx, pitr, at, dbctl.DatabaseTarget(db)))
	assert.Equal(t, "+08:00", zone(), "after Restore")
	assert.Equal(t, []string{"1=one"}, rowsOf(t, app, db+".t"))
	_, err = c.PITRs().RecoveryWindow(ctx, dbctl.DatabaseTarget(db))
	require.NoError(t, err)
	assert.Equal(t, "+08:00", zone(), "after RecoveryWindow")
}

// Windows from the per-table answers, in the situation where the server's
// database-level answer is wrong (golden matrixone-recovery-2.jsonl): a
// snapshot, a PITR, a new table, a second snapshot. And the end of a
// window is the time of the query: a later restore time is valid.
func TestIntegrationRecoveryWindowPerTable(t *testing.T) {
	target := newMatrixOneTarget(t)
	c := itest.OpenClient(t, target.dsn)
	ctx := context.Background()
	db := itest.UniqueName("dbctl_rw_")
	t.Cleanup(func() { _, _ = c.DB().Exec("drop database if exists " + db) })
	itest.ExecAll(t, c.DB(), "create database "+db, "create table "+db+".t1 (id int primary key, v varchar(20))", "insert into "+db+".t1 values (1,'one'),(2,'two')")
	s1, s2, p1 := itest.UniqueName("dbctl_s1_"), itest.UniqueName("dbctl_s2_"), itest.UniqueName("dbctl_p1_")
	t.Cleanup(func() {
		_ = c.Snapshots().Drop(context.Background(), s1)
		_ = c.Snapshots().Drop(context.Background(), s2)
		_ = c.PITRs().Drop(context.Background(), p1)
	})
	_, err := c.Snapshots().Create(ctx, s1, dbctl.DatabaseTarget(db))
	require.NoError(t, err)
	_, err = c.PITRs().Create(ctx, p1, dbctl.DatabaseTarget(db), dbctl.Range{N: 7, Unit: dbctl.RangeDays})
	require.NoError(t, err)
	itest.ExecAll(t, c.DB(), "create table "+db+".later (id int)")
	_, err = c.Snapshots().Create(ctx, s2, dbctl.DatabaseTarget(db))
	require.NoError(t, err)

	ws, err := c.PITRs().RecoveryWindow(ctx, dbctl.DatabaseTarget(db))
	require.NoError(t, err)
	byTable := map[string]dbctl.RecoveryWindow{}
	for _, w := range ws {
		byTable[w.Table] = w
	}
	names := func(w dbctl.RecoveryWindow) (snaps, pitrs []string) {
		for _, s := range w.Snapshots {
			snaps = append(snaps, s.Name)
		}
		for _, p := range w.PITRs {
			pitrs = append(pitrs, p.Name)
		}
		return
	}
	snaps, pitrs := names(byTable["t1"])
	assert.Equal(t, []string{s1, s2}, snaps, "t1: both snapshots, once each")
	assert.Equal(t, []string{p1}, pitrs)
	snaps, _ = names(byTable["later"])
	assert.Equal(t, []string{s2}, snaps, "later was made after s1")

	realServerPause(target)
	at := time.Now()
	require.True(t, at.After(byTable["t1"].PITRs[0].End))
	realServerPause(target)
	require.NoError(t, c.PITRs().Restore(ctx, p1, at, dbctl.TableTarget(db, "t1")), "a time after the window's end is valid")
}
