// Package sqllit writes string literals the way the servers dbctl talks to
// read them: Quote for MySQL and MatrixOne, QuoteManticore for searchd. The
// root package builds every literal it sends with them, and dbctltest's
// fuzz tests read them back through the emulators' lexers.
//
//	lit := sqllit.Quote("db1.t'x") // 'db1.t''x'
package sqllit

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNUL: a Manticore string literal cannot hold a NUL byte (searchd reads
// \0 as a space). The root package reports it as dbctl.ErrInvalidArgument.
var ErrNUL = errors.New("a Manticore string literal cannot hold a NUL byte")

// Quote renders s as a single-quoted SQL string literal as MySQL and
// MatrixOne read it, whether or not the session has NO_BACKSLASH_ESCAPES:
// quotes are doubled (valid in both modes) and backslashes and control bytes
// are escaped the way the default mode reads them. Every MatrixOne statement
// of dbctl (mo_ctl arguments, PITR times, names in SHOW ... WHERE) uses it.
// It is not for Manticore: searchd does not read a doubled quote (use
// QuoteManticore).
func Quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\'':
			b.WriteString("''")
		case '\\':
			b.WriteString(`\\`)
		case 0:
			b.WriteString(`\0`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case 0x1a:
			b.WriteString(`\Z`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// QuoteManticore renders s as a string literal as searchd's lexers read
// it, for every string dbctl sends to Manticore (the path of IMPORT
// TABLE). The token is '([^'\\]|\\.|\\\\)*' in both lexers (src/sphinxql.l
// and src/ddl.l, TOK_QUOTED_STRING), and its text is unescaped by
// SqlUnescape (src/sphinxint.h, SqlUnescapeN): a backslash and the byte
// after it become a backspace, newline, carriage return or tab for b, n, r,
// t, a space for 0, and that byte itself for anything else. So a quote and
// a backslash are written \' and \\, and every other byte, control
// characters and non-ASCII included, stands for itself inside the quotes
// ([^'\\] takes any byte, a newline too). A doubled quote is not an escape
// there: "it's" written with a doubled quote lexes as two strings, a syntax
// error (1064 "P03: syntax error, ..." for IMPORT TABLE, issue 18), which is
// why Quote is wrong for Manticore. A NUL byte has no escape (\0 reads as a
// space) and is refused with ErrNUL; nothing else is.
func QuoteManticore(s string) (string, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return "", fmt.Errorf("%w: %q", ErrNUL, s)
	}
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '\'' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('\'')
	return b.String(), nil
}
