package dbctl

import (
	"context"
	"database/sql/driver"
	"errors"
	"testing"

	"github.com/DATA-DOG/go-sqlmock"
	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// What a failed state-changing Manticore statement is reported as: not
// sent, refused by the server, or sent with its outcome unknown.
func TestManticoreStatementOutcome(t *testing.T) {
	ctx := context.Background()
	calls := map[string]struct {
		stmt string
		call func(m *Manticore, ctx context.Context) error
	}{
		"flush ramchunk": {"FLUSH RAMCHUNK `gold_a`", func(m *Manticore, ctx context.Context) error { return m.FlushRAMChunk(ctx, "gold_a") }},
		"flush table":    {"FLUSH TABLE `gold_a`", func(m *Manticore, ctx context.Context) error { return m.FlushTable(ctx, "gold_a") }},
		"flush hostnames": {"FLUSH HOSTNAMES", func(m *Manticore, ctx context.Context) error {
			_, err := m.FlushHostnames(ctx)
			return err
		}},
	}
	for name, c := range calls {
		t.Run(name, func(t *testing.T) {
			cl, mock := newMock(t)
			m := cl.Manticore()

			// the server answered with an error: it refused, nothing applied
			mock.ExpectExec(c.stmt).WillReturnError(myErr(1064, "42000", "FLUSH RAMCHUNK requires an existing RT table"))
			err := c.call(m, ctx)
			assert.NotErrorIs(t, err, ErrOutcomeUnknown)
			var me *mysql.MySQLError
			assert.True(t, errors.As(err, &me))

			// the connection broke after the statement was written: unknown
			mock.ExpectExec(c.stmt).WillReturnError(mysql.ErrInvalidConn)
			err = c.call(m, ctx)
			require.ErrorIs(t, err, ErrOutcomeUnknown)
			assert.ErrorIs(t, err, mysql.ErrInvalidConn)
			assert.Contains(t, err.Error(), "answer did not come")

			// nothing was written (go-sql-driver's ErrBadConn): not sent; database/sql
			// drops the connection, the last one sqlmock has
			mock.ExpectExec(c.stmt).WillReturnError(driver.ErrBadConn)
			err = c.call(m, ctx)
			require.Error(t, err)
			assert.NotErrorIs(t, err, ErrOutcomeUnknown)
			assert.Contains(t, err.Error(), "not sent")

			// a context that ended before anything was sent: plain, nothing sent
			done, cancel := context.WithCancel(ctx)
			cancel()
			err = c.call(m, done)
			require.ErrorIs(t, err, context.Canceled)
			assert.NotErrorIs(t, err, ErrOutcomeUnknown)
		})
	}
}

// FLUSH ATTRIBUTES (a result set) is classified the same way.
func TestFlushAttributesOutcome(t *testing.T) {
	c, mock := newMock(t)
	mock.ExpectQuery("FLUSH ATTRIBUTES").WillReturnError(mysql.ErrInvalidConn)
	_, err := c.Manticore().FlushAttributes(context.Background())
	require.ErrorIs(t, err, ErrOutcomeUnknown)
	mock.ExpectQuery("FLUSH ATTRIBUTES").WillReturnRows(sqlmock.NewRows([]string{"tag"}).AddRow("3"))
	tag, err := c.Manticore().FlushAttributes(context.Background())
	require.NoError(t, err)
	assert.Equal(t, int64(3), tag)
}
