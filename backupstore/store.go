// Package backupstore is where dbctl backups are kept: a local folder, or
// an object store whose package registers its URL scheme, behind one small
// interface, Store.
//
//	st, err := backupstore.Open(ctx, "/var/backups/manticore", backupstore.Options{})
//	defer st.Close()
//
// Open takes a folder path, or a URL whose scheme a store package
// registered (Register), the way database/sql drivers register on import:
// "s3://bucket/prefix" needs
//
//	import _ "github.com/dbctl/dbctl/backupstore/s3store"
//
// which links the AWS SDK; this package alone does not. Without that import
// Open of an s3:// location fails with ErrNotRegistered, naming the import.
//
// Keys are slash-separated paths relative to the store's root (the folder,
// or the bucket and prefix of an s3:// location): "data/t/t.0.spa",
// "manifest.json". A key never starts or ends with "/", and has no "." or
// ".." element and no empty element (CheckKey).
//
// Every step of a Put or Delete that can fail calls crashpoint.Hit with
// "store.<step> <key>" (internal/crashpoint), so that the backup engine's
// crash campaigns fail and kill there: a folder's Put passes store.create,
// store.write, store.sync, store.rename (store.link and store.remove-temp
// with NoOverwrite) and store.sync-dir; Delete store.delete; reads
// store.get, store.stat, store.list and store.dirs. The S3 steps are in
// backupstore/s3store.
package backupstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"
)

// Store keeps the objects of backups. Implementations are safe for
// concurrent use.
type Store interface {
	// Put stores r's bytes under key, replacing an object of that name,
	// with constant memory whatever the size. The object appears only
	// when complete (a local file is written to a temporary name, synced
	// and renamed; an S3 multipart upload is completed last and aborted on
	// any failure, cancellation included). PutResult has the size and
	// sha256 of the original bytes, computed in the same pass.
	Put(ctx context.Context, key string, r io.Reader, opts PutOptions) (PutResult, error)
	// Get streams the object's stored bytes. ErrNotFound when absent.
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// GetRange streams n stored bytes from offset off (n < 0: to the end).
	GetRange(ctx context.Context, key string, off, n int64) (io.ReadCloser, error)
	// Stat describes one object. ErrNotFound when absent.
	Stat(ctx context.Context, key string) (Info, error)
	// List returns every object whose key starts with prefix ("" for all),
	// at any depth, sorted by key.
	List(ctx context.Context, prefix string) ([]Info, error)
	// Dirs returns the names of the sub-folders (sub-prefixes) directly
	// under dir ("" for the root), sorted, without slashes.
	Dirs(ctx context.Context, dir string) ([]string, error)
	// Delete removes objects; keys that do not exist are not an error.
	Delete(ctx context.Context, keys ...string) error
	// Location is the store's root as Open accepts it: a folder path or
	// "s3://bucket/prefix".
	Location() string
	// Sub returns the store rooted at prefix (a valid key) under this
	// one, sharing its client and limits: "s3://b/p" and "x" give
	// "s3://b/p/x" without a new client or a bucket check. ErrInvalidKey
	// for a bad prefix. Closing a sub-store does not close its parent.
	Sub(prefix string) (Store, error)
	// Close releases what the store holds: nothing for a folder; for S3
	// the connections of the HTTP client it made itself (not those of a
	// client the caller handed in). After Close every call of the store
	// and of its sub-stores fails with ErrClosed. Call it once the store's
	// calls have returned; a second Close returns nil.
	Close() error
}

// PutOptions configure one Put.
type PutOptions struct {
	// Compress stores the bytes as zstd; PutResult.Size and SHA256 stay
	// those of r's bytes.
	Compress bool
	// CompressLevel is the zstd level of Compress, a number as zstd's
	// command line takes it (3 is zstd's default), mapped to the encoder's
	// levels as github.com/klauspost/compress/zstd's EncoderLevelFromZstd
	// does; 0 (and anything below 3) is the fastest.
	CompressLevel int
	// Compressed says r is already zstd: it is stored as it is, and
	// PutResult.Size and SHA256 are of the decompressed bytes, computed by
	// decompressing in the same pass. Not together with Compress.
	Compressed bool
	// SizeHint is the expected size of r's bytes (0: unknown). An S3 store
	// raises the part size when the parts would otherwise exceed the
	// 10,000 parts a multipart upload may have.
	SizeHint int64
	// NoOverwrite fails with ErrExists when the key already holds other
	// bytes, checked atomically by the store: S3's conditional write
	// (If-None-Match: *, on PutObject and CompleteMultipartUpload; AWS S3,
	// MinIO and SeaweedFS honour it, a server that ignores it overwrites),
	// a hard link for a folder. An object found there with exactly the
	// bytes this Put stores (same size and sha256, read back) counts as
	// this Put's own and the Put succeeds: that is how a request whose
	// answer was lost after it landed, retried, is told from another
	// writer's. The store cannot tell two writers of identical bytes
	// apart: callers that must (a claim, a manifest) put something unique
	// in the bytes, as the backup engine does with the backup id.
	NoOverwrite bool
}

// PutResult describes a stored object.
type PutResult struct {
	// Size and SHA256 (hex) are of the original bytes (decompressed for
	// Compressed, uncompressed for Compress).
	Size   int64
	SHA256 string
	// Stored is the number of bytes stored.
	Stored int64
}

// Info describes a stored object.
type Info struct {
	Key      string
	Size     int64 // stored bytes
	Modified time.Time
}

// Options configure Open. The zero value reads everything from the
// environment. A folder uses none of them; the fields are those of the S3
// store (backupstore/s3store), handed to whichever store the location's
// scheme opens.
type Options struct {
	// PartSize is the size of an S3 multipart part in bytes; 0 means
	// DefaultPartSize. S3 wants at least 5 MiB (MinPartSize).
	PartSize int64
	// Concurrency is how many S3 parts are in flight at once across all
	// the store's uploads; 0 means DefaultConcurrency. An S3 store holds
	// at most Concurrency part buffers: memory is PartSize*Concurrency.
	Concurrency int
	// Endpoint overrides AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_S3 and the
	// shared config's endpoint_url, e.g. "http://127.0.0.1:8333". Without
	// a scheme, https is used.
	Endpoint string
	// Region overrides AWS_REGION and the shared config; an endpoint other
	// than AWS without any region uses "us-east-1".
	Region string
	// PathStyle forces path-style addressing (bucket in the path); it is
	// on anyway for any endpoint that is not amazonaws.com.
	PathStyle bool
	// MaxAttempts is how often the S3 client tries a request (0: the SDK
	// default, 3).
	MaxAttempts int
	// Using, when set, is a store the caller opened and keeps (e.g.
	// s3store.New with the caller's own aws.Config, s3store.NewFromClient
	// with its own *s3.Client, or OpenLocal), which Open uses instead of
	// opening one: a location equal to Using.Location() gives Using, one
	// under it Using.Sub, sharing its client, connections and bucket check;
	// the other fields are then ignored. Closing what Open returns does not
	// close Using: the caller closes it once done. A location outside it,
	// or of another kind, is ErrInvalidLocation (using.go).
	Using Store
}

// Defaults of Options.
const (
	DefaultPartSize    = 16 << 20
	MinPartSize        = 5 << 20
	DefaultConcurrency = 4
	maxParts           = 10000
)

// Open returns the store for location: a URL whose scheme a store package
// registered ("s3://bucket[/prefix]" with backupstore/s3store imported:
// credentials, region and endpoint from the environment as the AWS SDK
// reads them, and the bucket checked: ErrBucketNotFound, ErrAccessDenied),
// else a local folder (created by the first Put). A scheme nobody
// registered is ErrNotRegistered, naming the import to add when it is one
// of dbctl's stores. Close the store when done.
func Open(ctx context.Context, location string, opts Options) (Store, error) {
	if opts.Using != nil {
		return within(opts.Using, location)
	}
	if scheme, ok := urlScheme(location); ok {
		open, err := opener(scheme, location)
		if err != nil {
			return nil, err
		}
		return open(ctx, location, opts)
	}
	return OpenLocal(location)
}

// IsRemote reports whether location is a URL ("s3://bucket/prefix", any
// "scheme://") rather than a folder path: Open hands it to the store
// registered for its scheme.
func IsRemote(location string) bool {
	_, ok := urlScheme(location)
	return ok
}

// ParseS3 splits "s3://bucket/prefix" into the bucket and the prefix
// (without leading or trailing slashes; "" for the bucket's root). The
// bucket must follow S3's naming rules (3-63 characters of a-z, 0-9, '.'
// and '-', starting and ending with a letter or digit); the prefix must
// be a valid key. ErrInvalidLocation otherwise. It needs no AWS SDK.
func ParseS3(location string) (bucket, prefix string, err error) {
	if !strings.HasPrefix(strings.ToLower(location), "s3://") {
		return "", "", &Error{Op: "parse location", Key: location, Kind: ErrInvalidLocation, Err: errors.New("want s3://bucket/prefix")}
	}
	rest := location[len("s3://"):]
	bucket, prefix, _ = strings.Cut(rest, "/")
	prefix = strings.TrimSuffix(prefix, "/")
	if !validBucket(bucket) {
		return "", "", &Error{Op: "parse location", Key: location, Kind: ErrInvalidLocation, Err: fmt.Errorf("bad bucket name %q", bucket)}
	}
	if prefix != "" {
		if err := CheckKey(prefix); err != nil {
			return "", "", &Error{Op: "parse location", Key: location, Kind: ErrInvalidLocation, Err: err}
		}
	}
	return bucket, prefix, nil
}

func validBucket(b string) bool {
	if len(b) < 3 || len(b) > 63 {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case (c == '.' || c == '-') && i > 0 && i < len(b)-1:
		default:
			return false
		}
	}
	return !strings.Contains(b, "..")
}

// CheckKey returns an error for a key that could escape the store's root
// or is ambiguous: empty, a leading slash, a backslash or NUL, an empty,
// "." or ".." element. Every Store applies it (ErrInvalidKey).
func CheckKey(key string) error {
	if key == "" || strings.ContainsAny(key, "\\\x00") || strings.HasPrefix(key, "/") || path.Clean(key) != key {
		return fmt.Errorf("bad key %q", key)
	}
	for _, part := range strings.Split(key, "/") {
		if part == "" || part == "." || part == ".." {
			return fmt.Errorf("bad key %q", key)
		}
	}
	return nil
}

// checkPrefix accepts "" or a key, optionally ending in "/".
func CheckPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	return CheckKey(strings.TrimSuffix(prefix, "/"))
}

// Join joins key elements with "/".
func Join(elem ...string) string {
	var parts []string
	for _, e := range elem {
		if e = strings.Trim(e, "/"); e != "" {
			parts = append(parts, e)
		}
	}
	return strings.Join(parts, "/")
}
