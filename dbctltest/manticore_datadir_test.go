package dbctltest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dbctl/dbctl/dbctltest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The data folder: a restart on it, IMPORT TABLE, documents across chunks,
// the RAM chunk's limit.

func TestManticoreRestartOnDataDir(t *testing.T) {
	dir := t.TempDir()
	s1, err := dbctltest.StartManticore(dbctltest.WithDataDir(dir))
	require.NoError(t, err)
	db := openDB(t, s1.DSN())
	setupF1(t, db)
	mustExec(t, db, "CREATE TABLE pq(title text) type='percolate'", "FLUSH TABLE f1", "DELETE FROM f1 WHERE id=2",
		"UPDATE f1 SET gid=11 WHERE id=1")
	mustExec(t, db, "FLUSH TABLE f1")
	require.NoError(t, s1.Close())
	_, err = os.Stat(filepath.Join(dir, "manticore.json"))
	require.NoError(t, err, "a given data_dir is kept")

	s2 := dbctltest.NewManticore(t, dbctltest.WithDataDir(dir))
	db2 := openDB(t, s2.DSN())
	assert.Equal(t, [][]string{{"f1", "rt"}, {"pq", "percolate"}}, queryStrings(t, db2, "SHOW TABLES"))
	assert.Equal(t, [][]string{{"3"}}, queryStrings(t, db2, "SELECT COUNT(*) FROM f1"))
	assert.Equal(t, [][]string{{"1", "one", "11", "1.5"}, {"3", "three", "30", "3.5"}, {"4", "four in ram", "40", "4.5"}},
		queryStrings(t, db2, "SELECT * FROM f1"), "the kill list and the attribute update were saved")
}

func TestManticoreImportTable(t *testing.T) {
	s := dbctltest.NewManticore(t)
	db := openDB(t, s.DSN())
	setupF1(t, db)
	backup := t.TempDir()
	for _, r := range queryStrings(t, db, "FREEZE f1") {
		require.NoError(t, os.MkdirAll(filepath.Join(backup, "f1"), 0o755))
		b, err := os.ReadFile(r[1])
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(backup, "f1", filepath.Base(r[1])), b, 0o644))
	}
	mustExec(t, db, "UNFREEZE f1")
	mustExec(t, db, "IMPORT TABLE f1_copy FROM '"+filepath.Join(backup, "f1", "f1")+"'")
	assert.Equal(t, [][]string{{"4"}}, queryStrings(t, db, "SELECT COUNT(*) FROM f1_copy"))
	_, err := db.Exec("IMPORT TABLE f1_copy FROM '" + filepath.Join(backup, "f1", "f1") + "'")
	assert.Error(t, err)
	_, err = db.Exec("IMPORT TABLE x FROM '/nonexistent/x'")
	assert.Error(t, err)
	state, _ := os.ReadFile(filepath.Join(s.DataDir(), "manticore.json"))
	assert.Contains(t, string(state), `"f1_copy"`)
}

// Document lookups stay right across FLUSH RAMCHUNK, REPLACE and DELETE
// (ids move between the RAM chunk and disk chunks).
func TestManticoreDocumentsAcrossChunks(t *testing.T) {
	s := dbctltest.NewManticore(t)
	db := openDB(t, s.DSN())
	mustExec(t, db,
		"CREATE TABLE t(title text, gid int)",
		"INSERT INTO t(id,title,gid) VALUES (5,'five',5)",
		"FLUSH RAMCHUNK t",
		"INSERT INTO t(id,title,gid) VALUES (7,'seven',7)")
	_, err := db.Exec("INSERT INTO t(id,title,gid) VALUES (5,'again',5)")
	assert.Equal(t, "duplicate id '5'", serverErr(t, err).Message, "id 5 is in the disk chunk")
	_, err = db.Exec("INSERT INTO t(id,title,gid) VALUES (7,'again',7)")
	assert.Equal(t, "duplicate id '7'", serverErr(t, err).Message, "id 7 is in RAM")
	mustExec(t, db,
		"REPLACE INTO t(id,title,gid) VALUES (5,'five bis',55)",
		"DELETE FROM t WHERE id=7",
		"INSERT INTO t(id,title,gid) VALUES (8,'eight',8)",
		"UPDATE t SET gid=88 WHERE id=8")
	assert.Equal(t, [][]string{{"5", "five bis", "55"}, {"8", "eight", "88"}}, queryStrings(t, db, "SELECT * FROM t"))
	mustExec(t, db, "FLUSH RAMCHUNK t", "OPTIMIZE TABLE t OPTION cutoff=1, sync=1")
	assert.Equal(t, [][]string{{"5", "five bis", "55"}, {"8", "eight", "88"}}, queryStrings(t, db, "SELECT * FROM t"))
	assert.Equal(t, [][]string{{"disk_chunks", "1"}}, queryStrings(t, db, "SHOW TABLE t STATUS LIKE 'disk_chunks'"))
}

// rt_mem_limit: a full RAM chunk becomes a disk chunk; on a frozen table
// the INSERT waits for the unfreeze instead (reference §4.4).
func TestManticoreRAMLimit(t *testing.T) {
	s := dbctltest.NewManticore(t)
	db := openDB(t, s.DSN())
	ctx := context.Background()
	c, err := db.Conn(ctx)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.ExecContext(ctx, "CREATE TABLE memfrz(title text) rt_mem_limit='4k'")
	require.NoError(t, err)
	var level, code, msg string
	require.NoError(t, c.QueryRowContext(ctx, "SHOW WARNINGS").Scan(&level, &code, &msg))
	assert.Equal(t, "rt_mem_limit very low (under 8 MB)", msg)

	doc := strings.Repeat("x", 1000)
	insert := func(id int) string { return fmt.Sprintf("INSERT INTO memfrz(id,title) VALUES (%d,'%s')", id, doc) }
	for i := 1; i <= 10; i++ {
		mustExec(t, db, insert(i))
	}
	chunks := queryStrings(t, db, "SHOW TABLE memfrz STATUS LIKE 'disk_chunks'")
	assert.NotEqual(t, "0", chunks[0][1], "a full RAM chunk went to disk")

	mustExec(t, db, "FREEZE memfrz")
	id := 100
	var blocked bool
	var done <-chan error
	for i := 0; i < 20 && !blocked; i++ {
		id++
		blocked, done = blocks(t, db, insert(id), 150*time.Millisecond)
	}
	require.True(t, blocked, "inserts wait once the RAM chunk is full")
	mustExec(t, db, "UNFREEZE memfrz")
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("INSERT still waiting after UNFREEZE")
	}
	assert.Equal(t, [][]string{{fmt.Sprint(10 + id - 100)}}, queryStrings(t, db, "SELECT COUNT(*) FROM memfrz"))
}
