// Package s3store is the backupstore.Store of S3-compatible object storage
// (AWS S3, MinIO, Ceph RGW, SeaweedFS, R2, ...), on aws-sdk-go-v2.
// Importing it registers the "s3" scheme with backupstore.Open:
//
//	import _ "github.com/dbctl/dbctl/backupstore/s3store"
//
//	st, err := backupstore.Open(ctx, "s3://backups/manticore", backupstore.Options{})
//	defer st.Close()
//
// It is a package of its own so that programs that do not keep backups in
// S3 link none of the AWS SDK. Open reads credentials, region and
// endpoint from the environment as the AWS CLI does; New takes the
// caller's aws.Config, NewFromClient the caller's *s3.Client.
//
// A store makes one S3 client (one connection pool) and checks the bucket
// once (HeadBucket); Sub gives stores for sub-prefixes sharing both, so
// listing 50 backups costs a list and two requests per backup, not a
// client and a HeadBucket each. Close closes the connections of the
// client the store made.
//
// Writes are idempotent. A Put whose last request fails (PutObject or
// CompleteMultipartUpload: an answer lost after the write landed, a 5xx
// after the server stored it, then the SDK's retry meeting the object
// with 412, or NoSuchUpload for a completed upload) reads the object back
// and compares its size and the sha256 of each part with what it sent:
// the same bytes are this Put's own and the Put succeeds; other bytes are
// another writer's (ErrExists with NoOverwrite) or the old object, and the
// Put fails having left nothing. A CreateMultipartUpload that was retried,
// or failed without a definite answer, may have made an upload whose id
// was never learnt: the unfinished uploads of that key that no Put of
// this process owns are aborted. Two processes writing the same key at
// the same time are not supported (the backup engine's claim on its
// prefix rules that out).
//
// Crash points (internal/crashpoint), each before its request, with the
// key: store.head-bucket, store.put-object, store.create-upload,
// store.upload-part, store.complete-upload, store.abort-upload,
// store.list-uploads, store.read-back, store.get, store.stat, store.list,
// store.dirs, store.delete.
package s3store

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/dbctl/dbctl/backupstore"
	"github.com/dbctl/dbctl/internal/crashpoint"
)

func init() {
	backupstore.Register("s3", func(ctx context.Context, location string, opts backupstore.Options) (backupstore.Store, error) {
		st, err := Open(ctx, location, opts)
		if err != nil {
			return nil, err
		}
		return st, nil
	})
}

// Store is a backupstore.Store in an S3 bucket under a prefix. It is safe
// for concurrent use.
type Store struct {
	c      *conn
	prefix string // "" or "a/b" (no slashes around)
	root   bool   // made by Open, New or NewFromClient: Close closes c
}

// conn is what a store and its sub-stores share: the client, the part
// buffers and the closed state.
type conn struct {
	client   *s3.Client
	bucket   string
	partSize int64
	tokens   chan struct{} // one per part buffer in use
	free     chan []byte   // part buffers of partSize for reuse
	call     []func(*s3.Options)
	dials    *dialTracker // nil: the HTTP client is the caller's
	closed   atomic.Bool
	once     sync.Once
}

// cleanupTimeout bounds the requests that undo or settle a failed upload
// (abort, read back) when the caller's context is already cancelled.
const cleanupTimeout = time.Minute

var _ backupstore.Store = (*Store)(nil)

// Location implements backupstore.Store: "s3://bucket/prefix".
func (s *Store) Location() string { return "s3://" + backupstore.Join(s.c.bucket, s.prefix) }

// Bucket is the bucket of the store's objects.
func (s *Store) Bucket() string { return s.c.bucket }

// Prefix is the key prefix of the store's objects ("" or "a/b").
func (s *Store) Prefix() string { return s.prefix }

// Client is the S3 client the store uses (shared by its sub-stores).
func (s *Store) Client() *s3.Client { return s.c.client }

// Sub implements backupstore.Store: the store at prefix under this one,
// with the same client, part buffers and bucket check.
func (s *Store) Sub(prefix string) (backupstore.Store, error) {
	if err := backupstore.CheckKey(prefix); err != nil {
		return nil, &backupstore.Error{Op: "sub", Key: prefix, Kind: backupstore.ErrInvalidKey, Err: err}
	}
	return &Store{c: s.c, prefix: backupstore.Join(s.prefix, prefix)}, nil
}

// Close implements backupstore.Store. On the store Open, New or
// NewFromClient returned, it closes every connection of the HTTP client
// the store made (none of a client the caller handed in), and any later
// call of the store or its sub-stores fails with ErrClosed; on a
// sub-store it does nothing.
func (s *Store) Close() error {
	if !s.root {
		return nil
	}
	s.c.once.Do(func() {
		s.c.closed.Store(true)
		if s.c.dials != nil {
			s.c.dials.closeAll()
		}
	})
	return nil
}

// key checks key and returns the object key under the prefix; an error is
// op's (ErrInvalidKey, ErrClosed).
func (s *Store) key(op, key string) (string, error) {
	if err := backupstore.CheckKey(key); err != nil {
		return "", &backupstore.Error{Op: op, Key: key, Kind: backupstore.ErrInvalidKey, Err: err}
	}
	if err := s.open(op, key); err != nil {
		return "", err
	}
	return backupstore.Join(s.prefix, key), nil
}

// open fails with ErrClosed after Close.
func (s *Store) open(op, key string) error {
	if s.c.closed.Load() {
		return &backupstore.Error{Op: op, Key: key, Kind: backupstore.ErrClosed}
	}
	return nil
}

// full is the key prefix under the store's prefix.
func (s *Store) full(prefix string) string {
	if s.prefix == "" {
		return prefix
	}
	return s.prefix + "/" + prefix
}

// hit is the crash point before a request (package doc).
func hit(step, subject string) error {
	if err := crashpoint.Hit("store." + step + " " + subject); err != nil {
		return fmt.Errorf("%s: %w", step, err)
	}
	return nil
}

// opts returns the per-call options of every request, with extra ones.
func (c *conn) opts(extra ...func(*s3.Options)) []func(*s3.Options) {
	return append(append(make([]func(*s3.Options), 0, len(c.call)+len(extra)), c.call...), extra...)
}

// in returns the bucket as the SDK takes it.
func (c *conn) in() *string { return aws.String(c.bucket) }
