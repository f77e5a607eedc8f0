//go:build !unix

package backup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"

	"github.com/dbctl/dbctl"
)

// devIno: this platform's stat has no device and inode; identities compare
// size and mtime only.
func devIno(fs.FileInfo) (uint64, uint64) { return 0, 0 }

// devOf: no device numbers here, so no staging (files are copied inside
// the freeze).
func devOf(string) (uint64, error) { return 0, errors.ErrUnsupported }

// haveFlock: no flock(2) here, so a marker's holder cannot be told alive
// or dead: Create refuses to start (dbctl.ErrNotSupported), and so does
// anything else that needs a marked folder (tryLock).
const haveFlock = false

// tryLock: no flock here (dbctl.ErrNotSupported).
func tryLock(*os.File) (bool, error) {
	return false, fmt.Errorf("%w: no flock(2) on %s to mark a temporary folder as in use", dbctl.ErrNotSupported, runtime.GOOS)
}
