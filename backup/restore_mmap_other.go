//go:build !unix

package backup

import (
	"context"
	"io"
	"os"
)

// copyMapped: no mmap here; the caller reads the file.
func (w *fileWorker) copyMapped(context.Context, *os.File, io.Writer) (int64, string, error, error, bool) {
	return 0, "", nil, nil, false
}
