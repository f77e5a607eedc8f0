package backup

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// The file-system primitives the engine shares: fsync of files (of
// directories: internal/fsutil.SyncDir), and folders made and checked.

// syncFile flushes a written file to stable storage.
func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// dirIsEmpty reports whether dir has no entries other than dotfiles (as
// manticore-backup checks a restore target).
func dirIsEmpty(dir string) (bool, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		if len(e.Name()) > 0 && e.Name()[0] != '.' {
			return false, nil
		}
	}
	return true, nil
}

func mkdirAll(dirs map[string]bool) error {
	for d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	return nil
}

// parentDirs returns the directories of paths.
func parentDirs(paths []string) map[string]bool {
	out := map[string]bool{}
	for _, p := range paths {
		out[filepath.Dir(p)] = true
	}
	return out
}
