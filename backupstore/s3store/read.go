package s3store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/dbctl/dbctl/backupstore"
)

// Get implements backupstore.Store.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	return s.GetRange(ctx, key, 0, -1)
}

// GetRange implements backupstore.Store.
func (s *Store) GetRange(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	k, err := s.key("get", key)
	if err != nil {
		return nil, err
	}
	in := &s3.GetObjectInput{Bucket: s.c.in(), Key: aws.String(k)}
	switch {
	case off < 0:
		return nil, &backupstore.Error{Op: "get", Key: key, Kind: backupstore.ErrInvalidOptions, Err: errors.New("negative offset")}
	case n == 0:
		return io.NopCloser(strings.NewReader("")), nil
	case n > 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", off, off+n-1))
	case off > 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-", off))
	}
	if err := hit("get", key); err != nil {
		return nil, &backupstore.Error{Op: "get", Key: key, Err: err}
	}
	out, err := s.c.client.GetObject(ctx, in, s.c.opts()...)
	if err != nil {
		return nil, &backupstore.Error{Op: "get", Key: key, Kind: classify(err), Err: err}
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
		err = wrap("get", g.key, classify(err), err)
	}
	return n, err
}

// Stat implements backupstore.Store.
func (s *Store) Stat(ctx context.Context, key string) (backupstore.Info, error) {
	k, err := s.key("stat", key)
	if err != nil {
		return backupstore.Info{}, err
	}
	if err := hit("stat", key); err != nil {
		return backupstore.Info{}, &backupstore.Error{Op: "stat", Key: key, Err: err}
	}
	out, err := s.c.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: s.c.in(), Key: aws.String(k)}, s.c.opts()...)
	if err != nil {
		return backupstore.Info{}, &backupstore.Error{Op: "stat", Key: key, Kind: classify(err), Err: err}
	}
	return backupstore.Info{Key: key, Size: aws.ToInt64(out.ContentLength), Modified: aws.ToTime(out.LastModified)}, nil
}

// List implements backupstore.Store.
func (s *Store) List(ctx context.Context, prefix string) ([]backupstore.Info, error) {
	if err := backupstore.CheckPrefix(prefix); err != nil {
		return nil, &backupstore.Error{Op: "list", Key: prefix, Kind: backupstore.ErrInvalidKey, Err: err}
	}
	if err := s.open("list", prefix); err != nil {
		return nil, err
	}
	var out []backupstore.Info
	p := s3.NewListObjectsV2Paginator(s.c.client, &s3.ListObjectsV2Input{Bucket: s.c.in(), Prefix: aws.String(s.full(prefix))})
	root := s.full("")
	for p.HasMorePages() {
		if err := hit("list", prefix); err != nil {
			return nil, &backupstore.Error{Op: "list", Key: prefix, Err: err}
		}
		page, err := p.NextPage(ctx, s.c.opts()...)
		if err != nil {
			return nil, &backupstore.Error{Op: "list", Key: prefix, Kind: classify(err), Err: err}
		}
		for _, o := range page.Contents {
			key := strings.TrimPrefix(aws.ToString(o.Key), root)
			if backupstore.CheckKey(key) != nil {
				continue // not a key this package writes (e.g. "a//b")
			}
			out = append(out, backupstore.Info{Key: key, Size: aws.ToInt64(o.Size), Modified: aws.ToTime(o.LastModified)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// Dirs implements backupstore.Store (ListObjectsV2 with the delimiter "/").
func (s *Store) Dirs(ctx context.Context, dir string) ([]string, error) {
	dir = strings.Trim(dir, "/")
	if err := backupstore.CheckPrefix(dir); err != nil {
		return nil, &backupstore.Error{Op: "list", Key: dir, Kind: backupstore.ErrInvalidKey, Err: err}
	}
	if err := s.open("list", dir); err != nil {
		return nil, err
	}
	pre := s.full("")
	if dir != "" {
		pre = s.full(dir + "/")
	}
	var out []string
	p := s3.NewListObjectsV2Paginator(s.c.client, &s3.ListObjectsV2Input{Bucket: s.c.in(), Prefix: aws.String(pre), Delimiter: aws.String("/")})
	for p.HasMorePages() {
		if err := hit("dirs", dir); err != nil {
			return nil, &backupstore.Error{Op: "list", Key: dir, Err: err}
		}
		page, err := p.NextPage(ctx, s.c.opts()...)
		if err != nil {
			return nil, &backupstore.Error{Op: "list", Key: dir, Kind: classify(err), Err: err}
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

// Delete implements backupstore.Store (DeleteObjects, up to 1000 keys a request).
func (s *Store) Delete(ctx context.Context, keys ...string) error {
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
		if err := hit("delete", keys[0]); err != nil {
			return errors.Join(append(errs, &backupstore.Error{Op: "delete", Key: keys[0], Err: err})...)
		}
		keys = keys[len(batch):]
		out, err := s.c.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: s.c.in(),
			Delete: &types.Delete{Objects: batch, Quiet: aws.Bool(true)}}, s.c.opts()...)
		if err != nil {
			return errors.Join(append(errs, &backupstore.Error{Op: "delete", Key: aws.ToString(batch[0].Key), Kind: classify(err), Err: err})...)
		}
		for _, e := range out.Errors {
			if aws.ToString(e.Code) == "NoSuchKey" {
				continue
			}
			errs = append(errs, &backupstore.Error{Op: "delete", Key: strings.TrimPrefix(aws.ToString(e.Key), s.full("")), Kind: codeKind(aws.ToString(e.Code), 0),
				Err: fmt.Errorf("%s: %s", aws.ToString(e.Code), aws.ToString(e.Message))})
		}
	}
	return errors.Join(errs...)
}

// Upload is an unfinished multipart upload.
type Upload struct {
	Key       string // relative to the store's prefix
	UploadID  string
	Initiated time.Time
}

// MultipartUploads lists the unfinished multipart uploads under the
// store's prefix (ListMultipartUploads): what a killed process may have
// left (they cost storage until aborted; AbortUploads removes them, and so
// does a bucket lifecycle rule AbortIncompleteMultipartUpload).
func (s *Store) MultipartUploads(ctx context.Context) ([]Upload, error) {
	if err := s.open("list multipart uploads", s.Location()); err != nil {
		return nil, err
	}
	return s.uploads(ctx, s.full(""), "")
}

// uploads lists the unfinished uploads whose key starts with pre (exactly
// key when key is not "").
func (s *Store) uploads(ctx context.Context, pre, key string) ([]Upload, error) {
	var out []Upload
	in := &s3.ListMultipartUploadsInput{Bucket: s.c.in(), Prefix: aws.String(pre)}
	for {
		if err := hit("list-uploads", strings.TrimPrefix(pre, s.full(""))); err != nil {
			return nil, &backupstore.Error{Op: "list multipart uploads", Key: s.Location(), Err: err}
		}
		page, err := s.c.client.ListMultipartUploads(ctx, in, s.c.opts()...)
		if err != nil {
			return nil, &backupstore.Error{Op: "list multipart uploads", Key: s.Location(), Kind: classify(err), Err: err}
		}
		for _, u := range page.Uploads {
			if key != "" && aws.ToString(u.Key) != key {
				continue
			}
			out = append(out, Upload{Key: strings.TrimPrefix(aws.ToString(u.Key), s.full("")), UploadID: aws.ToString(u.UploadId), Initiated: aws.ToTime(u.Initiated)})
		}
		if !aws.ToBool(page.IsTruncated) {
			return out, nil
		}
		in.KeyMarker, in.UploadIdMarker = page.NextKeyMarker, page.NextUploadIdMarker
	}
}

// AbortUploads aborts the unfinished multipart uploads whose key starts
// with prefix ("" for all under the store's prefix), except those a Put
// of this process is running, and returns how many it aborted: what a
// killed process left, for the next run to clean up. It is for prefixes
// no other process writes to (the backup engine's claim).
func (s *Store) AbortUploads(ctx context.Context, prefix string) (int, error) {
	if err := backupstore.CheckPrefix(prefix); err != nil {
		return 0, &backupstore.Error{Op: "abort uploads", Key: prefix, Kind: backupstore.ErrInvalidKey, Err: err}
	}
	if err := s.open("abort uploads", prefix); err != nil {
		return 0, err
	}
	ups, err := s.uploads(ctx, s.full(prefix), "")
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, u := range ups {
		k := s.full(u.Key)
		if running(s.c.bucket, k, u.UploadID) {
			continue
		}
		if err := s.abort(ctx, u.Key, k, u.UploadID); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}
