package dbctl

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"time"
)

// The time zones of MatrixOne recovery: the server process's zone (found
// once per Client, or given), the session zone pinned to it, and the wall
// clocks the server renders and parses.

// WithMatrixOneTimeZone gives the time zone of the MatrixOne server process
// (the zone it reads RESTORE ... FROM PITR timestamps in and renders SHOW
// PITR times in after "set time_zone = 'SYSTEM'"). Default: found once per
// Client from the server's clock (see PITRs), which yields the zone's current
// UTC offset; give the IANA zone here for a server in a zone with daylight
// saving time. A nil loc keeps the default.
func WithMatrixOneTimeZone(loc *time.Location) Option {
	return func(o *options) {
		if loc != nil {
			o.moTimeZone = loc
		}
	}
}

// Statements that pin and probe the session time zone. "set time_zone =
// 'SYSTEM'" returns a session to the server process's zone (capture 254,
// after capture 249 had set +08:00); now() is rendered in the session zone
// (capture 252: 07:38 under +08:00 while the server's UTC clock said 23:38).
const (
	stmtZoneSystem = "set time_zone = 'SYSTEM'"
	stmtZoneUTC    = "set time_zone = '+00:00'"
	stmtNow        = "select now()"
)

// serverZone returns the zone of the server process: the option, or the one
// found on the first call (goroutine-safe, like the sys-account check; a
// failure is not cached). It compares now() under '+00:00' and under
// 'SYSTEM' on one connection, so neither the client's clock nor its
// time.Local takes part, and leaves the connection at 'SYSTEM'.
func (c *Client) serverZone(ctx context.Context, op string, conn *sql.Conn) (*time.Location, error) {
	if c.opts.moTimeZone != nil {
		return c.opts.moTimeZone, nil
	}
	c.recovery.mu.Lock()
	defer c.recovery.mu.Unlock()
	if c.recovery.zone != nil {
		return c.recovery.zone, nil
	}
	var at [2]time.Time
	pinned := false
	defer func() {
		if pinned { // a failed or cancelled probe still leaves the session at SYSTEM
			c.resetSessionZone(ctx, conn)
		}
	}()
	for i, set := range []string{stmtZoneUTC, stmtZoneSystem} {
		if _, err := c.exec(ctx, conn, set); err != nil {
			return nil, opErr(op, classifyRecoveryError(err), "pin the session time zone", err)
		}
		pinned = set == stmtZoneUTC
		t, err := c.query(ctx, conn, stmtNow)
		if err != nil {
			return nil, opErr(op, classifyRecoveryError(err), "read the server clock", err)
		}
		if len(t.rows) != 1 || len(t.cols) < 1 {
			return nil, opErr(op, ErrUnexpectedResult, fmt.Sprintf("%s: want 1 row, got %d", stmtNow, len(t.rows)), nil)
		}
		s, err := t.text(0, 0)
		if err != nil {
			return nil, opErr(op, nil, stmtNow, err)
		}
		if at[i], err = parseWallClock(s); err != nil {
			return nil, opErr(op, nil, stmtNow, err)
		}
	}
	off := at[1].Sub(at[0]).Round(15 * time.Minute)
	if off < -14*time.Hour || off > 14*time.Hour {
		return nil, opErr(op, ErrUnexpectedResult, fmt.Sprintf("server clock offset %s is not a time zone", off), nil)
	}
	c.recovery.zone = fixedZone(off)
	return c.recovery.zone, nil
}

// zoneResetTimeout bounds the reset of a session zone after a failed probe.
const zoneResetTimeout = 5 * time.Second

// resetSessionZone returns conn's session to 'SYSTEM' after the probe
// pinned it to '+00:00'. The connection goes back to the pool, so the reset
// runs even when ctx was cancelled (context.WithoutCancel, bounded by
// zoneResetTimeout); a connection whose reset fails is discarded rather than
// pooled at '+00:00'.
func (c *Client) resetSessionZone(ctx context.Context, conn *sql.Conn) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), zoneResetTimeout)
	defer cancel()
	if _, err := c.exec(rctx, conn, stmtZoneSystem); err != nil {
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	}
}

func fixedZone(off time.Duration) *time.Location {
	if off == 0 {
		return time.UTC
	}
	sign, d := "+", off
	if d < 0 {
		sign, d = "-", -d
	}
	name := fmt.Sprintf("UTC%s%02d:%02d", sign, int(d.Hours()), int(d.Minutes())%60)
	return time.FixedZone(name, int(off.Seconds()))
}

// pinSessionZone sets the connection's session zone to the server's own
// ('SYSTEM'), which is also what a new session starts with, and returns that
// zone: SHOW PITR DATETIMEs are then in the same zone as RESTORE ... FROM
// PITR timestamps.
func (c *Client) pinSessionZone(ctx context.Context, op string, conn *sql.Conn) (*time.Location, error) {
	loc, err := c.serverZone(ctx, op, conn)
	if err != nil {
		return nil, err
	}
	if _, err := c.exec(ctx, conn, stmtZoneSystem); err != nil {
		return nil, opErr(op, classifyRecoveryError(err), "pin the session time zone", err)
	}
	return loc, nil
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

// inZone re-reads a wall clock parsed by parseWallClock in loc.
func inZone(t time.Time, loc *time.Location) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), loc)
}
