package dbctl

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// ErrSourceChanged: a file the backup read after the unfreeze (through its
// hard link in the staging folder) or copied inside the freeze is not the
// file that was there at the freeze: its size or mtime changed, or its path
// now names another inode. The backup fails rather than keep bytes of
// unknown age; the error joins a *SourceChangedError naming the file.
var ErrSourceChanged = errors.New("dbctl: source file changed behind the backup")

// FileIdentity is what a backup records of a source file at the freeze:
// device and inode (0 where the platform has none), size in bytes and
// modification time in nanoseconds since the Unix epoch. Two equal
// identities name the same, unchanged file: every write moves the mtime.
type FileIdentity struct {
	Dev     uint64 `json:"dev"`
	Ino     uint64 `json:"ino"`
	Size    int64  `json:"size"`
	MtimeNs int64  `json:"mtime_ns"`
}

// identityOf returns the identity of a stat result.
func identityOf(fi fs.FileInfo) FileIdentity {
	dev, ino := devIno(fi)
	return FileIdentity{Dev: dev, Ino: ino, Size: fi.Size(), MtimeNs: fi.ModTime().UnixNano()}
}

// SourceChangedError names a source file whose identity changed during the
// backup.
type SourceChangedError struct {
	// Path is the file's manifest path ("data/<table>/<file>").
	Path string
	// Source is the server's path of the file.
	Source string
	// Want is the identity recorded at the freeze, Got the one found.
	Want, Got FileIdentity
}

// Error implements error.
func (e *SourceChangedError) Error() string {
	return fmt.Sprintf("dbctl: %s (%s) changed behind the backup: at the freeze inode %d, %d bytes, mtime %d; now inode %d, %d bytes, mtime %d",
		e.Path, e.Source, e.Want.Ino, e.Want.Size, e.Want.MtimeNs, e.Got.Ino, e.Got.Size, e.Got.MtimeNs)
}

// Unwrap makes errors.Is(err, ErrSourceChanged) true.
func (e *SourceChangedError) Unwrap() error { return ErrSourceChanged }

// checkIdentity compares the identity of an open file (the source, or its
// hard link) with the one recorded at the freeze.
func checkIdentity(f *os.File, mf *ManifestFile) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	return sameIdentity(fi, mf)
}

// sameIdentity compares a stat result with the identity recorded at the
// freeze.
func sameIdentity(fi fs.FileInfo, mf *ManifestFile) error {
	got := identityOf(fi)
	if mf.Identity == nil || got != *mf.Identity {
		want := FileIdentity{}
		if mf.Identity != nil {
			want = *mf.Identity
		}
		return &SourceChangedError{Path: mf.Path, Source: mf.Source, Want: want, Got: got}
	}
	return nil
}
