package dbctl

import (
	"fmt"
	"strings"
	"time"
)

// The answers of SHOW RECOVERY_WINDOW: rows, and the single-quoted
// pseudo-JSON of their RecoveryWindows column.

// parseRecoveryWindows reads the rows of SHOW RECOVERY_WINDOW by column
// name (capture 244): RecoveryWindowLevel, AccountName, DatabaseName,
// TableName, RecoveryWindows. PITR start and end come back as wall clocks
// of the server's zone held in UTC, for the caller to convert.
func parseRecoveryWindows(t *textTable) ([]RecoveryWindow, error) {
	var idx [5]int
	for i, name := range []string{"RecoveryWindowLevel", "AccountName", "DatabaseName", "TableName", "RecoveryWindows"} {
		c, err := t.column(name)
		if err != nil {
			return nil, err
		}
		idx[i] = c
	}
	out := make([]RecoveryWindow, 0, len(t.rows))
	for r := range t.rows {
		var v [5]string
		for i, c := range idx {
			var err error
			if v[i], err = t.text(r, c); err != nil {
				return nil, err
			}
		}
		level, err := parseLevel(v[0])
		if err != nil {
			return nil, err
		}
		w := RecoveryWindow{Level: level, Account: v[1], Database: v[2], Table: v[3], Raw: v[4]}
		entries, err := parseWindowEntries(v[4])
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if err := w.add(e); err != nil {
				return nil, fmt.Errorf("%w: recovery window %s", err, quoteForMessage(v[4]))
			}
		}
		out = append(out, w)
	}
	return out, nil
}

// snapshotEntryLayout is Go's time.Time.String() without the zone name:
// snapshot entries carry "2026-11-30 23:38:31.679045024 +0000 UTC"
// (capture 244).
const snapshotEntryLayout = "2006-01-02 15:04:05.999999999 -0700"

// parseGoTimeString reads a time.Time.String() rendering by its numeric
// offset; the zone name after it (UTC, CST, a name time.Parse would not
// take) is ignored.
func parseGoTimeString(s string) (time.Time, error) {
	f := strings.Fields(s)
	if len(f) == 4 {
		f = f[:3]
	}
	return time.Parse(snapshotEntryLayout, strings.Join(f, " "))
}

func (w *RecoveryWindow) add(e map[string]string) error {
	switch e["source"] {
	case "snapshot":
		ts, err := parseGoTimeString(e["timestamp"])
		if err != nil {
			return fmt.Errorf("%w: snapshot entry timestamp %q", ErrUnexpectedResult, e["timestamp"])
		}
		w.Snapshots = append(w.Snapshots, WindowSource{Source: "snapshot", Name: e["source_name"], Timestamp: ts.UTC()})
	case "pitr":
		// Start and end carry no zone: they are wall clocks of the server
		// process's zone. MatrixOne pkg/frontend/show_recovery_window.go
		// renders the start with .Local() (getStartTimeOfRecoveryWindow)
		// and the end from time.Now() (getEndTimeOfRecoveryWindow); capture
		// 244 shows them equal to the UTC creation time on a UTC server.
		// They are kept as wall clocks here (in UTC) and converted by
		// RecoveryWindow.
		var se [2]time.Time
		for i, k := range []string{"start_time", "end_time"} {
			wc, err := parseWallClock(e[k])
			if err != nil {
				return err
			}
			se[i] = wc
		}
		w.PITRs = append(w.PITRs, WindowSource{Source: "pitr", Name: e["source_name"], Start: se[0], End: se[1]})
	default:
		return fmt.Errorf("%w: entry source %q", ErrUnexpectedResult, e["source"])
	}
	return nil
}

// parseWindowEntries reads the RecoveryWindows value. Typed JSON, it is not
// JSON: objects of single-quoted keys and values with no escapes,
// "[{'timestamp':'…', 'source':'snapshot', 'source_name':'x'}, {…}]"
// (capture 244). A value ends at a quote followed by ',' or '}' (after
// spaces), so a name holding a quote still reads right unless it holds
// "', " itself. An empty value or "[]" is no entries.
func parseWindowEntries(s string) ([]map[string]string, error) {
	bad := func(why string) error {
		return fmt.Errorf("%w: recovery window %s: %s", ErrUnexpectedResult, quoteForMessage(s), why)
	}
	in := strings.TrimSpace(s)
	if in == "" || in == "[]" {
		return nil, nil
	}
	if !strings.HasPrefix(in, "[") || !strings.HasSuffix(in, "]") {
		return nil, bad("not a list")
	}
	rest := strings.TrimSpace(in[1 : len(in)-1])
	var out []map[string]string
	for rest != "" {
		if rest[0] != '{' {
			return nil, bad("want '{'")
		}
		rest = rest[1:]
		obj := map[string]string{}
		for {
			rest = strings.TrimSpace(rest)
			if strings.HasPrefix(rest, "}") {
				rest = rest[1:]
				break
			}
			key, r2, ok := readWindowQuoted(rest, true)
			if !ok {
				return nil, bad("bad key")
			}
			r2 = strings.TrimSpace(r2)
			if !strings.HasPrefix(r2, ":") {
				return nil, bad("want ':'")
			}
			val, r3, ok := readWindowQuoted(strings.TrimSpace(r2[1:]), false)
			if !ok {
				return nil, bad("bad value")
			}
			obj[key] = val
			rest = strings.TrimPrefix(strings.TrimSpace(r3), ",")
		}
		out = append(out, obj)
		rest = strings.TrimSpace(rest)
		if strings.HasPrefix(rest, ",") {
			rest = strings.TrimSpace(rest[1:])
		} else if rest != "" {
			return nil, bad("want ',' between entries")
		}
	}
	return out, nil
}

// readWindowQuoted reads 'text' at the start of s. A key ends at the next
// quote; a value at the first quote followed by optional spaces and ',' or
// '}'.
func readWindowQuoted(s string, key bool) (string, string, bool) {
	if !strings.HasPrefix(s, "'") {
		return "", "", false
	}
	for i := 1; i < len(s); i++ {
		if s[i] != '\'' {
			continue
		}
		if key {
			return s[1:i], s[i+1:], true
		}
		after := strings.TrimLeft(s[i+1:], " ")
		if after == "" || after[0] == ',' || after[0] == '}' {
			return s[1:i], s[i+1:], true
		}
	}
	return "", "", false
}
