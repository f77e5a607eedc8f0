package dbctl

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strings"
	"time"

	"github.com/dbctl/dbctl/internal/sqllit"
)

// The time zones of MatrixOne recovery. Three zones meet here:
//
//   - the session's time_zone, in which SHOW PITR renders its DATETIMEs
//     (captures 239, 250) and from_unixtime() its result. dbctl sets it only
//     for the statements that need it and puts the session's own value back
//     afterwards (the connection goes back to the application's pool);
//   - the server process's zone (Go's time.Local on the server), in which
//     RESTORE ... FROM PITR reads its timestamp, whatever the session's
//     (matrixone-recovery.md §7; source pkg/frontend/pitr.go,
//     doResolveTimeStamp: time.ParseInLocation in "Local"), and in which
//     SHOW RECOVERY_WINDOW renders a PITR's start and end
//     (pkg/frontend/show_recovery_window.go, .Local()). Its offset changes
//     with daylight saving time, so dbctl asks the server for the offset at
//     each instant it converts, "select from_unixtime(N)" under the session
//     zone 'SYSTEM' (source pkg/sql/plan/function, FromUnixTimeInt64:
//     types.DatetimeFromUnix(session zone, N), Go's offset at that instant);
//     Options.MatrixOneTimeZone gives the zone instead;
//   - the client's time.Local, which plays no part.

const (
	// stmtSessionZone reads the session's time zone ("SYSTEM", "+08:00" or a
	// zone name, as it was set; MatrixOne docs System-Parameters
	// 0.6-timezone.md). Not captured: its shape is @@version's (golden
	// matrixone.jsonl).
	stmtSessionZone = "select @@time_zone"
	// zoneSystem and zoneUTC are the session zones dbctl works in: the
	// server process's zone (captures 249, 254: a session set to +08:00
	// goes back to it) and UTC.
	zoneSystem = "SYSTEM"
	zoneUTC    = "+00:00"
	// zoneResetTimeout bounds putting a session's own zone back after the
	// caller's context ended.
	zoneResetTimeout = 5 * time.Second
	// maxFromUnixtime is the largest argument from_unixtime() answers; it
	// answers NULL outside 0..maxFromUnixtime (source FromUnixTimeInt64,
	// max_unix_timestamp_int).
	maxFromUnixtime = 32536771199
)

// setZoneStmt is "set time_zone = '<zone>'" (captures 249, 254), the zone
// escaped as a string literal.
func setZoneStmt(zone string) string { return "set time_zone = " + sqllit.Quote(zone) }

// withSessionZone runs f with conn's session time zone set to want, and
// then puts the session's own zone back, so that a connection of the
// application's pool keeps what the application set. The zone is read
// first (select @@time_zone) and nothing is set when it is already want.
// Putting it back runs even when ctx has ended (on a fresh context bounded
// by zoneResetTimeout); a connection where that fails is discarded, never
// pooled with dbctl's zone.
func (c *Client) withSessionZone(ctx context.Context, op string, conn *sql.Conn, want string, f func() error) error {
	t, err := c.query(ctx, conn, stmtSessionZone)
	if err != nil {
		return opErr(op, classifyRecoveryError(err), "read the session time zone", withCtxErr(ctx, err))
	}
	if len(t.rows) != 1 || len(t.cols) < 1 {
		return opErr(op, ErrUnexpectedResult, fmt.Sprintf("%s: want 1 row, got %d", stmtSessionZone, len(t.rows)), nil)
	}
	orig, err := t.text(0, 0)
	if err != nil || strings.TrimSpace(orig) == "" {
		return opErr(op, ErrUnexpectedResult, fmt.Sprintf("%s: the session's zone cannot be read back (%q), so it could not be put back: nothing changed", stmtSessionZone, orig), err)
	}
	if strings.EqualFold(orig, want) {
		return f()
	}
	defer c.putSessionZone(ctx, conn, orig)
	if _, err := c.exec(ctx, conn, setZoneStmt(want)); err != nil {
		return opErr(op, classifyRecoveryError(err), "set the session time zone", withCtxErr(ctx, err))
	}
	return f()
}

// putSessionZone sets conn's session zone back to zone, or discards the
// connection when that fails.
func (c *Client) putSessionZone(ctx context.Context, conn *sql.Conn, zone string) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), zoneResetTimeout)
	defer cancel()
	if _, err := c.exec(rctx, conn, setZoneStmt(zone)); err != nil {
		c.opts.logger.WarnContext(ctx, "dbctl: could not put the session time zone back; the connection is discarded", "time_zone", zone, "error", err)
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	}
}

// zoneOffsets returns the server process zone's UTC offset (seconds east)
// at each of the given instants (Unix seconds).
type zoneOffsets func(ctx context.Context, secs []int64) (map[int64]int, error)

// localOffsets reads the offsets from a known zone.
func localOffsets(loc *time.Location) zoneOffsets {
	return func(_ context.Context, secs []int64) (map[int64]int, error) {
		out := make(map[int64]int, len(secs))
		for _, s := range secs {
			_, out[s] = time.Unix(s, 0).In(loc).Zone()
		}
		return out, nil
	}
}

// serverOffsets asks the server: "select from_unixtime(a), from_unixtime(b),
// ..." in one statement on conn, whose session zone must be 'SYSTEM'. The
// answer is the wall clock of each instant in the process's zone, whole
// seconds; wall minus instant is the offset.
func (c *Client) serverOffsets(op string, conn *sql.Conn) zoneOffsets {
	return func(ctx context.Context, secs []int64) (map[int64]int, error) {
		var uniq []int64
		seen := map[int64]bool{}
		for _, s := range secs {
			if s < 0 || s > maxFromUnixtime {
				return nil, opErr(op, ErrInvalidArgument, fmt.Sprintf("%s is outside what the server's from_unixtime() converts (1970 to 3001), so its zone offset there cannot be asked: give the zone with Options.MatrixOneTimeZone",
					time.Unix(s, 0).UTC().Format(time.RFC3339)), nil)
			}
			if !seen[s] {
				seen[s] = true
				uniq = append(uniq, s)
			}
		}
		items := make([]string, len(uniq))
		for i, s := range uniq {
			items[i] = fmt.Sprintf("from_unixtime(%d)", s)
		}
		t, err := c.query(ctx, conn, "select "+strings.Join(items, ", "))
		if err != nil {
			return nil, opErr(op, classifyRecoveryError(err), "ask the server's zone offset (from_unixtime; Options.MatrixOneTimeZone gives the zone instead)", withCtxErr(ctx, err))
		}
		if len(t.rows) != 1 || len(t.cols) != len(uniq) {
			return nil, opErr(op, ErrUnexpectedResult, fmt.Sprintf("from_unixtime: want 1 row of %d columns, got %d rows of %d", len(uniq), len(t.rows), len(t.cols)), nil)
		}
		out := make(map[int64]int, len(uniq))
		for i, s := range uniq {
			v, err := t.text(0, i)
			if err != nil {
				return nil, opErr(op, nil, "from_unixtime", err)
			}
			w, err := parseWallClock(v)
			if err != nil {
				return nil, opErr(op, nil, "from_unixtime", err)
			}
			off := w.Unix() - s
			if off < -16*3600 || off > 16*3600 {
				return nil, opErr(op, ErrUnexpectedResult, fmt.Sprintf("from_unixtime(%d) = %s: an offset of %ds is not a time zone", s, quoteForMessage(v), off), nil)
			}
			out[s] = int(off)
		}
		return out, nil
	}
}

// cachedOffsets remembers the offsets offs answered, so that one operation
// asks each instant once.
func cachedOffsets(offs zoneOffsets) zoneOffsets {
	known := map[int64]int{}
	return func(ctx context.Context, secs []int64) (map[int64]int, error) {
		var missing []int64
		for _, s := range secs {
			if _, ok := known[s]; !ok {
				missing = append(missing, s)
			}
		}
		if len(missing) > 0 {
			m, err := offs(ctx, missing)
			if err != nil {
				return nil, err
			}
			for k, v := range m {
				known[k] = v
			}
		}
		out := make(map[int64]int, len(secs))
		for _, s := range secs {
			out[s] = known[s]
		}
		return out, nil
	}
}

// zoneFor returns how to learn the server zone's offsets on conn: the
// option's zone, or the server itself (then f runs with the session at
// 'SYSTEM', put back afterwards).
func (c *Client) zoneFor(ctx context.Context, op string, conn *sql.Conn, f func(zoneOffsets) error) error {
	if c.opts.moTimeZone != nil {
		return f(localOffsets(c.opts.moTimeZone))
	}
	return c.withSessionZone(ctx, op, conn, zoneSystem, func() error {
		return f(cachedOffsets(c.serverOffsets(op, conn)))
	})
}

// serverReadsWall returns the instant the server reads wall clock w (Unix
// seconds of the wall taken as UTC) as, the way the server parses it:
// Go's time.Date in its zone (pitr.go doResolveTimeStamp uses
// time.ParseInLocation), which looks up the offset at w taken as UTC and,
// when w minus that offset lies in another zone period, the offset there.
// A wall clock of a repeated hour (the clocks turned back) is read as one
// of its two instants, one that does not exist (the clocks turned forward)
// as an instant an hour away.
func serverReadsWall(ctx context.Context, offs zoneOffsets, walls []int64) (map[int64]int64, error) {
	first, err := offs(ctx, walls)
	if err != nil {
		return nil, err
	}
	guesses := make([]int64, len(walls))
	for i, w := range walls {
		guesses[i] = w - int64(first[w])
	}
	second, err := offs(ctx, guesses)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]int64, len(walls))
	for i, w := range walls {
		out[w] = w - int64(second[guesses[i]])
	}
	return out, nil
}

// restoreWall renders a PITR restore time as the server parses it: the wall
// clock of at in the server process's zone, with the nanoseconds (trailing
// zeros dropped), checked to read back as at. An instant whose wall clock
// the server would read as another instant (inside the hour that repeats
// when the clocks are turned back) is refused with ErrInvalidArgument:
// RESTORE takes no zone or offset (captures 267-271: "+08:00" is extra
// text), so that instant cannot be asked for.
func restoreWall(ctx context.Context, offs zoneOffsets, at time.Time) (string, error) {
	s := at.Unix()
	m, err := offs(ctx, []int64{s})
	if err != nil {
		return "", err
	}
	w := s + int64(m[s])
	back, err := serverReadsWall(ctx, offs, []int64{w})
	if err != nil {
		return "", err
	}
	wall := time.Unix(w, int64(at.Nanosecond())).UTC().Format(wallClockLayout + ".999999999")
	if r := back[w]; r != s {
		return "", fmt.Errorf("%w: restore time %s is %s in the server's zone, a wall clock that occurs twice there (the clocks are turned back); RESTORE ... FROM PITR takes a wall clock with no offset and the server would read it as %s: choose a time outside the repeated hour",
			ErrInvalidArgument, at.UTC().Format(time.RFC3339Nano), wall, time.Unix(r, int64(at.Nanosecond())).UTC().Format(time.RFC3339Nano))
	}
	return wall, nil
}

// wallClockLayout is how MatrixOne renders DATETIME and TIMESTAMP values
// and how it parses a PITR restore time (capture 267: "as \"2006-01-02
// 15:04:05\""; a fraction is accepted, capture 266).
const wallClockLayout = "2006-01-02 15:04:05"

// parseWallClock reads "YYYY-MM-DD HH:MM:SS[.fraction]" (0-9 fraction
// digits) as a wall clock, returned in UTC for the caller to re-zone. A value
// a driver with parseTime=true turned into RFC 3339 text is read the same
// way, by its wall clock.
func parseWallClock(s string) (time.Time, error) {
	t, err := time.ParseInLocation(wallClockLayout, s, time.UTC)
	if err != nil {
		rt, err2 := time.Parse(time.RFC3339Nano, s)
		if err2 != nil {
			return time.Time{}, fmt.Errorf("%w: time %s: want YYYY-MM-DD HH:MM:SS[.fraction]", ErrUnexpectedResult, quoteForMessage(s))
		}
		t = time.Date(rt.Year(), rt.Month(), rt.Day(), rt.Hour(), rt.Minute(), rt.Second(), rt.Nanosecond(), time.UTC)
	}
	return t, nil
}
