package dbctl

import (
	"context"
	"strings"
	"testing"
	"time"
)

// Fuzz targets for the recovery parsers and the text the SDK builds.

func FuzzParseSnapshotTime(f *testing.F) {
	for _, s := range []string{"2026-11-30 23:38:31.772340361", "2026-11-30 23:38:31.76457664", "2026-11-30 23:38:31", "", "2026-11-30T23:38:31Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ts, err := parseSnapshotTime(s)
		if err != nil {
			return
		}
		if ts.Location() != time.UTC {
			t.Fatalf("%q: not UTC", s)
		}
		again, err := parseSnapshotTime(ts.Format(wallClockLayout + ".999999999"))
		if err != nil || !again.Equal(ts) {
			t.Fatalf("%q: round trip %v %v", s, again, err)
		}
	})
}

func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"1 h", "100y", "2 mo", "0 d", "101 h", " 3 H ", "1.5 h", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRange(s)
		if err != nil {
			return
		}
		if r.N < 1 || r.N > MaxRangeN {
			t.Fatalf("%q: N %d", s, r.N)
		}
		if _, err := r.validate(); err != nil {
			t.Fatalf("%q: parsed %v does not validate", s, r)
		}
		if c := r.clause(); strings.Count(c, "'") != 2 {
			t.Fatalf("%q: clause %q", s, c)
		}
		if again, err := ParseRange(r.String()); err != nil || again != r {
			t.Fatalf("%q: round trip %v %v", s, again, err)
		}
	})
}

func FuzzParseWindowEntries(f *testing.F) {
	f.Add("[{'timestamp':'2026-11-30 23:38:31.679045024 +0000 UTC', 'source':'snapshot', 'source_name':'cap_sn_acct'}, {'start_time':'2026-11-30 23:38:34.635969827', 'end_time':'2026-11-30 23:38:34.799983838', 'source':'pitr', 'source_name':'cap_p_acct'}]")
	f.Add("[]")
	f.Add("[{'a':'b'}")
	f.Fuzz(func(t *testing.T, s string) {
		entries, err := parseWindowEntries(s)
		if err != nil {
			return
		}
		var w RecoveryWindow
		for _, e := range entries {
			_ = w.add(e)
		}
	})
}

// FuzzRestoreTime: in any zone (fixed, or one with daylight saving time),
// the wall clock sent for an instant is read back by the server's parse as
// that instant, or the instant is refused; nothing sent needs escaping.
func FuzzRestoreTime(f *testing.F) {
	f.Add(int64(1796081914635969827), 0, false)
	f.Add(int64(-1), 3600, false)
	f.Add(int64(1792888200000000000), 0, true) // 2026-10-25T00:30Z, Berlin's repeated hour
	f.Add(int64(1774746000000000000), 0, true) // 2026-03-29T01:00Z, Berlin's gap
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, ns int64, off int, dst bool) {
		off %= 14 * 3600
		loc := time.FixedZone("z", off)
		if dst {
			loc = berlin
		}
		at := time.Unix(0, ns)
		s, err := restoreWall(context.Background(), localOffsets(loc), at)
		if err != nil {
			if !dst {
				t.Fatalf("%d in a fixed zone refused: %v", ns, err)
			}
			return
		}
		// the server reads it in its own zone (md §7; pitr.go doResolveTimeStamp)
		back, err := time.ParseInLocation(wallClockLayout, s, loc)
		if err != nil || !back.Equal(at) {
			t.Fatalf("%d in %v: %q read back as %v (%v)", ns, loc, s, back, err)
		}
		if strings.ContainsAny(s, "'\\") {
			t.Fatalf("%q needs escaping", s)
		}
	})
}

func FuzzRecoveryIdent(f *testing.F) {
	for _, s := range []string{"cap_sn", "cap-dash", "cap.dot", "cap`tick", "", "é", strings.Repeat("a", 65)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := snapshotName(s)
		if err != nil {
			return
		}
		q := quoteIdent(n)
		if strings.Count(q, "`") != 2 || strings.ContainsRune(n, 0) {
			t.Fatalf("%q quoted as %q", s, q)
		}
		if len([]rune(n)) > maxSnapshotName {
			t.Fatalf("%q: %d characters", s, len([]rune(n)))
		}
	})
}
