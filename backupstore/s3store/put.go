package s3store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/middleware"
	"github.com/dbctl/dbctl/backupstore"
)

const maxParts = 10000

// buffer waits for a free part buffer of size (the store's part size, or a
// larger one for a very large object).
func (c *conn) buffer(ctx context.Context, size int64) ([]byte, error) {
	select {
	case c.tokens <- struct{}{}:
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
	if size == c.partSize {
		select {
		case b := <-c.free:
			return b, nil
		default:
		}
	}
	return make([]byte, size), nil
}

func (c *conn) release(b []byte) {
	if int64(len(b)) == c.partSize {
		select {
		case c.free <- b:
		default:
		}
	}
	<-c.tokens
}

// bodySum hashes a request body once, for the checksum header
// (x-amz-checksum-sha256, base64), the SigV4 payload hash (hex), which the
// SDK would otherwise compute again over plain HTTP, and the read-back
// comparison (raw).
func bodySum(b []byte) (sum [32]byte, checksum string, payload func(*s3.Options)) {
	sum = sha256.Sum256(b)
	hexSum := hex.EncodeToString(sum[:])
	return sum, base64.StdEncoding.EncodeToString(sum[:]), func(o *s3.Options) {
		o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
			return stack.Finalize.Insert(middleware.FinalizeMiddlewareFunc("dbctlPayloadHash",
				func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
					return next.HandleFinalize(v4.SetPayloadHash(ctx, hexSum), in)
				}), (*v4.ComputePayloadSHA256)(nil).ID(), middleware.Before)
		})
	}
}

// countAttempts counts the attempts of one request (the SDK retries).
func countAttempts(n *atomic.Int32) func(*s3.Options) {
	return func(o *s3.Options) {
		o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
			return stack.Finalize.Insert(middleware.FinalizeMiddlewareFunc("dbctlAttempts",
				func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
					n.Add(1)
					return next.HandleFinalize(ctx, in)
				}), "Retry", middleware.After)
		})
	}
}

// Put implements backupstore.Store. An object smaller than a part is one
// PutObject; a larger one a multipart upload, parts read one after the
// other into the store's part buffers and sent concurrently, each with
// its sha256 as the part checksum (x-amz-checksum-sha256). Any failure,
// cancellation included, aborts the multipart upload (with a fresh
// deadline when ctx is done). A failed last request is settled by reading
// the object back (package doc): the Put succeeds when the object holds
// its bytes, else fails having left nothing of its own.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, opts backupstore.PutOptions) (res backupstore.PutResult, err error) {
	k, err := s.key("put", key)
	if err != nil {
		return res, err
	}
	src, err := backupstore.NewPutStream(key, r, opts)
	if err != nil {
		return res, err
	}
	defer func() {
		if err != nil {
			src.Abort(err)
			err = wrap("put", key, classify(err), err)
		}
	}()
	partSize := s.c.partSize
	if opts.SizeHint > partSize*(maxParts-1) {
		partSize = (opts.SizeHint + maxParts - 2) / (maxParts - 1)
	}
	in := ctxReader{ctx, src}
	buf, err := s.c.buffer(ctx, partSize)
	if err != nil {
		return res, err
	}
	n, rerr := io.ReadFull(in, buf)
	if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
		defer s.c.release(buf)
		if res, err = src.Finish(); err != nil {
			return res, err
		}
		return res, s.putObject(ctx, key, k, buf[:n], opts)
	}
	if rerr != nil {
		s.c.release(buf)
		return res, rerr
	}
	return s.multipart(ctx, key, k, in, src, buf, partSize, opts)
}

// putObject stores body in one request.
func (s *Store) putObject(ctx context.Context, key, k string, body []byte, opts backupstore.PutOptions) error {
	sum, checksum, payload := bodySum(body)
	if err := hit("put-object", key); err != nil {
		return err
	}
	_, err := s.c.client.PutObject(ctx, &s3.PutObjectInput{Bucket: s.c.in(), Key: aws.String(k),
		Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body))),
		ChecksumSHA256: aws.String(checksum), IfNoneMatch: ifNoneMatch(opts)}, s.c.opts(payload)...)
	if err != nil {
		return s.settle(ctx, key, k, err, &sent{size: int64(len(body)), partSize: int64(len(body)), sums: [][32]byte{sum}})
	}
	return nil
}

// multipart uploads first (a full part) and the rest of in.
func (s *Store) multipart(ctx context.Context, key, k string, in io.Reader, src *backupstore.PutStream, first []byte, partSize int64, opts backupstore.PutOptions) (res backupstore.PutResult, err error) {
	id, err := s.create(ctx, key, k)
	if err != nil {
		s.c.release(first)
		return res, err
	}
	defer finished(s.c.bucket, k, id)
	pctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var parts partList
	done := make(chan struct{}, maxParts)
	launched := 0
	send := func(num int32, b []byte) {
		launched++
		go func() {
			defer func() { done <- struct{}{} }()
			defer s.c.release(b)
			sum, checksum, payload := bodySum(b)
			if err := hit("upload-part", key); err != nil {
				cancel(fmt.Errorf("part %d: %w", num, err))
				return
			}
			out, err := s.c.client.UploadPart(pctx, &s3.UploadPartInput{Bucket: s.c.in(), Key: aws.String(k),
				UploadId: aws.String(id), PartNumber: aws.Int32(num), Body: bytes.NewReader(b), ContentLength: aws.Int64(int64(len(b))),
				ChecksumSHA256: aws.String(checksum)}, s.c.opts(payload)...)
			if err != nil {
				cancel(fmt.Errorf("part %d: %w", num, err))
				return
			}
			parts.add(types.CompletedPart{PartNumber: aws.Int32(num), ETag: out.ETag, ChecksumSHA256: out.ChecksumSHA256}, sum, int64(len(b)))
		}()
	}
	send(1, first)
	var readErr error
	for num := int32(2); ; num++ {
		buf, err := s.c.buffer(pctx, partSize)
		if err != nil {
			break // a part failed or ctx ended: the cause is in pctx
		}
		n, rerr := io.ReadFull(in, buf)
		if n > 0 && (rerr == nil || rerr == io.ErrUnexpectedEOF) {
			if num > maxParts {
				s.c.release(buf)
				readErr = fmt.Errorf("more than %d parts of %d bytes: raise the part size", maxParts, partSize)
				break
			}
			send(num, buf[:n])
		} else {
			s.c.release(buf)
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			readErr = rerr
			break
		}
	}
	if readErr != nil {
		cancel(readErr)
	}
	for i := 0; i < launched; i++ {
		<-done
	}
	fail := context.Cause(pctx)
	if fail == nil {
		if res, fail = src.Finish(); fail == nil {
			completed, sums, size := parts.sorted()
			if fail = s.complete(ctx, key, k, id, completed, opts); fail == nil {
				return res, nil
			}
			// The upload may have completed all the same (an answer
			// lost): abort what is left of it, then read the object back.
			aerr := s.abort(ctx, key, k, id)
			if fail = s.settle(ctx, key, k, fail, &sent{size: size, partSize: partSize, sums: sums}); fail == nil {
				return res, nil
			}
			return res, errors.Join(fail, aerr)
		}
	}
	if aerr := s.abort(ctx, key, k, id); aerr != nil {
		fail = errors.Join(fail, aerr)
	}
	return res, fail
}

// complete sends CompleteMultipartUpload.
func (s *Store) complete(ctx context.Context, key, k, id string, parts []types.CompletedPart, opts backupstore.PutOptions) error {
	if err := hit("complete-upload", key); err != nil {
		return err
	}
	_, err := s.c.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: s.c.in(),
		Key: aws.String(k), UploadId: aws.String(id), MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
		IfNoneMatch: ifNoneMatch(opts)}, s.c.opts()...)
	return err
}

// partList collects the completed parts of an upload.
type partList struct {
	mu    sync.Mutex
	parts []part
}

type part struct {
	c    types.CompletedPart
	sum  [32]byte
	size int64
}

func (p *partList) add(c types.CompletedPart, sum [32]byte, size int64) {
	p.mu.Lock()
	p.parts = append(p.parts, part{c, sum, size})
	p.mu.Unlock()
}

// sorted returns the parts by number, their sums and their total size.
func (p *partList) sorted() ([]types.CompletedPart, [][32]byte, int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	sort.Slice(p.parts, func(i, j int) bool {
		return aws.ToInt32(p.parts[i].c.PartNumber) < aws.ToInt32(p.parts[j].c.PartNumber)
	})
	out := make([]types.CompletedPart, len(p.parts))
	sums := make([][32]byte, len(p.parts))
	var size int64
	for i, pt := range p.parts {
		out[i], sums[i] = pt.c, pt.sum
		size += pt.size
	}
	return out, sums, size
}

// ifNoneMatch is the conditional-write header of PutOptions.NoOverwrite.
func ifNoneMatch(opts backupstore.PutOptions) *string {
	if opts.NoOverwrite {
		return aws.String("*")
	}
	return nil
}

// ctxReader stops a copy when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
