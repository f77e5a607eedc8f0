package s3store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/dbctl/dbctl/backupstore"
)

// Open returns the store of location ("s3://bucket[/prefix]"), configured
// as the AWS CLI is: aws-sdk-go-v2's config.LoadDefaultConfig reads the
// environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
// AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_S3, AWS_CA_BUNDLE), the shared
// config and credentials files, SSO, web identity, container and instance
// roles; opts override the endpoint, region, path style and attempts. It
// makes one client and checks the bucket (HeadBucket): ErrBucketNotFound,
// ErrAccessDenied, ErrInvalidLocation, ErrInvalidOptions. backupstore.Open
// of an s3:// location calls it.
func Open(ctx context.Context, location string, opts backupstore.Options) (*Store, error) {
	if _, _, err := backupstore.ParseS3(location); err != nil {
		return nil, err
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, &backupstore.Error{Op: "open", Key: location, Kind: backupstore.ErrInvalidOptions, Err: err}
	}
	endpoint := opts.Endpoint
	if endpoint == "" {
		endpoint = os.Getenv("AWS_ENDPOINT_URL_S3")
	}
	if endpoint == "" && cfg.BaseEndpoint != nil {
		endpoint = *cfg.BaseEndpoint
	}
	if cfg.Region == "" && opts.Region == "" && endpoint == "" {
		return nil, &backupstore.Error{Op: "open", Key: location, Kind: backupstore.ErrInvalidOptions, Err: errors.New("no region: set AWS_REGION or the profile's region")}
	}
	opts.Endpoint = endpoint
	return New(ctx, cfg, location, opts)
}

// New returns the store of location ("s3://bucket[/prefix]") with a client
// made from the caller's cfg (credentials, region, retryer, HTTP client,
// ...); the non-zero fields of opts override the region, endpoint
// (else cfg.BaseEndpoint), path style and attempts. An endpoint that is
// not *.amazonaws.com is addressed path-style, one without a scheme uses
// TLS, and without a region one uses "us-east-1". It checks the bucket as
// Open does. The client's connection pool is the store's own (the SDK
// copies a cfg.HTTPClient that is an *awshttp.BuildableClient, the
// default), closed by Close; an HTTP client of another type is the
// caller's and left open.
func New(ctx context.Context, cfg aws.Config, location string, opts backupstore.Options) (*Store, error) {
	bucket, prefix, err := backupstore.ParseS3(location)
	if err != nil {
		return nil, err
	}
	loc := "s3://" + backupstore.Join(bucket, prefix)
	endpoint, pathStyle, err := resolveEndpoint(opts.Endpoint, cfg.BaseEndpoint, opts.PathStyle)
	if err != nil {
		return nil, &backupstore.Error{Op: "open", Key: loc, Kind: backupstore.ErrInvalidOptions, Err: err}
	}
	cfg = cfg.Copy()
	if opts.Region != "" {
		cfg.Region = opts.Region
	}
	if cfg.Region == "" {
		if endpoint == "" {
			return nil, &backupstore.Error{Op: "open", Key: loc, Kind: backupstore.ErrInvalidOptions, Err: errors.New("no region: set it in aws.Config or Options.Region")}
		}
		cfg.Region = "us-east-1"
	}
	var dials *dialTracker
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
		o.UsePathStyle = o.UsePathStyle || pathStyle
		if opts.MaxAttempts > 0 {
			o.RetryMaxAttempts = opts.MaxAttempts
		}
		// resolveHTTPClient made a BuildableClient copy with a
		// connection pool of its own: track its connections for Close.
		if b, ok := o.HTTPClient.(*awshttp.BuildableClient); ok {
			dials = &dialTracker{conns: map[*trackedConn]struct{}{}}
			o.HTTPClient = b.WithTransportOptions(dials.wrap)
		}
	})
	return start(ctx, client, dials, bucket, prefix, opts, nil)
}

// NewFromClient returns the store of location ("s3://bucket[/prefix]")
// using the caller's client as it is configured; Close does not touch its
// connections. Non-zero fields of opts (endpoint, region, path style,
// attempts) are applied to each request. It checks the bucket as Open
// does.
func NewFromClient(ctx context.Context, client *s3.Client, location string, opts backupstore.Options) (*Store, error) {
	bucket, prefix, err := backupstore.ParseS3(location)
	if err != nil {
		return nil, err
	}
	if client == nil {
		return nil, &backupstore.Error{Op: "open", Key: location, Kind: backupstore.ErrInvalidOptions, Err: errors.New("nil *s3.Client")}
	}
	var call []func(*s3.Options)
	if opts.Endpoint != "" || opts.PathStyle {
		endpoint, pathStyle, err := resolveEndpoint(opts.Endpoint, nil, opts.PathStyle)
		if err != nil {
			return nil, &backupstore.Error{Op: "open", Key: location, Kind: backupstore.ErrInvalidOptions, Err: err}
		}
		call = append(call, func(o *s3.Options) {
			if endpoint != "" {
				o.BaseEndpoint = aws.String(endpoint)
			}
			o.UsePathStyle = o.UsePathStyle || pathStyle
		})
	}
	if opts.Region != "" {
		call = append(call, func(o *s3.Options) { o.Region = opts.Region })
	}
	if opts.MaxAttempts > 0 {
		call = append(call, func(o *s3.Options) { o.RetryMaxAttempts = opts.MaxAttempts })
	}
	return start(ctx, client, nil, bucket, prefix, opts, call)
}

// start checks the options and the bucket and returns the root store.
func start(ctx context.Context, client *s3.Client, dials *dialTracker, bucket, prefix string, opts backupstore.Options, call []func(*s3.Options)) (*Store, error) {
	loc := "s3://" + backupstore.Join(bucket, prefix)
	fail := func(kind, err error) (*Store, error) {
		if dials != nil {
			dials.closeAll()
		}
		return nil, &backupstore.Error{Op: "open", Key: loc, Kind: kind, Err: err}
	}
	if opts.PartSize == 0 {
		opts.PartSize = backupstore.DefaultPartSize
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = backupstore.DefaultConcurrency
	}
	if opts.PartSize < backupstore.MinPartSize {
		return fail(backupstore.ErrInvalidOptions, fmt.Errorf("part size %d is under S3's minimum %d", opts.PartSize, backupstore.MinPartSize))
	}
	// The store sends and checks its own sha256: no CRC trailers
	// (aws-chunked bodies) that not every S3-compatible server takes.
	call = append([]func(*s3.Options){func(o *s3.Options) {
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	}}, call...)
	clientsMade.Add(1)
	c := &conn{client: client, bucket: bucket, partSize: opts.PartSize, call: call, dials: dials,
		tokens: make(chan struct{}, opts.Concurrency), free: make(chan []byte, opts.Concurrency)}
	if err := hit("head-bucket", bucket); err != nil {
		return fail(nil, err)
	}
	if _, err := client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)}, c.opts()...); err != nil {
		kind := classify(err)
		if kind == backupstore.ErrNotFound {
			kind = backupstore.ErrBucketNotFound
		}
		return fail(kind, err)
	}
	return &Store{c: c, prefix: prefix, root: true}, nil
}

// clientsMade counts the stores that made or took a client (tests).
var clientsMade atomic.Int64

// resolveEndpoint normalizes an endpoint (opts, else the config's): https
// when it has no scheme, path-style unless it is amazonaws.com.
func resolveEndpoint(endpoint string, base *string, pathStyle bool) (string, bool, error) {
	if endpoint == "" && base != nil {
		endpoint = *base
	}
	if endpoint == "" {
		return "", pathStyle, nil
	}
	if !strings.Contains(endpoint, "://") {
		endpoint = "https://" + endpoint // TLS unless told otherwise
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return "", false, fmt.Errorf("bad endpoint %q", endpoint)
	}
	if !strings.HasSuffix(u.Hostname(), ".amazonaws.com") {
		pathStyle = true
	}
	return endpoint, pathStyle, nil
}

// dialTracker keeps the connections a store's own HTTP client dials, so
// that Close can close them: the SDK's BuildableClient does not expose its
// transport's CloseIdleConnections.
type dialTracker struct {
	mu     sync.Mutex
	conns  map[*trackedConn]struct{}
	closed bool
}

// wrap makes tr dial through the tracker.
func (d *dialTracker) wrap(tr *http.Transport) {
	dial := tr.DialContext
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.closed {
			c.Close()
			return nil, backupstore.ErrClosed
		}
		t := &trackedConn{Conn: c, d: d}
		d.conns[t] = struct{}{}
		return t, nil
	}
}

// closeAll closes every connection and refuses new ones.
func (d *dialTracker) closeAll() {
	d.mu.Lock()
	conns := d.conns
	d.conns, d.closed = nil, true
	d.mu.Unlock()
	for c := range conns {
		_ = c.Conn.Close()
	}
}

type trackedConn struct {
	net.Conn
	d *dialTracker
}

func (t *trackedConn) Close() error {
	t.d.mu.Lock()
	delete(t.d.conns, t)
	t.d.mu.Unlock()
	return t.Conn.Close()
}
