package dbctltest_test

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dbctl/dbctl/dbctltest"
	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const flushOK = "{\n  \"method\": \"Flush\",\n  \"result\": [\n    {\n      \"returnStr\": \"OK\"\n    }\n  ]\n}\n"

func identity(t *testing.T, db *sql.DB) []string {
	var a, u, r string
	require.NoError(t, db.QueryRow("select current_account_name(), current_user_name(), current_role_name()").Scan(&a, &u, &r))
	return []string{a, u, r}
}

func TestMatrixOneLogins(t *testing.T) {
	s := dbctltest.NewMatrixOne(t)
	require.NoError(t, s.CreateAccount("acc1", "admin", "111"))
	require.NoError(t, s.CreateUser("sys", "u1", "111", "public"))
	require.NoError(t, s.CreateUser("sys", "ops", "secret", "moadmin"))

	assert.Equal(t, []string{"sys", "root", "moadmin"}, identity(t, openDB(t, s.DSN())))
	assert.Equal(t, []string{"sys", "dump", "moadmin"}, identity(t, openDB(t, s.DSNFor("sys", "dump", "111"))))
	assert.Equal(t, []string{"acc1", "admin", "accountadmin"}, identity(t, openDB(t, s.DSNFor("acc1", "admin", "111"))))
	assert.Equal(t, []string{"sys", "u1", "public"}, identity(t, openDB(t, s.DSNFor("sys", "u1", "111"))))
	assert.Equal(t, []string{"sys", "ops", "moadmin"}, identity(t, openDB(t, s.DSNFor("sys", "ops", "secret"))))
	host := s.Addr()
	assert.Equal(t, []string{"acc1", "admin", "public"}, identity(t, openDB(t, "acc1#admin#public:111@tcp("+host+")/")))

	// "acc1:admin" in a DSN is split by the driver: user acc1, password admin:111
	err := openDB(t, "acc1:admin:111@tcp("+host+")/").Ping()
	assert.Equal(t, "internal error: there is no user acc1", serverErr(t, err).Message)
	// ... but a Config with User "acc1:admin" works
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr = "acc1:admin", "111", "tcp", host
	conn, err := mysql.NewConnector(cfg)
	require.NoError(t, err)
	db := sql.OpenDB(conn)
	defer db.Close()
	assert.Equal(t, []string{"acc1", "admin", "accountadmin"}, identity(t, db))

	err = openDB(t, s.DSNFor("sys", "root", "wrong")).Ping()
	assert.Equal(t, uint16(20101), serverErr(t, err).Number)
}

func TestMatrixOneMoCtl(t *testing.T) {
	s := dbctltest.NewMatrixOne(t)
	db := openDB(t, s.DSN())
	mustExec(t, db, "create database db1", "create table db1.t (a int)", "create table db1.`MixedCase` (a int)", "insert into db1.t values (1),(2)")
	flushed, ok := s.TableFlushed("db1", "t")
	require.True(t, ok)
	assert.False(t, flushed)
	var v string
	require.NoError(t, db.QueryRow("select mo_ctl('dn', 'flush', 'db1.t')").Scan(&v))
	assert.Equal(t, flushOK, v)
	flushed, _ = s.TableFlushed("db1", "t")
	assert.True(t, flushed)

	var relID uint64
	require.NoError(t, db.QueryRow("select rel_id from mo_catalog.mo_tables where reldatabase = 'db1' and relname = 'mixedcase'").Scan(&relID))
	require.NoError(t, db.QueryRow(fmt.Sprintf("select mo_ctl('dn', 'flush', '%d')", relID)).Scan(&v))
	assert.Equal(t, flushOK, v)

	errs := map[string][3]string{
		"select mo_ctl('dn', 'flush', 'db1.MixedCase')":  {"1146", "HY000", "no such table db1.MixedCase"},
		"select mo_ctl('dn', 'flush', 'DB1.t')":          {"0", "00000", "ExpectedEOB"},
		"select mo_ctl('dn', 'flush', '.t')":             {"0", "00000", "ExpectedEOB"},
		"select mo_ctl('dn', 'flush', 'db1.t.1')":        {"0", "00000", "ExpectedEOB"},
		"select mo_ctl('dn', 'flush', 'db1.t.abc')":      {"20101", "HY000", "internal error: handleFlush: invalid account id"},
		"select mo_ctl('dn', 'flush', '-1')":             {"20101", "HY000", "internal error: handleFlush: table id parse fail"},
		"select mo_ctl('dn', 'flush', NULL)":             {"20101", "HY000", "internal error: handleFlush: table id parse fail"},
		"select mo_ctl('', 'flush', 'db1.t')":            {"20105", "HY000", "not supported: service type  not supported"},
		"select mo_ctl('cn', 'checkpoint', '')":          {"20105", "HY000", "not supported: service CN not supported"},
		"select mo_ctl('dn', 'globalcheckpoint', '-5s')": {"20101", "HY000", "internal error: context deadline exceeded"},
		"select mo_ctl('dn', 'globalcheckpoint', 'x')":   {"1105", "HY000", `time: invalid duration "x"`},
		"select mo_ctl('dn', 'flush', 'a', 'b')":         {"20203", "HY000", "invalid argument function mo_ctl, bad value [VARCHAR VARCHAR VARCHAR VARCHAR]"},
		"select mo_ctl('dn', 'ping', '-1')":              {"20101", "HY000", `internal error: convert go error to mo error strconv.ParseUint: parsing "-1": invalid syntax`},
	}
	for q, want := range errs {
		err := db.QueryRow(q).Scan(&v)
		me := serverErr(t, err)
		assert.Equal(t, want, [3]string{fmt.Sprint(me.Number), string(me.SQLState[:]), me.Message}, q)
	}

	// checkpoint with a timeout long enough, and the CN-local commands
	require.NoError(t, db.QueryRow("select mo_ctl('DN', 'CheckPoint', '10s')").Scan(&v))
	assert.Contains(t, v, `"method": "Checkpoint"`)
	require.NoError(t, db.QueryRow("select mo_ctl('cn', 'forcegc', '')").Scan(&v))
	assert.Equal(t, "{\n  \"method\": \"FORCEGC\",\n  \"result\": \"OK\"\n}\n", v)
	require.NoError(t, db.QueryRow("select mo_ctl('dn', 'inspect', '')").Scan(&v))
	assert.True(t, strings.HasPrefix(v, "\nmsg: "))
}

func TestMatrixOneAccountFlushAndPrivileges(t *testing.T) {
	s := dbctltest.NewMatrixOne(t)
	require.NoError(t, s.CreateAccount("acc1", "admin", "111"))
	acc := openDB(t, s.DSNFor("acc1", "admin", "111"))
	mustExec(t, acc, "create database db1", "use db1", "create table t (a int)")
	var v string
	err := acc.QueryRow("select mo_ctl('dn', 'flush', 'db1.t')").Scan(&v)
	assert.Equal(t, "internal error: do not have privilege to execute the statement", serverErr(t, err).Message)
	err = acc.QueryRow("select mo_ctl('dn', 'flush')").Scan(&v)
	assert.Equal(t, uint16(20203), serverErr(t, err).Number, "arity is checked before privileges")

	id, ok := s.AccountID("acc1")
	require.True(t, ok)
	root := openDB(t, s.DSN())
	require.NoError(t, root.QueryRow(fmt.Sprintf("select mo_ctl('dn', 'flush', 'db1.t.%d')", id)).Scan(&v))
	assert.Equal(t, flushOK, v)
	require.NoError(t, root.QueryRow(fmt.Sprintf("select mo_ctl('dn', 'flush', 'db1.t.%#x')", id)).Scan(&v), "account id in base 0")
}

func TestMatrixOnePreparedColumnNames(t *testing.T) {
	s := dbctltest.NewMatrixOne(t)
	mustExec(t, openDB(t, s.DSN()), "create database db1", "create table db1.t (a int)")
	for _, tc := range []struct {
		interpolate bool
		want        string
	}{{false, "mo_ctl(?, ?, ?)"}, {true, "mo_ctl(dn, flush, db1.t)"}} {
		db := openDB(t, s.DSN()+fmt.Sprintf("?interpolateParams=%v", tc.interpolate))
		rows, err := db.Query("select mo_ctl(?, ?, ?)", "dn", "flush", "db1.t")
		require.NoError(t, err)
		cts, err := rows.ColumnTypes()
		require.NoError(t, err)
		assert.Equal(t, tc.want, cts[0].Name())
		assert.Equal(t, "VARCHAR", cts[0].DatabaseTypeName())
		require.True(t, rows.Next())
		var v string
		require.NoError(t, rows.Scan(&v))
		assert.Equal(t, flushOK, v)
		rows.Close()
	}
}

func TestMatrixOneFaults(t *testing.T) {
	s := dbctltest.NewMatrixOne(t)
	db := openDB(t, s.DSN())
	s.FailNext("mo_ctl", 20101, "internal error: injected")
	var v string
	err := db.QueryRow("select mo_ctl('dn', 'ping', '')").Scan(&v)
	me := serverErr(t, err)
	assert.Equal(t, "internal error: injected", me.Message)
	assert.Equal(t, "HY000", string(me.SQLState[:]))
	require.NoError(t, db.QueryRow("select mo_ctl('dn', 'ping', '')").Scan(&v))
	s.Delay("ping", 100*time.Millisecond)
	start := time.Now()
	require.NoError(t, db.QueryRow("select mo_ctl('dn', 'ping', '')").Scan(&v))
	assert.GreaterOrEqual(t, time.Since(start), 100*time.Millisecond)
	s.Delay("ping", 0)
	c, err := db.Conn(t.Context())
	require.NoError(t, err)
	defer c.Close()
	s.DropConnections()
	assert.Error(t, c.PingContext(t.Context()))
}
