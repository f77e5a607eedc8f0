package dbctl

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"
)

// What a failure of a MatrixOne statement that changes state means.
//
// MatrixOne finishes a statement whose client has left: a cancelled
// context makes go-sql-driver close the connection, and the server goes on
// (observed on v4.2.0, issue 18: "dbctl --timeout 10ms matrixone snapshot
// restore ..." exited with "context deadline exceeded" and three seconds
// later the table held the restored 2,000,000 rows; the same for PITR
// restores). So when such
// a statement was sent and no answer came (the caller's context ended, or
// the connection broke), the outcome is unknown: the statement may be
// applied, now or later. The error then wraps ErrOutcomeUnknown and the
// context's error, and says what to check. A statement never sent (the
// context had already ended) is reported as not sent; an answer of the
// server is classified as usual.

// notSent is the error of a state-changing statement that was not sent
// because ctx had already ended.
func notSent(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return opErr(op, nil, "nothing was sent", err)
	}
	return nil
}

// changeFailed classifies err, the failure of a state-changing statement
// of operation op that was sent: the server's answer keeps kind (the
// sentinel its classifier chose); anything else is ErrOutcomeUnknown with
// check, what the caller should look at.
func changeFailed(ctx context.Context, op string, err error, kind error, check string) error {
	if isServerError(err) {
		return opErr(op, kind, "", err)
	}
	if errors.Is(err, sql.ErrConnDone) || errors.Is(err, driver.ErrBadConn) {
		// database/sql's and the driver's word that nothing was sent
		// (driver.ErrBadConn: "should NOT be returned if there's a
		// possibility that the database server might have performed the
		// operation")
		return opErr(op, nil, "nothing was sent", err)
	}
	return opErr(op, ErrOutcomeUnknown, "sent, but no answer came: "+check, withCtxErr(ctx, err))
}

// withCtxErr makes err, the failure of a statement, wrap ctx's error when
// ctx has ended, so that errors.Is(err, context.DeadlineExceeded) holds
// whatever the driver said.
func withCtxErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w (%v)", cerr, err)
	}
	return err
}

// execChange sends stmt, which changes state, on conn: nil when the server
// answered OK; a recovery error classified as usual when it refused; not
// sent when ctx had ended; ErrOutcomeUnknown (with check) when it was sent
// and no answer came.
func (c *Client) execChange(ctx context.Context, conn querier, op, stmt, check string) error {
	if err := notSent(ctx, op); err != nil {
		return err
	}
	if _, err := c.exec(ctx, conn, stmt); err != nil {
		return changeFailed(ctx, op, err, classifyRecoveryError(err), check)
	}
	return nil
}

// restoreCheck says what to look at after a restore whose answer was lost.
func restoreCheck(t Target, state string) string {
	what := "the data of " + t.String()
	if t.Level == LevelCluster {
		what = "the data of every account"
	}
	return "MatrixOne runs a restore to the end when its client leaves, so " + what + " may already hold, or soon hold, " + state +
		"; look at it before doing anything else (the same restore run again, once this one has finished, replaces the data with the same state)"
}

// pitrState names the state a PITR restore brings back, for restoreCheck.
func pitrState(at time.Time) string {
	return "its state at " + at.UTC().Format(time.RFC3339Nano)
}

// Checks for the statements that create or drop recovery objects.
func createdCheck(kind, name string) string {
	return "the " + kind + " " + name + " may exist: look for it (Get) before creating it again"
}

func droppedCheck(kind, name string) string {
	return "the " + kind + " " + name + " may be gone: look for it (Get)"
}

// Checks for mo_ctl (moctl.go).
const (
	flushCheck      = "the TN may still flush; nothing is lost either way (a flush writes out data already committed): run it again to be sure"
	checkpointCheck = "the TN may still write the checkpoint; nothing is lost either way: run it again with a longer deadline to be sure"
	moCtlCheck      = "the command may still run on the server: look at what it changes before running it again"
)
