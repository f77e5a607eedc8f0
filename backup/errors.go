package backup

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/dbctl/dbctl"
	"github.com/go-sql-driver/mysql"
)

// Sentinels of the backup engine, for errors.Is. Every error this package
// returns is a *dbctl.OpError ("dbctl: <op>: <kind>: <detail>: <cause>")
// wrapping at most one sentinel, of this package or of dbctl
// (dbctl.ErrInvalidArgument, dbctl.ErrTableNotFound, dbctl.ErrNoTables,
// dbctl.ErrTableExists, dbctl.ErrUnexpectedResult), and the cause.
var (
	// ErrExists: the target of Create (a folder, or a prefix holding a
	// manifest.json or another backup's claim) already exists; backups are
	// never overwritten.
	ErrExists = errors.New("dbctl: backup already exists")
	// ErrInvalid: the backup's manifest is missing, unreadable, of an
	// unknown format, or names a path outside the backup.
	ErrInvalid = errors.New("dbctl: invalid backup")
	// ErrCorrupt: a file of the backup is missing, truncated, or does
	// not have the checksum the manifest records. The error joins one
	// *FileError per bad file.
	ErrCorrupt = errors.New("dbctl: corrupt backup")
	// ErrDataDirNotEmpty: Restore refuses a data_dir with files in it
	// unless RestoreOptions.Overwrite is set.
	ErrDataDirNotEmpty = errors.New("dbctl: data_dir is not empty")
	// ErrSourceChanged: a file the backup read after the unfreeze (through
	// its hard link in the staging folder) or copied inside the freeze is
	// not the file that was there at the freeze: its size or mtime changed,
	// or its path now names another inode. The backup fails rather than
	// keep bytes of unknown age; the error joins a *SourceChangedError
	// naming the file.
	ErrSourceChanged = errors.New("dbctl: source file changed behind the backup")
	// ErrServerRunning: Restore found the target data_dir held by a
	// running searchd (its binlog/binlog.lock, or a <table>/<table>.lock,
	// locked). Restoring under a live daemon corrupts both: it rewrites
	// manticore.json and the tables' files on its own schedule. Stop
	// searchd first.
	ErrServerRunning = errors.New("dbctl: searchd is running on the data_dir")
	// ErrRestoreRunning: another Restore is running into the data_dir
	// (its restore folder's marker is locked by a live process).
	ErrRestoreRunning = errors.New("dbctl: another restore is running into the data_dir")
)

// FileError reports one bad file of a backup.
type FileError struct {
	// Path is the file's manifest path.
	Path string
	// Problem says what is wrong: "missing", "truncated", "too long",
	// "checksum mismatch", "unreadable".
	Problem string
	Err     error
}

// Error implements error.
func (e *FileError) Error() string {
	s := "dbctl: backup file " + e.Path + ": " + e.Problem
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying error, if any.
func (e *FileError) Unwrap() error { return e.Err }

// SourceChangedError names a source file whose identity changed during the
// backup.
type SourceChangedError struct {
	// Path is the file's manifest path ("data/<table>/<file>").
	Path string
	// Source is the server's path of the file.
	Source string
	// Want is the identity recorded at the freeze, Got the one found.
	Want, Got FileIdentity
	// Gone: the file no longer exists (its table was dropped by another
	// client during the freeze, which searchd allows); Got is then zero.
	Gone bool
}

// Error implements error.
func (e *SourceChangedError) Error() string {
	if e.Gone {
		return fmt.Sprintf("dbctl: %s (%s) was removed behind the backup (was its table dropped?): at the freeze inode %d, %d bytes",
			e.Path, e.Source, e.Want.Ino, e.Want.Size)
	}
	return fmt.Sprintf("dbctl: %s (%s) changed behind the backup: at the freeze inode %d, %d bytes, mtime %d; now inode %d, %d bytes, mtime %d",
		e.Path, e.Source, e.Want.Ino, e.Want.Size, e.Want.MtimeNs, e.Got.Ino, e.Got.Size, e.Got.MtimeNs)
}

// Unwrap makes errors.Is(err, ErrSourceChanged) true.
func (e *SourceChangedError) Unwrap() error { return ErrSourceChanged }

// opErr is the *dbctl.OpError every failure of this package is.
func opErr(op string, kind error, detail string, err error) *dbctl.OpError {
	return &dbctl.OpError{Op: op, Kind: kind, Detail: detail, Err: err}
}

// isServerError reports whether err carries the server's own answer (as
// opposed to a network or context failure).
func isServerError(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me)
}

// quoteForMessage renders a value for an error message: quoted, and cut to
// a length that keeps messages readable (as dbctl's own messages do).
func quoteForMessage(s string) string {
	const max = 512
	if len(s) > max {
		s = s[:max] + "..."
	}
	return strconv.Quote(s)
}
