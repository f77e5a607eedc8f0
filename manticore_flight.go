package dbctl

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dbctl/dbctl/internal/freezejournal"
)

// freezeMode says who owns a freeze once its FREEZE has answered.
type freezeMode int

const (
	// handOver: Freeze. The caller owns the freeze: its journal record is
	// removed before Freeze returns the files.
	handOver freezeMode = iota
	// keepHeld: WithFrozen and the backup engine. This package releases
	// it (freezeHold.release); its record stays until then.
	keepHeld
)

// freezeFlight is one FREEZE from the counters read before it to the
// decision on its answer.
type freezeFlight struct {
	m      *Manticore
	op     string
	names  []string
	mode   freezeMode
	conn   *sql.Conn
	before map[string]int // SHOW LOCKS before the FREEZE; nil if the server refused it
	entry  *freezejournal.Entry
	// sent: the FREEZE may have reached the server
	sent bool
}

// freezeAnswer is what the goroutine that sent the FREEZE got: the result,
// or the panic it met (passed on to whoever waits for it).
type freezeAnswer struct {
	t     *textTable
	err   error
	panic any
}

// freeze sends one FREEZE of names on a connection of its own, and returns
// the files and, in keepHeld mode, the hold to release.
//
// The FREEZE's answer is always awaited: searchd runs a FREEZE whose client
// has gone (manticore.md §4.3 for statements that outlive their client;
// dbctltest.Manticore.Delay), so a FREEZE cut by a deadline would land
// unseen, after any compensating UNFREEZE. So no deadline applies to it;
// when ctx ends first, freeze returns ctx's error at once and a releaser
// (Client.WaitReleases) keeps waiting on the connection, then unfreezes
// exactly the tables the FREEZE froze.
//
// Journaled (a Client made with Open): searchd's start time and the
// counters are read and the record written (intent) before the FREEZE is
// sent; in keepHeld mode it is marked frozen when the FREEZE answered.
func (m *Manticore) freeze(ctx context.Context, op string, names []string, mode freezeMode) (h *freezeHold, files []FrozenFile, err error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, opErr(op, nil, "", err)
	}
	j, err := m.c.journal(op)
	if err != nil && !errors.Is(err, ErrNotSupported) {
		return nil, nil, err
	}
	conn, err := m.c.conn(ctx, op)
	if err != nil {
		return nil, nil, err
	}
	f := &freezeFlight{m: m, op: op, names: names, mode: mode, conn: conn}
	handed := false // the flight went to a releaser, which closes conn
	defer func() {
		if handed {
			return
		}
		if p := recover(); p != nil {
			f.abandon()
			panic(p)
		}
	}()
	err = f.prepare(ctx, j)
	if err == nil && ctx.Err() != nil {
		err = opErr(op, nil, "not sent", ctx.Err())
	}
	if err != nil {
		f.dropRecord()
		f.closeConn()
		return nil, nil, err
	}
	f.sent = true
	answer := f.send(ctx)
	select {
	case a := <-answer:
		return f.settle(ctx, a)
	case <-ctx.Done():
		handed = true
		m.c.fz.spawn(names, func() ([]string, error) { return f.settleDetached(ctx, <-answer) })
		return nil, nil, opErr(op, nil, "FREEZE still running on the server: "+strings.Join(names, ", ")+
			" are unfrozen as soon as it answers (Client.WaitReleases, Close)", ctx.Err())
	}
}

// prepare reads the counters (and, journaled, searchd's start time) and
// writes the intent record.
func (f *freezeFlight) prepare(ctx context.Context, j *freezejournal.Journal) error {
	var start time.Time
	if j != nil {
		var err error
		if start, err = f.m.serverStart(ctx, f.conn); err != nil {
			return manticoreErr(f.op+": read searchd's uptime", err)
		}
	}
	// The counters before the FREEZE tell, if its answer is lost, whether
	// it ran. A server that refuses SHOW LOCKS gets the old remedy: an
	// immediate UNFREEZE.
	before, err := f.m.lockCounts(ctx, f.conn)
	if err != nil && !isServerError(err) {
		return opErr(f.op, nil, "read the freeze counters", err)
	}
	f.before = before
	if j == nil {
		return nil
	}
	f.entry, err = j.Create(freezejournal.Record{Server: f.m.c.fz.server, ServerStart: start, Tables: f.names,
		Before: before, State: freezejournal.Intent, Op: f.op})
	if err != nil {
		return opErr(f.op, ErrStateDir, "record the freeze before sending it: "+stateDirHint(j.Dir()), err)
	}
	return nil
}

// send starts the FREEZE on the flight's connection, under a context that
// ctx's end does not cut (only Close giving up does), and returns where its
// answer will come.
func (f *freezeFlight) send(ctx context.Context) <-chan freezeAnswer {
	fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(f.m.c.fz.life, cancel)
	ch := make(chan freezeAnswer, 1)
	go func() {
		var a freezeAnswer
		defer func() {
			stop()
			cancel()
			if p := recover(); p != nil {
				a.panic = p
			}
			ch <- a
		}()
		a.t, a.err = f.m.c.query(fctx, f.conn, "FREEZE "+quoteManticoreList(f.names))
	}()
	return ch
}

// settle decides on the FREEZE's answer while the caller waits.
func (f *freezeFlight) settle(ctx context.Context, a freezeAnswer) (*freezeHold, []FrozenFile, error) {
	if a.panic != nil {
		panic(a.panic) // freeze's guard lets the record go first
	}
	op := f.op
	if a.err != nil {
		f.closeConn()
		if notRun(a.err) {
			f.dropRecord()
			return nil, nil, manticoreErr(op, a.err)
		}
		return nil, nil, f.lost(ctx, a.err)
	}
	defer f.closeConn()
	files, err := parseFreezeFiles(a.t, f.names)
	if err != nil {
		// An answer this package does not understand: which tables it
		// froze is unknown, so every name is released.
		return nil, nil, errors.Join(opErr(op, nil, "", err), f.hold(f.names).release(ctx))
	}
	frozen := tablesOf(files, f.names)
	h := f.hold(frozen)
	if err := ctx.Err(); err != nil {
		return nil, nil, errors.Join(opErr(op, nil, "cancelled while FREEZE ran; released", err), h.release(ctx))
	}
	if missing := subtract(f.names, frozen); len(missing) > 0 {
		detail := "not frozen (missing, plain or distributed): " + strings.Join(missing, ", ")
		if w := f.m.lastWarning(ctx, f.conn); w != "" {
			detail += "; the connection's last warning: " + quoteForMessage(w)
		}
		return nil, nil, errors.Join(opErr(op, ErrTableNotFound, detail, nil), h.release(ctx))
	}
	if f.mode == handOver {
		if err := h.handOver(); err != nil {
			return nil, nil, errors.Join(err, h.release(ctx))
		}
		return nil, files, nil
	}
	if err := h.markFrozen(); err != nil {
		return nil, nil, errors.Join(err, h.release(ctx))
	}
	h.conn = nil // closed when settle returns
	return h, files, nil
}

// settleDetached is settle for a releaser: the caller has gone, so whatever
// the FREEZE froze is released, and the tables are returned.
func (f *freezeFlight) settleDetached(ctx context.Context, a freezeAnswer) ([]string, error) {
	ctx = context.WithoutCancel(ctx)
	if a.panic != nil {
		f.abandon()
		panic(a.panic)
	}
	if a.err != nil {
		f.closeConn()
		if notRun(a.err) {
			f.dropRecord()
			return nil, nil
		}
		return f.watch(ctx, a.err)
	}
	defer f.closeConn()
	frozen := f.names
	if files, err := parseFreezeFiles(a.t, f.names); err == nil {
		frozen = tablesOf(files, f.names)
	}
	if err := f.hold(frozen).release(ctx); err != nil {
		return nil, err
	}
	f.m.c.opts.logger.InfoContext(ctx, "dbctl: FREEZE answered after its caller left; released", "tables", frozen, "op", f.op)
	return frozen, nil
}

// notRun reports whether a FREEZE that failed with err did not run: the
// server refused it, or it was not sent (the driver reports ErrBadConn only
// then; a failure at its "sql.send" step is a notSentError, rows.go).
func notRun(err error) bool {
	var ns *notSentError
	return isServerError(err) || errors.Is(err, driver.ErrBadConn) || errors.As(err, &ns)
}

// lost handles a FREEZE whose connection died in flight, while its caller
// waits: without counters from before (a server that refused SHOW LOCKS)
// every name is unfrozen at once, as before; else a releaser watches the
// counters (watch) and the caller learns that the outcome is unknown.
func (f *freezeFlight) lost(ctx context.Context, cause error) error {
	if f.before == nil {
		return errors.Join(opErr(f.op, nil, "the FREEZE's answer was lost", cause), f.hold(f.names).release(ctx))
	}
	err := opErr(f.op, ErrFreezeOutcomeUnknown, fmt.Sprintf("the connection died with the FREEZE in flight: searchd may still run it; "+
		"for %s the counters of %s are watched and what it froze is unfrozen once it lands (Client.WaitReleases); %s",
		f.m.c.opts.releaseTimeout, strings.Join(f.names, ", "), f.laterNote()), cause)
	// from here on the flight is the releaser's
	f.m.c.fz.spawn(f.names, func() ([]string, error) { return f.watch(context.WithoutCancel(ctx), cause) })
	return err
}

// laterNote says what happens to a FREEZE that lands after the watch.
func (f *freezeFlight) laterNote() string {
	if f.entry == nil {
		return "after that, check SHOW LOCKS"
	}
	return "after that, the next run on this machine releases it (journal record " + f.entry.Path() + ")"
}

// watch looks at the counters on fresh connections (SHOW LOCKS) until the
// release timeout: once a named table's counter is above its value from
// before the FREEZE, the FREEZE ran, and exactly those tables are
// unfrozen. If none rose, the record is left for the next run, and the
// error is ErrFreezeOutcomeUnknown. A concurrent FREEZE by someone else in
// that window looks the same and would be undone too.
func (f *freezeFlight) watch(ctx context.Context, cause error) ([]string, error) {
	wctx, cancel := f.m.c.detached(ctx)
	defer cancel()
	backoff := 20 * time.Millisecond
	for {
		if after, err := f.m.lockCounts(wctx, f.m.c.db); err == nil {
			var risen []string
			for _, n := range f.names {
				if after[n] > f.before[n] {
					risen = append(risen, n)
				}
			}
			if len(risen) > 0 {
				if err := f.hold(risen).release(ctx); err != nil {
					return nil, err
				}
				f.m.c.opts.logger.InfoContext(ctx, "dbctl: a FREEZE whose connection died landed; released", "tables", risen, "op", f.op)
				return risen, nil
			}
		}
		if !sleepCtx(wctx, backoff) {
			f.abandon()
			detail := fmt.Sprintf("the FREEZE's connection died and no counter rose within %s; if searchd still runs it, "+
				"these tables become frozen: %s; %s", f.m.c.opts.releaseTimeout, strings.Join(f.names, ", "), f.laterNote())
			f.m.c.opts.logger.WarnContext(ctx, "dbctl: "+detail, "error", cause)
			return nil, opErr(f.op, ErrFreezeOutcomeUnknown, detail, cause)
		}
		backoff = min(2*backoff, time.Second)
	}
}

// hold makes the hold of frozen, which takes over the record.
func (f *freezeFlight) hold(frozen []string) *freezeHold {
	h := &freezeHold{m: f.m, op: f.op, frozen: frozen, conn: f.conn, entry: f.entry}
	f.entry = nil
	return h
}

// dropRecord removes the record of a FREEZE that did not run (or was never
// sent); if that fails, it is left for the next run, which finds no
// counter raised and drops it.
func (f *freezeFlight) dropRecord() {
	if f.entry == nil {
		return
	}
	if err := f.entry.Remove(); err != nil {
		f.m.c.opts.logger.WarnContext(context.Background(), "dbctl: could not remove a freeze journal record; the next run drops it",
			"record", f.entry.Path(), "error", err)
		f.entry.Abandon()
	}
	f.entry = nil
}

// abandon lets the record go for the next run: before the FREEZE was
// sent it is removed, after it the next run decides from the counters.
func (f *freezeFlight) abandon() {
	if !f.sent {
		f.dropRecord()
	}
	f.entry.Abandon()
	f.entry = nil
	f.closeConn()
}

func (f *freezeFlight) closeConn() {
	if f.conn != nil {
		_ = f.conn.Close()
		f.conn = nil
	}
}
