package backup

import (
	"io/fs"
	"os"
)

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
