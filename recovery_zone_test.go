package dbctl

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/DATA-DOG/go-sqlmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The reset of the session zone after a failed zone probe: the connection
// goes back to the pool, so it must not stay at '+00:00'.

// zoneResetWatch is a slog.Handler that cancels the caller's context once
// the probe's "set time_zone = '+00:00'" has been sent (the statement
// logger runs after each statement, so the cancel falls between two
// statements) and keeps the context and error each later statement ran
// with.
type zoneResetWatch struct {
	cancel context.CancelFunc
	mu     sync.Mutex
	seen   []zoneResetSeen
}

type zoneResetSeen struct {
	sql         string
	ctxErr      error
	hasDeadline bool
	failed      bool
}

func (w *zoneResetWatch) Enabled(context.Context, slog.Level) bool { return true }
func (w *zoneResetWatch) WithAttrs([]slog.Attr) slog.Handler       { return w }
func (w *zoneResetWatch) WithGroup(string) slog.Handler            { return w }
func (w *zoneResetWatch) Handle(ctx context.Context, r slog.Record) error {
	seen := zoneResetSeen{ctxErr: ctx.Err()}
	_, seen.hasDeadline = ctx.Deadline()
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "sql":
			seen.sql = a.Value.String()
		case "error":
			seen.failed = true
		}
		return true
	})
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seen = append(w.seen, seen)
	if seen.sql == stmtZoneUTC {
		w.cancel()
	}
	return nil
}

func zoneResetMock(t *testing.T) (*Client, sqlmock.Sqlmock, *zoneResetWatch, context.Context) {
	db, mock, err := sqlmock.New(sqlmock.QueryMatcherOption(sqlmock.QueryMatcherEqual))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	w := &zoneResetWatch{cancel: cancel}
	return New(db, WithLogger(slog.New(w))), mock, w, ctx
}

func TestZoneProbeCancelledStillResetsTheSession(t *testing.T) {
	c, mock, w, ctx := zoneResetMock(t)
	mock.ExpectExec(stmtZoneUTC).WillReturnResult(sqlmock.NewResult(0, 0))
	// the caller's ctx is cancelled now: the delayed answer is never waited for
	mock.ExpectQuery(stmtNow).WillDelayFor(time.Hour).WillReturnRows(rowsOf([]string{"now()"}, []string{"2026-11-30 23:38:34"}))
	mock.ExpectExec(stmtZoneSystem).WillReturnResult(sqlmock.NewResult(0, 0))

	err := c.PITRs().Restore(ctx, "p", time.Now(), DatabaseTarget("d"))
	require.Error(t, err)
	assert.ErrorIs(t, ctx.Err(), context.Canceled)
	require.NoError(t, mock.ExpectationsWereMet(), "the reset was sent")
	w.mu.Lock()
	defer w.mu.Unlock()
	require.Len(t, w.seen, 3)
	assert.Equal(t, stmtNow, w.seen[1].sql)
	assert.True(t, w.seen[1].failed, "the probe itself ran under the cancelled context")
	reset := w.seen[2]
	assert.Equal(t, stmtZoneSystem, reset.sql)
	assert.NoError(t, reset.ctxErr, "the reset runs under a context the caller's cancel does not reach")
	assert.True(t, reset.hasDeadline, "... bounded by zoneResetTimeout")
	assert.False(t, reset.failed)
	assert.Nil(t, c.recovery.zone)
}

// A reset that fails discards the connection instead of pooling it at
// '+00:00': the pool closes it before the caller's next statement.
func TestZoneResetFailureDiscardsTheConnection(t *testing.T) {
	c, mock, _, _ := zoneResetMock(t)
	mock.ExpectExec(stmtZoneUTC).WillReturnResult(sqlmock.NewResult(0, 0))
	mock.ExpectQuery(stmtNow).WillReturnRows(rowsOf([]string{"now()"}, []string{"not a time"}))
	mock.ExpectExec(stmtZoneSystem).WillReturnError(errors.New("connection reset"))
	mock.ExpectClose()
	err := c.PITRs().Restore(context.Background(), "p", time.Now(), DatabaseTarget("d"))
	assert.ErrorIs(t, err, ErrUnexpectedResult)
	assert.NoError(t, mock.ExpectationsWereMet(), "the connection was closed, not pooled")
}
