package backup

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/dbctl/dbctl"
	"github.com/dbctl/dbctl/backupstore"
)

// syncConcurrency is how many fsyncs run at once after the copy.
const syncConcurrency = 8

// stateFiles are the data_dir files a backup keeps besides the tables:
// manticore.json lists the tables and their paths; state.sql holds the
// daemon's SQL state (UDFs, plugins).
var stateFiles = []string{"manticore.json", "state.sql"}

// Create writes a consistent, checksummed copy of the selected tables of the
// server m speaks to, to location: a folder, which must not exist yet, or
// "s3://bucket/prefix" (see below). The server must run on this machine
// (the files FREEZE lists are read directly).
//
// All selected tables are frozen in one statement through
// m.WithFrozen, which releases exactly what it froze; inside it FLUSH
// ATTRIBUTES runs (m.FlushAttributes),
// and each listed file's identity (device, inode, size, mtime) is recorded
// (ManifestFile.Identity).
//
// Staged (the default where possible, see StagingDir; Manifest.Staging
// "staged"): the staging folder is made, and the memory for the mutable
// files allocated and touched, before the FREEZE (when SHOW SETTINGS gave
// the data_dir); inside the freeze the immutable disk-chunk files (see
// immutableSuffixes) are hard-linked into the staging folder and the
// mutable ones read into that memory (up to stageMemory, beyond it
// copied); after the unfreeze the links are copied (cloned where the file
// system can, else by the kernel) or compressed, hashed (sha256) and
// synced, and removed. Each
// file is checked to be the very file of the freeze before and after its
// bytes are read (else ErrSourceChanged, naming it). The freeze window then
// does not grow with the immutable bytes.
//
// Without staging ("copied-inside-freeze"), Concurrency workers copy every
// listed file inside the freeze: uncompressed, cloned (FICLONE) or copied by
// the kernel (copy_file_range), hashed after the unfreeze while they are
// synced; compressed, in one pass inside the freeze, or from clones or (with
// CompressAfterUnfreeze) kernel copies after it.
//
// With Base, unchanged immutable files, and mutable ones whose bytes are
// unchanged, are hard-linked from an earlier backup instead (see
// CreateOptions.Base). With NoSync nothing is fsynced.
//
// The tables are unfrozen as soon as the copies (or links) are made:
// exactly the tables Create froze, once each, also on error, cancellation,
// panic (including one in Progress) or a lost connection (see WithFrozen).
// Then files and directories are synced, manifest.json is written last,
// and the temporary directory beside dir is renamed to dir. A failed backup
// leaves no directory named dir and no staging folder; a killed one leaves
// them with a marker no process holds, and the next backup beside dir (or
// with the same StagingDir) removes them.
//
// manticore.json and state.sql of the data_dir are copied too (state/), so
// Restore can rebuild a complete data_dir. searchd replaces them by rename
// whenever another client creates or drops any table, also during the
// freeze, so each is read whole inside the freeze from one descriptor,
// whose identity is the one recorded (statefile.go): a CREATE or DROP
// TABLE of another table never fails a backup, and Restore rewrites
// manticore.json to list exactly the backup's tables. searchd's config
// file is kept too (config/, as manticore-backup keeps it), found with
// SHOW SETTINGS; the manifest records its path and the data_dir. Restore
// does not write the config file anywhere: it is kept for the operator.
//
// When this process runs as root and the data_dir belongs to another user
// (searchd's own), the backup is given to that user, so that IMPORT TABLE
// by that searchd can read it.
//
// dir may be "s3://bucket/prefix": the freeze is the same (staged where a
// staging folder on the data_dir's file system can be made: StagingDir,
// else beside the data_dir, else in the temp dir), and after the unfreeze
// each file is streamed once from its hard link or from memory to the
// store, with manifest.json last; no local copy of the backup is made
// (remote.go, remote_direct.go).
func Create(ctx context.Context, m *dbctl.Manticore, location string, opts CreateOptions) (man *Manifest, err error) {
	dir := location
	op := "manticore backup " + dir
	b := &backupRun{m: m, op: op, opts: opts, started: time.Now()}
	if b.level, err = compressionLevel(op, opts); err != nil {
		return nil, err
	}
	if err := reservedLocation(op, location); err != nil {
		return nil, err
	}
	if !haveFlock || (opts.hooks != nil && opts.hooks.noFlock) {
		// Every folder a backup makes carries a marker it holds locked,
		// so that the next run can tell a killed run's leftovers from a
		// live one's: without flock that cannot be told, so nothing is
		// started (nothing sent, nothing frozen, nothing made).
		return nil, opErr(op, dbctl.ErrNotSupported, "backups need flock(2) to mark their temporary folders, and "+runtime.GOOS+" has none", nil)
	}

	// Orphaned freezes first: the freezes of dbctl runs on this machine
	// that died holding them (the freeze journal in the client's state
	// folder, dbctl.Options.StateDir), released one UNFREEZE per table of
	// each (dbctl.Manticore.ReleaseOrphanedFreezes) and reported in
	// Manifest.ReleasedOrphans. m.WithFrozen would release them too, but
	// only into the log. A failed scan is logged and left to WithFrozen,
	// which refuses to freeze when the journal is unusable.
	orphans, oerr := m.ReleaseOrphanedFreezes(ctx)
	if oerr != nil && !errors.Is(oerr, dbctl.ErrNotSupported) {
		b.log().WarnContext(ctx, "dbctl: orphaned freezes: "+strings.TrimPrefix(oerr.Error(), "dbctl: "))
	}
	defer func() {
		if man != nil {
			for _, o := range orphans {
				if o.Done && len(o.Release) > 0 {
					man.ReleasedOrphans = append(man.ReleasedOrphans, o)
				}
			}
		}
	}()

	// tmp is the backup's local folder: the backup itself, renamed to dir
	// at the end; for a store, where files copied inside the freeze wait
	// for their upload (see upload).
	tmpParent, tmpName := "", ""
	if backupstore.IsRemote(dir) {
		if err := b.openStore(ctx, dir); err != nil {
			return nil, err
		}
		defer b.store.Close()
		tmpParent, tmpName = opts.StagingDir, "dbctl-s3"
		if tmpParent == "" {
			tmpParent = os.TempDir()
		}
	} else {
		target, err := filepath.Abs(dir)
		if err != nil {
			return nil, opErr(op, dbctl.ErrInvalidArgument, "", err)
		}
		if _, err := os.Lstat(target); err == nil {
			return nil, opErr(op, ErrExists, target, nil)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, opErr(op, nil, "", err)
		}
		b.target, tmpParent, tmpName = target, filepath.Dir(target), filepath.Base(target)
	}
	selected, skipped, err := selectTables(ctx, m, op, opts.Tables)
	if err != nil {
		return nil, inOp(op, err)
	}
	version, err := m.ServerVersion(ctx)
	if err != nil {
		return nil, opErr(op, nil, "", err)
	}
	// Where searchd's config file and data_dir are (manticore-2.jsonl,
	// "SHOW SETTINGS"). A server that refuses the statement (older than
	// SHOW SETTINGS) gets a backup without its config file.
	if b.settings, err = m.Settings(ctx); err != nil && !isServerError(err) {
		return nil, opErr(op, nil, "", err)
	}
	if err := b.checkDataDir(ctx); err != nil {
		return nil, err
	}
	id, err := newBackupID()
	if err != nil {
		return nil, opErr(op, nil, "backup id", err)
	}
	b.man = &Manifest{
		FormatVersion: ManifestFormatVersion, Tool: "dbctl", ID: id, ServerVersion: version, Started: b.started.UTC(),
		Partial: len(opts.Tables) > 0, Skipped: skipped,
	}
	if opts.Compress {
		b.man.Compression, b.man.CompressionLevel = "zstd", b.level.String()
	}
	b.man.NoSync = opts.NoSync && !backupstore.IsRemote(dir)
	if err := b.readBase(ctx); err != nil {
		return nil, err
	}
	b.cleanStaleStaging(ctx, tmpParent)
	// the marker lets the next backup remove this directory if this
	// process is killed; it stays until the directory is in place
	b.tmp, b.tmpLock, err = newMarked("temp", func() (string, error) { return os.MkdirTemp(tmpParent, "."+tmpName+partialInfix) },
		map[string]any{"backup_id": id, "pid": os.Getpid(), "target": b.targetName()})
	if err != nil {
		return nil, opErr(op, nil, "create temporary directory", err)
	}
	defer b.tmpLock.Close()
	if err := b.claimStore(ctx); err != nil {
		_ = removeMarked(b.tmp, "temp")
		return nil, err
	}
	return b.run(ctx, selected)
}

// inOp wraps an error of another operation (the manager's SHOW TABLES) in
// the backup's op; one of op already is returned as it is.
func inOp(op string, err error) error {
	var oe *dbctl.OpError
	if errors.As(err, &oe) && oe.Op == op {
		return err
	}
	return opErr(op, nil, "", err)
}

// newBackupID returns 128 random bits in hex (Manifest.ID).
func newBackupID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}
