package dbctl

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dbctl/dbctl/dbctltest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// End to end through go-sql-driver against the embedded MatrixOne, whose
// recovery answers replay golden/matrixone-recovery.jsonl.

func recoveryServer(t *testing.T) *dbctltest.MatrixOne {
	s := dbctltest.NewMatrixOne(t)
	require.NoError(t, s.CreateAccount("acc1", "admin", "111"))
	require.NoError(t, s.CreateUser("sys", "u1", "111", "public"))
	return s
}

// openClient opens a Client on dsn, closed when the test ends; opts (at
// most one) configure it.
func openClient(t *testing.T, dsn string, opts ...Options) *Client {
	var o *Options
	if len(opts) > 0 {
		o = &opts[0]
	}
	c, err := Open(dsn, o)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func mustExecAll(t *testing.T, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, q := range stmts {
		_, err := db.Exec(q)
		require.NoError(t, err, q)
	}
}

// tableRows reads "select * from t order by id" as text.
func tableRows(t *testing.T, db *sql.DB, table string) []string {
	t.Helper()
	rows, err := db.Query("select * from " + table + " order by id")
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

func dbTables(t *testing.T, db *sql.DB, database string) []string {
	t.Helper()
	rows, err := db.Query("show tables from " + database)
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		require.NoError(t, rows.Scan(&n))
		out = append(out, n)
	}
	return out
}

func TestRecoveryE2ESnapshots(t *testing.T) {
	ctx := context.Background()
	s := recoveryServer(t)
	root := openClient(t, s.DSN())
	db := root.DB()
	mustExecAll(t, db, "create database cap_db", "create table cap_db.cap_t (id int primary key, v varchar(20))",
		"create table cap_db.cap_u (id int)", "insert into cap_db.cap_t values (1,'one'),(2,'two'),(3,'three')")
	orig := tableRows(t, db, "cap_db.cap_t")

	before := time.Now()
	sn, err := root.Snapshots().Create(ctx, "Cap_SN_DB", DatabaseTarget("cap_db"))
	require.NoError(t, err)
	after := time.Now()
	assert.Equal(t, "cap_sn_db", sn.Name)
	assert.Equal(t, Snapshot{Name: "cap_sn_db", Timestamp: sn.Timestamp, Level: LevelDatabase, Account: "sys", Database: "cap_db"}, *sn)
	assert.False(t, sn.Timestamp.Before(before.Add(-time.Millisecond)) || sn.Timestamp.After(after.Add(time.Millisecond)), "%s not in [%s, %s]", sn.Timestamp, before, after)
	assert.Equal(t, time.UTC, sn.Timestamp.Location())

	list, err := root.Snapshots().List(ctx)
	require.NoError(t, err)
	assert.Equal(t, []Snapshot{*sn}, list, "Create returns the snapshot as List shows it")
	got, err := root.Snapshots().Get(ctx, "CAP_SN_DB")
	require.NoError(t, err)
	assert.Equal(t, sn, got)

	tbl, err := root.Snapshots().Create(ctx, "cap_sn_tbl", TableTarget("cap_db", "cap_t"))
	require.NoError(t, err)
	assert.Equal(t, "cap_t", tbl.Table)

	// a database restore replaces the database: rows, dropped and new tables
	mustExecAll(t, db, "delete from cap_db.cap_t where id = 1", "update cap_db.cap_t set v = 'changed' where id = 2",
		"insert into cap_db.cap_t values (4,'four')", "drop table cap_db.cap_u", "create table cap_db.cap_new (x int)")
	require.NoError(t, root.Snapshots().Restore(ctx, "cap_sn_db", DatabaseTarget("cap_db"), SnapshotRestoreOptions{}))
	assert.Equal(t, orig, tableRows(t, db, "cap_db.cap_t"))
	assert.Equal(t, []string{"cap_t", "cap_u"}, dbTables(t, db, "cap_db"))

	// a table restore replaces the rows of the table only
	mustExecAll(t, db, "delete from cap_db.cap_t", "create table cap_db.cap_other (x int)")
	require.NoError(t, root.Snapshots().Restore(ctx, "cap_sn_tbl", TableTarget("cap_db", "cap_t"), SnapshotRestoreOptions{}))
	assert.Equal(t, orig, tableRows(t, db, "cap_db.cap_t"))
	assert.Equal(t, []string{"cap_other", "cap_t", "cap_u"}, dbTables(t, db, "cap_db"))

	// errors
	_, err = root.Snapshots().Create(ctx, "CAP_SN_DB", AccountTarget(""))
	assert.True(t, errors.Is(err, ErrAlreadyExists), "%v", err)
	_, err = root.Snapshots().Create(ctx, "cap_sn_bad", DatabaseTarget("cap_nodb"))
	assert.True(t, errors.Is(err, ErrTableNotFound), "%v", err)
	err = root.Snapshots().Restore(ctx, "cap_sn_tbl", DatabaseTarget("cap_db"), SnapshotRestoreOptions{})
	assert.ErrorIs(t, err, ErrInvalidArgument)
	err = root.Snapshots().Restore(ctx, "cap_sn_nope", DatabaseTarget("cap_db"), SnapshotRestoreOptions{})
	assert.True(t, errors.Is(err, ErrSnapshotNotFound), "%v", err)

	// a tenant: sys's snapshots are invisible, the cluster is refused
	acc1 := openClient(t, s.DSNFor("acc1", "admin", "111"))
	_, err = acc1.Snapshots().Get(ctx, "cap_sn_db")
	assert.True(t, errors.Is(err, ErrSnapshotNotFound))
	_, err = acc1.Snapshots().Create(ctx, "cap_a_acct", AccountTarget(""))
	require.NoError(t, err)
	err = acc1.Snapshots().Restore(ctx, "cap_a_acct", ClusterTarget(), SnapshotRestoreOptions{}) // refused (rec 187)
	assert.True(t, errors.Is(err, ErrPermissionDenied), "%v", err)
	err = acc1.Snapshots().Restore(ctx, "cap_a_acct", AccountTarget("sys"), SnapshotRestoreOptions{})
	assert.True(t, errors.Is(err, ErrPermissionDenied), "%v", err)

	// u1 (role public): refused before anything changes
	mustExecAll(t, db, "delete from cap_db.cap_t where id = 3")
	changed := tableRows(t, db, "cap_db.cap_t")
	u1 := openClient(t, s.DSNFor("sys", "u1", "111"))
	err = u1.Snapshots().Restore(ctx, "cap_sn_db", DatabaseTarget("cap_db"), SnapshotRestoreOptions{})
	assert.True(t, errors.Is(err, ErrPermissionDenied), "%v", err)
	_, err = u1.Snapshots().Create(ctx, "cap_u_bad", AccountTarget(""))
	assert.True(t, errors.Is(err, ErrPermissionDenied), "%v", err)
	assert.Equal(t, changed, tableRows(t, db, "cap_db.cap_t"))

	require.NoError(t, root.Snapshots().Drop(ctx, "cap_sn_db"))
	assert.True(t, errors.Is(root.Snapshots().Drop(ctx, "cap_sn_db"), ErrSnapshotNotFound))
	_, err = root.Snapshots().Get(ctx, "cap_sn_db")
	assert.True(t, errors.Is(err, ErrSnapshotNotFound))
}

func TestRecoveryE2EAccountSnapshot(t *testing.T) {
	ctx := context.Background()
	s := recoveryServer(t)
	root := openClient(t, s.DSN())
	mustExecAll(t, root.DB(), "create account cap_acc admin_name 'admin' identified by '111'")
	tenant := openClient(t, s.DSNFor("cap_acc", "admin", "111"))
	mustExecAll(t, tenant.DB(), "create database cap_adb", "create table cap_adb.t (id int, v varchar(5))", "insert into cap_adb.t values (1,'a'),(2,'b')")

	sn, err := root.Snapshots().Create(ctx, "cap_sn_capacc", AccountTarget("cap_acc"))
	require.NoError(t, err)
	assert.Equal(t, "cap_acc", sn.Account)
	mustExecAll(t, tenant.DB(), "delete from cap_adb.t where id > 1", "create database cap_adb2")
	require.NoError(t, root.Snapshots().Restore(ctx, "cap_sn_capacc", AccountTarget("cap_acc"), SnapshotRestoreOptions{}))
	assert.Equal(t, []string{"1=a", "2=b"}, tableRows(t, tenant.DB(), "cap_adb.t"))
	var n int
	require.NoError(t, tenant.DB().QueryRow("select count(*) from cap_adb.t").Scan(&n))
	assert.Equal(t, 2, n)
	_, err = tenant.DB().Exec("create database cap_adb2")
	assert.NoError(t, err, "cap_adb2, made after the snapshot, is gone")

	// the tenant restores its own account from its own snapshot: the form
	// names the account, which is asked once
	_, err = tenant.Snapshots().Create(ctx, "own", AccountTarget(""))
	require.NoError(t, err)
	mustExecAll(t, tenant.DB(), "delete from cap_adb.t")
	require.NoError(t, tenant.Snapshots().Restore(ctx, "own", AccountTarget(""), SnapshotRestoreOptions{}))
	assert.Equal(t, []string{"1=a", "2=b"}, tableRows(t, tenant.DB(), "cap_adb.t"))
	err = tenant.Snapshots().Restore(ctx, "own", AccountTarget("cap_acc"), SnapshotRestoreOptions{ToAccount: "acc1"})
	assert.True(t, errors.Is(err, ErrPermissionDenied), "%v", err)
}

// pitrHistory makes a PITR on cap_db and a row history around instant T:
// rows "1=one 2=two" at T, changed after it. It returns T.
func pitrHistory(t *testing.T, c *Client, pitr string) (time.Time, *PITR) {
	ctx := context.Background()
	db := c.DB()
	mustExecAll(t, db, "create database cap_db", "create table cap_db.cap_t (id int primary key, v varchar(20))",
		"insert into cap_db.cap_t values (9,'before')")
	before := time.Now().Truncate(time.Second)
	p, err := c.PITRs().Create(ctx, pitr, DatabaseTarget("cap_db"), Range{1, RangeHours})
	require.NoError(t, err)
	after := time.Now()
	assert.False(t, p.Created.Before(before) || p.Created.After(after), "PITR created %s, not in [%s, %s]: the time zones are mixed up", p.Created, before, after)
	mustExecAll(t, db, "delete from cap_db.cap_t", "insert into cap_db.cap_t values (1,'one'),(2,'two')")
	at := time.Now()
	mustExecAll(t, db, "update cap_db.cap_t set v = 'changed' where id = 1", "insert into cap_db.cap_t values (3,'three')",
		"create table cap_db.cap_new (x int)")
	return at, p
}

func TestRecoveryE2EPITRRestoresRowsOfThatTime(t *testing.T) {
	ctx := context.Background()
	s := recoveryServer(t)
	root := openClient(t, s.DSN())
	at, p := pitrHistory(t, root, "Cap_P_DB")
	assert.Equal(t, "cap_p_db", p.Name)
	assert.Equal(t, PITR{Name: "cap_p_db", Created: p.Created, Modified: p.Created, Level: LevelDatabase, Account: "sys", Database: "cap_db", Range: Range{1, RangeHours}}, *p)
	list, err := root.PITRs().List(ctx)
	require.NoError(t, err)
	assert.Equal(t, []PITR{*p}, list, "Create returns the PITR as List shows it")

	require.NoError(t, root.PITRs().Restore(ctx, "cap_p_db", at, DatabaseTarget("cap_db")))
	assert.Equal(t, []string{"1=one", "2=two"}, tableRows(t, root.DB(), "cap_db.cap_t"))
	assert.Equal(t, []string{"cap_t"}, dbTables(t, root.DB(), "cap_db"))

	mustExecAll(t, root.DB(), "delete from cap_db.cap_t")
	require.NoError(t, root.PITRs().Restore(ctx, "cap_p_db", at, TableTarget("cap_db", "cap_t")))
	assert.Equal(t, []string{"1=one", "2=two"}, tableRows(t, root.DB(), "cap_db.cap_t"))

	// the window: bounds, errors
	err = root.PITRs().Restore(ctx, "cap_p_db", time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), DatabaseTarget("cap_db"))
	assert.ErrorIs(t, err, ErrInvalidArgument)
	assert.Contains(t, err.Error(), "is less than the pitr valid time")
	err = root.PITRs().Restore(ctx, "cap_p_db", time.Now().Add(time.Hour), DatabaseTarget("cap_db"))
	assert.ErrorIs(t, err, ErrInvalidArgument)
	assert.Contains(t, err.Error(), "is bigger than now timestamp")
	assert.True(t, errors.Is(root.PITRs().Restore(ctx, "cap_p_nope", at, DatabaseTarget("cap_db")), ErrPITRNotFound))
	_, err = root.PITRs().Create(ctx, "cap_p_dup", DatabaseTarget("cap_db"), Range{1, "h"})
	assert.True(t, errors.Is(err, ErrAlreadyExists), "%v", err)

	// alter, then the reserved PITR the server would let us drop
	require.NoError(t, root.PITRs().Alter(ctx, "CAP_P_DB", Range{2, RangeDays}))
	got, err := root.PITRs().Get(ctx, "cap_p_db")
	require.NoError(t, err)
	assert.Equal(t, Range{2, RangeDays}, got.Range)
	assert.True(t, s.HasReservedPITR())
	assert.ErrorIs(t, root.PITRs().Drop(ctx, ReservedPITRName), ErrInvalidIdentifier)
	assert.True(t, s.HasReservedPITR(), "nothing was sent")

	// u1: refused, rows unchanged
	u1 := openClient(t, s.DSNFor("sys", "u1", "111"))
	mustExecAll(t, root.DB(), "delete from cap_db.cap_t")
	assert.True(t, errors.Is(u1.PITRs().Restore(ctx, "cap_p_db", at, DatabaseTarget("cap_db")), ErrPermissionDenied))
	assert.Empty(t, tableRows(t, root.DB(), "cap_db.cap_t"))

	require.NoError(t, root.PITRs().Drop(ctx, "cap_p_db"))
	assert.True(t, errors.Is(root.PITRs().Drop(ctx, "cap_p_db"), ErrPITRNotFound))
	assert.False(t, s.HasReservedPITR(), "the server drops its own PITR with the last one")
}

func TestRecoveryE2EReservedPITRIsDroppableOnTheServer(t *testing.T) {
	s := recoveryServer(t)
	root := openClient(t, s.DSN())
	_, err := root.PITRs().Create(context.Background(), "p1", AccountTarget(""), Range{1, "h"})
	require.NoError(t, err)
	require.True(t, s.HasReservedPITR())
	// what the SDK refuses to send, the server does (md §6.6)
	mustExecAll(t, root.DB(), "drop pitr sys_mo_catalog_pitr")
	assert.False(t, s.HasReservedPITR())
}

// The server process, the session and the client each in another zone: the
// SDK reads SHOW PITR under '+00:00', converts restore times with the
// server's offsets, never uses time.Local, and leaves the session at its
// own zone.
func TestRecoveryE2ETimeZones(t *testing.T) {
	oldLocal := time.Local
	time.Local = time.FixedZone("client", -7*3600)
	t.Cleanup(func() { time.Local = oldLocal })

	ctx := context.Background()
	s := recoveryServer(t)
	s.SetTimeZone(time.FixedZone("server", 5*3600+30*60))
	dsn := s.DSN() + "?time_zone=" + url.QueryEscape("'+08:00'")
	root := openClient(t, dsn)
	var now string
	require.NoError(t, root.DB().QueryRow("select now()").Scan(&now))
	require.True(t, strings.HasPrefix(now, time.Now().In(time.FixedZone("", 8*3600)).Format("2006-01-02 15")), "the session is at +08:00: %s", now)

	at, p := pitrHistory(t, root, "cap_p_tz")
	assert.Equal(t, time.UTC, p.Created.Location(), "PITR times come in UTC")
	require.NoError(t, root.DB().QueryRow("select @@time_zone").Scan(&now))
	assert.Equal(t, "+08:00", now, "the session keeps its zone")

	require.NoError(t, root.PITRs().Restore(ctx, "cap_p_tz", at, DatabaseTarget("cap_db")))
	assert.Equal(t, []string{"1=one", "2=two"}, tableRows(t, root.DB(), "cap_db.cap_t"))

	w, err := root.PITRs().RecoveryWindow(ctx, DatabaseTarget("cap_db"))
	require.NoError(t, err)
	require.Len(t, w, 1)
	require.Len(t, w[0].PITRs, 1)
	assert.Equal(t, "cap_p_tz", w[0].PITRs[0].Name)
	assert.WithinDuration(t, p.Created, w[0].PITRs[0].Start, time.Second)
	assert.False(t, w[0].PITRs[0].End.Before(at))

	sn, err := root.Snapshots().Create(ctx, "cap_sn_tz", AccountTarget(""))
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now(), sn.Timestamp, time.Minute)
	w, err = root.PITRs().RecoveryWindow(ctx, TableTarget("cap_db", "cap_t"))
	require.NoError(t, err)
	require.Len(t, w, 1)
	require.Len(t, w[0].Snapshots, 1)
	assert.True(t, sn.Timestamp.Equal(w[0].Snapshots[0].Timestamp))
}

func TestRecoveryE2ETenantPITR(t *testing.T) {
	ctx := context.Background()
	s := recoveryServer(t)
	acc1 := openClient(t, s.DSNFor("acc1", "admin", "111"))
	mustExecAll(t, acc1.DB(), "create database cap_db", "create table cap_db.cap_t (id int, v varchar(5))")
	// a tenant naming itself: the SDK sends the form without a name
	p, err := acc1.PITRs().Create(ctx, "cap_pa_acct", AccountTarget("acc1"), Range{1, RangeDays})
	require.NoError(t, err)
	assert.Equal(t, "acc1", p.Account)
	mustExecAll(t, acc1.DB(), "insert into cap_db.cap_t values (1,'a')")
	at := time.Now()
	mustExecAll(t, acc1.DB(), "delete from cap_db.cap_t", "create database cap_adb2")
	require.NoError(t, acc1.PITRs().Restore(ctx, "cap_pa_acct", at, AccountTarget("acc1")))
	assert.Equal(t, []string{"1=a"}, tableRows(t, acc1.DB(), "cap_db.cap_t"))
	_, err = acc1.DB().Exec("create database cap_adb2")
	assert.NoError(t, err, "cap_adb2 was dropped by the restore")

	_, err = acc1.PITRs().Create(ctx, "cap_pa_bad", ClusterTarget(), Range{1, "h"})
	assert.True(t, errors.Is(err, ErrPermissionDenied), "%v", err)
	_, err = acc1.PITRs().RecoveryWindow(ctx, AccountTarget("sys"))
	assert.True(t, errors.Is(err, ErrPermissionDenied), "%v", err)
	assert.True(t, errors.Is(acc1.PITRs().Restore(ctx, "cap_pa_acct", at, AccountTarget("sys")), ErrPermissionDenied))

	// sys restores another account from a PITR it made for it
	root := openClient(t, s.DSN())
	_, err = root.PITRs().Create(ctx, "cap_p_acc1", AccountTarget("acc1"), Range{1, RangeHours})
	require.NoError(t, err)
	at2 := time.Now()
	mustExecAll(t, acc1.DB(), "delete from cap_db.cap_t")
	require.NoError(t, root.PITRs().Restore(ctx, "cap_p_acc1", at2, AccountTarget("acc1")))
	assert.Equal(t, []string{"1=a"}, tableRows(t, acc1.DB(), "cap_db.cap_t"))
}
