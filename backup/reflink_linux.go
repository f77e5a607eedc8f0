//go:build linux

package backup

import (
	"os"
	"syscall"
)

// ficlone is the FICLONE ioctl: make dst share src's data blocks (btrfs,
// XFS with reflink, bcachefs; ext4 answers EOPNOTSUPP).
const ficlone = 0x40049409

func reflink(dst, src *os.File) error {
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, dst.Fd(), ficlone, src.Fd())
	if errno != 0 {
		return errno
	}
	return nil
}
