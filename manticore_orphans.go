package dbctl

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dbctl/dbctl/internal/freezejournal"
)

// OrphanedFreeze is a freeze that a dbctl run on this machine recorded in
// the freeze journal (Options.StateDir) and did not live to release: the
// process was killed (SIGKILL, the OOM killer, a drained node) or lost its
// machine while it held the freeze, or its FREEZE was still running when
// it gave up.
type OrphanedFreeze struct {
	// Server is the server as the dead run's DSN named it, e.g.
	// "tcp(127.0.0.1:9306)".
	Server string
	// Op is the operation that froze, e.g. "manticore with frozen a, b"
	// (WithFrozen, and so a backup) or "manticore freeze a, b" (a Freeze
	// killed before it returned).
	Op string
	// PID and Host are the dead run's process id and host name.
	PID  int
	Host string
	// Written is when the run recorded the freeze, just before its FREEZE.
	Written time.Time
	// State is where the run stood: "intent" (FREEZE sent, or about to
	// be; whether it landed is told by the counters), "frozen" (FREEZE
	// answered), "releasing" (UNFREEZE sent, or about to be).
	State string
	// Tables are the tables the run froze (or meant to).
	Tables []string
	// Release are the tables that get one UNFREEZE each, exactly the share
	// the dead run holds; empty when the record is only dropped.
	Release []string
	// Reason says why, in words.
	Reason string
	// Done: ReleaseOrphanedFreezes carried it out (the UNFREEZE answered
	// and the record is removed). Always false from OrphanedFreezes.
	Done bool
	// Record is the journal file.
	Record string
}

// OrphanedFreezes lists this server's orphaned freezes and what
// ReleaseOrphanedFreezes would do with each, changing nothing. It reads
// SHOW STATUS LIKE 'uptime' and SHOW LOCKS only when there is a record.
// A Client made with New keeps no journal: nil. Where there is no flock
// (Windows): ErrNotSupported.
func (m *Manticore) OrphanedFreezes(ctx context.Context) ([]OrphanedFreeze, error) {
	return m.orphans(ctx, "manticore orphaned freezes", false)
}

// ReleaseOrphanedFreezes releases this server's orphaned freezes and
// returns them, each with what was done. For each record no live process
// holds (flock), of this server (same DSN address):
//
//   - searchd restarted since the record (its start time, now minus SHOW
//     STATUS uptime, differs by more than a few seconds): the freeze
//     ended with the restart; the record is dropped.
//   - "frozen": one UNFREEZE of each table the FREEZE froze whose counter
//     is still above 0.
//   - "intent": one UNFREEZE of each table whose counter is above the one
//     recorded before the FREEZE (it landed after the run died); none
//     otherwise (it never landed), and the record is dropped.
//   - "releasing": one UNFREEZE of each table whose counter is not below
//     the one read before the run's UNFREEZE (it did not land).
//
// Never more than one UNFREEZE per table per record, so another holder's
// freeze (its share of the counter) stays; a record is marked "releasing"
// before its UNFREEZE, so a scan killed in turn is not repeated, and it is
// removed once the UNFREEZE answered. Two processes scanning at once never
// handle the same record. A release that fails keeps its record and is in
// the error; so is a record that cannot be read (left for a person).
//
// A FREEZE that its dead run sent but searchd had not yet run when this
// scan looked (a very slow FREEZE) is dropped as never landed and stays
// frozen when it lands: check SHOW LOCKS after a run killed in its FREEZE.
//
// WithFrozen (and Backup through it) calls it first; the CLI's backup,
// freeze and locks --release-orphans too.
func (m *Manticore) ReleaseOrphanedFreezes(ctx context.Context) ([]OrphanedFreeze, error) {
	return m.orphans(ctx, "manticore release orphaned freezes", true)
}

func (m *Manticore) orphans(ctx context.Context, op string, release bool) (out []OrphanedFreeze, err error) {
	j, err := m.c.journal(op)
	if j == nil || err != nil {
		return nil, err
	}
	entries, scanErr := j.Orphans(m.c.fz.server)
	defer func() {
		for _, e := range entries {
			e.Abandon() // those not removed are the next run's
		}
	}()
	if scanErr != nil {
		scanErr = opErr(op, nil, "records that cannot be read are kept for a person to look at", scanErr)
	}
	if len(entries) == 0 {
		return nil, scanErr
	}
	start, err := m.serverStart(ctx, m.c.db)
	if err != nil {
		return nil, errors.Join(manticoreErr(op+": read searchd's uptime", err), scanErr)
	}
	counts, err := m.lockCounts(ctx, m.c.db)
	if err != nil {
		return nil, errors.Join(manticoreErr(op+": read the freeze counters", err), scanErr)
	}
	errs := []error{scanErr}
	for _, e := range entries {
		o := decideOrphan(e, start, counts)
		if release {
			if err := m.settleOrphan(ctx, op, e, &o, counts); err != nil {
				errs = append(errs, err)
			}
		}
		out = append(out, o)
	}
	return out, errors.Join(errs...)
}

// decideOrphan says what to do with the record of e, from searchd's start
// time and the counters now.
func decideOrphan(e *freezejournal.Entry, start time.Time, counts map[string]int) OrphanedFreeze {
	r := e.Rec
	o := OrphanedFreeze{Server: r.Server, Op: r.Op, PID: r.PID, Host: r.Host, Written: r.Written, State: string(r.State),
		Tables: r.Tables, Record: e.Path()}
	if d := start.Sub(r.ServerStart); d > serverStartTolerance || d < -serverStartTolerance {
		o.Reason = fmt.Sprintf("searchd restarted since (started %s, now %s): its freezes ended with it",
			r.ServerStart.Format(time.RFC3339), start.Format(time.RFC3339))
		return o
	}
	switch r.State {
	case freezejournal.Frozen:
		for _, n := range r.Frozen {
			if counts[n] > 0 {
				o.Release = append(o.Release, n)
			}
		}
		o.Reason = "its FREEZE answered and the run died holding it"
		if len(o.Release) == 0 {
			o.Reason = "someone unfroze it already (counter 0)"
		}
	case freezejournal.Intent:
		if r.Before == nil {
			o.Reason = "no counters were read before its FREEZE: whether it landed cannot be told (check SHOW LOCKS)"
			return o
		}
		for _, n := range r.Tables {
			if counts[n] > r.Before[n] {
				o.Release = append(o.Release, n)
			}
		}
		o.Reason = "its FREEZE landed after the run died (counter above the one before it)"
		if len(o.Release) == 0 {
			o.Reason = "its FREEZE never landed (no counter above the one before it)"
		}
	case freezejournal.Releasing:
		for _, n := range r.Frozen {
			if counts[n] > 0 && counts[n] >= r.ReleaseBefore[n] {
				o.Release = append(o.Release, n)
			}
		}
		o.Reason = "the run died before its UNFREEZE landed"
		if len(o.Release) == 0 {
			o.Reason = "its UNFREEZE had landed"
		}
	}
	return o
}

// settleOrphan carries out o: the UNFREEZE (after recording it) and the
// record's removal. counts is kept current for the next record.
func (m *Manticore) settleOrphan(ctx context.Context, op string, e *freezejournal.Entry, o *OrphanedFreeze, counts map[string]int) error {
	if len(o.Release) > 0 {
		r := e.Rec
		r.State, r.Frozen, r.ReleaseBefore = freezejournal.Releasing, o.Release, pick(counts, o.Release)
		if err := e.Update(r); err != nil {
			// not released unrecorded: a scan dying after the UNFREEZE
			// would have the next one release it again
			return opErr(op, ErrStateDir, "record the release of "+e.Path(), err)
		}
		if err := m.unfreezeRetrying(ctx, nil, o.Release, nil); err != nil && !errors.Is(err, ErrTableNotFound) {
			return opErr(op, nil, "release the orphaned freeze of "+strings.Join(o.Release, ", ")+" (record "+e.Path()+")", err)
		}
		for _, n := range o.Release {
			counts[n]--
		}
	}
	if err := e.Remove(); err != nil {
		return opErr(op, ErrStateDir, "remove the record "+e.Path(), err)
	}
	o.Done = true
	return nil
}
