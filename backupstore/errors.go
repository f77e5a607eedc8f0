package backupstore

import (
	"errors"
	"strings"
)

// Sentinel errors; test with errors.Is. Every error of this package is an
// *Error wrapping at most one of them and the cause (for S3, the SDK's
// error, which errors.As finds as a smithy.APIError).
var (
	// ErrNotFound: the object (or local file) does not exist.
	ErrNotFound = errors.New("dbctl: backupstore: object not found")
	// ErrExists: a Put with NoOverwrite found the key holding other bytes
	// (S3: 412 PreconditionFailed, and the object read back differs).
	ErrExists = errors.New("dbctl: backupstore: object exists")
	// ErrBucketNotFound: the S3 bucket does not exist.
	ErrBucketNotFound = errors.New("dbctl: backupstore: bucket not found")
	// ErrAccessDenied: the server refused the credentials (unknown access
	// key, bad signature, expired token) or the permission.
	ErrAccessDenied = errors.New("dbctl: backupstore: access denied")
	// ErrInvalidLocation: a location that is neither a folder nor
	// s3://bucket/prefix with a valid bucket name and prefix.
	ErrInvalidLocation = errors.New("dbctl: backupstore: invalid location")
	// ErrInvalidKey: a key with an empty, "." or ".." element, a leading
	// slash or a backslash.
	ErrInvalidKey = errors.New("dbctl: backupstore: invalid key")
	// ErrInvalidOptions: PutOptions or Options that cannot work together
	// (a part size under MinPartSize, Compress with Compressed).
	ErrInvalidOptions = errors.New("dbctl: backupstore: invalid options")
	// ErrNetwork: the connection to the object store failed (refused,
	// reset, cut mid-request) after the client's retries.
	ErrNetwork = errors.New("dbctl: backupstore: network error")
	// ErrUnavailable: the object store answered that it cannot serve the
	// request now (HTTP 5xx such as 500 InternalError and 503
	// ServiceUnavailable or SlowDown, 429 or another throttling answer)
	// after the client's retries: the store is in trouble, not the object.
	ErrUnavailable = errors.New("dbctl: backupstore: store unavailable")
	// ErrCorrupt: bytes are damaged: a compressed object that is not zstd,
	// or a body the server found not to match its sha256 checksum
	// (BadDigest).
	ErrCorrupt = errors.New("dbctl: backupstore: corrupt object")
	// ErrNotRegistered: Open of a "scheme://" location whose store package
	// is not linked in; for s3:// the message names the import to add,
	// import _ "github.com/dbctl/dbctl/backupstore/s3store".
	ErrNotRegistered = errors.New("dbctl: backupstore: scheme not registered")
	// ErrClosed: a call of a store (or of a sub-store of one) after its
	// Close.
	ErrClosed = errors.New("dbctl: backupstore: store closed")
)

// Error is the error of every operation of this package.
type Error struct {
	// Op is the operation, e.g. "put", "get", "open".
	Op string
	// Key is the object key or location.
	Key string
	// Kind is one of the sentinels, or nil.
	Kind error
	// Err is the cause, or nil.
	Err error
}

// Error renders "dbctl: backupstore: <op> <key>: <kind>: <err>".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("dbctl: backupstore: ")
	b.WriteString(e.Op)
	if e.Key != "" {
		b.WriteString(" ")
		b.WriteString(e.Key)
	}
	if e.Kind != nil {
		b.WriteString(": ")
		b.WriteString(strings.TrimPrefix(e.Kind.Error(), "dbctl: backupstore: "))
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(strings.TrimPrefix(strings.TrimPrefix(e.Err.Error(), "dbctl: backupstore: "), "dbctl: "))
	}
	return b.String()
}

// Unwrap returns Kind and Err.
func (e *Error) Unwrap() []error {
	out := make([]error, 0, 2)
	if e.Kind != nil {
		out = append(out, e.Kind)
	}
	if e.Err != nil {
		out = append(out, e.Err)
	}
	return out
}

// wrap returns err as an *Error unless it already is one.
func wrap(op, key string, kind, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) && kind == nil {
		return err
	}
	return &Error{Op: op, Key: key, Kind: kind, Err: err}
}
