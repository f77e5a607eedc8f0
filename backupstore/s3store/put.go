package backupstore

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

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/middleware"
)

// buffer waits for a free part buffer of size (the store's part size, or a
// larger one for a very large object).
func (s *S3) buffer(ctx context.Context, size int64) ([]byte, error) {
	select {
	case s.tokens <- struct{}{}:
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
	if size == s.partSize {
		select {
		case b := <-s.free:
			return b, nil
		default:
		}
	}
	return make([]byte, size), nil
}

func (s *S3) release(b []byte) {
	if int64(len(b)) == s.partSize {
		select {
		case s.free <- b:
		default:
		}
	}
	<-s.tokens
}

// bodySum hashes a request body once, for both the checksum header
// (x-amz-checksum-sha256, base64) and the SigV4 payload hash (hex), which
// the SDK would otherwise compute again over plain HTTP.
func bodySum(b []byte) (checksum string, payload func(*s3.Options)) {
	sum := sha256.Sum256(b)
	hexSum := hex.EncodeToString(sum[:])
	return base64.StdEncoding.EncodeToString(sum[:]), func(o *s3.Options) {
		o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
			return stack.Finalize.Insert(middleware.FinalizeMiddlewareFunc("dbctlPayloadHash",
				func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
					return next.HandleFinalize(v4.SetPayloadHash(ctx, hexSum), in)
				}), (*v4.ComputePayloadSHA256)(nil).ID(), middleware.Before)
		})
	}
}

// Put implements Store. An object smaller than a part is one PutObject;
// a larger one a multipart upload, parts read one after the other into
// the store's part buffers and sent concurrently, each with its sha256 as
// the part checksum (x-amz-checksum-sha256). Any failure, cancellation
// included, aborts the multipart upload (with a fresh deadline when ctx is
// done).
func (s *S3) Put(ctx context.Context, key string, r io.Reader, opts PutOptions) (res PutResult, err error) {
	k, err := s.key("put", key)
	if err != nil {
		return res, err
	}
	src, err := putSource(key, r, opts)
	if err != nil {
		return res, err
	}
	defer src.failed(&err, key, classifyS3)
	partSize := s.partSize
	if opts.SizeHint > partSize*(maxParts-1) {
		partSize = (opts.SizeHint + maxParts - 2) / (maxParts - 1)
	}
	in := ctxReader{ctx, src.r}
	buf, err := s.buffer(ctx, partSize)
	if err != nil {
		return res, err
	}
	n, rerr := io.ReadFull(in, buf)
	if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
		defer s.release(buf)
		if res, err = src.finish(); err != nil {
			return res, err
		}
		checksum, payload := bodySum(buf[:n])
		_, err = s.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(k),
			Body: bytes.NewReader(buf[:n]), ContentLength: aws.Int64(int64(n)),
			ChecksumSHA256: aws.String(checksum), IfNoneMatch: ifNoneMatch(opts)}, payload)
		return res, err
	}
	if rerr != nil {
		s.release(buf)
		return res, rerr
	}
	return s.multipart(ctx, k, in, src, buf, partSize, opts)
}

// multipart uploads first (a full part) and the rest of in.
func (s *S3) multipart(ctx context.Context, k string, in io.Reader, src *source, first []byte, partSize int64, opts PutOptions) (res PutResult, err error) {
	// Not cancelled with ctx: a create cancelled on the client may still
	// succeed on the server, leaving an upload whose id we never learn.
	cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	created, err := s.client.CreateMultipartUpload(cctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(s.bucket), Key: aws.String(k),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256})
	ccancel()
	if err != nil {
		s.release(first)
		return res, err
	}
	id := created.UploadId
	pctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var parts partList
	done := make(chan struct{}, maxParts)
	launched := 0
	send := func(num int32, b []byte) {
		launched++
		go func() {
			defer func() { done <- struct{}{} }()
			defer s.release(b)
			checksum, payload := bodySum(b)
			out, err := s.client.UploadPart(pctx, &s3.UploadPartInput{Bucket: aws.String(s.bucket), Key: aws.String(k),
				UploadId: id, PartNumber: aws.Int32(num), Body: bytes.NewReader(b), ContentLength: aws.Int64(int64(len(b))),
				ChecksumSHA256: aws.String(checksum)}, payload)
			if err != nil {
				cancel(fmt.Errorf("part %d: %w", num, err))
				return
			}
			parts.add(types.CompletedPart{PartNumber: aws.Int32(num), ETag: out.ETag, ChecksumSHA256: out.ChecksumSHA256})
		}()
	}
	send(1, first)
	var readErr error
	for num := int32(2); ; num++ {
		buf, err := s.buffer(pctx, partSize)
		if err != nil {
			break // a part failed or ctx ended: the cause is in pctx
		}
		n, rerr := io.ReadFull(in, buf)
		if n > 0 && (rerr == nil || rerr == io.ErrUnexpectedEOF) {
			if num > maxParts {
				s.release(buf)
				readErr = fmt.Errorf("more than %d parts of %d bytes: raise the part size", maxParts, partSize)
				break
			}
			send(num, buf[:n])
		} else {
			s.release(buf)
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
		if res, fail = src.finish(); fail == nil {
			_, fail = s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(s.bucket),
				Key: aws.String(k), UploadId: id, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts.sorted()},
				IfNoneMatch: ifNoneMatch(opts)})
		}
	}
	if fail != nil {
		actx, acancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer acancel()
		if _, aerr := s.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{Bucket: aws.String(s.bucket),
			Key: aws.String(k), UploadId: id}); aerr != nil {
			fail = errors.Join(fail, fmt.Errorf("abort multipart upload %s: %w", aws.ToString(id), aerr))
		}
		return res, fail
	}
	return res, nil
}

// partList collects the completed parts of an upload.
type partList struct {
	mu    sync.Mutex
	parts []types.CompletedPart
}

func (p *partList) add(c types.CompletedPart) {
	p.mu.Lock()
	p.parts = append(p.parts, c)
	p.mu.Unlock()
}

func (p *partList) sorted() []types.CompletedPart {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := append([]types.CompletedPart(nil), p.parts...)
	sort.Slice(out, func(i, j int) bool { return aws.ToInt32(out[i].PartNumber) < aws.ToInt32(out[j].PartNumber) })
	return out
}

// ifNoneMatch is the conditional-write header of PutOptions.NoOverwrite.
func ifNoneMatch(opts PutOptions) *string {
	if opts.NoOverwrite {
		return aws.String("*")
	}
	return nil
}
