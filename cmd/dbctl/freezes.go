package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/dbctl/dbctl"
)

// The freeze journal and the releases in the CLI: --state-dir, the
// orphaned freezes that backup, freeze and locks --release-orphans release
// first, and the wait, before exit, for a FREEZE that was still running
// when the command was interrupted or timed out.

// clientOptions are the dbctl.Options every command's client gets.
func (a *app) clientOptions() *dbctl.Options {
	return &dbctl.Options{StateDir: a.stateDir}
}

// notice prints a line for people on stderr, also with --json (whose
// document is on stdout), not with --quiet.
func (a *app) notice(format string, args ...any) {
	if !a.quiet {
		fmt.Fprintf(a.stderr, format+"\n", args...)
	}
}

// releaseOrphans releases this server's orphaned freezes (those of dbctl
// runs on this machine that died holding them) and says what it did.
// Without a journal here (Windows) it does nothing.
func (a *app) releaseOrphans(ctx context.Context, m *dbctl.Manticore) ([]dbctl.OrphanedFreeze, error) {
	got, err := m.ReleaseOrphanedFreezes(ctx)
	if errors.Is(err, dbctl.ErrNotSupported) {
		return nil, nil
	}
	for _, o := range got {
		a.notice("dbctl: %s", orphanLine(o))
	}
	return got, err
}

// releaseOrphansOrWarn is releaseOrphans before a command's own freeze:
// a failure is a warning, not the end of the command (an unreadable record
// must not stop every backup; a server or journal folder that does not
// work fails the freeze itself).
func (a *app) releaseOrphansOrWarn(ctx context.Context, m *dbctl.Manticore) []dbctl.OrphanedFreeze {
	got, err := a.releaseOrphans(ctx, m)
	if err != nil {
		a.notice("dbctl: warning: orphaned freezes: %s", strings.TrimPrefix(err.Error(), "dbctl: "))
	}
	return got
}

// orphanLine says what happened (or would happen) to an orphaned freeze.
func orphanLine(o dbctl.OrphanedFreeze) string {
	who := fmt.Sprintf("dbctl pid %d on %s, recorded %s (%s)", o.PID, o.Host, o.Written.Local().Format(time.RFC3339), o.Op)
	switch {
	case len(o.Release) > 0 && o.Done:
		return fmt.Sprintf("released an orphaned freeze of %s, one UNFREEZE each: %s; %s", strings.Join(o.Release, ", "), who, o.Reason)
	case len(o.Release) > 0:
		return fmt.Sprintf("orphaned freeze of %s: %s; %s (release it with 'dbctl manticore locks --release-orphans')",
			strings.Join(o.Release, ", "), who, o.Reason)
	case o.Done:
		return fmt.Sprintf("dropped the record of an orphaned freeze of %s: %s; %s", strings.Join(o.Tables, ", "), who, o.Reason)
	}
	return fmt.Sprintf("orphaned freeze record of %s: %s; %s (nothing to release; --release-orphans drops it)", strings.Join(o.Tables, ", "), who, o.Reason)
}

type orphanJSON struct {
	Server  string    `json:"server"`
	Op      string    `json:"op"`
	PID     int       `json:"pid"`
	Host    string    `json:"host"`
	Written time.Time `json:"written"`
	State   string    `json:"state"`
	Tables  []string  `json:"tables"`
	Release []string  `json:"release"`
	Reason  string    `json:"reason"`
	Done    bool      `json:"done"`
	Record  string    `json:"record"`
}

func orphansJSON(list []dbctl.OrphanedFreeze) []orphanJSON {
	out := []orphanJSON{}
	for _, o := range list {
		rel := o.Release
		if rel == nil {
			rel = []string{}
		}
		out = append(out, orphanJSON{o.Server, o.Op, o.PID, o.Host, o.Written, o.State, o.Tables, rel, o.Reason, o.Done, o.Record})
	}
	return out
}

// settleReleases waits until the releases every client of this command
// still owes have finished (a FREEZE that was still running on the server
// when the command was interrupted or ran out of --timeout: it is waited
// for, then what it froze is unfrozen), or until a second SIGINT/SIGTERM,
// which leaves it to the next run (its journal record). It returns the
// tables released, and an error naming what it could not finish.
func (a *app) settleReleases() ([]string, error) {
	if len(a.clients) == 0 {
		return nil, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	go func() {
		select {
		case <-sig:
			cancel()
		case <-ctx.Done():
		}
	}()
	slow := time.AfterFunc(300*time.Millisecond, func() {
		a.notice("dbctl: waiting for a FREEZE still running on the server, to unfreeze what it froze (interrupt again to leave it to the next run)")
	})
	defer slow.Stop()
	var released []string
	var errs []error
	for _, c := range a.clients {
		r, err := c.WaitReleases(ctx)
		released = append(released, r...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	a.released = append(a.released, released...)
	return released, errors.Join(errs...)
}

// releasedNote is what the end-of-command message says about releases
// made after the command's FREEZE answered late.
func (a *app) releasedNote(werr error) string {
	var parts []string
	if len(a.released) > 0 {
		parts = append(parts, "a FREEZE answered after the command stopped; unfrozen again: "+strings.Join(a.released, ", "))
	}
	if werr != nil {
		parts = append(parts, "not every release finished ("+strings.TrimPrefix(werr.Error(), "dbctl: ")+
			"); the next backup or freeze on this machine, or 'dbctl manticore locks --release-orphans', releases it")
	}
	return strings.Join(parts, "; ")
}
