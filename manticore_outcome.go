package dbctl

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
)

// Manticore statements that change state run to their end on searchd
// whether or not their client still waits: a blocked UPDATE or FLUSH
// RAMCHUNK is applied after the UNFREEZE even when its client was killed or
// its Go context ended (manticore.md §4.3: "client killed / Go context
// deadline while blocked: server keeps the statement queued and applies it
// after UNFREEZE"; §5.9), OPTIMIZE ... sync=1 merges on (the manual:
// "in case the connection interrupts the optimization will continue to run
// on the server"), and IMPORT TABLE copies on. So once such a statement is
// sent, a caller's deadline that ends first tells nothing about it: the
// error is ErrOutcomeUnknown, never a plain "context deadline exceeded"
// that reads as "not done".

// execOutcome sends stmt, which changes state on the server, on a
// connection of its own and returns the affected rows. Failures before it
// is sent (no connection, a context already ended) are plain errors. After
// it is sent, a server error is classified as manticoreErr does; any other
// failure (the caller's context ended, the connection broke, the answer was
// lost) is ErrOutcomeUnknown with pending saying what the server may still
// do and what to check, wrapping the context's error when it ended
// (errors.Is(err, context.DeadlineExceeded) holds after a deadline).
func (m *Manticore) execOutcome(ctx context.Context, op, stmt, pending string) (int64, error) {
	conn, err := m.c.conn(ctx, op)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	if err := ctx.Err(); err != nil {
		return 0, opErr(op, nil, "not sent", err)
	}
	n, err := m.c.exec(ctx, conn, stmt)
	if err != nil {
		return 0, outcomeErr(ctx, op, err, pending)
	}
	return n, nil
}

// outcomeErr classifies the failure of a statement that was sent (see
// execOutcome).
func outcomeErr(ctx context.Context, op string, err error, pending string) error {
	var ns *notSentError
	switch {
	case isServerError(err):
		return manticoreErr(op, err)
	case errors.Is(err, driver.ErrBadConn), errors.As(err, &ns):
		// go-sql-driver returns ErrBadConn only when nothing was written
		return opErr(op, nil, "not sent", err)
	}
	cause := err
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		cause = fmt.Errorf("%w (%w)", cerr, err)
	}
	return opErr(op, ErrOutcomeUnknown, pending, cause)
}
