package dbctl

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/DATA-DOG/go-sqlmock"
	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMoCtlFlushTableSQLAndParse(t *testing.T) {
	tests := []struct {
		name      string
		opts      []Options
		db, table string
		want      string
	}{
		{"plain", nil, "gold", "t", "select mo_ctl('dn', 'flush', 'gold.t')"},
		{"lower-cased by default", nil, "Gold", "Mixed", "select mo_ctl('dn', 'flush', 'gold.mixed')"},
		{"case kept when asked", []Options{{KeepNameCase: true}}, "gold", "Mixed", "select mo_ctl('dn', 'flush', 'gold.Mixed')"},
		{"quote escaped", nil, "gold", "t'x", "select mo_ctl('dn', 'flush', 'gold.t''x')"},
		{"backslash escaped", nil, "gold", `t\x`, `select mo_ctl('dn', 'flush', 'gold.t\\x')`},
		{"backtick verbatim", nil, "db1", "back`tick", "select mo_ctl('dn', 'flush', 'db1.back`tick')"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, mock := newMock(t, tc.opts...)
			expectSysRoot(mock)
			expectMoCtl(mock, tc.want, moFlushOK)
			r, err := c.MoCtl().FlushTable(context.Background(), tc.db, tc.table)
			require.NoError(t, err)
			assert.Equal(t, "Flush", r.Method)
			assert.Equal(t, moFlushOK, r.Raw)
			assert.True(t, r.JSON)
			assert.Equal(t, []string{"OK"}, r.ReturnStrs)
		})
	}
}

func TestMoCtlFlushForms(t *testing.T) {
	ctx := context.Background()
	c, mock := newMock(t)
	expectSysRoot(mock)
	expectMoCtl(mock, "select mo_ctl('dn', 'flush', '999999999')", moFlushOK)
	expectMoCtl(mock, "select mo_ctl('dn', 'flush', 'db1.t.10001')", moFlushOK)
	expectMoCtl(mock, "select mo_ctl('dn', 'flush', '18446744073709551615')", moFlushOK)
	_, err := c.MoCtl().FlushTableByID(ctx, 999999999)
	require.NoError(t, err)
	_, err = c.MoCtl().FlushAccountTable(ctx, "DB1", "t", 10001)
	require.NoError(t, err)
	_, err = c.MoCtl().FlushTableByID(ctx, ^uint64(0))
	require.NoError(t, err)
}

func TestMoCtlFlushRejectsBadNamesBeforeSending(t *testing.T) {
	tests := []struct{ db, table, want string }{
		{"", "t", "empty MatrixOne database name"},
		{"gold", "", "empty MatrixOne table name"},
		{"gold", "a.b", "use FlushTableByID"},
		{"a.b", "t", "use FlushTableByID"},
		{"gold", "t\x00", "NUL"},
	}
	for _, tc := range tests {
		t.Run(tc.db+"/"+tc.table, func(t *testing.T) {
			c, _ := newMock(t) // no expectations: any statement fails the test
			_, err := c.MoCtl().FlushTable(context.Background(), tc.db, tc.table)
			require.ErrorIs(t, err, ErrInvalidIdentifier)
			assert.Contains(t, err.Error(), tc.want)
			assert.True(t, strings.HasPrefix(err.Error(), "dbctl: mo_ctl flush "), err.Error())
			_, err = c.MoCtl().FlushAccountTable(context.Background(), tc.db, tc.table, 1)
			require.ErrorIs(t, err, ErrInvalidIdentifier)
		})
	}
}

// The server's errors, exactly as the reference recorded them.
func TestMoCtlServerErrorMapping(t *testing.T) {
	tests := []struct {
		name string
		err  *mysql.MySQLError
		kind error
	}{
		{"missing table", myErr(1146, "HY000", "no such table gold.nope"), ErrTableNotFound},
		{"unknown database (errno 0)", myErr(0, "00000", "ExpectedEOB"), ErrTableNotFound},
		{"privilege", myErr(20101, "HY000", "internal error: do not have privilege to execute the statement"), ErrNotSysAccount},
		{"service", myErr(20105, "HY000", "not supported: service type TN not supported"), ErrNotSupported},
		{"wrong service", myErr(20424, "HY000", "wrong service, expecting CN, got DN"), ErrNotSupported},
		{"server timeout", myErr(20101, "HY000", "internal error: context deadline exceeded"), ErrServerTimeout},
		{"parse", myErr(20101, "HY000", "internal error: handleFlush: table id parse fail"), ErrInvalidArgument},
		{"arity", myErr(20203, "HY000", "invalid argument function mo_ctl, bad value [VARCHAR VARCHAR]"), ErrInvalidArgument},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, mock := newMock(t, Options{SkipSysAccountCheck: true})
			mock.ExpectQuery("select mo_ctl('dn', 'flush', 'gold.nope')").WillReturnError(tc.err)
			r, err := c.MoCtl().FlushTable(context.Background(), "gold", "nope")
			require.Error(t, err)
			assert.Nil(t, r)
			assert.ErrorIs(t, err, tc.kind)
			var me *mysql.MySQLError
			require.ErrorAs(t, err, &me)
			assert.Equal(t, tc.err.Number, me.Number)
			assert.ErrorIs(t, err, &mysql.MySQLError{Number: tc.err.Number})
			assert.True(t, strings.HasPrefix(err.Error(), "dbctl: mo_ctl flush gold.nope: "), err.Error())
			assert.Contains(t, err.Error(), tc.err.Message)
		})
	}
}

func TestMoCtlErrnoZeroIsNeverSuccess(t *testing.T) {
	c, mock := newMock(t, Options{SkipSysAccountCheck: true})
	mock.ExpectQuery("select mo_ctl('dn', 'ping', '')").WillReturnError(myErr(0, "00000", "ExpectedEOB"))
	_, err := c.MoCtl().Ping(context.Background())
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrUnexpectedResult)
}

func TestMoCtlResultShapes(t *testing.T) {
	failed := "{\n  \"method\": \"Flush\",\n  \"result\": [\n    {\n      \"returnStr\": \"OK\"\n    },\n    {\n      \"returnStr\": \"Failed\"\n    }\n  ]\n}\n"
	tests := []struct {
		name  string
		value *string
		check func(t *testing.T, r *MoCtlResult, err error)
	}{
		{"empty array", ptr("{\n  \"method\": \"Flush\",\n  \"result\": []\n}\n"), func(t *testing.T, _ *MoCtlResult, err error) {
			assert.ErrorIs(t, err, ErrEmptyResult)
		}},
		{"null result", ptr(`{"method":"Flush","result":null}`), func(t *testing.T, _ *MoCtlResult, err error) {
			assert.ErrorIs(t, err, ErrEmptyResult)
		}},
		{"one shard failed", &failed, func(t *testing.T, r *MoCtlResult, err error) {
			assert.ErrorIs(t, err, ErrMoCtlFailed)
			var oe *OpError
			require.ErrorAs(t, err, &oe)
			assert.Contains(t, err.Error(), `mo_ctl command failed: Flush returned "Failed"`)
			require.NotNil(t, r, "the result comes back with the error")
			assert.Equal(t, "Flush", r.Method)
			assert.Equal(t, []string{"OK", "Failed"}, r.ReturnStrs)
			assert.Equal(t, failed, r.Raw)
		}},
		{"not JSON", ptr("garbage"), func(t *testing.T, _ *MoCtlResult, err error) {
			assert.ErrorIs(t, err, ErrUnexpectedResult)
			assert.Contains(t, err.Error(), `"garbage"`)
		}},
		{"wrong method", ptr(moCkpOK), func(t *testing.T, _ *MoCtlResult, err error) {
			assert.ErrorIs(t, err, ErrUnexpectedResult)
		}},
		{"no returnStr", ptr(`{"method":"Flush","result":[{"other":1}]}`), func(t *testing.T, _ *MoCtlResult, err error) {
			assert.ErrorIs(t, err, ErrUnexpectedResult)
		}},
		{"NULL value", nil, func(t *testing.T, _ *MoCtlResult, err error) {
			assert.ErrorIs(t, err, ErrUnexpectedResult)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, mock := newMock(t, Options{SkipSysAccountCheck: true})
			rows := sqlmock.NewRows([]string{"mo_ctl(dn, flush, gold.t)"})
			if tc.value == nil {
				rows.AddRow(nil)
			} else {
				rows.AddRow(*tc.value)
			}
			mock.ExpectQuery("select mo_ctl('dn', 'flush', 'gold.t')").WillReturnRows(rows)
			r, err := c.MoCtl().FlushTable(context.Background(), "gold", "t")
			require.Error(t, err)
			tc.check(t, r, err)
		})
	}
}

func TestMoCtlRowCountMustBeOne(t *testing.T) {
	c, mock := newMock(t, Options{SkipSysAccountCheck: true})
	mock.ExpectQuery("select mo_ctl('dn', 'flush', 'gold.t')").
		WillReturnRows(rowsOf([]string{"x"}, []string{moFlushOK}, []string{moFlushOK}))
	_, err := c.MoCtl().FlushTable(context.Background(), "gold", "t")
	assert.ErrorIs(t, err, ErrUnexpectedResult)
}

func ptr(s string) *string { return &s }

func TestMoCtlCheckpoints(t *testing.T) {
	c, mock := newMock(t)
	expectSysRoot(mock)
	expectMoCtl(mock, "select mo_ctl('dn', 'checkpoint', '')", moCkpOK)
	expectMoCtl(mock, "select mo_ctl('dn', 'globalcheckpoint', '')", moGCkpOK)
	r, err := c.MoCtl().IncrementalCheckpoint(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "Checkpoint", r.Method)
	r, err = c.MoCtl().GlobalCheckpoint(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "GlobalCheckpoint", r.Method)
}

// With a deadline, the time left goes to the server as a Go duration that
// is positive and no longer than the caller's budget.
func TestMoCtlCheckpointSendsDeadlineAsTimeout(t *testing.T) {
	var sent []string
	matcher := sqlmock.QueryMatcherFunc(func(expected, actual string) error {
		if expected != "checkpoint-with-timeout" {
			if expected != actual {
				return fmt.Errorf("want %q, got %q", expected, actual)
			}
			return nil
		}
		sent = append(sent, actual)
		rest, ok := strings.CutPrefix(actual, "select mo_ctl('dn', 'checkpoint', '")
		if !ok {
			return fmt.Errorf("unexpected %q", actual)
		}
		d, err := time.ParseDuration(strings.TrimSuffix(rest, "')"))
		if err != nil {
			return err
		}
		if d <= 0 || d > 30*time.Second {
			return fmt.Errorf("timeout %v out of range", d)
		}
		return nil
	})
	db, mock, err := sqlmock.New(sqlmock.QueryMatcherOption(matcher))
	require.NoError(t, err)
	defer db.Close()
	c := New(db, nil)
	expectSysRoot(mock)
	mock.ExpectQuery("checkpoint-with-timeout").WillReturnRows(rowsOf([]string{"x"}, []string{moCkpOK}))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = c.MoCtl().IncrementalCheckpoint(ctx)
	require.NoError(t, err)
	require.NoError(t, mock.ExpectationsWereMet())
	require.Len(t, sent, 1)
	assert.NotContains(t, sent[0], "'')", "a deadline must not fall back to the server default")
}

func TestMoCtlCheckpointExpiredDeadlineSendsNothing(t *testing.T) {
	c, _ := newMock(t, Options{SkipSysAccountCheck: true})
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	_, err := c.MoCtl().GlobalCheckpoint(ctx)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestTimeoutParam(t *testing.T) {
	c, _ := newMock(t, Options{SkipSysAccountCheck: true})
	m := c.MoCtl()
	p, err := m.timeoutParam(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "", p)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	p, err = m.timeoutParam(ctx)
	require.NoError(t, err)
	d, err := time.ParseDuration(p)
	require.NoError(t, err)
	assert.InDelta(t, (90*time.Second - checkpointMarginBase).Seconds(), d.Seconds(), 1)
	assert.LessOrEqual(t, d, 90*time.Second-checkpointMarginBase, "the margin is taken off")
	assert.Equal(t, time.Duration(0), d%time.Millisecond, "truncated to milliseconds")

	// a measured round trip widens the margin
	c.identityRTT.Store(int64(time.Second))
	p, err = m.timeoutParam(ctx)
	require.NoError(t, err)
	d, err = time.ParseDuration(p)
	require.NoError(t, err)
	assert.LessOrEqual(t, d, 90*time.Second-checkpointMarginBase-3*time.Second)

	// no more time left than the margin: nothing to send
	short, cancel2 := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel2()
	_, err = m.timeoutParam(short)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "nothing was sent")
}

func TestMoCtlPing(t *testing.T) {
	c, mock := newMock(t, Options{SkipSysAccountCheck: true})
	expectMoCtl(mock, "select mo_ctl('dn', 'ping', '')", moPing)
	expectMoCtl(mock, "select mo_ctl('dn', 'ping', '12345')", moPingNone)
	expectMoCtl(mock, "select mo_ctl('dn', 'ping', '2')", `{"method":"Ping","result":[{"serviceAddress":"a:1","shardID":"2","replicaID":"3","logShardID":"1"}]}`)
	shards, err := c.MoCtl().Ping(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []TNShard{{ServiceAddress: "127.0.0.1:22000", ShardID: 2, ReplicaID: 262146, LogShardID: 1}}, shards)
	_, err = c.MoCtl().Ping(context.Background(), 12345)
	assert.ErrorIs(t, err, ErrEmptyResult)
	assert.Contains(t, err.Error(), "mo_ctl ping shard 12345")
	shards, err = c.MoCtl().Ping(context.Background(), 2)
	require.NoError(t, err, "uint64 as protobuf JSON strings")
	assert.Equal(t, []TNShard{{ServiceAddress: "a:1", ShardID: 2, ReplicaID: 3, LogShardID: 1}}, shards)
}

func TestMoCtlExec(t *testing.T) {
	c, mock := newMock(t, Options{SkipSysAccountCheck: true})
	expectMoCtl(mock, "select mo_ctl('dn', 'inspect', '')", moInspect)
	expectMoCtl(mock, "select mo_ctl('cn', 'forcegc', '')", "{\n  \"method\": \"FORCEGC\",\n  \"result\": \"OK\"\n}\n")
	expectMoCtl(mock, "select mo_ctl('dn', 'ping', '12345')", moPingNone)
	mock.ExpectQuery("select mo_ctl('tn', 'flush', 'gold.t')").WillReturnError(myErr(20105, "HY000", "not supported: service type TN not supported"))

	r, err := c.MoCtl().Exec(context.Background(), "dn", "inspect", "")
	require.NoError(t, err, "console text is not an error")
	assert.False(t, r.JSON)
	assert.Equal(t, moInspect, r.Raw)

	r, err = c.MoCtl().Exec(context.Background(), "cn", "forcegc", "")
	require.NoError(t, err)
	assert.Equal(t, "FORCEGC", r.Method)
	assert.JSONEq(t, `"OK"`, string(r.Result))

	r, err = c.MoCtl().Exec(context.Background(), "dn", "ping", "12345")
	assert.ErrorIs(t, err, ErrEmptyResult)
	require.NotNil(t, r)
	assert.Equal(t, "Ping", r.Method)

	_, err = c.MoCtl().Exec(context.Background(), "tn", "flush", "gold.t")
	assert.ErrorIs(t, err, ErrNotSupported)

	_, err = c.MoCtl().Exec(context.Background(), "", "flush", "x")
	assert.ErrorIs(t, err, ErrInvalidArgument)
}

func TestMoCtlStatementEscapesEveryArgument(t *testing.T) {
	assert.Equal(t, `select mo_ctl('d''n', 'x\\y', 'a''); drop database x; --')`,
		moCtlStatement("d'n", `x\y`, "a'); drop database x; --"))
}

func TestReturnStrsRejectsOtherShapes(t *testing.T) {
	for _, raw := range []string{`"OK"`, `[1,2]`, `{}`, `[{"returnStr":5}]`} {
		r := &MoCtlResult{Method: "X", Result: []byte(raw), Raw: raw}
		_, err := r.returnStrs()
		assert.ErrorIs(t, err, ErrUnexpectedResult, raw)
		d, err := decodeMoCtl(`{"method":"X","result":` + raw + `}`)
		require.NoError(t, err)
		assert.Nil(t, d.ReturnStrs, raw)
	}
}
