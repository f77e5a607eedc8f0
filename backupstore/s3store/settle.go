package s3store

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/dbctl/dbctl/backupstore"
)

// sent describes the bytes a Put stored: their size and the sha256 of
// each part (of partSize bytes, the last one shorter), computed anyway for
// the checksum headers; a single PutObject is one part.
type sent struct {
	size     int64
	partSize int64
	sums     [][32]byte
}

// settle decides a Put whose last request failed with perr. A request the
// server refused outright (credentials, checksum, bucket) stored nothing.
// Any other may have landed: an answer lost after the write, or a 5xx
// after the server stored the object, then the SDK's retry meeting the
// object (412 with NoOverwrite; NoSuchUpload for a completed upload). The
// object is read back: when it holds exactly the bytes sent, it is this
// Put's own and settle returns nil; otherwise perr stands (ErrExists for
// another writer's bytes). A cancelled ctx gets a fresh deadline.
func (s *Store) settle(ctx context.Context, key, k string, perr error, want *sent) error {
	if definite(perr) {
		return perr
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	same, err := s.holds(cctx, key, k, want)
	switch {
	case same:
		return nil
	case err != nil:
		return errors.Join(perr, fmt.Errorf("reading the object back to tell whether the write landed: %w", err))
	}
	return perr
}

// holds reports whether object k holds the bytes want describes: its size,
// then the sha256 of each part as it is read.
func (s *Store) holds(ctx context.Context, key, k string, want *sent) (bool, error) {
	if err := hit("read-back", key); err != nil {
		return false, err
	}
	out, err := s.c.client.GetObject(ctx, &s3.GetObjectInput{Bucket: s.c.in(), Key: aws.String(k)}, s.c.opts()...)
	if err != nil {
		if classify(err) == backupstore.ErrNotFound {
			return false, nil
		}
		return false, err
	}
	defer out.Body.Close()
	if out.ContentLength != nil && *out.ContentLength != want.size {
		return false, nil
	}
	h := sha256.New()
	var total int64
	for _, sum := range want.sums {
		h.Reset()
		n, err := io.CopyN(h, out.Body, want.partSize)
		total += n
		if err != nil && err != io.EOF {
			return false, err
		}
		if [32]byte(h.Sum(nil)) != sum {
			return false, nil
		}
	}
	// nothing beyond the parts
	if n, err := io.Copy(io.Discard, out.Body); err != nil {
		return false, err
	} else {
		total += n
	}
	return total == want.size, nil
}

// create starts a multipart upload of k and returns its id. Not cancelled
// with ctx: a create cancelled on the client may still succeed on the
// server, leaving an upload whose id we never learn. When the request was
// retried, or failed without a definite answer, an earlier attempt may
// have made such an upload all the same: sweep aborts them.
func (s *Store) create(ctx context.Context, key, k string) (string, error) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if err := hit("create-upload", key); err != nil {
		return "", err
	}
	var attempts atomic.Int32
	out, err := s.c.client.CreateMultipartUpload(cctx, &s3.CreateMultipartUploadInput{Bucket: s.c.in(), Key: aws.String(k),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256}, s.c.opts(countAttempts(&attempts))...)
	if err != nil {
		if !definite(err) {
			if serr := s.sweep(cctx, key, k, ""); serr != nil {
				err = errors.Join(err, serr)
			}
		}
		return "", err
	}
	id := aws.ToString(out.UploadId)
	started(s.c.bucket, k, id)
	if attempts.Load() > 1 {
		if err := s.sweep(cctx, key, k, id); err != nil {
			finished(s.c.bucket, k, id)
			return "", errors.Join(err, s.abort(ctx, key, k, id))
		}
	}
	return id, nil
}

// sweep aborts the unfinished uploads of exactly k that no Put of this
// process runs (keep is the caller's own).
func (s *Store) sweep(ctx context.Context, key, k, keep string) error {
	ups, err := s.uploads(ctx, k, k)
	if err != nil {
		return err
	}
	var errs []error
	for _, u := range ups {
		if u.UploadID == keep || running(s.c.bucket, k, u.UploadID) {
			continue
		}
		errs = append(errs, s.abort(ctx, key, k, u.UploadID))
	}
	return errors.Join(errs...)
}

// abort aborts upload id of k, with a fresh deadline when ctx is done. An
// upload that is gone already (NoSuchUpload: aborted, or completed by a
// request whose answer was lost) is no error.
func (s *Store) abort(ctx context.Context, key, k, id string) error {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if err := hit("abort-upload", key); err != nil {
		return fmt.Errorf("abort multipart upload %s: %w", id, err)
	}
	_, err := s.c.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{Bucket: s.c.in(),
		Key: aws.String(k), UploadId: aws.String(id)}, s.c.opts()...)
	if err == nil || classify(err) == backupstore.ErrNotFound {
		return nil
	}
	if !definite(err) {
		// the abort may have landed (its answer lost): is the upload gone?
		if ups, lerr := s.uploads(actx, k, k); lerr == nil && !hasUpload(ups, id) {
			return nil
		}
	}
	return fmt.Errorf("abort multipart upload %s: %w", id, err)
}

func hasUpload(ups []Upload, id string) bool {
	for _, u := range ups {
		if u.UploadID == id {
			return true
		}
	}
	return false
}

// inflight holds the uploads the Puts of this process run
// ("bucket\x00key\x00id"), which a sweep leaves alone.
var inflight sync.Map

func started(bucket, k, id string)  { inflight.Store(bucket+"\x00"+k+"\x00"+id, true) }
func finished(bucket, k, id string) { inflight.Delete(bucket + "\x00" + k + "\x00" + id) }
func running(bucket, k, id string) bool {
	_, ok := inflight.Load(bucket + "\x00" + k + "\x00" + id)
	return ok
}
