package dbctl

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/dbctl/dbctl/internal/sqllit"
)

// The range of a PITR: how far back it reaches.

// Range is how far back a PITR reaches: N units, 1 <= N <= MaxRangeN.
type Range struct {
	N int
	// Unit is RangeHours, RangeDays, RangeMonths or RangeYears, as the
	// server stores it ("h", "d", "mo", "y"); any case is taken.
	Unit string
}

// String renders "N unit", e.g. "2 d".
func (r Range) String() string { return strconv.Itoa(r.N) + " " + r.Unit }

// validate normalises the unit and checks the value. 0 is refused although
// ALTER PITR takes it on the server (capture 257: the PITR then keeps
// nothing).
func (r Range) validate() (Range, error) {
	u := strings.ToLower(r.Unit)
	switch u {
	case RangeHours, RangeDays, RangeMonths, RangeYears:
	default:
		return r, fmt.Errorf("%w: range unit %q (want h, d, mo or y)", ErrInvalidArgument, r.Unit)
	}
	if r.N < 1 || r.N > MaxRangeN {
		return r, fmt.Errorf("%w: range value %d (want 1 to %d)", ErrInvalidArgument, r.N, MaxRangeN)
	}
	return Range{N: r.N, Unit: u}, nil
}

// clause renders "range N 'u'": a bare integer and a quoted unit (a quoted
// number, a bare unit or no unit are syntax errors, captures 223, 228-229).
func (r Range) clause() string {
	return "range " + strconv.Itoa(r.N) + " " + sqllit.Quote(r.Unit)
}

// ParseRange reads "N unit" or "Nunit" ("2 d", "1mo", "3 H").
func ParseRange(s string) (Range, error) {
	s = strings.TrimSpace(s)
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 || i > 3 {
		return Range{}, fmt.Errorf("%w: range %q: want N unit, 1 <= N <= %d, unit h, d, mo or y", ErrInvalidArgument, s, MaxRangeN)
	}
	n, _ := strconv.Atoi(s[:i])
	return Range{N: n, Unit: strings.TrimSpace(s[i:])}.validate()
}
