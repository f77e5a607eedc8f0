package backup

import (
	"os"
)

// markedTempDir makes a temporary folder under parent (os.TempDir() for
// "") named pattern with partialInfix, holding the locked marker of the
// staging folders: if this process is killed, the next call here, or the
// next backup staging in parent, removes it (removeStaleStaging), so no
// killed download or import leaves a copy of a backup behind. It first
// removes such leftovers in parent. done removes the folder.
func markedTempDir(parent, pattern string, info map[string]any) (dir string, done func(), err error) {
	if parent == "" {
		parent = os.TempDir()
	}
	_, _ = removeStaleStaging(parent) // best effort: a leftover only costs space
	dir, err = os.MkdirTemp(parent, pattern+partialInfix)
	if err != nil {
		return "", nil, err
	}
	info["pid"] = os.Getpid()
	lock, err := lockMarkerAs(dir, "temp-folder", info)
	if err != nil {
		_ = os.RemoveAll(dir)
		return "", nil, err
	}
	return dir, func() {
		defer lock.Close()
		_ = removeMarked(dir, "temp-folder") // marker last: killed meanwhile, still the next run's to remove
	}, nil
}
