//go:build !linux

package dbctl

import (
	"errors"
	"os"
)

func reflink(dst, src *os.File) error { return errors.ErrUnsupported }
