package dbctl

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/dbctl/dbctl/internal/crashpoint"
)

// querier is what *sql.DB and *sql.Conn have in common.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// textTable is a result set as the text protocol delivers it: column names
// and every value as text (Valid=false for SQL NULL). The control statements
// return a handful of rows, so reading them whole keeps parsing simple and
// lets a parser name the raw value when it fails.
type textTable struct {
	cols []string
	rows [][]sql.NullString
}

// query sends one statement (never more than one: Manticore mishandles
// multi-statement strings) and reads its whole result set.
//
// Each statement is two crash points (internal/crashpoint): "sql.send KW"
// before it is sent and "sql.answer KW" after its answer arrived, where an
// injected failure looks like an answer lost after the server ran it.
func (c *Client) query(ctx context.Context, q querier, stmt string) (*textTable, error) {
	kw := crashpoint.SQL(stmt)
	if err := crashpoint.Hit("sql.send " + kw); err != nil {
		return nil, &notSentError{err}
	}
	start := time.Now()
	rows, err := q.QueryContext(ctx, stmt)
	if err != nil {
		c.logStatement(ctx, stmt, start, err)
		return nil, err
	}
	t, err := readTextTable(rows)
	c.logStatement(ctx, stmt, start, err)
	if err == nil {
		err = crashpoint.Hit("sql.answer " + kw)
	}
	return t, err
}

// exec sends one statement that answers with an OK packet and returns the
// affected-rows count. Its crash points are those of query.
func (c *Client) exec(ctx context.Context, q querier, stmt string) (int64, error) {
	kw := crashpoint.SQL(stmt)
	if err := crashpoint.Hit("sql.send " + kw); err != nil {
		return 0, &notSentError{err}
	}
	start := time.Now()
	res, err := q.ExecContext(ctx, stmt)
	if err == nil {
		var n int64
		n, err = res.RowsAffected()
		c.logStatement(ctx, stmt, start, err)
		if err == nil {
			err = crashpoint.Hit("sql.answer " + kw)
		}
		return n, err
	}
	c.logStatement(ctx, stmt, start, err)
	return 0, err
}

// notSentError is a failure before the statement was sent (at its
// "sql.send" crash point): the server never saw it, whatever the error.
type notSentError struct{ err error }

func (e *notSentError) Error() string { return e.err.Error() }
func (e *notSentError) Unwrap() error { return e.err }

func (c *Client) logStatement(ctx context.Context, stmt string, start time.Time, err error) {
	// Checked first so that a disabled logger costs no allocations.
	if !c.opts.logger.Enabled(ctx, slog.LevelDebug) {
		return
	}
	if err != nil {
		c.opts.logger.DebugContext(ctx, "dbctl: statement failed", "sql", stmt, "duration", time.Since(start), "error", err)
		return
	}
	c.opts.logger.DebugContext(ctx, "dbctl: statement", "sql", stmt, "duration", time.Since(start))
}

func readTextTable(rows *sql.Rows) (*textTable, error) {
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	t := &textTable{cols: cols}
	dest := make([]any, len(cols))
	for rows.Next() {
		row := make([]sql.NullString, len(cols))
		for i := range row {
			dest[i] = &row[i]
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		t.rows = append(t.rows, row)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return t, rows.Close()
}

// normalizeColumn folds the known drift in column names: case, spaces and
// underscores ("Lock Type", "lock_type" and "LockType" are one column).
func normalizeColumn(name string) string {
	var b strings.Builder
	b.Grow(len(name))
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == ' ' || c == '_':
		case c >= 'A' && c <= 'Z':
			b.WriteByte(c + ('a' - 'A'))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// column returns the index of the first column whose normalized name is one
// of names (tried in order, so the current name goes first and older names
// after it), or an error naming the columns that did come.
func (t *textTable) column(names ...string) (int, error) {
	for _, want := range names {
		w := normalizeColumn(want)
		for i, c := range t.cols {
			if normalizeColumn(c) == w {
				return i, nil
			}
		}
	}
	return -1, fmt.Errorf("%w: no column %q among %q", ErrUnexpectedResult, names[0], t.cols)
}

// text returns a non-NULL value, or an error naming the column.
func (t *textTable) text(row, col int) (string, error) {
	v := t.rows[row][col]
	if !v.Valid {
		return "", fmt.Errorf("%w: NULL in column %q", ErrUnexpectedResult, t.cols[col])
	}
	return v.String, nil
}
