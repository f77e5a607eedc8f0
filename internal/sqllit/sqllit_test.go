package sqllit

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{`it's a \ test`, `'it''s a \\ test'`},
		{"db1.t'x", `'db1.t''x'`},
		{"a'); drop database x; --", `'a''); drop database x; --'`},
		{"\x00\n\r\x1a", `'\0\n\r\Z'`},
		{"", "''"},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, Quote(tc.in), "Quote(%q)", tc.in)
	}
}

func TestQuoteManticore(t *testing.T) {
	tests := []struct{ in, want string }{
		{"it's", `'it\'s'`},
		{`back\slash`, `'back\\slash'`},
		{"/путь/файл\n", "'/путь/файл\n'"},
		{"", "''"},
	}
	for _, tc := range tests {
		got, err := QuoteManticore(tc.in)
		assert.NoError(t, err)
		assert.Equal(t, tc.want, got, "QuoteManticore(%q)", tc.in)
	}
	_, err := QuoteManticore("a\x00b")
	assert.ErrorIs(t, err, ErrNUL)
}

// unquoteMySQL reads one single-quoted literal the way a MySQL-protocol
// server does, with backslash escapes on (noBackslash=false) or off, and
// reports whether the literal spans the whole input.
func unquoteMySQL(lit string, noBackslash bool) (string, bool) {
	if len(lit) < 2 || lit[0] != '\'' {
		return "", false
	}
	var b strings.Builder
	for i := 1; i < len(lit); i++ {
		c := lit[i]
		switch {
		case c == '\'':
			if i+1 < len(lit) && lit[i+1] == '\'' {
				b.WriteByte('\'')
				i++
				continue
			}
			return b.String(), i == len(lit)-1
		case c == '\\' && !noBackslash:
			if i+1 >= len(lit) {
				return "", false
			}
			i++
			switch lit[i] {
			case '0':
				b.WriteByte(0)
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 'Z':
				b.WriteByte(0x1a)
			default:
				b.WriteByte(lit[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", false
}

// The seeds run as ordinary tests; `go test -fuzz FuzzQuote` explores.
// dbctltest's FuzzManticoreStringLiteral reads QuoteManticore back through
// the emulator's lexer.
func FuzzQuote(f *testing.F) {
	for _, s := range []string{"", "gold.t", "t'x", `a\'b`, "x'); drop database d; --", "\x00\n\r\x1a", `\`, "''", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q := Quote(s)
		got, whole := unquoteMySQL(q, false)
		if !whole || got != s {
			t.Fatalf("Quote(%q) = %s reads back as %q (whole=%v)", s, q, got, whole)
		}
		// With NO_BACKSLASH_ESCAPES the value may differ, but the literal
		// must still end exactly where it ends: no injection in either mode.
		if _, whole := unquoteMySQL(q, true); !whole {
			t.Fatalf("Quote(%q) = %s ends early without backslash escapes", s, q)
		}
		if _, err := QuoteManticore(s); (err != nil) != strings.Contains(s, "\x00") || (err != nil && !errors.Is(err, ErrNUL)) {
			t.Fatalf("QuoteManticore(%q): %v", s, err)
		}
	})
}
