//go:build unix

package backup

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// owner is a file's user and group.
type owner struct{ uid, gid int }

// ownerOf returns the owner of path, or of its nearest existing parent.
func ownerOf(path string) (owner, error) {
	for p := filepath.Clean(path); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err == nil {
			st, ok := fi.Sys().(*syscall.Stat_t)
			if !ok {
				return owner{}, errors.New("no owner information")
			}
			return owner{uid: int(st.Uid), gid: int(st.Gid)}, nil
		}
		if !errors.Is(err, fs.ErrNotExist) || filepath.Dir(p) == p {
			return owner{}, err
		}
	}
}

// canGive reports whether files are to be handed to o: only as root, and
// only to a user other than root.
func (o owner) canGive() bool { return os.Geteuid() == 0 && (o.uid != 0 || o.gid != 0) }

// giveTo hands paths to o when this process runs as root and o is another
// user: a searchd running as its own user must be able to lock and rewrite
// restored files and read backups it imports (issue 9 D). As any other
// user, chown to someone else is not allowed and nothing is done.
func giveTo(o owner, paths []string) error {
	if !o.canGive() {
		return nil
	}
	for _, p := range paths {
		if err := os.Lchown(p, o.uid, o.gid); err != nil {
			return err
		}
	}
	return nil
}

// giveTreeTo hands root and everything under it to o (see giveTo).
func giveTreeTo(o owner, root string) error {
	if !o.canGive() {
		return nil
	}
	return filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, o.uid, o.gid)
	})
}
