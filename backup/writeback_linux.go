//go:build linux

package backup

import (
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to start writing bytes [off, off+n) of f
// to its disk now, without waiting for them (sync_file_range(2) with
// SYNC_FILE_RANGE_WRITE), so that the writeback of a file overlaps the
// copying and hashing of the next ones instead of waiting for the sync at
// the end. It is advice: an error here is ignored, because the fsync or
// syncfs that makes the backup durable reports every write error of the
// range (the page's error stays recorded in the file's and the file
// system's errseq until a sync reads it; sync_file_range without a WAIT
// flag reads neither).
func startWriteback(f *os.File, off, n int64) {
	if n <= 0 {
		return
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_ = unix.SyncFileRange(int(fd), off, n, unix.SYNC_FILE_RANGE_WRITE)
	})
}

// syncFS makes durable everything written to the file system f is on:
// syncfs(2), which writes back every dirty inode and page of the file
// system, commits its journal and flushes the disk's cache. Since Linux
// 5.8 it also returns the writeback errors that happened on that file
// system since f was opened (per-superblock errseq, sampled at open:
// fs/sync.c, syncfs; include/linux/pagemap.h, mapping_set_error); see
// syncFSReportsErrors for earlier kernels.
func syncFS(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.Syncfs(int(fd)) }); err != nil {
		return err
	}
	if serr != nil {
		return &os.PathError{Op: "syncfs", Path: f.Name(), Err: serr}
	}
	return nil
}

var (
	syncFSOnce    sync.Once
	syncFSReports bool
)

// syncFSReportsErrors says whether this kernel's syncfs returns writeback
// errors (Linux 5.8 and later): only then is one syncfs the same guarantee
// as an fsync of every file and folder.
func syncFSReportsErrors() bool {
	syncFSOnce.Do(func() {
		var u unix.Utsname
		if unix.Uname(&u) != nil {
			return
		}
		syncFSReports = kernelAtLeast(unix.ByteSliceToString(u.Release[:]), 5, 8)
	})
	return syncFSReports
}
