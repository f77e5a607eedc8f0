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
			mock.ExpectQuery("SHOW LOCKS").WillReturnRows(rowsOf(locksCols))
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
	mock.ExpectQuery("SHOW LOCKS").WillReturnRows(rowsOf(locksCols))
	mock.ExpectQuery("FREEZE `gold_a`, `gold_nope`, `dist`").WillReturnRows(rowsOf(freezeCols, goldFiles(dataDir, "gold_a")...))
	mock.ExpectQuery("SHOW WARNINGS").WillReturnRows(rowsOf(warningCols,
		[]string{"warning", "1000", "Some tables are not suitable for freezing: gold_nope, dist"}))
	expectRelease(mock, "UNFREEZE `gold_a`", "gold_a").WillReturnResult(sqlmock.NewResult(0, 1))
	files, err := c.Manticore().Freeze(context.Background(), "gold_a", "gold_nope", "dist")
	require.Error(t, err)
	assert.Nil(t, files)
	assert.ErrorIs(t, err, ErrTableNotFound)
	assert.True(t, errors.Is(err, ErrTableNotFound))
	assert.Contains(t, err.Error(), "not frozen (missing, plain or distributed): gold_nope, dist; "+
		`the connection's last warning: "Some tables are not suitable for freezing: gold_nope, dist"`)
}

// searchd keeps a warning on its connection (manticore-2.jsonl): a stale
// warning naming a table that this FREEZE did freeze must not make Freeze
// think otherwise, and an OK packet (no warning) is not an error.
func TestFreezeDecidesFromTheFileListNotWarnings(t *testing.T) {
	t.Run("stale warning on a clean FREEZE: not even read", func(t *testing.T) {
		c, mock := newMock(t)
		mock.ExpectQuery("SHOW LOCKS").WillReturnRows(rowsOf(locksCols))
		mock.ExpectQuery("FREEZE `gold_a`").WillReturnRows(rowsOf(freezeCols, goldFiles(dataDir, "gold_a")...))
		files, err := c.Manticore().Freeze(context.Background(), "gold_a")
		require.NoError(t, err)
		assert.Len(t, files, 3)
	})
	t.Run("table without files, SHOW WARNINGS an OK packet", func(t *testing.T) {
		c, mock := newMock(t)
		mock.ExpectQuery("SHOW LOCKS").WillReturnRows(rowsOf(locksCols))
		mock.ExpectQuery("FREEZE `gold_a`, `dist`").WillReturnRows(rowsOf(freezeCols, goldFiles(dataDir, "gold_a")...))
		mock.ExpectQuery("SHOW WARNINGS").WillReturnRows(sqlmock.NewRows(nil))
		expectRelease(mock, "UNFREEZE `gold_a`", "gold_a").WillReturnResult(sqlmock.NewResult(0, 1))
		_, err := c.Manticore().Freeze(context.Background(), "gold_a", "dist")
		require.ErrorIs(t, err, ErrTableNotFound)
		assert.True(t, strings.HasSuffix(err.Error(), "not frozen (missing, plain or distributed): dist"), err.Error())
	})
	t.Run("SHOW WARNINGS fails: the error still names the table", func(t *testing.T) {
		c, mock := newMock(t)
		mock.ExpectQuery("SHOW LOCKS").WillReturnRows(rowsOf(locksCols))
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
		mock.ExpectQuery("SHOW LOCKS").WillReturnRows(rowsOf(locksCols))
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
	mock.ExpectQuery("SHOW LOCKS").WillReturnRows(rowsOf(locksCols))
	mock.ExpectQuery("FREEZE `gold_nope`").WillReturnRows(rowsOf(freezeCols))
	mock.ExpectQuery("SHOW WARNINGS").WillReturnRows(rowsOf(warningCols,
		[]string{"warning", "1000", "Some tables are not suitable for freezing: gold_nope"}))
	_, err := c.Manticore().Freeze(context.Background(), "gold_nope")
	assert.ErrorIs(t, err, ErrTableNotFound)
}

func TestFreezeServerErrorReleasesNothing(t *testing.T) {
	c, mock := newMock(t)
	mock.ExpectQuery("SHOW LOCKS").WillReturnRows(rowsOf(locksCols))
	mock.ExpectQuery("FREEZE `t`").WillReturnError(myErr(1064, "42000", "P02: syntax error, unexpected $end near 'FREEZE'"))
	_, err := c.Manticore().Freeze(context.Background(), "t")
	var me *mysql.MySQLError
	require.ErrorAs(t, err, &me)
	assert.Equal(t, uint16(1064), me.Number)
	assert.True(t, strings.HasPrefix(err.Error(), "dbctl: manticore freeze t: "), err.Error())
}

// A failure after FREEZE may have run (connection lost, garbage answer)
// releases every table it froze, on a fresh connection when the first one
// is gone. When the connection died with the FREEZE in flight, the caller
// learns that the outcome is unknown, and a releaser watches the counters
// and undoes the FREEZE once it lands (never before: an UNFREEZE sent at
// once could run first).
func TestFreezeUncertainFailuresRelease(t *testing.T) {
	t.Run("connection lost during FREEZE, which had run", func(t *testing.T) {
		c, mock := newMock(t)
		mock.ExpectQuery("SHOW LOCKS").WillReturnRows(rowsOf(locksCols, []string{"rt", "b", "freeze", "Count: 1"}))
		mock.ExpectQuery("FREEZE `a`, `b`").WillReturnError(errors.New("read tcp: connection reset by peer"))
		// the counters rose above those from before: it ran
		mock.ExpectQuery("SHOW LOCKS").WillReturnRows(rowsOf(locksCols,
			[]string{"rt", "a", "freeze", "Count: 1"}, []string{"rt", "b", "freeze", "Count: 2"}))
		expectRelease(mock, "UNFREEZE `a`, `b`", "a", "b").WillReturnResult(sqlmock.NewResult(0, 2))
		_, err := c.Manticore().Freeze(context.Background(), "a", "b")
		require.ErrorIs(t, err, ErrFreezeOutcomeUnknown)
		assert.Contains(t, err.Error(), "the connection died with the FREEZE in flight")
		assert.Contains(t, err.Error(), "connection reset")
		released, err := c.WaitReleases(context.Background())
		require.NoError(t, err)
		assert.Equal(t, []string{"a", "b"}, released)
	})
	t.Run("connection lost during FREEZE, which runs later", func(t *testing.T) {
		c, mock := newMock(t)
		mock.ExpectQuery("SHOW LOCKS").WillReturnRows(rowsOf(locksCols))
		mock.ExpectQuery("FREEZE `a`").WillReturnError(errors.New("read tcp: connection reset by peer"))
		// not yet: no UNFREEZE may be sent now (it would run first)
		mock.ExpectQuery("SHOW LOCKS").WillReturnRows(rowsOf(locksCols))
		mock.ExpectQuery("SHOW LOCKS").WillReturnRows(rowsOf(locksCols, []string{"rt", "a", "freeze", "Count: 1"}))
		expectRelease(mock, "UNFREEZE `a`", "a").WillReturnResult(sqlmock.NewResult(0, 1))
		_, err := c.Manticore().Freeze(context.Background(), "a")
		require.ErrorIs(t, err, ErrFreezeOutcomeUnknown)
		released, err := c.WaitReleases(context.Background())
		require.NoError(t, err)
		assert.Equal(t, []string{"a"}, released)
	})
	t.Run("no SHOW LOCKS on this server: released at once, as before", func(t *testing.T) {
		c, mock := newMock(t)
		mock.ExpectQuery("SHOW LOCKS").WillReturnError(myErr(1064, "42000", "P01: syntax error"))
		mock.ExpectQuery("FREEZE `a`").WillReturnError(errors.New("read tcp: connection reset by peer"))
		expectRelease(mock, "UNFREEZE `a`", "a").WillReturnResult(sqlmock.NewResult(0, 1))
		_, err := c.Manticore().Freeze(context.Background(), "a")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "the FREEZE's answer was lost")
	})
	t.Run("FREEZE never sent (driver.ErrBadConn): nothing to release", func(t *testing.T) {
		c, mock := newMock(t)
		mock.ExpectQuery("SHOW LOCKS").WillReturnRows(rowsOf(locksCols))
		mock.ExpectQuery("FREEZE `a`").WillReturnError(driver.ErrBadConn)
		_, err := c.Manticore().Freeze(context.Background(), "a")
		require.ErrorIs(t, err, driver.ErrBadConn)
	})
	t.Run("answer without a file column", func(t *testing.T) {
		c, mock := newMock(t)
		mock.ExpectQuery("SHOW LOCKS").WillReturnRows(rowsOf(locksCols))
		mock.ExpectQuery("FREEZE `a`").WillReturnRows(rowsOf([]string{"path"}, []string{"/d/a/a.meta"}))
		expectRelease(mock, "UNFREEZE `a`", "a").WillReturnResult(sqlmock.NewResult(0, 1))
		_, err := c.Manticore().Freeze(context.Background(), "a")
		require.ErrorIs(t, err, ErrUnexpectedResult)
	})
	t.Run("file of no requested table", func(t *testing.T) {
		c, mock := newMock(t)
		mock.ExpectQuery("SHOW LOCKS").WillReturnRows(rowsOf(locksCols))
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
		mock.ExpectQuery("SHOW LOCKS").WillReturnRows(rowsOf(locksCols))
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

func expectFreezeOK(mock sqlmock.Sqlmock, table string) {
	mock.ExpectQuery("SHOW LOCKS").WillReturnRows(rowsOf(locksCols))
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
	mock.ExpectQuery("SHOW LOCKS").WillReturnRows(rowsOf(locksCols))
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
