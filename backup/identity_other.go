//go:build !unix

package backup

import (
	"errors"
	"io/fs"
	"os"
)

// devIno: this platform's stat has no device and inode; identities compare
// size and mtime only.
func devIno(fs.FileInfo) (uint64, uint64) { return 0, 0 }

// devOf: no device numbers here, so no staging (files are copied inside
// the freeze).
func devOf(string) (uint64, error) { return 0, errors.ErrUnsupported }

// tryLock: no flock here; a staging folder is never taken for a killed
// run's (remove it by hand).
func tryLock(*os.File) (bool, error) { return false, nil }
