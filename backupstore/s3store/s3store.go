package backupstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// S3 is a Store in an S3 bucket under a prefix, on aws-sdk-go-v2.
type S3 struct {
	client   *s3.Client
	bucket   string
	prefix   string // "" or "a/b" (no slashes around)
	partSize int64
	tokens   chan struct{} // one per part buffer in use
	free     chan []byte   // part buffers of partSize for reuse
}

// cleanupTimeout bounds the requests that undo a failed upload (abort,
// delete) when the caller's context is already cancelled.
const cleanupTimeout = time.Minute

// openS3 loads the SDK's default configuration (environment, shared config
// and credentials files, SSO, web identity, container and instance roles)
// and checks the bucket.
func openS3(ctx context.Context, bucket, prefix string, opts Options) (*S3, error) {
	loc := "s3://" + Join(bucket, prefix)
	if opts.PartSize == 0 {
		opts.PartSize = DefaultPartSize
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.PartSize < MinPartSize {
		return nil, &Error{Op: "open", Key: loc, Kind: ErrInvalidOptions, Err: fmt.Errorf("part size %d is under S3's minimum %d", opts.PartSize, MinPartSize)}
	}
	load := []func(*config.LoadOptions) error{
		// The stores send and check their own sha256: no CRC trailers
		// (aws-chunked bodies) that not every S3-compatible server takes.
		config.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
		config.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired),
	}
	if opts.Region != "" {
		load = append(load, config.WithRegion(opts.Region))
	}
	if opts.MaxAttempts > 0 {
		load = append(load, config.WithRetryMaxAttempts(opts.MaxAttempts))
	}
	cfg, err := config.LoadDefaultConfig(ctx, load...)
	if err != nil {
		return nil, &Error{Op: "open", Key: loc, Kind: ErrInvalidOptions, Err: err}
	}
	endpoint := opts.Endpoint
	if endpoint == "" {
		endpoint = os.Getenv("AWS_ENDPOINT_URL_S3")
	}
	if endpoint == "" && cfg.BaseEndpoint != nil {
		endpoint = *cfg.BaseEndpoint
	}
	if endpoint != "" && !strings.Contains(endpoint, "://") {
		endpoint = "https://" + endpoint // TLS unless told otherwise
	}
	pathStyle := opts.PathStyle
	if endpoint != "" {
		u, err := url.Parse(endpoint)
		if err != nil || u.Host == "" {
			return nil, &Error{Op: "open", Key: loc, Kind: ErrInvalidOptions, Err: fmt.Errorf("bad endpoint %q", endpoint)}
		}
		if !strings.HasSuffix(u.Hostname(), ".amazonaws.com") {
			pathStyle = true
		}
	}
	if cfg.Region == "" {
		if endpoint == "" {
			return nil, &Error{Op: "open", Key: loc, Kind: ErrInvalidOptions, Err: errors.New("no region: set AWS_REGION or the profile's region")}
		}
		cfg.Region = "us-east-1"
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
		o.UsePathStyle = pathStyle
	})
	s := &S3{client: client, bucket: bucket, prefix: prefix, partSize: opts.PartSize,
		tokens: make(chan struct{}, opts.Concurrency), free: make(chan []byte, opts.Concurrency)}
	if _, err := client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)}); err != nil {
		kind := classifyS3(err)
		if kind == ErrNotFound {
			kind = ErrBucketNotFound
		}
		return nil, &Error{Op: "open", Key: loc, Kind: kind, Err: err}
	}
	return s, nil
}

// Location implements Store.
func (s *S3) Location() string { return "s3://" + Join(s.bucket, s.prefix) }

// Bucket and Prefix name where the store's objects are.
func (s *S3) Bucket() string { return s.bucket }

// Prefix is the key prefix of the store's objects ("" or "a/b").
func (s *S3) Prefix() string { return s.prefix }

func (s *S3) key(op, key string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", &Error{Op: op, Key: key, Kind: ErrInvalidKey, Err: err}
	}
	return Join(s.prefix, key), nil
}

// Get implements Store.
func (s *S3) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	return s.GetRange(ctx, key, 0, -1)
}

// GetRange implements Store.
func (s *S3) GetRange(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	k, err := s.key("get", key)
	if err != nil {
		return nil, err
	}
	in := &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(k)}
	switch {
	case off < 0:
		return nil, &Error{Op: "get", Key: key, Kind: ErrInvalidOptions, Err: errors.New("negative offset")}
	case n == 0:
		return io.NopCloser(strings.NewReader("")), nil
	case n > 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", off, off+n-1))
	case off > 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-", off))
	}
	out, err := s.client.GetObject(ctx, in)
	if err != nil {
		return nil, &Error{Op: "get", Key: key, Kind: classifyS3(err), Err: err}
	}
	return &getBody{ReadCloser: out.Body, key: key}, nil
}

// getBody classifies the errors of reading an object's body.
type getBody struct {
	io.ReadCloser
	key string
}

func (g *getBody) Read(p []byte) (int, error) {
	n, err := g.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = wrap("get", g.key, classifyS3(err), err)
	}
	return n, err
}

// Stat implements Store.
func (s *S3) Stat(ctx context.Context, key string) (Info, error) {
	k, err := s.key("stat", key)
	if err != nil {
		return Info{}, err
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(k)})
	if err != nil {
		return Info{}, &Error{Op: "stat", Key: key, Kind: classifyS3(err), Err: err}
	}
	return Info{Key: key, Size: aws.ToInt64(out.ContentLength), Modified: aws.ToTime(out.LastModified)}, nil
}

// full is the key prefix under the store's prefix.
func (s *S3) full(prefix string) string {
	if s.prefix == "" {
		return prefix
	}
	return s.prefix + "/" + prefix
}

// List implements Store.
func (s *S3) List(ctx context.Context, prefix string) ([]Info, error) {
	if err := checkPrefix(prefix); err != nil {
		return nil, &Error{Op: "list", Key: prefix, Kind: ErrInvalidKey, Err: err}
	}
	var out []Info
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(s.full(prefix))})
	root := s.full("")
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, &Error{Op: "list", Key: prefix, Kind: classifyS3(err), Err: err}
		}
		for _, o := range page.Contents {
			key := strings.TrimPrefix(aws.ToString(o.Key), root)
			if checkKey(key) != nil {
				continue // not a key this package writes (e.g. "a//b")
			}
			out = append(out, Info{Key: key, Size: aws.ToInt64(o.Size), Modified: aws.ToTime(o.LastModified)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// Dirs implements Store (ListObjectsV2 with the delimiter "/").
func (s *S3) Dirs(ctx context.Context, dir string) ([]string, error) {
	dir = strings.Trim(dir, "/")
	if err := checkPrefix(dir); err != nil {
		return nil, &Error{Op: "list", Key: dir, Kind: ErrInvalidKey, Err: err}
	}
	pre := s.full("")
	if dir != "" {
		pre = s.full(dir + "/")
	}
	var out []string
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(pre), Delimiter: aws.String("/")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, &Error{Op: "list", Key: dir, Kind: classifyS3(err), Err: err}
		}
		for _, cp := range page.CommonPrefixes {
			name := strings.TrimSuffix(strings.TrimPrefix(aws.ToString(cp.Prefix), pre), "/")
			if name != "" && !strings.Contains(name, "/") {
				out = append(out, name)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// Delete implements Store (DeleteObjects, up to 1000 keys a request).
func (s *S3) Delete(ctx context.Context, keys ...string) error {
	ids := make([]types.ObjectIdentifier, 0, len(keys))
	for _, key := range keys {
		k, err := s.key("delete", key)
		if err != nil {
			return err
		}
		ids = append(ids, types.ObjectIdentifier{Key: aws.String(k)})
	}
	var errs []error
	for len(ids) > 0 {
		batch := ids[:min(len(ids), 1000)]
		ids = ids[len(batch):]
		out, err := s.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(s.bucket),
			Delete: &types.Delete{Objects: batch, Quiet: aws.Bool(true)}})
		if err != nil {
			return &Error{Op: "delete", Key: aws.ToString(batch[0].Key), Kind: classifyS3(err), Err: err}
		}
		for _, e := range out.Errors {
			if aws.ToString(e.Code) == "NoSuchKey" {
				continue
			}
			errs = append(errs, &Error{Op: "delete", Key: aws.ToString(e.Key), Kind: codeKind(aws.ToString(e.Code), 0),
				Err: fmt.Errorf("%s: %s", aws.ToString(e.Code), aws.ToString(e.Message))})
		}
	}
	return errors.Join(errs...)
}

// Upload is an unfinished multipart upload.
type Upload struct {
	Key       string
	UploadID  string
	Initiated time.Time
}

// MultipartUploads lists the unfinished multipart uploads under the
// store's prefix (ListMultipartUploads): what a crashed process may have
// left (they cost storage until aborted; a bucket lifecycle rule
// AbortIncompleteMultipartUpload removes them).
func (s *S3) MultipartUploads(ctx context.Context) ([]Upload, error) {
	var out []Upload
	in := &s3.ListMultipartUploadsInput{Bucket: aws.String(s.bucket), Prefix: aws.String(s.full(""))}
	for {
		page, err := s.client.ListMultipartUploads(ctx, in)
		if err != nil {
			return nil, &Error{Op: "list multipart uploads", Key: s.Location(), Kind: classifyS3(err), Err: err}
		}
		for _, u := range page.Uploads {
			out = append(out, Upload{Key: strings.TrimPrefix(aws.ToString(u.Key), s.full("")), UploadID: aws.ToString(u.UploadId), Initiated: aws.ToTime(u.Initiated)})
		}
		if !aws.ToBool(page.IsTruncated) {
			return out, nil
		}
		in.KeyMarker, in.UploadIdMarker = page.NextKeyMarker, page.NextUploadIdMarker
	}
}
