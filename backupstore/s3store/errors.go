package backupstore

import (
	"context"
	"errors"
	"io"
	"net"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// classifyS3 maps an SDK error to a sentinel: by the S3 error code, else
// by the HTTP status (HEAD answers carry no code), else by the transport.
func classifyS3(err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return nil
	}
	var known *Error
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
		return ErrNetwork
	}
	return nil
}

// codeKind maps an S3 error code (or, without one, an HTTP status).
func codeKind(code string, status int) error {
	switch code {
	case "NoSuchKey", "NotFound":
		return ErrNotFound
	case "NoSuchBucket":
		return ErrBucketNotFound
	case "PreconditionFailed", "ConditionalRequestConflict":
		return ErrExists
	case "BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch":
		return ErrCorrupt
	case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "Forbidden", "ExpiredToken",
		"InvalidToken", "TokenRefreshRequired", "AllAccessDisabled", "AccountProblem":
		return ErrAccessDenied
	}
	switch status {
	case 404:
		return ErrNotFound
	case 412:
		return ErrExists
	case 401, 403:
		return ErrAccessDenied
	}
	return nil
}
