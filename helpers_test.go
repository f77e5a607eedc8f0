package dbctl

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/DATA-DOG/go-sqlmock"
	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"
)

// newMock returns a Client over a go-sqlmock DB that matches statements
// exactly and checks, when the test ends, that every expected statement was
// sent and nothing else.
//
// sqlmock answers a statement it did not expect with an error, which code
// that tolerates errors (a best-effort SHOW LOCKS) would swallow; so the
// client's own statement log is watched too, and a statement that sqlmock
// did not expect fails the test.
// opts, at most one, configure the client; its Logger is replaced by the
// watcher.
func newMock(t testing.TB, opts ...Options) (*Client, sqlmock.Sqlmock) {
	t.Helper()
	db, mock, err := sqlmock.New(sqlmock.QueryMatcherOption(sqlmock.QueryMatcherEqual))
	require.NoError(t, err)
	watch := &unexpectedWatcher{}
	t.Cleanup(func() {
		require.NoError(t, mock.ExpectationsWereMet())
		require.Empty(t, watch.list(), "statements sqlmock did not expect")
		_ = db.Close()
	})
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	o.Logger = slog.New(watch)
	return New(db, &o), mock
}

// unexpectedWatcher is a slog.Handler that keeps the failed statements
// whose error is sqlmock's "not expected".
type unexpectedWatcher struct {
	mu  sync.Mutex
	bad []string
}

func (w *unexpectedWatcher) Enabled(context.Context, slog.Level) bool { return true }
func (w *unexpectedWatcher) WithAttrs([]slog.Attr) slog.Handler       { return w }
func (w *unexpectedWatcher) WithGroup(string) slog.Handler            { return w }
func (w *unexpectedWatcher) Handle(_ context.Context, r slog.Record) error {
	var stmt, msg string
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "sql":
			stmt = a.Value.String()
		case "error":
			msg = a.Value.String()
		}
		return true
	})
	if strings.Contains(msg, "was not expected") || strings.Contains(msg, "all expectations were already fulfilled") {
		w.mu.Lock()
		w.bad = append(w.bad, fmt.Sprintf("%s: %s", stmt, msg))
		w.mu.Unlock()
	}
	return nil
}

func (w *unexpectedWatcher) list() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.bad...)
}

// expectRelease expects what a release sends: SHOW LOCKS (the counters it
// checks if the UNFREEZE's fate is unknown), then the UNFREEZE.
func expectRelease(mock sqlmock.Sqlmock, stmt string, lockedNames ...string) *sqlmock.ExpectedExec {
	var rows [][]string
	for _, n := range lockedNames {
		rows = append(rows, []string{"rt", n, "freeze", "Count: 1"})
	}
	mock.ExpectQuery("SHOW LOCKS").WillReturnRows(rowsOf(locksCols, rows...))
	return mock.ExpectExec(stmt)
}

// myErr builds the error go-sql-driver returns for an error packet.
func myErr(number uint16, state, message string) *mysql.MySQLError {
	e := &mysql.MySQLError{Number: number, Message: message}
	copy(e.SQLState[:], state)
	return e
}

// rowsOf builds a result set of text values.
func rowsOf(cols []string, rows ...[]string) *sqlmock.Rows {
	r := sqlmock.NewRows(cols)
	for _, row := range rows {
		vals := make([]driver.Value, len(row))
		for i, v := range row {
			vals[i] = v
		}
		r.AddRow(vals...)
	}
	return r
}

// Fixtures copied from ../shared/reference (real servers; Manticore 29.2.2,
// MatrixOne v4.2.0).
const (
	moFlushOK  = "{\n  \"method\": \"Flush\",\n  \"result\": [\n    {\n      \"returnStr\": \"OK\"\n    }\n  ]\n}\n"
	moCkpOK    = "{\n  \"method\": \"Checkpoint\",\n  \"result\": [\n    {\n      \"returnStr\": \"OK\"\n    }\n  ]\n}\n"
	moGCkpOK   = "{\n  \"method\": \"GlobalCheckpoint\",\n  \"result\": [\n    {\n      \"returnStr\": \"OK\"\n    }\n  ]\n}\n"
	moPing     = "{\n  \"method\": \"Ping\",\n  \"result\": [\n    {\n      \"serviceAddress\": \"127.0.0.1:22000\",\n      \"shardID\": 2,\n      \"replicaID\": 262146,\n      \"logShardID\": 1\n    }\n  ]\n}\n"
	moPingNone = "{\n  \"method\": \"Ping\",\n  \"result\": []\n}\n"
	moInspect  = "\nmsg: Usage:\n  inspect [command]\n"
)

var (
	identityCols = []string{"current_account_name()", "current_user_name()", "current_role_name()"}
	freezeCols   = []string{"file", "normalized"}
	locksCols    = []string{"Type", "Name", "Lock Type", "Additional Info"}
	statusCols   = []string{"Variable_name", "Value"}
	warningCols  = []string{"Level", "Code", "Message"}
	tablesCols   = []string{"Table", "Type"}
)

// expectSysRoot expects the sys-account check and answers as root.
func expectSysRoot(mock sqlmock.Sqlmock) {
	mock.ExpectQuery(identityQuery).WillReturnRows(rowsOf(identityCols, []string{"sys", "root", "moadmin"}))
}

func expectMoCtl(mock sqlmock.Sqlmock, stmt, value string) {
	col := "mo_ctl(...)" // the name is the re-rendered expression; never read
	mock.ExpectQuery(stmt).WillReturnRows(rowsOf([]string{col}, []string{value}))
}

// goldFiles returns FREEZE rows of an RT table "name" with a RAM chunk only,
// the way 29.2.2 lists them (absolute paths in both columns).
func goldFiles(dataDir, name string) [][]string {
	var out [][]string
	for _, ext := range []string{"meta", "ram", "settings"} {
		p := dataDir + "/" + name + "/" + name + "." + ext
		out = append(out, []string{p, p})
	}
	return out
}

// serverError is the server's *mysql.MySQLError that err wraps, found the
// way callers find it (errors.As).
func serverError(err error) (*mysql.MySQLError, bool) {
	var me *mysql.MySQLError
	ok := errors.As(err, &me)
	return me, ok
}
