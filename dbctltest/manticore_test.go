package dbctltest_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dbctl/dbctl/dbctltest"
	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func openDB(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

func mustExec(t *testing.T, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		_, err := db.Exec(s)
		require.NoError(t, err, s)
	}
}

func queryStrings(t *testing.T, db *sql.DB, q string) [][]string {
	t.Helper()
	rows, err := db.Query(q)
	require.NoError(t, err, q)
	defer rows.Close()
	cols, _ := rows.Columns()
	var out [][]string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		dest := make([]any, len(cols))
		for i := range vals {
			dest[i] = &vals[i]
		}
		require.NoError(t, rows.Scan(dest...))
		row := make([]string, len(vals))
		for i, v := range vals {
			row[i] = v.String
		}
		out = append(out, row)
	}
	require.NoError(t, rows.Err())
	return out
}

func serverErr(t *testing.T, err error) *mysql.MySQLError {
	t.Helper()
	var me *mysql.MySQLError
	require.True(t, errors.As(err, &me), "want a server error, got %v", err)
	return me
}

// setupF1 builds the table of the reference §4.3: docs 1-3 in a disk chunk,
// doc 4 in the RAM chunk.
func setupF1(t *testing.T, db *sql.DB) {
	mustExec(t, db,
		"CREATE TABLE f1(title text, gid int, price float)",
		"INSERT INTO f1(id,title,gid,price) VALUES (1,'one',10,1.5),(2,'two',20,2.5),(3,'three',30,3.5)",
		"FLUSH RAMCHUNK f1",
		"INSERT INTO f1(id,title,gid,price) VALUES (4,'four in ram',40,4.5)")
}

// blocks runs stmt on its own connection and reports whether it was still
// waiting after d.
func blocks(t *testing.T, db *sql.DB, stmt string, d time.Duration) (blocked bool, done <-chan error) {
	ch := make(chan error, 1)
	go func() {
		_, err := db.Exec(stmt)
		ch <- err
	}()
	select {
	case err := <-ch:
		require.NoError(t, err, stmt)
		return false, ch
	case <-time.After(d):
		return true, ch
	}
}

// The writes of §4.3, measured on 29.2.2: which wait for UNFREEZE.
func TestManticoreWritesWhileFrozen(t *testing.T) {
	tests := []struct {
		stmt    string
		blocked bool
	}{
		{"UPDATE f1 SET gid=11 WHERE id=1", true},
		{"UPDATE f1 SET gid=44 WHERE id=4", true},
		{"INSERT INTO f1(id,title,gid,price) VALUES (5,'five',50,5.5)", false},
		{"REPLACE INTO f1(id,title,gid,price) VALUES (4,'four replaced',44,4.4)", false},
		{"REPLACE INTO f1(id,title,gid,price) VALUES (3,'three replaced',33,3.3)", true},
		{"DELETE FROM f1 WHERE id=4", false},
		{"DELETE FROM f1 WHERE id=2", true},
		{"FLUSH RAMCHUNK f1", true},
		{"FLUSH TABLE f1", false},
		{"FLUSH ATTRIBUTES", false},
		{"OPTIMIZE TABLE f1", false},
	}
	for _, tc := range tests {
		t.Run(tc.stmt, func(t *testing.T) {
			s := dbctltest.NewManticore(t)
			db := openDB(t, s.DSN())
			setupF1(t, db)
			mustExec(t, db, "FREEZE f1")
			blocked, done := blocks(t, db, tc.stmt, 150*time.Millisecond)
			assert.Equal(t, tc.blocked, blocked)
			if blocked {
				assert.Equal(t, [][]string{{"rt", "f1", "freeze", "Count: 1"}}, queryStrings(t, db, "SHOW LOCKS"))
			}
			mustExec(t, db, "UNFREEZE f1")
			if !blocked {
				return
			}
			select {
			case err := <-done:
				require.NoError(t, err)
			case <-time.After(5 * time.Second):
				t.Fatal("statement still blocked after UNFREEZE")
			}
		})
	}
}

func TestManticoreTruncateFrozenFailsDropWorks(t *testing.T) {
	s := dbctltest.NewManticore(t)
	db := openDB(t, s.DSN())
	setupF1(t, db)
	mustExec(t, db, "FREEZE f1")
	_, err := db.Exec("TRUNCATE TABLE f1")
	assert.Equal(t, "failed to save metadata for table 'f1': ; keeping binlog for recovery", serverErr(t, err).Message)
	_, err = db.Exec("OPTIMIZE TABLE f1 OPTION sync=1")
	assert.Equal(t, "Can't optimize frozen table", serverErr(t, err).Message)
	blocked, done := blocks(t, db, "UPDATE f1 SET gid=1 WHERE id=1", 100*time.Millisecond)
	require.True(t, blocked)
	mustExec(t, db, "DROP TABLE f1")
	select {
	case err := <-done:
		assert.Error(t, err, "the update of a dropped table fails")
	case <-time.After(5 * time.Second):
		t.Fatal("DROP did not release the blocked UPDATE")
	}
	_, ok := s.Locked("f1")
	assert.False(t, ok)
}

func TestManticoreFilesFollowTheData(t *testing.T) {
	s := dbctltest.NewManticore(t)
	db := openDB(t, s.DSN())
	dir := s.DataDir()
	mustExec(t, db, "CREATE TABLE t(title text, tag string attribute)")
	files := func() []string {
		var out []string
		for _, r := range queryStrings(t, db, "FREEZE t") {
			assert.Equal(t, r[0], r[1])
			out = append(out, strings.TrimPrefix(r[0], dir+"/"))
		}
		mustExec(t, db, "UNFREEZE t")
		return out
	}
	assert.Equal(t, []string{"t/t.meta", "t/t.ram", "t/t.settings"}, files())
	ramBefore, err := os.ReadFile(filepath.Join(dir, "t", "t.ram"))
	require.NoError(t, err)
	mustExec(t, db, "INSERT INTO t(id,title,tag) VALUES (1,'hello','x'),(2,'world','y')")
	files()
	ramAfter, err := os.ReadFile(filepath.Join(dir, "t", "t.ram"))
	require.NoError(t, err)
	assert.NotEqual(t, ramBefore, ramAfter, "FREEZE saves the RAM chunk")
	mustExec(t, db, "FLUSH RAMCHUNK t")
	got := files()
	assert.Contains(t, got, "t/t.0.spb", "string attributes make a blob file")
	assert.Contains(t, got, "t/t.0.spd")
	assert.NotContains(t, got, "t/t.ram", "the RAM chunk went to disk")
	assert.Len(t, got, 13)
	spa, err := os.ReadFile(filepath.Join(dir, "t", "t.0.spa"))
	require.NoError(t, err)
	mustExec(t, db, "UPDATE t SET tag='z' WHERE id=1")
	var tag int64
	require.NoError(t, db.QueryRow("FLUSH ATTRIBUTES").Scan(&tag))
	assert.Equal(t, int64(1), tag)
	spb, err := os.ReadFile(filepath.Join(dir, "t", "t.0.spb"))
	require.NoError(t, err)
	assert.Contains(t, string(spb), "tag=z")
	spa2, _ := os.ReadFile(filepath.Join(dir, "t", "t.0.spa"))
	assert.Equal(t, spa, spa2)
	require.NoError(t, db.QueryRow("FLUSH ATTRIBUTES").Scan(&tag))
	assert.Equal(t, int64(1), tag, "no new saves: same tag")

	// percolate: meta and settings only; distributed: not suitable
	mustExec(t, db, "CREATE TABLE pq(title text) type='percolate'", "CREATE TABLE d type='distributed' local='t'")
	assert.Equal(t, [][]string{{dir + "/pq/pq.meta", dir + "/pq/pq.meta"}, {dir + "/pq/pq.settings", dir + "/pq/pq.settings"}}, queryStrings(t, db, "FREEZE pq"))
	assert.Empty(t, queryStrings(t, db, "FREEZE d"))
	mustExec(t, db, "UNFREEZE pq")
	state, err := os.ReadFile(filepath.Join(dir, "manticore.json"))
	require.NoError(t, err)
	assert.Contains(t, string(state), `"pq": {`)
	assert.Contains(t, string(state), `"distributed"`)
}

// Parse errors of the FREEZE grammar, exactly as the reference recorded
// them (§4.1, §4.7).
func TestManticoreFreezeParseErrors(t *testing.T) {
	s := dbctltest.NewManticore(t)
	db := openDB(t, s.DSN())
	mustExec(t, db, "CREATE TABLE t(title text)")
	tests := map[string]string{
		"FREEZE":                             "P02: syntax error, unexpected $end near 'FREEZE'",
		"FREEZE t t2":                        "P02: syntax error, unexpected identifier, expecting $end near 't2'",
		"FREEZE t,":                          "P02: syntax error, unexpected $end near 't,'",
		"FREEZE 't'":                         "P02: syntax error, unexpected string near ''t''",
		"UNFREEZE":                           "P02: syntax error, unexpected $end near 'UNFREEZE'",
		"UNFREEZE t LIKE '%'":                "P02: syntax error, unexpected LIKE, expecting $end near 'LIKE '%''",
		"FREEZE TABLE t":                     "P02: syntax error, unexpected identifier, expecting $end near 't'",
		`FREEZE "t"`:                         `P02: syntax error, unexpected invalid token near 'FREEZE "t"'`,
		"FREEZE `t``x`":                      "P02: syntax error, unexpected identifier, expecting $end near '`x`'",
		"FREEZE `a-b`":                       "P02: syntax error, unexpected invalid token near 'FREEZE `a-b`'",
		"FREEZE `t x`":                       "P02: syntax error, unexpected invalid token near 'FREEZE `t x`'",
		"FREEZE Manticore.t":                 "P02: syntax error, unexpected invalid token, expecting $end near 'Manticore.t'",
		"FREEZE `Manticore`.`t`":             "P02: syntax error, unexpected BACKTICKED_SUBKEY, expecting $end near '`t`'",
		"FREEZE ´t´":                         "P02: syntax error, unexpected $end near 'FREEZE ´t´'",
		"FREEZE таблица":                     "P02: syntax error, unexpected $end near 'FREEZE таблица'",
		"FREEZE `таблица`":                   "P02: syntax error, unexpected invalid token near 'FREEZE `таблица`'",
		"FREEZE t LIKE":                      "P02: syntax error, unexpected $end, expecting string near 'LIKE'",
		"FREEZE t LIKE 5":                    "P02: syntax error, unexpected CONST_INT, expecting string near '5'",
		"FREEZE t LIKE '%.meta' extra":       "P02: syntax error, unexpected identifier, expecting $end near 'extra'",
		"SHOW VERSION":                       "P01: syntax error, unexpected identifier, expecting VARIABLES near 'VERSION'",
		"SELEC 1":                            "P02: syntax error, unexpected identifier near 'SELEC 1'",
		"SHOW TABLE nosuch STATUS":           "SHOW TABLE STATUS requires an existing table",
		"SELECT * FROM nosuch":               "unknown local table(s) 'nosuch' in search request",
		"DROP TABLE nosuch":                  "DROP TABLE failed: unknown table 'nosuch'",
		"INSERT INTO nosuch(id) VALUES (1)":  "table 'nosuch' absent",
		"UPDATE nosuch SET gid=1 WHERE id=1": "unknown table 'nosuch' in update request",
		"KILL 999999":                        "Unknown connection id: 999999",
		"CREATE TABLE `select`(title text)":  "table 'select': CREATE TABLE failed: 'select' is a reserved keyword",
		"OPTIMIZE TABLE nosuch":              "OPTIMIZE TABLE requires an existing RT, distributed, or shard table",
	}
	for stmt, want := range tests {
		_, err := db.Exec(stmt)
		me := serverErr(t, err)
		assert.Equal(t, want, me.Message, stmt)
		assert.Equal(t, uint16(1064), me.Number, stmt)
		assert.Equal(t, "42000", string(me.SQLState[:]), stmt)
	}
	_, err := db.Exec("DESCRIBE nosuch")
	me := serverErr(t, err)
	assert.Equal(t, []any{uint16(1146), "42S02", "no such table 'nosuch'"}, []any{me.Number, string(me.SQLState[:]), me.Message})
	n, _ := s.Locked("t")
	assert.Equal(t, 0, n, "no error froze anything")
}

func TestManticoreFreezeCounterSemantics(t *testing.T) {
	s := dbctltest.NewManticore(t)
	db := openDB(t, s.DSN())
	mustExec(t, db, "CREATE TABLE t(title text)", "CREATE TABLE MixedCase(title text)")
	mustExec(t, db, "FREEZE t, t", "FREEZE T LIKE '%.meta'", "FREEZE MIXEDCASE")
	assert.Equal(t, [][]string{{"rt", "mixedcase", "freeze", "Count: 1"}, {"rt", "t", "freeze", "Count: 3"}}, queryStrings(t, db, "SHOW LOCKS"))
	res, err := db.Exec("UNFREEZE t, t, nosuch")
	require.NoError(t, err)
	n, _ := res.RowsAffected()
	assert.Equal(t, int64(2), n)
	for i := 0; i < 3; i++ {
		res, err = db.Exec("UNFREEZE t")
		require.NoError(t, err)
		n, _ = res.RowsAffected()
		assert.Equal(t, int64(1), n, "affected counts the table, not the counter")
	}
	locked, _ := s.Locked("t")
	assert.Equal(t, 0, locked, "clamped at 0")
	assert.Equal(t, [][]string{{"locked", "0"}}, queryStrings(t, db, "SHOW TABLE t STATUS LIKE 'locked'"))
}

func TestManticorePreparedStatementsSubstituteText(t *testing.T) {
	s := dbctltest.NewManticore(t)
	for _, interpolate := range []bool{false, true} {
		db := openDB(t, s.DSN()+fmt.Sprintf("?interpolateParams=%v", interpolate))
		mustExec(t, db, "CREATE TABLE IF NOT EXISTS t(title text, gid int)")
		var k, v string
		require.NoError(t, db.QueryRow("SHOW TABLE t STATUS LIKE ?", "locked").Scan(&k, &v))
		assert.Equal(t, "locked", k)
		// identifiers cannot be parameters: they arrive as quoted strings
		_, err := db.Exec("UNFREEZE ?", "t")
		assert.Equal(t, "P02: syntax error, unexpected string near ''t''", serverErr(t, err).Message)
	}
}

func TestManticoreFaultInjection(t *testing.T) {
	s := dbctltest.NewManticore(t)
	db := openDB(t, s.DSN())
	mustExec(t, db, "CREATE TABLE t(title text)")
	s.FailNext("unfreeze", 1064, "injected")
	_, err := db.Exec("UNFREEZE t")
	assert.Equal(t, "injected", serverErr(t, err).Message)
	mustExec(t, db, "UNFREEZE t") // used once
	s.Delay("SHOW LOCKS", 200*time.Millisecond)
	start := time.Now()
	queryStrings(t, db, "SHOW LOCKS")
	assert.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond)
	s.Delay("SHOW LOCKS", 0)
	ctx := context.Background()
	c, err := db.Conn(ctx)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.PingContext(ctx))
	s.DropConnections()
	assert.Error(t, c.PingContext(ctx))
	require.NoError(t, db.Ping(), "new connections work")
}
