package dbctl

import (
	"fmt"
	"strings"
)

// Manticore's rules for table names (manual "Real-time table"; checked
// against 29.2.2, see the reference §4.7): ASCII letters, digits and '_',
// not all digits. Names are stored lower-case and matched case-insensitively;
// a leading digit needs back-ticks, which this package always writes.
// Hyphens, spaces, dots (db.table), quotes, back-ticks and non-ASCII letters
// are parse errors on the server, so they are rejected here before sending.

// ValidateManticoreTable reports whether name is a valid Manticore table
// name. The error wraps ErrInvalidIdentifier and says why.
func ValidateManticoreTable(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty Manticore table name", ErrInvalidIdentifier)
	}
	allDigits := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= '0' && c <= '9':
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
			allDigits = false
		default:
			return fmt.Errorf("%w: Manticore table name %q: character %q at byte %d is not allowed (only ASCII letters, digits and '_')",
				ErrInvalidIdentifier, name, rune(c), i)
		}
	}
	if allDigits {
		return fmt.Errorf("%w: Manticore table name %q is all digits", ErrInvalidIdentifier, name)
	}
	return nil
}

// canonicalManticoreTables validates every name, lower-cases it (Manticore
// stores and reports table names in lower case, so "T" and "t" are one
// table) and drops repeats, keeping the first occurrence's order. Freezing a
// table twice in one statement raises its counter twice; doing it by accident
// through a repeated name would leave a lock that one UNFREEZE does not
// release.
func canonicalManticoreTables(tables []string) ([]string, error) {
	if len(tables) == 0 {
		return nil, ErrNoTables
	}
	out := make([]string, 0, len(tables))
	seen := make(map[string]struct{}, len(tables))
	for _, t := range tables {
		if err := ValidateManticoreTable(t); err != nil {
			return nil, err
		}
		lt := strings.ToLower(t)
		if _, dup := seen[lt]; dup {
			continue
		}
		seen[lt] = struct{}{}
		out = append(out, lt)
	}
	return out, nil
}

// quoteManticoreIdent wraps an already validated name in back-ticks. The
// validation guarantees there is no back-tick inside to escape (Manticore
// has no escape for one).
func quoteManticoreIdent(name string) string {
	return "`" + name + "`"
}

// quoteManticoreList renders validated names as "`a`, `b`".
func quoteManticoreList(names []string) string {
	var b strings.Builder
	for i, n := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quoteManticoreIdent(n))
	}
	return b.String()
}

// validateMoName checks a MatrixOne database or table name for the mo_ctl
// flush argument "db.table[.accountId]". The server splits that argument on
// '.', with no quoting, so a name containing a dot cannot be addressed by
// name at all; it can only be flushed by its numeric id. Any other character
// (quotes and back-ticks included) is passed to the server verbatim inside an
// escaped string literal, which is how the server matches it.
func validateMoName(kind, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty MatrixOne %s name", ErrInvalidIdentifier, kind)
	case strings.Contains(name, "."):
		return fmt.Errorf("%w: MatrixOne %s name %q contains '.', which mo_ctl flush cannot address by name; use FlushTableByID",
			ErrInvalidIdentifier, kind, name)
	case strings.ContainsRune(name, 0):
		return fmt.Errorf("%w: MatrixOne %s name %q contains a NUL byte", ErrInvalidIdentifier, kind, name)
	}
	return nil
}

// QuoteString renders s as a single-quoted SQL string literal as MySQL and
// MatrixOne read it, whether or not the session has NO_BACKSLASH_ESCAPES:
// quotes are doubled (valid in both modes) and backslashes and control bytes
// are escaped the way the default mode reads them. Every MatrixOne statement
// of this package (mo_ctl arguments, PITR times, names in SHOW ... WHERE)
// uses it. It is not for Manticore: searchd does not read a doubled quote
// (use QuoteManticoreString).
func QuoteString(s string) string {
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

// QuoteManticoreString renders s as a string literal as searchd's lexers
// read it, for every string this package sends to Manticore (the path of
// IMPORT TABLE). The token is '([^'\\]|\\.|\\\\)*' in both lexers
// (src/sphinxql.l and src/ddl.l, TOK_QUOTED_STRING), and its text is
// unescaped by SqlUnescape (src/sphinxint.h, SqlUnescapeN): a backslash and
// the byte after it become a backspace, newline, carriage return or tab for
// b, n, r, t, a space for 0, and that byte itself for anything else. So a
// quote and a backslash are written \' and \\, and every other byte,
// control characters and non-ASCII included, stands for itself inside the
// quotes ([^'\\] takes any byte, a newline too). A doubled quote is not an
// escape there: "it's" written with a doubled quote lexes as two strings, a
// syntax error (1064 "P03: syntax error, ..." for IMPORT TABLE, issue 18),
// which is why QuoteString is wrong for Manticore. A NUL byte has no escape
// (\0 reads as a space) and is refused with ErrInvalidArgument; nothing
// else is.
func QuoteManticoreString(s string) (string, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return "", fmt.Errorf("%w: a Manticore string literal cannot hold a NUL byte: %q", ErrInvalidArgument, s)
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
