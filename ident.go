package dbctl

import (
	"fmt"
	"strings"
	"unicode/utf8"
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
			r, _ := utf8.DecodeRuneInString(name[i:]) // the character, not its first byte
			return fmt.Errorf("%w: Manticore table name %q: character %q at byte %d is not allowed (only ASCII letters, digits and '_')",
				ErrInvalidIdentifier, name, r, i)
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
