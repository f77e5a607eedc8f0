//go:build !linux

package backup

import (
	"errors"
	"os"
)

// startWriteback does nothing outside Linux (no sync_file_range): the
// per-file fsync writes the bytes back.
func startWriteback(*os.File, int64, int64) {}

// syncFS is not used outside Linux: syncFSReportsErrors is false.
func syncFS(*os.File) error { return errors.ErrUnsupported }

// syncFSReportsErrors is false outside Linux: a synced backup fsyncs each
// file and folder.
func syncFSReportsErrors() bool { return false }
