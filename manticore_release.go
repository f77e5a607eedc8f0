package dbctl

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// releaseAttempts bounds how many UNFREEZEs one release sends.
const releaseAttempts = 5

// unfreezeRetrying unfreezes names and tries hard: it runs on a fresh
// context (the caller's may be cancelled) bounded by the release timeout;
// it starts on conn when given and moves to a new pooled connection after
// a failure (after a cancelled query the driver has closed conn); and it
// retries with backoff. A server error means the UNFREEZE did not run, so
// it is simply sent again. A broken connection leaves it unknown whether
// it ran, so before retrying, the counters of SHOW LOCKS read before and
// after tell which tables it did release; only the others are unfrozen
// again, so no other holder's lock is taken. before, when not nil, are the
// counters just read, used for the first attempt.
func (m *Manticore) unfreezeRetrying(ctx context.Context, conn *sql.Conn, names []string, before map[string]int) error {
	if len(names) == 0 {
		return nil
	}
	rctx, cancel := m.c.detached(ctx)
	defer cancel()
	op := "manticore release (unfreeze) " + strings.Join(names, ", ")
	var q querier = m.c.db
	if conn != nil {
		q = conn
	}
	pending := names
	var errs []error
	backoff := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		if attempt > 1 || before == nil {
			before, _ = m.lockCounts(rctx, q)
		}
		err := m.unfreeze(rctx, q, op, pending)
		if err == nil || errors.Is(err, ErrTableNotFound) {
			m.logRelease(ctx, pending, attempt, err)
			return err
		}
		errs = appendDistinct(errs, err)
		if !isServerError(err) && before != nil {
			if after, aerr := m.lockCounts(rctx, m.c.db); aerr == nil {
				pending = stillLocked(pending, before, after)
				if len(pending) == 0 {
					m.logRelease(ctx, names, attempt, nil)
					return nil
				}
			}
		}
		q = m.c.db
		if attempt == releaseAttempts || !sleepCtx(rctx, backoff) {
			err := opErr(op, nil, fmt.Sprintf("gave up after %d attempts; still frozen by this call: %s",
				attempt, strings.Join(pending, ", ")), errors.Join(errs...))
			m.logRelease(ctx, pending, attempt, err)
			return err
		}
		backoff *= 2
	}
}

// lockCounts returns the freeze counter of every frozen table.
func (m *Manticore) lockCounts(ctx context.Context, q querier) (map[string]int, error) {
	t, err := m.c.query(ctx, q, "SHOW LOCKS")
	if err != nil {
		return nil, err
	}
	locks, err := parseLocks(t)
	if err != nil {
		return nil, err
	}
	out := make(map[string]int, len(locks))
	for _, l := range locks {
		if l.LockType == "freeze" {
			out[l.Name] = l.Count
		}
	}
	return out, nil
}

// stillLocked keeps the names whose counter did not drop between before and
// after: the UNFREEZE did not reach them.
func stillLocked(names []string, before, after map[string]int) []string {
	var out []string
	for _, n := range names {
		if after[n] >= before[n] && before[n] > 0 {
			out = append(out, n)
		}
	}
	return out
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (m *Manticore) logRelease(ctx context.Context, names []string, attempts int, err error) {
	switch {
	case err != nil:
		m.c.opts.logger.WarnContext(ctx, "dbctl: unfreeze failed; tables may still be frozen", "tables", names, "attempts", attempts, "error", err)
	case attempts > 1:
		m.c.opts.logger.InfoContext(ctx, "dbctl: unfreeze succeeded after retries", "tables", names, "attempts", attempts)
	}
}

// appendDistinct adds err unless an error with the same text is there: five
// identical refusals read better as one.
func appendDistinct(errs []error, err error) []error {
	for _, e := range errs {
		if e.Error() == err.Error() {
			return errs
		}
	}
	return append(errs, err)
}
