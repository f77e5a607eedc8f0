package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/dbctl/dbctl"
)

// freezeCounters reads every table's FREEZE counter (SHOW LOCKS).
func freezeCounters(ctx context.Context, m *dbctl.Manticore) (map[string]int, error) {
	locks, err := m.Locks(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, l := range locks {
		if l.LockType == "freeze" {
			out[l.Name] = l.Count
		}
	}
	return out, nil
}

// releaseNote checks, after an interrupted command that froze tables, that
// no counter stayed above what it was before the command (SHOW LOCKS on a
// fresh context), and says what it found. A FREEZE still running when the
// command stopped is waited for first and released (settleReleases). The
// CLI claims "unfrozen" only when this check passed (issue 9 C), and never
// when a release could not finish (a FREEZE whose outcome stayed unknown:
// it may still land, and its journal record is left for the next run).
func (a *app) releaseNote(m *dbctl.Manticore, before map[string]int, beforeErr, err error) string {
	if _, werr := a.settleReleases(); werr != nil || errors.Is(err, dbctl.ErrFreezeOutcomeUnknown) && len(a.released) == 0 {
		if werr == nil {
			werr = err
		}
		return "a FREEZE's outcome is unknown (" + strings.TrimPrefix(werr.Error(), "dbctl: ") +
			"): the tables named above may become frozen; the next backup or freeze on this machine, or " +
			"'dbctl manticore locks --release-orphans', releases them; check 'dbctl manticore locks'"
	}
	var prefix string
	if len(a.released) > 0 {
		prefix = "the FREEZE answered after the command stopped; unfrozen again: " + strings.Join(a.released, ", ") + "; "
	}
	if beforeErr != nil {
		return prefix + "could not verify that the tables were unfrozen (SHOW LOCKS failed before the backup); check with 'dbctl manticore locks'"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	after, err := freezeCounters(ctx, m)
	if err != nil {
		return prefix + "could not verify that the tables were unfrozen (" + err.Error() + "); check with 'dbctl manticore locks'"
	}
	var left []string
	for name, n := range after {
		if n > before[name] {
			left = append(left, fmt.Sprintf("%s (counter %d, was %d)", name, n, before[name]))
		}
	}
	if len(left) > 0 {
		sort.Strings(left)
		return prefix + "STILL FROZEN: " + strings.Join(left, ", ") + "; release with 'dbctl manticore unfreeze'"
	}
	return prefix + "verified with SHOW LOCKS: no table is left frozen by this command"
}
