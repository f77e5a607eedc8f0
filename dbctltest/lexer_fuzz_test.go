package dbctltest

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/dbctl/dbctl/internal/sqllit"
)

// The seeds run as ordinary tests; `go test -fuzz FuzzX ./dbctltest`
// explores.

var manticoreStringSeeds = []string{
	"", "plain", "it's", `back\slash`, `\'`, "''", "new\nline", "cr\rtab\t", "with space",
	"/backups/bk.2026.12.06/data/t/t", "/путь/файл", "\x00", `\`, "'", `\n`, "a\\\nb", "\xff\xfe", `\0`, "end\\",
}

// FuzzManticoreStringLiteral: any string without a NUL byte, quoted by the
// SDK (internal/sqllit.QuoteManticore, which the IMPORT TABLE of dbctl
// sends its path with), is read back by the emulator's lexer,
// which reads literals as searchd's does, as exactly that string and one
// token; a string with a NUL byte is refused before anything is sent.
func FuzzManticoreStringLiteral(f *testing.F) {
	for _, s := range manticoreStringSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := sqllit.QuoteManticore(s)
		if strings.IndexByte(s, 0) >= 0 {
			if !errors.Is(err, sqllit.ErrNUL) {
				t.Fatalf("%q: want ErrNUL, got %q, %v", s, q, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		toks := lex("IMPORT TABLE t FROM "+q, manticoreLex)
		if len(toks) != 6 || toks[4].kind != tString || toks[5].kind != tEnd {
			t.Fatalf("%q quoted as %q: tokens %+v", s, q, toks)
		}
		if toks[4].text != s {
			t.Fatalf("%q quoted as %q reads back as %q", s, q, toks[4].text)
		}
	})
}

// flexString is searchd's string token, TOK_QUOTED_STRING in src/sphinxql.l
// and src/ddl.l: '([^'\\]|\\.|\\\\)*', where flex's '.' is any byte but a
// newline. (Go's regexp reads an invalid UTF-8 byte as one U+FFFD, which
// [^'\\] matches as flex matches the byte.)
var flexString = regexp.MustCompile(`^'(?:[^'\\]|\\[^\n])*'`)

// FuzzManticoreLexerString: the emulator takes a string token exactly
// where searchd's lexer rule does, and of the same length.
func FuzzManticoreLexerString(f *testing.F) {
	for _, s := range manticoreStringSeeds {
		f.Add("'" + s + "' rest")
	}
	f.Add(`'it''s'`)
	f.Fuzz(func(t *testing.T, lit string) {
		if lit == "" || lit[0] != '\'' {
			return
		}
		_, n, ok := readManticoreString(lit)
		loc := flexString.FindStringIndex(lit)
		switch {
		case ok != (loc != nil):
			t.Fatalf("%q: emulator ok=%v, searchd's rule matches %v", lit, ok, loc)
		case ok && n != loc[1]:
			t.Fatalf("%q: emulator reads %d bytes, searchd's rule %d", lit, n, loc[1])
		}
	})
}

func TestManticoreStringUnescape(t *testing.T) {
	tests := map[string]string{
		`'plain'`:           "plain",
		`'it\'s'`:           "it's",
		`'a\\b'`:            `a\b`,
		`'\n\r\t\b'`:        "\n\r\t\b",
		`'\0'`:              " ", // SqlUnescapeN: '\0' is a space, not a NUL
		`'\x\y'`:            "xy",
		"'raw\nnewline'":    "raw\nnewline",
		`'/путь/файл'`:      "/путь/файл",
		`''`:                "",
		`'\''`:              "'",
		`'with \"double\"'`: `with "double"`,
	}
	for in, want := range tests {
		got, n, ok := readManticoreString(in)
		if !ok || n != len(in) || got != want {
			t.Errorf("%s: got %q (%d bytes, ok %v), want %q", in, got, n, ok, want)
		}
	}
	for _, bad := range []string{`'open`, "'a\\\nb'", `'ends with \'`} {
		if _, _, ok := readManticoreString(bad); ok {
			t.Errorf("%s: read as a string", bad)
		}
	}
	// a doubled quote is two strings: IMPORT TABLE ... FROM 'it''s' fails
	// to parse (issue 18: 1064 P03 from a real searchd)
	toks := lex(`IMPORT TABLE t FROM 'it''s'`, manticoreLex)
	if len(toks) != 7 || toks[4].text != "it" || toks[5].text != "s" {
		t.Errorf("doubled quote: %+v", toks)
	}
}
