package dbctl

import (
	"io"
	"log/slog"
	"time"
)

// Option configures a Client. Pass options to Open or New.
type Option func(*options)

type options struct {
	logger          *slog.Logger
	sysAccountCheck bool
	lowerCaseNames  bool
	releaseTimeout  time.Duration
	moTimeZone      *time.Location // WithMatrixOneTimeZone (recovery_zone.go)
	stateDir        string         // WithStateDir (manticore_journal.go)
}

// Defaults, documented on the options that change them.
const (
	// DefaultReleaseTimeout bounds the UNFREEZE that WithFrozen and Freeze
	// send on a fresh context after the caller's context was cancelled, and
	// how long Close waits for pending releases.
	DefaultReleaseTimeout = 30 * time.Second
)

func defaultOptions() options {
	return options{
		logger:          slog.New(slog.NewTextHandler(io.Discard, nil)),
		sysAccountCheck: true,
		lowerCaseNames:  true,
		releaseTimeout:  DefaultReleaseTimeout,
	}
}

// WithLogger sets the logger for the client's debug lines (each statement
// sent, with its duration) and warnings (a release that failed). Default: a
// logger that discards everything. A nil logger keeps the default.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithSysAccountCheck turns the sys-account check of MoCtl on or off.
// Default: on. When on, the first mo_ctl call of a Client runs
// "select current_account_name(), current_user_name(), current_role_name()"
// once and refuses with ErrNotSysAccount, without sending mo_ctl, unless the
// account is sys and the role is moadmin. Turn it off for mocks that should
// see only the mo_ctl statements; the server's own privilege error still maps
// to ErrNotSysAccount.
func WithSysAccountCheck(on bool) Option {
	return func(o *options) { o.sysAccountCheck = on }
}

// WithLowerCaseNames controls whether MoCtl lower-cases database and table
// names before building the flush argument. Default: on, matching
// MatrixOne's default lower_case_table_names = 1, under which the catalog
// stores names in lower case and mo_ctl flush matches them byte for byte (so
// "Mixed" would otherwise answer 1146 and "DB" the errno-0 ExpectedEOB).
// Turn it off only for a server whose catalog keeps case.
func WithLowerCaseNames(on bool) Option {
	return func(o *options) { o.lowerCaseNames = on }
}

// WithReleaseTimeout bounds the UNFREEZE that is sent on a fresh context when
// the caller's context is already cancelled (Freeze cleaning up after a
// partial failure, WithFrozen always), how long a FREEZE whose connection
// died is watched for landing, and how long Close waits for pending
// releases. It never bounds a FREEZE itself: its answer is always awaited
// (see Freeze). Default: DefaultReleaseTimeout. Values <= 0 keep the
// default.
func WithReleaseTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.releaseTimeout = d
		}
	}
}
