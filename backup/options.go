package backup

import (
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/dbctl/dbctl/backupstore"
)

// CreateOptions configure Create.
type CreateOptions struct {
	// Tables to back up; empty means every table of SHOW TABLES. Tables
	// that cannot be frozen (distributed, plain) are skipped and listed in
	// Manifest.Skipped, never silently.
	Tables []string
	// Compress stores files as zstd (".zst") at CompressLevel (default:
	// about zstd -3); sizes and hashes in the manifest are of the original
	// bytes. Each byte is read once, hashed and compressed in one pass: for
	// staged files (see StagingDir) after the unfreeze, from their hard
	// links, so the freeze window is that of a plain backup; without
	// staging inside the freeze (see CompressAfterUnfreeze).
	Compress bool
	// Concurrency is the number of copy workers; 0 means one per CPU. For
	// an s3:// dir it is also how many files are uploaded at once after
	// the unfreeze; 0 there means the larger of Store.Concurrency
	// (default 4) and the number of CPUs.
	Concurrency int
	// Progress, when set, is called from one goroutine, at most ~10 times a
	// second and once more at the end. A panic in it cancels the backup,
	// which cleans up (unfreezes, removes its partial output) and then
	// re-panics in the caller's goroutine.
	Progress func(Progress)
	// CompressLevel is the zstd level of a Compress backup: LevelFastest,
	// LevelDefault, LevelBetter, LevelBest or a zstd number "1".."22" (see
	// CompressionLevel); "" is LevelDefault. Without Compress it is
	// dbctl.ErrInvalidArgument, as is an unknown level, before anything is
	// sent. Manifest.CompressionLevel records the level used. For an
	// s3:// dir too. Where files are compressed inside the freeze (no
	// staging folder, no clones, no CompressAfterUnfreeze) a slower level
	// makes the freeze window that much longer.
	CompressLevel CompressionLevel
	// CompressAfterUnfreeze, with Compress, for backups that cannot stage
	// (NoStaging, or no staging folder on the data_dir's file system):
	// copies the files inside the freeze (by the kernel: copy_file_range)
	// and compresses the copies after the unfreeze, so the tables stay frozen about as briefly as for
	// an uncompressed backup instead of for the whole compression. It costs
	// one more pass over the bytes (about a tenth more time) and, for a
	// while, up to the uncompressed size in disk space beside dir. Where
	// files can be cloned (FICLONE), a compressed backup does this anyway,
	// at no cost.
	CompressAfterUnfreeze bool
	// NoReflink turns off cloning (FICLONE) on file systems that support
	// it; files are then always copied by the kernel (copy_file_range)
	// inside the freeze.
	NoReflink bool
	// Base names an earlier backup (a local folder) of the same server: a
	// file whose name, immutable suffix and source identity (device, inode,
	// size, mtime at the freeze) match the base's record is hard-linked
	// from the base (cloned or copied across file systems) instead of read
	// from the server, and its hash is reused (ManifestFile.FromBase). A
	// mutable file (attribute rows, dead-row map, .meta, ...) is still read
	// inside the freeze, searchd changing it in place, but when its bytes
	// have the base's size and sha256 (and mode), and the base's copy,
	// re-read, still holds them, it is linked from the base instead of
	// written: after an UPDATE of one table only the files the UPDATE
	// changed are written. Every backup stays complete on its own:
	// removing the base breaks nothing. A base compressed otherwise is not
	// reused.
	Base string
	// StagingDir is where the immutable disk-chunk files are hard-linked
	// inside the freeze when dir's parent is not on the data_dir's file
	// system; it must be on the data_dir's file system (else the backup
	// fails with dbctl.ErrInvalidArgument: before the FREEZE when SHOW SETTINGS
	// gave the data_dir, else after the freeze). Unset, such a
	// backup copies every file inside the freeze. Manifest.Staging says
	// which was done.
	//
	// For an s3:// dir there is no local backup: the staging folder is made
	// in StagingDir when set, else beside the data_dir (in its parent
	// folder), else in the temp dir, whichever first is on the data_dir's
	// file system and takes a hard link from it; the files are uploaded
	// from there after the unfreeze and need no free space. Mutable files
	// past the 256 MiB held in memory, and, where no staging folder is
	// possible, every file (Manifest.Staging "copied-inside-freeze", and a
	// warning in the log) are copied inside the freeze into a temporary
	// folder in StagingDir, else the temp dir, and uploaded from there: it
	// then needs up to the backup's size in free space.
	StagingDir string
	// Store configures an s3:// location (part size, upload concurrency;
	// credentials and endpoint from the environment unless set: see
	// backupstore.Options).
	Store backupstore.Options
	// Logger receives the engine's notes and warnings: a staging folder a
	// killed run left and this one removed, files copied inside the freeze
	// and why, a base compressed otherwise, a folder it could not remove.
	// Default (nil): discarded. The statements the backup sends log to the
	// client's own logger (dbctl.Options.Logger); pass the same one here to
	// see both.
	Logger *slog.Logger
	// NoStaging copies every file inside the freeze (the way before
	// staging existed), even where hard links are possible.
	NoStaging bool
	// NoSync skips making the backup durable (the fsyncs, or the one
	// syncfs: see durable.go, and the writeback started as files are
	// written). Create then returns as soon as the bytes are in
	// the page cache, as cp does, and a crash of the machine soon after may
	// leave a backup whose manifest lists files whose bytes were lost
	// (Verify tells). For a backup that is verified or shipped
	// elsewhere at once, or on storage that is itself synced; like
	// pg_basebackup --no-sync. Ignored for an s3:// dir. Default: every
	// file, directory and the manifest are synced before Create returns.
	// Manifest.NoSync records it; a synced backup with such a Base makes
	// the files it links from it durable too.
	NoSync bool

	hooks *backupHooks // fault injection for this package's tests
}

// Progress is a snapshot of a running Create (and of Verify and Restore).
type Progress struct {
	// Phase is "freeze", "stage" (inside the freeze: hard links of the
	// immutable files, copies of the others), "copy" (without staging:
	// inside the freeze; with staging: after it, from the hard links),
	// "upload" (for an s3:// dir, after the unfreeze: every file streamed
	// to the store; then "manifest"),
	// "link" (files reused from the base), "compress" (after the unfreeze:
	// the staged copies of a compressed backup), "hash" (after the
	// unfreeze: the copies of an uncompressed backup, while they are
	// synced), "sync" or "manifest" (the last report, before manifest.json
	// is written and the directory renamed into place).
	Phase string
	// Staging is Manifest.Staging once decided (inside the freeze), else "".
	Staging    string
	Files      int
	FilesTotal int
	Bytes      int64
	BytesTotal int64
	Elapsed    time.Duration
	// Frozen is how long the tables have been (or were) frozen.
	Frozen time.Duration
}

// backupHooks let this package's tests fail each step of a backup.
type backupHooks struct {
	dev            func(path string) (uint64, error) // stands in for devOf
	beforeStaged   func(src, staged string) error    // after the unfreeze, before a staged link is read
	stageMemory    int64                             // stands in for stageMemory when not 0
	clone          func(dst, src *os.File) error
	beforeCopy     func(i int, src string) error
	beforeHash     func(path string) error
	beforeSync     func(path string) error // each fsync of a file; the syncfs (path: the temporary folder)
	perFileSync    bool                    // fsync each file and folder even where one syncfs would do
	beforeManifest func() error
	noFlock        bool            // stands in for a system without flock (haveFlock false)
	stateMissing   func(tries int) // a state file was not there when opened (openState), before the wait
}

// discard is the logger of an engine call given none.
var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// loggerOr returns l, or a logger that discards everything when l is nil.
func loggerOr(l *slog.Logger) *slog.Logger {
	if l == nil {
		return discard
	}
	return l
}
