package s3store

import (
	"context"
	"errors"
	"io"
	"net"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/dbctl/dbctl/backupstore"
)

// classify maps an SDK error to a sentinel: by the S3 error code, else
// by the HTTP status (HEAD answers carry no code), else by the transport.
func classify(err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return nil
	}
	var known *backupstore.Error
	if errors.As(err, &known) && known.Kind != nil {
		return known.Kind
	}
	status := 0
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		if k := codeKind(ae.ErrorCode(), status); k != nil {
			return k
		}
	} else if k := codeKind("", status); k != nil {
		return k
	}
	var se *smithyhttp.RequestSendError
	var ne net.Error
	if errors.As(err, &se) || errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) {
		return backupstore.ErrNetwork
	}
	return nil
}

// codeKind maps an S3 error code (or, without one, an HTTP status).
func codeKind(code string, status int) error {
	switch code {
	case "NoSuchKey", "NotFound", "NoSuchUpload":
		return backupstore.ErrNotFound
	case "NoSuchBucket":
		return backupstore.ErrBucketNotFound
	case "PreconditionFailed", "ConditionalRequestConflict":
		return backupstore.ErrExists
	case "BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch":
		return backupstore.ErrCorrupt
	case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "Forbidden", "ExpiredToken",
		"InvalidToken", "TokenRefreshRequired", "AllAccessDisabled", "AccountProblem":
		return backupstore.ErrAccessDenied
	case "InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout", "Throttling", "ThrottlingException",
		"RequestThrottled", "TooManyRequests", "TooManyRequestsException":
		return backupstore.ErrUnavailable
	}
	switch {
	case status >= 500, status == 429:
		return backupstore.ErrUnavailable
	}
	switch status {
	case 404:
		return backupstore.ErrNotFound
	case 412:
		return backupstore.ErrExists
	case 401, 403:
		return backupstore.ErrAccessDenied
	}
	return nil
}

// definite reports whether err is the server's refusal of the request
// itself (credentials, a damaged body, no bucket, bad options): a request
// so refused stored nothing, and there is nothing to read back.
func definite(err error) bool {
	switch classify(err) {
	case backupstore.ErrAccessDenied, backupstore.ErrCorrupt, backupstore.ErrBucketNotFound, backupstore.ErrInvalidOptions:
		return true
	}
	return false
}

// wrap returns err as a *backupstore.Error of op unless it already is one
// with no kind to add.
func wrap(op, key string, kind, err error) error {
	if err == nil {
		return nil
	}
	var e *backupstore.Error
	if errors.As(err, &e) && kind == nil {
		return err
	}
	return &backupstore.Error{Op: op, Key: key, Kind: kind, Err: err}
}
