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
// fresh context), and says what it found. The CLI claims "unfrozen" only
// when this check passed (issue 9 C), and never when the SDK reported that
// a FREEZE's outcome is unknown (it may still land).
func releaseNote(m *dbctl.Manticore, before map[string]int, beforeErr, err error) string {
	if errors.Is(err, dbctl.ErrFreezeOutcomeUnknown) {
		return "the FREEZE's answer was lost and its outcome is unknown: the tables named above may become frozen; check 'dbctl manticore locks'"
	}
	if beforeErr != nil {
		return "could not verify that the tables were unfrozen (SHOW LOCKS failed before the backup); check with 'dbctl manticore locks'"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	after, err := freezeCounters(ctx, m)
	if err != nil {
		return "could not verify that the tables were unfrozen (" + err.Error() + "); check with 'dbctl manticore locks'"
	}
	var left []string
	for name, n := range after {
		if n > before[name] {
			left = append(left, fmt.Sprintf("%s (counter %d, was %d)", name, n, before[name]))
		}
	}
	if len(left) > 0 {
		sort.Strings(left)
		return "STILL FROZEN: " + strings.Join(left, ", ") + "; release with 'dbctl manticore unfreeze'"
	}
	return "verified with SHOW LOCKS: no table is left frozen by this command"
}
