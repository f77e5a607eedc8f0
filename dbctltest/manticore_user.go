package dbctltest

import (
	"os"
	"path/filepath"
)

// fileUser is the user WithUser makes the emulator check file access for
// (the permission bits of owner, group and others, as the kernel checks
// them for a process of that uid and gid without supplementary groups).
// A nil *fileUser, or uid 0, may do anything.
type fileUser struct{ uid, gid uint32 }

const (
	permR = 4
	permW = 2
	permX = 1
)

// allows reports whether u has the wanted permission bits on path.
func (u *fileUser) allows(path string, want uint32) bool {
	if u == nil || u.uid == 0 {
		return true
	}
	fi, err := os.Stat(path)
	if err != nil {
		return false
	}
	uid, gid, ok := fileOwner(fi)
	if !ok {
		return true
	}
	perm := uint32(fi.Mode().Perm())
	var bits uint32
	switch {
	case uid == u.uid:
		bits = perm >> 6 & 7
	case gid == u.gid:
		bits = perm >> 3 & 7
	default:
		bits = perm & 7
	}
	return bits&want == want
}

// reachable reports whether u may traverse every folder above path.
func (u *fileUser) reachable(path string) bool {
	for dir := filepath.Dir(path); ; dir = filepath.Dir(dir) {
		if !u.allows(dir, permX) {
			return false
		}
		if filepath.Dir(dir) == dir {
			return true
		}
	}
}

// canCreateIn reports whether u can create a file in dir (<t>.lock).
func (u *fileUser) canCreateIn(dir string) bool {
	return u.reachable(dir) && u.allows(dir, permW|permX)
}

// canRead reports whether u can list and read dir (IMPORT TABLE's source).
func (u *fileUser) canRead(dir string) bool {
	return u.reachable(dir) && u.allows(dir, permR|permX)
}
