package dbctl

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/DATA-DOG/go-sqlmock"
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
	assert.ErrorContains(t, ValidateManticoreTable("tä"), `character 'ä' at byte 1`, "the character, not its first byte")
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

// The FREEZE counter is TableStatus.Locked: the name is lower-cased, and a
// table that lists no counter (plain) reads 0.
func TestTableStatusLocked(t *testing.T) {
	ctx := context.Background()
	c, mock := newMock(t)
	mock.ExpectQuery("SHOW TABLE `gold_a` STATUS").WillReturnRows(rowsOf(statusCols, []string{"table_type", "rt"}, []string{"locked", "2"}))
	mock.ExpectQuery("SHOW TABLE `plain1` STATUS").WillReturnRows(rowsOf(statusCols, []string{"table_type", "local"}))

	st, err := c.Manticore().TableStatus(ctx, "Gold_A")
	require.NoError(t, err)
	assert.Equal(t, 2, st.Locked)
	st, err = c.Manticore().TableStatus(ctx, "plain1")
	require.NoError(t, err)
	assert.Equal(t, 0, st.Locked)
	_, listed := st.Vars["locked"]
	assert.False(t, listed)
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
	goldVars := make(map[string]string, len(goldStatus))
	for _, kv := range goldStatus {
		goldVars[kv[0]] = kv[1]
	}
	tests := []struct {
		name    string
		rows    [][]string
		want    *TableStatus
		wantErr string // the raw value the error names
	}{
		{"gold_a", goldStatus, &TableStatus{TableType: "rt", IndexedDocuments: 3, DiskChunks: 0, DiskBytes: 814, RAMBytes: 3630,
			RAMChunkSegments: 1, Locked: 2, Optimizing: false, Vars: goldVars}, ""},
		{"older server: index_type, no counters", [][]string{{"index_type", "percolate"}},
			&TableStatus{TableType: "percolate", Vars: map[string]string{"index_type": "percolate"}}, ""},
		{"distributed: no counters (golden cap_dist)", [][]string{{"table_type", "distributed"}, {"command_search", "0"}},
			&TableStatus{TableType: "distributed", Vars: map[string]string{"table_type": "distributed", "command_search": "0"}}, ""},
		{"optimizing", [][]string{{"table_type", "rt"}, {"optimizing", "1"}},
			&TableStatus{TableType: "rt", Optimizing: true, Vars: map[string]string{"table_type": "rt", "optimizing": "1"}}, ""},
		{"locked is not a number", [][]string{{"table_type", "rt"}, {"locked", "two"}}, nil, `"locked" is not an integer: "two"`},
		{"disk_bytes is not a number", [][]string{{"disk_bytes", "1.5e3"}}, nil, `"disk_bytes" is not an integer: "1.5e3"`},
		{"locked out of int range", [][]string{{"locked", "99999999999999999999"}}, nil, `"99999999999999999999"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, mock := newMock(t)
			mock.ExpectQuery("SHOW TABLE `gold_a` STATUS").WillReturnRows(rowsOf(statusCols, tc.rows...))
			st, err := c.Manticore().TableStatus(context.Background(), "gold_a")
			if tc.wantErr != "" {
				assert.ErrorIs(t, err, ErrUnexpectedResult)
				assert.Contains(t, err.Error(), tc.wantErr)
				assert.Nil(t, st)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, st)
		})
	}

	c, mock := newMock(t)
	mock.ExpectQuery("SHOW TABLE `gold_nope` STATUS").WillReturnError(myErr(1064, "42000", "SHOW TABLE STATUS requires an existing table"))
	_, err := c.Manticore().TableStatus(context.Background(), "gold_nope")
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
	// gold_a is not frozen (a read lock does not count); gold_f is
	locks := func() {
		mock.ExpectQuery("SHOW LOCKS").WillReturnRows(rowsOf(locksCols,
			[]string{"rt", "gold_a", "read", "Count: 1"}, []string{"rt", "gold_f", "freeze", "Count: 2"}))
	}
	mock.ExpectExec("FLUSH HOSTNAMES").WillReturnResult(sqlmock.NewResult(0, 5))
	mock.ExpectExec("FLUSH RAMCHUNK `gold_a`").WillReturnResult(sqlmock.NewResult(0, 0))
	mock.ExpectExec("FLUSH TABLE `gold_a`").WillReturnResult(sqlmock.NewResult(0, 0))
	for _, stmt := range []string{"OPTIMIZE TABLE `gold_a`", "OPTIMIZE TABLE `gold_a` OPTION sync=1",
		"OPTIMIZE TABLE `gold_a` OPTION cutoff=1, sync=1", "OPTIMIZE TABLE `gold_a` OPTION cutoff=4"} {
		locks()
		mock.ExpectExec(stmt).WillReturnResult(sqlmock.NewResult(0, 0))
	}
	// frozen between the SHOW LOCKS and the OPTIMIZE: the server's refusal
	locks()
	mock.ExpectExec("OPTIMIZE TABLE `gold_b` OPTION sync=1").WillReturnError(myErr(1064, "42000", "Can't optimize frozen table"))
	// frozen: refused before the OPTIMIZE is sent, with and without sync
	locks()
	locks()
	mock.ExpectExec("FLUSH RAMCHUNK `gold_nope`").WillReturnError(myErr(1064, "42000", "FLUSH RAMCHUNK requires an existing RT table"))
	mock.ExpectExec("FLUSH TABLE `gold_nope`").WillReturnError(myErr(1064, "42000", "FLUSH RTINDEX requires an existing RT table"))
	// SHOW LOCKS fails: nothing is sent
	mock.ExpectQuery("SHOW LOCKS").WillReturnError(myErr(1064, "42000", "injected"))

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
	for _, sync := range []bool{false, true} {
		err := m.Optimize(ctx, "GOLD_F", OptimizeOptions{Sync: sync})
		require.ErrorIs(t, err, ErrTableFrozen)
		assert.Contains(t, err.Error(), "not sent: SHOW LOCKS lists a freeze of gold_f (Count: 2)")
	}
	assert.ErrorIs(t, m.FlushRAMChunk(ctx, "gold_nope"), ErrTableNotFound)
	assert.ErrorIs(t, m.FlushTable(ctx, "gold_nope"), ErrTableNotFound)
	assert.ErrorIs(t, m.Optimize(ctx, "gold_a", OptimizeOptions{Cutoff: -1}), ErrInvalidArgument)
	err = m.Optimize(ctx, "gold_a", OptimizeOptions{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not sent: could not check for a freeze")
}

func TestTablesAndVersion(t *testing.T) {
	c, mock := newMock(t)
	mock.ExpectQuery("SHOW TABLES").WillReturnRows(rowsOf(tablesCols, []string{"gold_a", "rt"}, []string{"gold_pq", "percolate"}, []string{"d", "distributed"}, []string{"p", "local"}))
	mock.ExpectQuery("SHOW STATUS LIKE 'version'").WillReturnRows(rowsOf([]string{"Counter", "Value"}, []string{"version", "29.2.2 fe8f84c8b@260821"}))
	tables, err := c.Manticore().Tables(context.Background())
	require.NoError(t, err)
	require.Len(t, tables, 4)
	assert.True(t, tables[0].Freezable)
	assert.True(t, tables[1].Freezable)
	assert.False(t, tables[2].Freezable)
	assert.False(t, tables[3].Freezable)
	v, err := c.Manticore().ServerVersion(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "29.2.2 fe8f84c8b@260821", v)
}

func TestOpErrorFormatting(t *testing.T) {
	e := &OpError{Op: "manticore freeze t", Kind: ErrTableNotFound, Detail: "not frozen: t", Err: myErr(1064, "42000", "x")}
	assert.Equal(t, "dbctl: manticore freeze t: table not found: not frozen: t: Error 1064 (42000): x", e.Error())
	assert.Equal(t, "dbctl: op", (&OpError{Op: "op"}).Error())
	// A caller's argument in the op stays on one line, escaped.
	assert.Equal(t, `dbctl: manticore freeze t\n1\x00ä\xff: invalid identifier`, (&OpError{Op: "manticore freeze t\n1\x00ä\xff", Kind: ErrInvalidIdentifier}).Error())
	forged := &OpError{Op: "read backup manifest", Kind: ErrInvalidArgument, Detail: "/b/bk\nlevel=ERROR msg=forged", Err: errors.Join(errors.New("open /b/bk\nx"), errors.New(`second "quoted"`))}
	assert.Equal(t, `dbctl: read backup manifest: invalid argument: /b/bk\nlevel=ERROR msg=forged: open /b/bk\nx\nsecond "quoted"`, forged.Error(), "Detail and Err on the same one line; quotes kept")
	nested := &OpError{Op: "outer", Err: &OpError{Op: "inner"}}
	assert.Equal(t, "dbctl: outer: inner", nested.Error())
	me, ok := serverError(e)
	require.True(t, ok)
	assert.Equal(t, uint16(1064), me.Number)
	_, ok = serverError(errors.New("x"))
	assert.False(t, ok)
}
