package dbctl

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/dbctl/dbctl/internal/freezejournal"
)

// freezeHold is a freeze this package releases: the tables its FREEZE
// froze and, journaled, the record it holds.
type freezeHold struct {
	m      *Manticore
	op     string
	frozen []string
	// conn is the FREEZE's connection while it is open (the release tries
	// it first); nil after.
	conn  *sql.Conn
	entry *freezejournal.Entry // nil: not journaled (or no longer)
}

func (h *freezeHold) q() querier {
	if h.conn != nil {
		return h.conn
	}
	return h.m.c.db
}

// handOver gives the freeze to Freeze's caller: its record is removed, so
// that no later run takes a deliberate freeze for an orphan. If the record
// cannot be removed the freeze is not handed over (the caller releases it).
func (h *freezeHold) handOver() error {
	if h.entry == nil {
		return nil
	}
	defer h.abandonOnPanic()
	if err := h.entry.Remove(); err != nil {
		return opErr(h.op, ErrStateDir, "remove the journal record before handing the freeze over", err)
	}
	h.entry = nil
	return nil
}

// markFrozen records that the FREEZE answered and which tables it froze.
func (h *freezeHold) markFrozen() error {
	if h.entry == nil {
		return nil
	}
	defer h.abandonOnPanic()
	r := h.entry.Rec
	r.State, r.Frozen = freezejournal.Frozen, h.frozen
	if err := h.entry.Update(r); err != nil {
		return opErr(h.op, ErrStateDir, "record the freeze in the journal", err)
	}
	return nil
}

// release unfreezes exactly the held tables, once each (unfreezeRetrying),
// on a fresh context bounded by the release timeout, and, journaled, first
// records the counters it sees (state releasing: a run that dies after the
// UNFREEZE is then not released twice by the next), confirms with SHOW
// LOCKS and removes the record. A release that failed leaves the record,
// let go, for the next run; so does a panic.
func (h *freezeHold) release(ctx context.Context) (err error) {
	defer h.abandonOnPanic()
	m := h.m
	if len(h.frozen) == 0 {
		h.removeRecord(ctx)
		return nil
	}
	var before map[string]int
	if h.entry != nil {
		rctx, cancel := m.c.detached(ctx)
		before, _ = m.lockCounts(rctx, h.q())
		cancel()
		if before != nil {
			r := h.entry.Rec
			r.State, r.Frozen, r.ReleaseBefore = freezejournal.Releasing, h.frozen, pick(before, h.frozen)
			if uerr := h.entry.Update(r); uerr != nil {
				m.c.opts.logger.WarnContext(ctx, "dbctl: could not record the release in the freeze journal", "record", h.entry.Path(), "error", uerr)
			}
		}
	}
	err = m.unfreezeRetrying(ctx, h.conn, h.frozen, before)
	h.conn = nil
	if h.entry == nil {
		return err
	}
	if err != nil && !errors.Is(err, ErrTableNotFound) {
		h.entry.Abandon()
		return errors.Join(err, opErr(h.op, nil, "the journal record is kept for the next run: "+h.entry.Path(), nil))
	}
	if before != nil {
		rctx, cancel := m.c.detached(ctx)
		if after, aerr := m.lockCounts(rctx, m.c.db); aerr == nil {
			for _, n := range h.frozen {
				if after[n] >= before[n] && before[n] > 0 {
					m.c.opts.logger.WarnContext(ctx, "dbctl: counter not lower after UNFREEZE (another holder froze it meanwhile?)",
						"table", n, "before", before[n], "after", after[n])
				}
			}
		}
		cancel()
	}
	h.removeRecord(ctx)
	return err
}

// removeRecord removes the record of a released freeze; a record that
// cannot be removed is let go (its state tells the next run what to do).
func (h *freezeHold) removeRecord(ctx context.Context) {
	if h.entry == nil {
		return
	}
	if err := h.entry.Remove(); err != nil {
		h.m.c.opts.logger.WarnContext(ctx, "dbctl: could not remove a freeze journal record; the next run drops it",
			"record", h.entry.Path(), "error", err)
		h.entry.Abandon()
	}
	h.entry = nil
}

// abandonOnPanic, deferred, lets the record go for the next run when a
// panic passes: a record held by a process that goes on must not stay
// locked by a file nobody will close.
func (h *freezeHold) abandonOnPanic() {
	if p := recover(); p != nil {
		h.entry.Abandon()
		panic(p)
	}
}

// pick returns the counters of names (0 for a name without one).
func pick(counts map[string]int, names []string) map[string]int {
	out := make(map[string]int, len(names))
	for _, n := range names {
		out[n] = counts[n]
	}
	return out
}

// releaseOrphansFirst releases the orphaned freezes of this server before
// a new freeze (ReleaseOrphanedFreezes), and logs what it did; its errors
// are logged, not returned: they must not stop the caller's own freeze,
// which fails on its own if the server or the journal is unusable.
func (m *Manticore) releaseOrphansFirst(ctx context.Context, op string) {
	if m.c.fz.server == "" {
		return
	}
	got, err := m.ReleaseOrphanedFreezes(ctx)
	for _, o := range got {
		if o.Done && len(o.Release) > 0 {
			m.c.opts.logger.WarnContext(ctx, "dbctl: released an orphaned freeze before "+op, "tables", o.Release,
				"pid", o.PID, "written", o.Written, "op", o.Op)
		}
	}
	if err != nil && !errors.Is(err, ErrNotSupported) {
		m.c.opts.logger.WarnContext(ctx, "dbctl: orphaned freezes: "+strings.TrimPrefix(err.Error(), "dbctl: "))
	}
}
