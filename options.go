package dbctl

import (
	"io"
	"log/slog"
	"time"
)

// Options configure a Client (Open, New). A nil *Options, and the zero
// value of every field, mean the default written on the field.
type Options struct {
	// Logger receives the client's debug lines (each statement sent, with
	// its duration and error) and warnings (a release that failed). Default
	// (nil): a logger that discards everything. The backup engine (package
	// backup) takes its own Logger in its options.
	Logger *slog.Logger

	// SkipSysAccountCheck turns off the sys-account check of MoCtl. Default
	// (false): the first mo_ctl call of a Client runs "select
	// current_account_name(), current_user_name(), current_role_name()"
	// once (golden matrixone.jsonl record 5) and refuses with
	// ErrNotSysAccount, without sending mo_ctl, unless the account is sys
	// and the role is moadmin. Skip it for mocks that should see only the
	// mo_ctl statements; the server's own privilege error (20101 "do not
	// have privilege") still maps to ErrNotSysAccount. With the check off
	// no round trip is measured, so a checkpoint's margin is its fixed
	// 100 ms (see MoCtl.IncrementalCheckpoint).
	SkipSysAccountCheck bool

	// KeepNameCase sends MatrixOne database and table names to mo_ctl flush
	// as given. Default (false): they are lower-cased first, matching
	// MatrixOne's default lower_case_table_names = 1, under which the
	// catalog stores names in lower case and flush matches them byte for
	// byte (so "Mixed" would otherwise answer 1146 and "DB" the errno-0
	// ExpectedEOB; matrixone.md). Set it only for a server whose catalog
	// keeps case.
	KeepNameCase bool

	// ReleaseTimeout bounds the UNFREEZE that is sent on a fresh context
	// when the caller's context is already cancelled (Freeze cleaning up
	// after a partial failure, WithFrozen always), how long a FREEZE whose
	// connection died is watched for landing, and how long Close waits for
	// pending releases. It never bounds a FREEZE itself: its answer is
	// always awaited (see Manticore.Freeze). Default (<= 0):
	// DefaultReleaseTimeout.
	ReleaseTimeout time.Duration

	// StateDir is the folder of the freeze journal: one small file per
	// freeze that WithFrozen (and so a backup), or a Freeze still in
	// flight, holds, written before the FREEZE is sent and removed once the
	// UNFREEZE is confirmed (or Freeze handed the freeze to its caller).
	// The process keeps each file locked (flock) for as long as the freeze
	// is its own, so a file nobody holds is the freeze of a run that died,
	// which the next WithFrozen, backup or ReleaseOrphanedFreezes on this
	// machine releases (see Manticore.ReleaseOrphanedFreezes).
	//
	// Default (""): $XDG_STATE_HOME/dbctl, else $HOME/.local/state/dbctl,
	// made 0700 when missing. Every dbctl process that names the same
	// folder (and may read its files) shares it: point every tool that
	// freezes the same servers at one folder. A folder that cannot be made
	// or written fails a freeze before anything is sent (ErrStateDir).
	//
	// A Client made with Open journals: the record names the server by the
	// DSN's address ("tcp(127.0.0.1:9306)", never the credentials). A
	// *sql.DB passed to New does not tell its address, so a Client made
	// with New journals only when ServerAddress is set. On systems without
	// flock(2) (Windows) nothing is journaled: a freeze is released by this
	// process as always, and one whose process dies stays until someone
	// unfreezes it (ReleaseOrphanedFreezes and OrphanedFreezes return
	// ErrNotSupported).
	StateDir string

	// ServerAddress names the server a *sql.DB passed to New dials, for
	// the freeze journal (see StateDir): "127.0.0.1:9306" (TCP) or the
	// driver's form "tcp(127.0.0.1:9306)", "unix(/run/searchd.sock)".
	// Give the address every process on this machine uses for that
	// server (the one in their DSNs), so that a record left by one is
	// recognised by the next (a missing port is the driver's default,
	// 3306, as in a DSN). A value that is not an address (a DSN, say)
	// fails the Client's first journaled freeze with ErrInvalidArgument,
	// before anything is sent. Default (""): a Client made with New keeps
	// no journal, so a freeze its process dies holding is not released by
	// the next run; Open takes the DSN's address and ignores this field.
	ServerAddress string

	// MatrixOneTimeZone is the time zone of the MatrixOne server process:
	// the zone RESTORE ... FROM PITR reads its time in and SHOW
	// RECOVERY_WINDOW renders PITR times in (matrixone-recovery.md §7;
	// source pkg/frontend/pitr.go, doResolveTimeStamp). Default (nil):
	// dbctl asks the server for the zone's offset at each instant it
	// converts (one or two short queries per restore, on the operation's
	// own connection; see recovery_zone.go), which is exact across
	// daylight saving time as long as the server's zone database is. Give
	// the IANA zone here (time.LoadLocation) to send no such query.
	MatrixOneTimeZone *time.Location
}

// Defaults, limits and the units of a PITR range.
const (
	// DefaultReleaseTimeout bounds the UNFREEZE that WithFrozen and Freeze
	// send on a fresh context after the caller's context was cancelled, and
	// how long Close waits for pending releases (Options.ReleaseTimeout).
	DefaultReleaseTimeout = 30 * time.Second

	// MaxRangeN is the largest range value the server takes for a PITR
	// (Range.N; capture 208 took 100, 101 is refused, capture 220).
	MaxRangeN = 100

	// ReservedPITRName is the PITR that MatrixOne keeps on mo_catalog while
	// any PITR exists. CREATE refuses it (capture 235, "pitr name is
	// reserved"), but DROP PITR of it succeeds and deletes the server's own
	// PITR (matrixone-recovery.md §6.6), so every operation here refuses it.
	ReservedPITRName = "sys_mo_catalog_pitr"

	// The units of Range.Unit, as MatrixOne stores them (any case is taken
	// on input; captures 204-207, 210). "m", "w", "hour" are refused
	// (captures 224-226).
	RangeHours  = "h"
	RangeDays   = "d"
	RangeMonths = "mo"
	RangeYears  = "y"
)

// options is Options resolved: every default filled in.
type options struct {
	logger           *slog.Logger
	sysAccountCheck  bool
	lowerCaseNames   bool
	releaseTimeout   time.Duration
	moTimeZone       *time.Location // recovery_zone.go
	stateDir         string         // manticore_journal.go
	serverAddress    string         // manticore_journal.go, for New
	serverAddressErr error          // a ServerAddress that is none: the first freeze fails with it
}

func resolveOptions(o *Options) options {
	r := options{
		logger:          slog.New(slog.NewTextHandler(io.Discard, nil)),
		sysAccountCheck: true,
		lowerCaseNames:  true,
		releaseTimeout:  DefaultReleaseTimeout,
	}
	if o == nil {
		return r
	}
	if o.Logger != nil {
		r.logger = o.Logger
	}
	r.sysAccountCheck = !o.SkipSysAccountCheck
	r.lowerCaseNames = !o.KeepNameCase
	if o.ReleaseTimeout > 0 {
		r.releaseTimeout = o.ReleaseTimeout
	}
	r.moTimeZone = o.MatrixOneTimeZone
	r.stateDir = o.StateDir
	r.serverAddress, r.serverAddressErr = journalAddress(o.ServerAddress)
	return r
}
