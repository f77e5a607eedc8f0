package backup

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dbctl/dbctl"
	"github.com/dbctl/dbctl/backupstore"
	"github.com/klauspost/compress/zstd"
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
// Restore can rebuild a complete data_dir, and so is searchd's config
// file (config/, as manticore-backup keeps it), found with SHOW SETTINGS;
// the manifest records its path and the data_dir. Restore does not
// write the config file anywhere: it is kept for the operator.
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

// log is where the run's notes go (CreateOptions.Logger).
func (b *backupRun) log() *slog.Logger { return loggerOr(b.opts.Logger) }

type backupRun struct {
	m       *dbctl.Manticore
	op      string
	opts    CreateOptions
	tmp     string
	target  string
	started time.Time
	man     *Manifest
	// settings is SHOW SETTINGS, nil when the server refused it.
	settings *dbctl.ServerSettings

	jobs  []backupJob
	phase atomic.Value // string
	files atomic.Int64
	bytes atomic.Int64
	total int64
	// filesTotal and bytesTotal are len(jobs) and total for the progress
	// reporter's goroutine, stored once the plan is made.
	filesTotal, bytesTotal atomic.Int64
	frozen                 atomic.Int64 // unix nanos of the FREEZE, 0 before
	thawed                 atomic.Int64 // unix nanos of the UNFREEZE, 0 before
	noClone                atomic.Bool  // a clone failed: the file system cannot
	reports                *reporter

	stagingMode atomic.Value // string: Manifest.Staging once decided
	staging     *stagingDir  // nil: no staging
	arena       *memArena    // memory for the mutable files, touched before the freeze; nil: none
	baseOnce    sync.Once    // sets man.Base at the first file taken from the base
	memBudget   atomic.Int64 // bytes of mutable files still allowed in memory (see stageMemory)
	base        *baseBackup  // nil: a full backup
	tmpLock     *os.File     // the locked marker of tmp

	store backupstore.Store // nil: a local backup (target); else the upload's destination
	undo  *uploadUndo       // what the upload to store wrote, deleted on failure

	syncfs *os.File          // the temporary folder, for the one syncfs (durable.go); nil: per-file fsync or NoSync
	level  zstd.EncoderLevel // of a Compress backup (compress.go); 0 without
}

type backupJob struct {
	src, dst      string
	size          int64 // of the source when planned, for progress and copy order
	file          ManifestFile
	hashLater     bool   // cloned or copied by the kernel: hashed after the unfreeze
	compressLater bool   // compressed backup, copied to dst+stageSuffix: compressed after the unfreeze
	inFreeze      bool   // dst (or dst.zst) written inside the freeze: its writeback started after it (durable.go)
	staged        string // hard link in the staging folder, read after the unfreeze
	mem           []byte // a mutable file's bytes read inside the freeze, written after it
	fromBase      string // the base backup's stored file this one reuses
	linked        bool   // dst is a hard link to fromBase: durable already
	synced        bool   // dst was synced already (see syncer)
}

// stageSuffix names the copy a compressed backup compresses after the
// unfreeze (a clone, or with CompressAfterUnfreeze a kernel copy).
const stageSuffix = ".dbctl-stage"

func (b *backupRun) run(ctx context.Context, selected map[string]string) (man *Manifest, err error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	b.phase.Store("freeze")
	b.openSyncFS() // before the first file is written (durable.go)
	defer b.closeSyncFS()
	b.reports = startReporter(b.opts.Progress, b.snapshot, cancel)
	names := make([]string, 0, len(selected))
	for n := range selected {
		names = append(names, n)
	}
	sort.Strings(names)

	defer func() {
		p := recover()
		if rp := b.reports.stop(); p == nil {
			p = rp
		}
		if p != nil || err != nil {
			if uerr := b.undo.run(ctx); uerr != nil {
				err = errors.Join(err, opErr(b.op, nil, "delete the partial upload", uerr))
			}
			_ = b.staging.remove()
			_ = removeMarked(b.tmp, "temp") // a folder left keeps its marker: the next run's
			man = nil
		}
		if p != nil {
			panic(p)
		}
	}()

	if err := b.beforeFreeze(ctx, names); err != nil {
		return nil, err
	}
	// The freeze window: WithFrozen freezes the tables in one statement and
	// releases exactly what it froze, once, also when the callback fails or
	// panics or ctx ends; the copy after the unfreeze goes on below.
	b.frozen.Store(time.Now().UnixNano())
	var inside error
	err = b.m.WithFrozen(ctx, names, func(ctx context.Context, files []dbctl.FrozenFile) error {
		inside = b.insideFreeze(ctx, files, selected)
		return inside
	})
	b.thawed.Store(time.Now().UnixNano())
	if err != nil {
		return nil, unwrapCallback(b.op, err, inside)
	}
	b.man.FreezeWindow = time.Duration(b.thawed.Load() - b.frozen.Load())
	if b.store != nil {
		if err := b.upload(ctx); err != nil {
			return nil, err
		}
		return b.man, nil
	}
	if err := b.copyStaged(ctx); err != nil {
		return nil, err
	}
	if err := b.linkFromBase(ctx); err != nil {
		return nil, err
	}
	if err := b.compressStaged(ctx); err != nil {
		return nil, err
	}
	if err := b.hashAndSync(ctx); err != nil {
		return nil, err
	}
	b.phase.Store("manifest")
	// The last report comes before the rename: a panic in Progress must
	// still find nothing that looks like a finished backup.
	if p := b.reports.stop(); p != nil {
		panic(p)
	}
	if err := b.finish(ctx); err != nil {
		return nil, err
	}
	return b.man, nil
}

// insideFreeze is what Create does while the tables are frozen: FLUSH
// ATTRIBUTES (so the attribute files hold every UPDATE), the plan of the
// files FREEZE listed, the staging decision, and the hard links or copies.
func (b *backupRun) insideFreeze(ctx context.Context, files []dbctl.FrozenFile, selected map[string]string) error {
	if _, err := b.m.FlushAttributes(ctx); err != nil {
		return opErr(b.op, nil, "", err)
	}
	dataDir, err := b.plan(files, selected)
	if err != nil {
		return err
	}
	b.man.DataDir = dataDir
	if err := b.chooseStaging(ctx, dataDir); err != nil {
		return err
	}
	return b.copyAll(ctx)
}

// unwrapCallback returns the error of WithFrozen with the callback's own
// error (inside) in place of WithFrozen's "callback" wrapping of it, so the
// message names this backup once; a release failure WithFrozen joined stays.
// Any other error (the FREEZE failed) is wrapped in op.
func unwrapCallback(op string, err, inside error) error {
	if inside == nil {
		return opErr(op, nil, "", err)
	}
	var unwrap func(e error) error
	unwrap = func(e error) error {
		if oe, ok := e.(*dbctl.OpError); ok && oe.Err == inside {
			return inside
		}
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			if _, isOp := e.(*dbctl.OpError); !isOp {
				var out []error
				for _, x := range j.Unwrap() {
					out = append(out, unwrap(x))
				}
				return errors.Join(out...)
			}
		}
		return e
	}
	return unwrap(err)
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

// clone is how files are cloned: FICLONE, a test's stand-in, or nil when
// turned off.
func (b *backupRun) clone() func(dst, src *os.File) error {
	switch {
	case b.opts.NoReflink:
		return nil
	case b.opts.hooks != nil && b.opts.hooks.clone != nil:
		return b.opts.hooks.clone
	}
	return reflink
}

func (b *backupRun) concurrency() int {
	if b.opts.Concurrency > 0 {
		return b.opts.Concurrency
	}
	return runtime.NumCPU()
}

func (b *backupRun) snapshot() Progress {
	p := Progress{
		Phase: b.phase.Load().(string), Files: int(b.files.Load()), FilesTotal: int(b.filesTotal.Load()),
		Bytes: b.bytes.Load(), BytesTotal: b.bytesTotal.Load(), Elapsed: time.Since(b.started),
	}
	if s, ok := b.stagingMode.Load().(string); ok {
		p.Staging = s
	}
	if f := b.frozen.Load(); f != 0 {
		end := b.thawed.Load()
		if end == 0 {
			end = time.Now().UnixNano()
		}
		p.Frozen = time.Duration(end - f)
	}
	return p
}
