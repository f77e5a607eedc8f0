package backup

import (
	"os"
	"strconv"
	"strings"

	"github.com/dbctl/dbctl/internal/crashpoint"
)

// How a synced local backup becomes durable. The guarantee is the same
// either way: when the backup's folder appears under its name (the rename
// into place), every byte manifest.json lists, manifest.json itself and
// every folder entry are on stable storage, and a write error on any of
// them fails Create; a machine crash before the rename leaves only the
// temporary folder, which the next backup beside it removes.
//
//   - One syncfs (Linux 5.8 and later; Manifest unchanged, nothing for a
//     reader to know): every file's writeback is started as its bytes are
//     written (startWriteback), so that the disk works while the next
//     files are copied and hashed; after manifest.json is written (and the
//     folder given to the data_dir's owner), one syncfs of the backup's
//     file system writes back what is left, commits the journal once and
//     flushes the disk's cache once; then the rename and an fsync of the
//     parent folder. It is the same guarantee as an fsync of every file
//     and folder because syncfs writes back every dirty inode of the file
//     system (the backup's files, its folders, and files hard-linked from
//     a base, which are on the same file system) and, since Linux 5.8,
//     returns every writeback error on that file system since the folder
//     was opened (before the first file was written). It also writes back
//     other programs' dirty data on that file system, as sync does for the
//     "cp + sync" floor; and an error there fails the backup too (never a
//     false success).
//   - Otherwise (a synced backup on another system, or on a kernel before
//     5.8: syncFSReportsErrors false): each file is fsynced as it lands
//     (its writeback started as it was written, on Linux), then the
//     folders, manifest.json and the temporary folder, as before.
//
// Per-file fsyncs cost a journal commit and a cache flush each (140 files:
// 140 commits, which eight fsyncs in flight batch only partly). On this
// VM's ext4, 32 files of 4 MiB made durable took 331 ms with an fsync each,
// 98 ms with their writeback started as written and then an fsync each,
// and 73 ms with one syncfs instead (BenchmarkDurable, a loaded machine);
// in a 1.2 GB backup the syncfs at the end took 7 ms.

// writebackRange is startWriteback; this package's tests replace it to see
// the ranges asked for.
var writebackRange = startWriteback

// writebackFile starts the writeback of the whole file at path (one
// written inside the freeze, where it was not started); see
// startWriteback. A file that cannot be opened is left to the sync.
func writebackFile(path string) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil {
		writebackRange(f, 0, fi.Size())
	}
}

// openSyncFS opens the temporary folder for the syncfs at the end, before
// the first file of the backup is written (the error cursor syncfs reads
// is sampled at open), when the backup is synced, local, and the kernel's
// syncfs reports errors; otherwise it leaves b.syncfs nil (per-file
// fsync, or nothing with NoSync).
func (b *backupRun) openSyncFS() {
	if b.opts.NoSync || b.store != nil || !syncFSReportsErrors() {
		return
	}
	if h := b.opts.hooks; h != nil && h.perFileSync {
		return
	}
	if f, err := os.Open(b.tmp); err == nil {
		b.syncfs = f
	}
}

// closeSyncFS closes the folder opened by openSyncFS; nil-safe.
func (b *backupRun) closeSyncFS() {
	if b.syncfs != nil {
		_ = b.syncfs.Close()
	}
}

// writeback says whether the files of this backup have their writeback
// started as they are written: a synced local backup (NoSync returns with
// the bytes in the page cache, as cp does).
func (b *backupRun) writeback() bool {
	return !b.opts.NoSync && b.store == nil
}

// perFileSync says whether each file and folder is fsynced (not NoSync,
// and no syncfs).
func (b *backupRun) perFileSync() bool {
	return !b.opts.NoSync && b.syncfs == nil
}

// syncAll is the one syncfs of a synced backup (see above): after every
// file, folder and manifest.json was written and given to the data_dir's
// owner, before the rename into place.
func (b *backupRun) syncAll() error {
	if b.syncfs == nil {
		return nil
	}
	if h := b.opts.hooks; h != nil && h.beforeSync != nil {
		if err := h.beforeSync(b.tmp); err != nil {
			return opErr(b.op, nil, "sync", err)
		}
	}
	if err := crashpoint.Hit("backup.sync fs"); err != nil {
		return opErr(b.op, nil, "sync", err)
	}
	if err := syncFS(b.syncfs); err != nil {
		return opErr(b.op, nil, "sync", err)
	}
	return nil
}

// writebackChunk is how many bytes written a writebackWriter lets
// accumulate before it starts their writeback.
const writebackChunk = 8 << 20

// writebackWriter writes to f and starts the writeback of each
// writebackChunk bytes written (startWriteback); flush starts the rest.
type writebackWriter struct {
	f            *os.File
	off, started int64
}

func (w *writebackWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.off += int64(n)
	if w.off-w.started >= writebackChunk {
		w.flush()
	}
	return n, err
}

// flush starts the writeback of what was written since the last one;
// nil-safe.
func (w *writebackWriter) flush() {
	if w != nil && w.off > w.started {
		writebackRange(w.f, w.started, w.off-w.started)
		w.started = w.off
	}
}

// kernelAtLeast parses the "major.minor" start of a kernel release string
// ("6.18.44-fc-v1252") and compares it with major.minor; an unparsable one
// is not at least anything.
func kernelAtLeast(release string, major, minor int) bool {
	parts := strings.SplitN(release, ".", 3)
	if len(parts) < 2 {
		return false
	}
	maj, err := strconv.Atoi(parts[0])
	if err != nil {
		return false
	}
	end := 0
	for end < len(parts[1]) && parts[1][end] >= '0' && parts[1][end] <= '9' {
		end++
	}
	mnr, err := strconv.Atoi(parts[1][:end])
	if err != nil {
		return false
	}
	return maj > major || maj == major && mnr >= minor
}
