package dbctl

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ErrServerRunning: RestoreBackup found a table of the target data_dir
// locked by a running searchd (<data_dir>/<table>/<table>.lock). Restoring
// under a live daemon corrupts both: it rewrites manticore.json and the
// tables' files on its own schedule. Stop searchd first.
var ErrServerRunning = errors.New("dbctl: searchd is running on the data_dir")

// IsServerRunning reports whether err is (or wraps) ErrServerRunning.
func IsServerRunning(err error) bool { return errors.Is(err, ErrServerRunning) }

// liveTables returns the tables of dataDir whose <table>.lock a running
// process holds, sorted. searchd keeps <data_dir>/<t>/<t>.lock locked for
// as long as it serves t (RawFileLock in the Manticore source; see
// lockHeld). A data_dir that does not exist has none.
func liveTables(dataDir string) ([]string, error) {
	entries, err := os.ReadDir(dataDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var held []string
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		ok, err := lockHeld(filepath.Join(dataDir, e.Name(), e.Name()+".lock"))
		if err != nil {
			return nil, err
		}
		if ok {
			held = append(held, e.Name())
		}
	}
	sort.Strings(held)
	return held, nil
}
