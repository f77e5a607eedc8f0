package dbctl

import (
	"context"
	"database/sql/driver"
	"errors"
	"strings"
	"testing"

	"github.com/DATA-DOG/go-sqlmock"
	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const dataDir = "/var/lib/manticore"

func TestValidateManticoreTable(t *testing.T) {
	valid := []string{"t", "gold_a", "_under", "1abc", "MixedCase", strings.Repeat("n", 200)}
	for _, n := range valid {
		assert.NoError(t, ValidateManticoreTable(n), n)
	}
	invalid := []string{"", "123", "a-b", "t x", "t`x", "'t'", `"dq"`, "Manticore.t", "таблица", "t;", "t\x00", "t\n"}
	for _, n := range invalid {
		err := ValidateManticoreTable(n)
		assert.ErrorIs(t, err, ErrInvalidIdentifier, n)
		assert.True(t, strings.HasPrefix(err.Error(), "dbctl: invalid identifier"), err.Error())
	}
}

// Every operation that takes a table refuses a hostile name before sending
// anything (the mock has no expectations, so any statement fails the test).
func TestManticoreHostileNamesSendNothing(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{"t; DROP TABLE x", "t`, `x", "", "42", "a.b", "t' OR '1"} {
		t.Run(name, func(t *testing.T) {
			c, _ := newMock(t)
			m := c.Manticore()
			calls := map[string]error{}
			_, calls["freeze"] = m.Freeze(ctx, "ok", name)
			calls["unfreeze"] = m.Unfreeze(ctx, name)
			_, calls["locked"] = m.LockedCount(ctx, name)
			_, calls["status"] = m.TableStatus(ctx, name)
			calls["ramchunk"] = m.FlushRAMChunk(ctx, name)
			calls["flush table"] = m.FlushTable(ctx, name)
			calls["optimize"] = m.Optimize(ctx, name, OptimizeOptions{})
			calls["withfrozen"] = m.WithFrozen(ctx, []string{name}, func(context.Context, []FrozenFile) error {
				t.Fatal("callback must not run")
				return nil
			})
			for op, err := range calls {
				assert.ErrorIs(t, err, ErrInvalidIdentifier, op)
				assert.True(t, strings.HasPrefix(err.Error(), "dbctl: manticore "), err.Error())
			}
		})
	}
}

func TestManticoreNoTables(t *testing.T) {
	c, _ := newMock(t)
	_, err := c.Manticore().Freeze(context.Background())
	assert.ErrorIs(t, err, ErrNoTables)
	assert.ErrorIs(t, c.Manticore().Unfreeze(context.Background()), ErrNoTables)
	err = c.Manticore().WithFrozen(context.Background(), nil, func(context.Context, []FrozenFile) error { return nil })
	assert.ErrorIs(t, err, ErrNoTables)
}

func TestFreezeParsesAndAttributesFiles(t *testing.T) {
	tests := []struct {
		name   string
		tables []string
		sql    string
		rows   [][]string
		want   map[string]int // files per table
	}{
		{"one table, absolute paths (29.2.2)", []string{"gold_a"}, "FREEZE `gold_a`", goldFiles(dataDir, "gold_a"), map[string]int{"gold_a": 3}},
		{"two tables in one statement", []string{"gold_a", "gold_b"}, "FREEZE `gold_a`, `gold_b`",
			append(goldFiles(dataDir, "gold_a"), goldFiles(dataDir, "gold_b")...), map[string]int{"gold_a": 3, "gold_b": 3}},
		{"relative file column (manual)", []string{"t"}, "FREEZE `t`", [][]string{
			{"data/t/t.0.spa", "/work/anytest/data/t/t.0.spa"},
			{"data/t/t.0.spd", "/work/anytest/data/t/t.0.spd"},
			{"data/t/t.meta", "/work/anytest/data/t/t.meta"},
			{"data/t/t.settings", "/work/anytest/data/t/t.settings"},
		}, map[string]int{"t": 4}},
		{"upper-case and repeated names are one table", []string{"MixedCase", "mixedcase"}, "FREEZE `mixedcase`",
			goldFiles(dataDir, "mixedcase"), map[string]int{"mixedcase": 3}},
		{"prefix tables t and t_1 not confused", []string{"t", "t_1"}, "FREEZE `t`, `t_1`",
			append(goldFiles(dataDir, "t"), goldFiles(dataDir, "t_1")...), map[string]int{"t": 3, "t_1": 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, mock := newMock(t)
			mock.ExpectQuery(tc.sql).WillReturnRows(rowsOf(freezeCols, tc.rows...))
			files, err := c.Manticore().Freeze(context.Background(), tc.tables...)
			require.NoError(t, err)
			require.Len(t, files, len(tc.rows))
			got := map[string]int{}
			for i, f := range files {
				got[f.Table]++
				assert.Equal(t, tc.rows[i][0], f.File)
				assert.Equal(t, tc.rows[i][1], f.Normalized)
				assert.True(t, strings.Contains(f.Normalized, "/"+f.Table+"/"+f.Table+"."), f.Normalized)
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

// FREEZE of a table that is missing (or plain, or distributed) is only a
// warning on the server: Freeze must release what it froze and say which.
func TestFreezeMissingTableReleasesTheOthers(t *testing.T) {
	c, mock := newMock(t)
	mock.ExpectQuery("FREEZE `gold_a`, `gold_nope`, `dist`").WillReturnRows(rowsOf(freezeCols, goldFiles(dataDir, "gold_a")...))
	mock.ExpectQuery("SHOW WARNINGS").WillReturnRows(rowsOf(warningCols,
		[]string{"warning", "1000", "Some tables are not suitable for freezing: gold_nope, dist"}))
	expectRelease(mock, "UNFREEZE `gold_a`", "gold_a").WillReturnResult(sqlmock.NewResult(0, 1))
	files, err := c.Manticore().Freeze(context.Background(), "gold_a", "gold_nope", "dist")
	require.Error(t, err)
	assert.Nil(t, files)
	assert.ErrorIs(t, err, ErrTableNotFound)
	assert.True(t, IsTableNotFound(err))
	assert.Contains(t, err.Error(), "not frozen (missing, plain or distributed): gold_nope, dist; "+
		`the connection's last warning: "Some tables are not suitable for freezing: gold_nope, dist"`)
}

// searchd keeps a warning on its connection (manticore-2.jsonl): a stale
// warning naming a table that this FREEZE did freeze must not make Freeze
// think otherwise, and an OK packet (no warning) is not an error.
func TestFreezeDecidesFromTheFileListNotWarnings(t *testing.T) {
	t.Run("stale warning on a clean FREEZE: not even read", func(t *testing.T) {
		c, mock := newMock(t)
		mock.ExpectQuery("FREEZE `gold_a`").WillReturnRows(rowsOf(freezeCols, goldFiles(dataDir, "gold_a")...))
		files, err := c.Manticore().Freeze(context.Background(), "gold_a")
		require.NoError(t, err)
		assert.Len(t, files, 3)
	})
	t.Run("table without files, SHOW WARNINGS an OK packet", func(t *testing.T) {
		c, mock := newMock(t)
		mock.ExpectQuery("FREEZE `gold_a`, `dist`").WillReturnRows(rowsOf(freezeCols, goldFiles(dataDir, "gold_a")...))
		mock.ExpectQuery("SHOW WARNINGS").WillReturnRows(sqlmock.NewRows(nil))
		expectRelease(mock, "UNFREEZE `gold_a`", "gold_a").WillReturnResult(sqlmock.NewResult(0, 1))
		_, err := c.Manticore().Freeze(context.Background(), "gold_a", "dist")
		require.ErrorIs(t, err, ErrTableNotFound)
		assert.True(t, strings.HasSuffix(err.Error(), "not frozen (missing, plain or distributed): dist"), err.Error())
	})
	t.Run("SHOW WARNINGS fails: the error still names the table", func(t *testing.T) {
		c, mock := newMock(t)
		mock.ExpectQuery("FREEZE `dist`").WillReturnRows(rowsOf(freezeCols))
		mock.ExpectQuery("SHOW WARNINGS").WillReturnError(errors.New("broken pipe"))
		_, err := c.Manticore().Freeze(context.Background(), "dist")
		require.ErrorIs(t, err, ErrTableNotFound)
		assert.NotContains(t, err.Error(), "broken pipe")
	})
	t.Run("files not named after the table belong to its folder", func(t *testing.T) {
		c, mock := newMock(t)
		rows := append(goldFiles(dataDir, "cap_wf"), []string{dataDir + "/cap_wf/wordforms_chunk0_0.txt", dataDir + "/cap_wf/wordforms_chunk0_0.txt"})
		rows = append(rows, goldFiles(dataDir, "gold_a")...)
		mock.ExpectQuery("FREEZE `cap_wf`, `gold_a`").WillReturnRows(rowsOf(freezeCols, rows...))
		files, err := c.Manticore().Freeze(context.Background(), "cap_wf", "gold_a")
		require.NoError(t, err)
		require.Len(t, files, 7)
		assert.Equal(t, "cap_wf", files[3].Table)
		assert.Equal(t, "gold_a", files[4].Table)
	})
}

func TestFreezeAllMissing(t *testing.T) {
	c, mock := newMock(t)
	mock.ExpectQuery("FREEZE `gold_nope`").WillReturnRows(rowsOf(freezeCols))
	mock.ExpectQuery("SHOW WARNINGS").WillReturnRows(rowsOf(warningCols,
		[]string{"warning", "1000", "Some tables are not suitable for freezing: gold_nope"}))
	_, err := c.Manticore().Freeze(context.Background(), "gold_nope")
	assert.ErrorIs(t, err, ErrTableNotFound)
}

func TestFreezeServerErrorReleasesNothing(t *testing.T) {
	c, mock := newMock(t)
	mock.ExpectQuery("FREEZE `t`").WillReturnError(myErr(1064, "42000", "P02: syntax error, unexpected $end near 'FREEZE'"))
	_, err := c.Manticore().Freeze(context.Background(), "t")
	var me *mysql.MySQLError
	require.ErrorAs(t, err, &me)
	assert.Equal(t, uint16(1064), me.Number)
	assert.True(t, strings.HasPrefix(err.Error(), "dbctl: manticore freeze t: "), err.Error())
}

// A failure after FREEZE may have run (connection lost, garbage answer)
// releases every table, on a fresh connection when the first one is gone.
func TestFreezeUncertainFailuresRelease(t *testing.T) {
	t.Run("connection lost during FREEZE", func(t *testing.T) {
		c, mock := newMock(t)
		mock.ExpectQuery("FREEZE `a`, `b`").WillReturnError(errors.New("read tcp: connection reset by peer"))
		expectRelease(mock, "UNFREEZE `a`, `b`", "a", "b").WillReturnResult(sqlmock.NewResult(0, 2))
		_, err := c.Manticore().Freeze(context.Background(), "a", "b")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "connection reset")
	})
	t.Run("FREEZE never sent (driver.ErrBadConn): nothing to release", func(t *testing.T) {
		c, mock := newMock(t)
		mock.ExpectQuery("FREEZE `a`").WillReturnError(driver.ErrBadConn)
		_, err := c.Manticore().Freeze(context.Background(), "a")
		require.ErrorIs(t, err, driver.ErrBadConn)
	})
	t.Run("answer without a file column", func(t *testing.T) {
		c, mock := newMock(t)
		mock.ExpectQuery("FREEZE `a`").WillReturnRows(rowsOf([]string{"path"}, []string{"/d/a/a.meta"}))
		expectRelease(mock, "UNFREEZE `a`", "a").WillReturnResult(sqlmock.NewResult(0, 1))
		_, err := c.Manticore().Freeze(context.Background(), "a")
		require.ErrorIs(t, err, ErrUnexpectedResult)
	})
	t.Run("file of no requested table", func(t *testing.T) {
		c, mock := newMock(t)
		mock.ExpectQuery("FREEZE `a`, `b`").WillReturnRows(rowsOf(freezeCols, []string{"/x/zzz/zzz.meta", "/x/zzz/zzz.meta"}))
		expectRelease(mock, "UNFREEZE `a`, `b`", "a", "b").WillReturnResult(sqlmock.NewResult(0, 2))
		_, err := c.Manticore().Freeze(context.Background(), "a", "b")
		assert.ErrorIs(t, err, ErrUnexpectedResult)
		assert.Contains(t, err.Error(), "/x/zzz/zzz.meta")
	})
}

// release (the UNFREEZE after a failure or at the end of WithFrozen)
// retries, and after a broken connection it checks the counters so that an
// UNFREEZE that did run is not sent twice.
func TestReleaseRetriesAndVerifies(t *testing.T) {
	freezeThenFail := func(mock sqlmock.Sqlmock) {
		// An answer without a "file" column: which tables were frozen is
		// unknown, so every name is released.
		mock.ExpectQuery("FREEZE `a`").WillReturnRows(rowsOf([]string{"path"}, []string{"/d/a/a.meta"}))
	}
	t.Run("connection broke before the UNFREEZE ran: sent again", func(t *testing.T) {
		c, mock := newMock(t)
		freezeThenFail(mock)
		expectRelease(mock, "UNFREEZE `a`", "a").WillReturnError(errors.New("conn gone"))
		mock.ExpectQuery("SHOW LOCKS").WillReturnRows(rowsOf(locksCols, []string{"rt", "a", "freeze", "Count: 1"}))
		expectRelease(mock, "UNFREEZE `a`", "a").WillReturnResult(sqlmock.NewResult(0, 1))
		_, err := c.Manticore().Freeze(context.Background(), "a")
		assert.ErrorIs(t, err, ErrUnexpectedResult, "the release succeeded: only the freeze error is left")
		assert.NotContains(t, err.Error(), "conn gone")
	})
	t.Run("UNFREEZE ran before the connection broke: not sent again", func(t *testing.T) {
		c, mock := newMock(t)
		freezeThenFail(mock)
		mock.ExpectQuery("SHOW LOCKS").WillReturnRows(rowsOf(locksCols, []string{"rt", "a", "freeze", "Count: 2"}))
		mock.ExpectExec("UNFREEZE `a`").WillReturnError(errors.New("conn gone"))
		mock.ExpectQuery("SHOW LOCKS").WillReturnRows(rowsOf(locksCols, []string{"rt", "a", "freeze", "Count: 1"}))
		_, err := c.Manticore().Freeze(context.Background(), "a")
		assert.ErrorIs(t, err, ErrUnexpectedResult)
	})
	t.Run("server keeps refusing: gives up, both errors reported", func(t *testing.T) {
		c, mock := newMock(t)
		freezeThenFail(mock)
		for i := 0; i < releaseAttempts; i++ {
			expectRelease(mock, "UNFREEZE `a`", "a").WillReturnError(myErr(1064, "42000", "boom"))
		}
		_, err := c.Manticore().Freeze(context.Background(), "a")
		assert.ErrorIs(t, err, ErrUnexpectedResult)
		assert.Contains(t, err.Error(), "boom")
		assert.Contains(t, err.Error(), "gave up after 5 attempts; still frozen by this call: a")
	})
}

func TestUnfreeze(t *testing.T) {
	c, mock := newMock(t)
	mock.ExpectExec("UNFREEZE `gold_a`, `gold_b`").WillReturnResult(sqlmock.NewResult(0, 2))
	require.NoError(t, c.Manticore().Unfreeze(context.Background(), "gold_a", "GOLD_B", "gold_a"))

	// 1 of 2 known: name the other
	mock.ExpectExec("UNFREEZE `gold_a`, `gold_nope`").WillReturnResult(sqlmock.NewResult(0, 1))
	mock.ExpectQuery("SHOW TABLES").WillReturnRows(rowsOf(tablesCols, []string{"gold_a", "rt"}, []string{"gold_pq", "percolate"}))
	err := c.Manticore().Unfreeze(context.Background(), "gold_a", "gold_nope")
	require.ErrorIs(t, err, ErrTableNotFound)
	assert.True(t, strings.HasSuffix(err.Error(), "no such RT or percolate table: gold_nope"), err.Error())
}

func TestLocks(t *testing.T) {
	c, mock := newMock(t)
	mock.ExpectQuery("SHOW LOCKS").WillReturnRows(rowsOf(locksCols,
		[]string{"rt", "gold_a", "freeze", "Count: 2"},
		[]string{"percolate", "bar", "freeze", "Count: 3"},
		[]string{"plain", "plain1", "read", "Count: 1"}))
	locks, err := c.Manticore().Locks(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []Lock{
		{Type: "rt", Name: "gold_a", LockType: "freeze", AdditionalInfo: "Count: 2", Count: 2},
		{Type: "percolate", Name: "bar", LockType: "freeze", AdditionalInfo: "Count: 3", Count: 3},
		{Type: "plain", Name: "plain1", LockType: "read", AdditionalInfo: "Count: 1", Count: 1},
	}, locks)

	// empty, and tolerated drift: other column names and an extra column
	mock.ExpectQuery("SHOW LOCKS").WillReturnRows(rowsOf(locksCols))
	locks, err = c.Manticore().Locks(context.Background())
	require.NoError(t, err)
	assert.Empty(t, locks)
	mock.ExpectQuery("SHOW LOCKS").WillReturnRows(rowsOf([]string{"type", "Table", "Lock_Type", "Additional_Info", "Since"},
		[]string{"rt", "T", "freeze", "count: 7, since 10s", "10"}))
	locks, err = c.Manticore().Locks(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 7, locks[0].Count)
	assert.Equal(t, "t", locks[0].Name)
}

func TestLocksFailLoudlyOnGarbage(t *testing.T) {
	for _, info := range []string{"Count: x", "", "Count: 99999999999999999999"} {
		c, mock := newMock(t)
		mock.ExpectQuery("SHOW LOCKS").WillReturnRows(rowsOf(locksCols, []string{"rt", "t", "freeze", info}))
		_, err := c.Manticore().Locks(context.Background())
		require.ErrorIs(t, err, ErrUnexpectedResult, info)
		assert.Contains(t, err.Error(), quoteForMessage(info))
	}
	c, mock := newMock(t)
	mock.ExpectQuery("SHOW LOCKS").WillReturnRows(rowsOf([]string{"Type", "Name"}, []string{"rt", "t"}))
	_, err := c.Manticore().Locks(context.Background())
	assert.ErrorIs(t, err, ErrUnexpectedResult)
}

func TestLockedCount(t *testing.T) {
	ctx := context.Background()
	c, mock := newMock(t)
	mock.ExpectQuery("SHOW TABLE `gold_a` STATUS LIKE 'locked'").WillReturnRows(rowsOf(statusCols, []string{"locked", "2"}))
	mock.ExpectQuery("SHOW TABLE `plain1` STATUS LIKE 'locked'").WillReturnRows(rowsOf(statusCols))
	mock.ExpectQuery("SHOW TABLE `gold_nope` STATUS LIKE 'locked'").WillReturnError(myErr(1064, "42000", "SHOW TABLE STATUS requires an existing table"))
	mock.ExpectQuery("SHOW TABLE `t` STATUS LIKE 'locked'").WillReturnRows(rowsOf(statusCols, []string{"locked", "two"}))

	n, err := c.Manticore().LockedCount(ctx, "Gold_A")
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	n, err = c.Manticore().LockedCount(ctx, "plain1")
	require.NoError(t, err)
	assert.Equal(t, 0, n)
	_, err = c.Manticore().LockedCount(ctx, "gold_nope")
	assert.ErrorIs(t, err, ErrTableNotFound)
	_, err = c.Manticore().LockedCount(ctx, "t")
	assert.ErrorIs(t, err, ErrUnexpectedResult)
	assert.Contains(t, err.Error(), `"two"`)
}

// goldStatus is SHOW TABLE gold_a STATUS from the golden capture (cut).
var goldStatus = [][]string{
	{"table_type", "rt"}, {"indexed_documents", "3"}, {"indexed_bytes", "11"}, {"ram_bytes", "3630"},
	{"disk_bytes", "814"}, {"killed_rate", "0.00%"}, {"ram_chunk", "822"}, {"ram_chunk_segments_count", "1"},
	{"disk_chunks", "0"}, {"mem_limit", "134217728"}, {"optimizing", "0"}, {"locked", "2"}, {"tid", "1"},
	{"query_time_1min", `{"queries":0, "avg":"-", "min":"-", "max":"-", "pct95":"-", "pct99":"-"}`},
	{"insert_replace_stats_ms_avg", "1.780 1.780 1.780"},
}

func TestTableStatus(t *testing.T) {
	c, mock := newMock(t)
	mock.ExpectQuery("SHOW TABLE `gold_a` STATUS").WillReturnRows(rowsOf(statusCols, goldStatus...))
	st, err := c.Manticore().TableStatus(context.Background(), "gold_a")
	require.NoError(t, err)
	assert.Len(t, st, len(goldStatus))
	locked, err := st.Locked()
	require.NoError(t, err)
	assert.Equal(t, 2, locked)
	typ, err := st.TableType()
	require.NoError(t, err)
	assert.Equal(t, "rt", typ)
	docs, err := st.IndexedDocuments()
	require.NoError(t, err)
	assert.Equal(t, int64(3), docs)
	ram, _ := st.RAMBytes()
	disk, _ := st.DiskBytes()
	chunks, _ := st.DiskChunks()
	segs, _ := st.RAMChunkSegments()
	opt, err := st.Optimizing()
	require.NoError(t, err)
	assert.Equal(t, []int64{3630, 814, 0, 1}, []int64{ram, disk, int64(chunks), int64(segs)})
	assert.False(t, opt)
	assert.Equal(t, "0.00%", st["killed_rate"])

	// drift: index_type in older servers
	old := TableStatus{"index_type": "percolate"}
	typ, err = old.TableType()
	require.NoError(t, err)
	assert.Equal(t, "percolate", typ)
	_, err = old.Locked()
	assert.ErrorIs(t, err, ErrUnexpectedResult)

	mock.ExpectQuery("SHOW TABLE `gold_nope` STATUS").WillReturnError(myErr(1064, "42000", "SHOW TABLE STATUS requires an existing table"))
	_, err = c.Manticore().TableStatus(context.Background(), "gold_nope")
	assert.ErrorIs(t, err, ErrTableNotFound)
}

func TestFlushAttributes(t *testing.T) {
	c, mock := newMock(t)
	mock.ExpectQuery("FLUSH ATTRIBUTES").WillReturnRows(rowsOf([]string{"tag"}, []string{"2"}))
	mock.ExpectQuery("FLUSH ATTRIBUTES").WillReturnRows(rowsOf([]string{"tag"}, []string{"-x"}))
	mock.ExpectQuery("FLUSH ATTRIBUTES").WillReturnRows(rowsOf([]string{"tag"}))
	tag, err := c.Manticore().FlushAttributes(context.Background())
	require.NoError(t, err)
	assert.Equal(t, int64(2), tag)
	_, err = c.Manticore().FlushAttributes(context.Background())
	assert.ErrorIs(t, err, ErrUnexpectedResult)
	assert.Contains(t, err.Error(), `"-x"`)
	_, err = c.Manticore().FlushAttributes(context.Background())
	assert.ErrorIs(t, err, ErrUnexpectedResult)
}

func TestFlushAndOptimizeStatements(t *testing.T) {
	ctx := context.Background()
	c, mock := newMock(t)
	m := c.Manticore()
	mock.ExpectExec("FLUSH HOSTNAMES").WillReturnResult(sqlmock.NewResult(0, 5))
	mock.ExpectExec("FLUSH RAMCHUNK `gold_a`").WillReturnResult(sqlmock.NewResult(0, 0))
	mock.ExpectExec("FLUSH TABLE `gold_a`").WillReturnResult(sqlmock.NewResult(0, 0))
	mock.ExpectExec("OPTIMIZE TABLE `gold_a`").WillReturnResult(sqlmock.NewResult(0, 0))
	mock.ExpectExec("OPTIMIZE TABLE `gold_a` OPTION sync=1").WillReturnResult(sqlmock.NewResult(0, 0))
	mock.ExpectExec("OPTIMIZE TABLE `gold_a` OPTION cutoff=1, sync=1").WillReturnResult(sqlmock.NewResult(0, 0))
	mock.ExpectExec("OPTIMIZE TABLE `gold_a` OPTION cutoff=4").WillReturnResult(sqlmock.NewResult(0, 0))
	mock.ExpectExec("OPTIMIZE TABLE `gold_b` OPTION sync=1").WillReturnError(myErr(1064, "42000", "Can't optimize frozen table"))
	mock.ExpectExec("FLUSH RAMCHUNK `gold_nope`").WillReturnError(myErr(1064, "42000", "FLUSH RAMCHUNK requires an existing RT table"))
	mock.ExpectExec("FLUSH TABLE `gold_nope`").WillReturnError(myErr(1064, "42000", "FLUSH RTINDEX requires an existing RT table"))

	n, err := m.FlushHostnames(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(5), n)
	require.NoError(t, m.FlushRAMChunk(ctx, "gold_a"))
	require.NoError(t, m.FlushTable(ctx, "GOLD_A"))
	require.NoError(t, m.Optimize(ctx, "gold_a", OptimizeOptions{}))
	require.NoError(t, m.Optimize(ctx, "gold_a", OptimizeOptions{Sync: true}))
	require.NoError(t, m.Optimize(ctx, "gold_a", OptimizeOptions{Cutoff: 1, Sync: true}))
	require.NoError(t, m.Optimize(ctx, "gold_a", OptimizeOptions{Cutoff: 4}))
	assert.ErrorIs(t, m.Optimize(ctx, "gold_b", OptimizeOptions{Sync: true}), ErrTableFrozen)
	assert.ErrorIs(t, m.FlushRAMChunk(ctx, "gold_nope"), ErrTableNotFound)
	assert.ErrorIs(t, m.FlushTable(ctx, "gold_nope"), ErrTableNotFound)
	assert.ErrorIs(t, m.Optimize(ctx, "gold_a", OptimizeOptions{Cutoff: -1}), ErrInvalidArgument)
}

func TestTablesAndVersion(t *testing.T) {
	c, mock := newMock(t)
	mock.ExpectQuery("SHOW TABLES").WillReturnRows(rowsOf(tablesCols, []string{"gold_a", "rt"}, []string{"gold_pq", "percolate"}, []string{"d", "distributed"}, []string{"p", "local"}))
	mock.ExpectQuery("SHOW STATUS LIKE 'version'").WillReturnRows(rowsOf([]string{"Counter", "Value"}, []string{"version", "29.2.2 fe8f84c8b@260821"}))
	tables, err := c.Manticore().Tables(context.Background())
	require.NoError(t, err)
	require.Len(t, tables, 4)
	assert.True(t, tables[0].Freezable())
	assert.True(t, tables[1].Freezable())
	assert.False(t, tables[2].Freezable())
	assert.False(t, tables[3].Freezable())
	v, err := c.Manticore().ServerVersion(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "29.2.2 fe8f84c8b@260821", v)
}

func expectFreezeOK(mock sqlmock.Sqlmock, table string) {
	mock.ExpectQuery("FREEZE `" + table + "`").WillReturnRows(rowsOf(freezeCols, goldFiles(dataDir, table)...))
}

func TestWithFrozenAlwaysReleasesOnce(t *testing.T) {
	fnErr := errors.New("copy failed")
	tests := []struct {
		name      string
		fn        func(ctx context.Context, cancel func()) error
		wantErr   error
		wantPanic bool
	}{
		{"success", func(context.Context, func()) error { return nil }, nil, false},
		{"callback error", func(context.Context, func()) error { return fnErr }, fnErr, false},
		{"panic", func(context.Context, func()) error { panic("boom") }, nil, true},
		{"context cancelled in callback", func(ctx context.Context, cancel func()) error {
			cancel()
			return ctx.Err()
		}, context.Canceled, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, mock := newMock(t)
			expectFreezeOK(mock, "gold_a")
			expectRelease(mock, "UNFREEZE `gold_a`", "gold_a").WillReturnResult(sqlmock.NewResult(0, 1))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var got []FrozenFile
			run := func() error {
				return c.Manticore().WithFrozen(ctx, []string{"gold_a", "GOLD_A"}, func(ctx context.Context, files []FrozenFile) error {
					got = files
					return tc.fn(ctx, cancel)
				})
			}
			if tc.wantPanic {
				assert.PanicsWithValue(t, "boom", func() { _ = run() })
				return
			}
			err := run()
			assert.Len(t, got, 3)
			if tc.wantErr == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tc.wantErr)
			}
		})
	}
}

func TestWithFrozenJoinsReleaseError(t *testing.T) {
	c, mock := newMock(t)
	expectFreezeOK(mock, "gold_a")
	for i := 0; i < releaseAttempts; i++ {
		expectRelease(mock, "UNFREEZE `gold_a`", "gold_a").WillReturnError(myErr(1064, "42000", "release failed"))
	}
	fnErr := errors.New("copy failed")
	err := c.Manticore().WithFrozen(context.Background(), []string{"gold_a"}, func(context.Context, []FrozenFile) error { return fnErr })
	require.ErrorIs(t, err, fnErr)
	var me *mysql.MySQLError
	require.ErrorAs(t, err, &me)
	assert.Equal(t, "release failed", me.Message)
}

func TestWithFrozenFreezeFailureSkipsCallback(t *testing.T) {
	c, mock := newMock(t)
	mock.ExpectQuery("FREEZE `gold_nope`").WillReturnRows(rowsOf(freezeCols))
	mock.ExpectQuery("SHOW WARNINGS").WillReturnRows(rowsOf(warningCols, []string{"warning", "1000", "Some tables are not suitable for freezing: gold_nope"}))
	called := false
	err := c.Manticore().WithFrozen(context.Background(), []string{"gold_nope"}, func(context.Context, []FrozenFile) error {
		called = true
		return nil
	})
	assert.ErrorIs(t, err, ErrTableNotFound)
	assert.False(t, called)
	assert.ErrorIs(t, c.Manticore().WithFrozen(context.Background(), []string{"t"}, nil), ErrInvalidArgument)
}

func TestOpErrorFormatting(t *testing.T) {
	e := &OpError{Op: "manticore freeze t", Kind: ErrTableNotFound, Detail: "not frozen: t", Err: myErr(1064, "42000", "x")}
	assert.Equal(t, "dbctl: manticore freeze t: table not found: not frozen: t: Error 1064 (42000): x", e.Error())
	assert.Equal(t, "dbctl: op", (&OpError{Op: "op"}).Error())
	nested := &OpError{Op: "outer", Err: &OpError{Op: "inner"}}
	assert.Equal(t, "dbctl: outer: inner", nested.Error())
	me, ok := ServerError(e)
	require.True(t, ok)
	assert.Equal(t, uint16(1064), me.Number)
	_, ok = ServerError(errors.New("x"))
	assert.False(t, ok)
}
