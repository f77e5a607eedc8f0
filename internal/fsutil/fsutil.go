// Package fsutil holds the file-system steps that more than one of dbctl's
// packages takes to make a change durable.
package fsutil

import "os"

// SyncDir makes a directory's entries (new files, renames, removals)
// durable: an fsync of the directory itself.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
