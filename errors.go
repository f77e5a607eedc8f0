package dbctl

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Sentinel errors for the conditions callers branch on. Test for them with
// errors.Is: every error returned by this package wraps at most one of them,
// and also wraps the server's *mysql.MySQLError when the server sent one.
var (
	// ErrNotSysAccount: mo_ctl is allowed only for the sys account with the
	// moadmin role. Returned by the client-side check before anything is sent
	// and for the server's own privilege error (20101 "do not have privilege").
	ErrNotSysAccount = errors.New("dbctl: mo_ctl requires the sys account with the moadmin role")

	// ErrInvalidIdentifier: a table or database name was rejected before any
	// SQL was sent.
	ErrInvalidIdentifier = errors.New("dbctl: invalid identifier")

	// ErrInvalidArgument: an argument other than a name was rejected before
	// any SQL was sent (a negative cutoff, an empty mo_ctl service, ...).
	ErrInvalidArgument = errors.New("dbctl: invalid argument")

	// ErrNoTables: an operation that needs at least one table got none.
	ErrNoTables = errors.New("dbctl: no tables given")

	// ErrTableNotFound: the server does not know the table (or the database,
	// or the account), or the table is not of a type the operation works on
	// (FREEZE of a plain or distributed table, FLUSH RAMCHUNK of a
	// percolate table).
	ErrTableNotFound = errors.New("dbctl: table not found")

	// ErrTableExists: the target table of an import already exists.
	ErrTableExists = errors.New("dbctl: table already exists")

	// ErrTableFrozen: the server refused because the table is frozen
	// ("Can't optimize frozen table").
	ErrTableFrozen = errors.New("dbctl: table is frozen")

	// ErrEmptyResult: mo_ctl answered with an empty "result" array, or a
	// statement that must return a row returned none.
	ErrEmptyResult = errors.New("dbctl: empty result")

	// ErrUnexpectedResult: the server answered with a shape this package does
	// not understand. The message carries the raw value.
	ErrUnexpectedResult = errors.New("dbctl: unexpected result")

	// ErrNotSupported: MatrixOne refused the mo_ctl service or command
	// (20105 "not supported", 20424 "wrong service"); or this system
	// cannot do the operation (backup.Create where there is no flock(2),
	// refused before anything is sent).
	ErrNotSupported = errors.New("dbctl: not supported")

	// ErrServerTimeout: the server gave up on its own deadline (the timeout
	// parameter of a MatrixOne checkpoint ran out).
	ErrServerTimeout = errors.New("dbctl: server-side timeout")

	// ErrSnapshotNotFound: MatrixOne has no snapshot of that name visible to
	// the session ("snapshot x does not exist", "find 0 snapshot records by
	// name(x)"); a snapshot another account made is invisible too.
	ErrSnapshotNotFound = errors.New("dbctl: snapshot not found")

	// ErrPITRNotFound: MatrixOne has no PITR of that name visible to the
	// session ("pitr x does not exist").
	ErrPITRNotFound = errors.New("dbctl: PITR not found")

	// ErrAlreadyExists: a snapshot or PITR of that name exists, or the object
	// already has a PITR ("... already exists", "... already has a pitr").
	ErrAlreadyExists = errors.New("dbctl: already exists")

	// ErrPermissionDenied: the session may not run the statement ("do not
	// have privilege", "only sys tenant can ...", "non-sys account can't
	// ..."). MatrixOne checks privileges before anything else, so nothing
	// changed.
	ErrPermissionDenied = errors.New("dbctl: permission denied")

	// ErrOutcomeUnknown: a statement that changes state was sent, and the
	// caller's context ended (or the connection broke) before its answer
	// came; the server may still apply it (MatrixOne restores and mo_ctl
	// flush/checkpoints, Manticore statements blocked by a freeze run to the
	// end whether or not their client waits). The error also wraps the
	// context's error (errors.Is(err, context.DeadlineExceeded) holds) and
	// says what to check.
	ErrOutcomeUnknown = errors.New("dbctl: outcome unknown: the server may still apply the statement")

	// ErrMoCtlFailed: MatrixOne ran the mo_ctl command and its answer says
	// it failed: a "returnStr" other than "OK" (matrixone.md §4.3, §5). The
	// *MoCtlResult is returned together with the error: its ReturnStrs and
	// Raw hold what the server said.
	ErrMoCtlFailed = errors.New("dbctl: mo_ctl command failed")

	// ErrFreezeOutcomeUnknown: the connection died while a FREEZE was in
	// flight, so whether searchd ran it (or still will: it runs a FREEZE
	// whose client has gone) is unknown. A releaser watches the counters
	// for the release timeout and unfreezes the tables if it lands; after
	// that, its journal record (see Options.StateDir) is left for the next
	// run on this machine (ReleaseOrphanedFreezes), which releases it once
	// the counters show that it landed.
	ErrFreezeOutcomeUnknown = errors.New("dbctl: FREEZE outcome unknown")

	// ErrStateDir: the freeze journal's folder (Options.StateDir, default
	// $XDG_STATE_HOME/dbctl or ~/.local/state/dbctl) cannot be made, read
	// or written. Nothing was frozen: a freeze that could not be recorded
	// is not taken. Move the folder with Options.StateDir (CLI:
	// --state-dir) or XDG_STATE_HOME.
	ErrStateDir = errors.New("dbctl: freeze journal folder unusable")
)

// OpError is the error returned by every operation of this package. It
// names the operation ("manticore freeze t", "mo_ctl flush db.t") and wraps
// both the sentinel that classifies it (Kind) and the underlying cause
// (Err), which is a *mysql.MySQLError when the server answered with one.
type OpError struct {
	// Op names the operation and its subject, e.g. "manticore freeze a, b".
	Op string
	// Kind is one of the package's sentinel errors, or nil.
	Kind error
	// Detail says what was wrong in words, e.g. "tables not frozen: x".
	Detail string
	// Err is the underlying error, or nil.
	Err error
}

// Error renders "dbctl: <op>: <kind>: <detail>: <err>", leaving out the
// parts that are empty.
func (e *OpError) Error() string {
	var b strings.Builder
	b.WriteString("dbctl: ")
	b.WriteString(e.Op)
	if e.Kind != nil {
		b.WriteString(": ")
		b.WriteString(strings.TrimPrefix(e.Kind.Error(), "dbctl: "))
	}
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	if e.Err != nil {
		b.WriteString(": ")
		// A wrapped error of this package already says "dbctl:" once.
		b.WriteString(strings.TrimPrefix(e.Err.Error(), "dbctl: "))
	}
	return oneLine(b.String())
}

// oneLine returns msg with control characters (a newline too) and invalid
// UTF-8 escaped as in a Go string literal: an error holds what a caller
// passed (a table name, a path) before it was validated, and the server's
// and the system's texts, and must stay one line of a log whatever they
// hold. Joined errors (errors.Join) are written "...\n..." on that line.
func oneLine(msg string) string {
	if utf8.ValidString(msg) && strings.IndexFunc(msg, func(r rune) bool { return !unicode.IsPrint(r) && r != ' ' }) < 0 {
		return msg
	}
	var b strings.Builder
	for i := 0; i < len(msg); {
		r, n := utf8.DecodeRuneInString(msg[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, msg[i])
		case unicode.IsPrint(r) || r == ' ':
			b.WriteString(msg[i : i+n])
		default:
			q := strconv.QuoteRune(r) // 'x' with the escape inside
			b.WriteString(q[1 : len(q)-1])
		}
		i += n
	}
	return b.String()
}

// Unwrap returns Kind and Err so that errors.Is and errors.As see both.
func (e *OpError) Unwrap() []error {
	out := make([]error, 0, 2)
	if e.Kind != nil {
		out = append(out, e.Kind)
	}
	if e.Err != nil {
		out = append(out, e.Err)
	}
	return out
}

func opErr(op string, kind error, detail string, err error) *OpError {
	return &OpError{Op: op, Kind: kind, Detail: detail, Err: err}
}

// quoteForMessage renders a server value for an error message: quoted, and
// cut to a length that keeps messages readable.
func quoteForMessage(s string) string {
	const max = 512
	if len(s) > max {
		s = s[:max] + "..."
	}
	return strconv.Quote(s)
}
