package dbctl

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync/atomic"
	"time"
)

// syncConcurrency is how many fsyncs run at once after the copy.
const syncConcurrency = 8

// stateFiles are the data_dir files a backup keeps besides the tables:
// manticore.json lists the tables and their paths; state.sql holds the
// daemon's SQL state (UDFs, plugins).
var stateFiles = []string{"manticore.json", "state.sql"}

// Backup writes a consistent, checksummed copy of the selected tables to
// dir, which must not exist yet. The server must run on this machine (the
// files FREEZE lists are read directly).
//
// All selected tables are frozen in one statement, FLUSH ATTRIBUTES runs,
// and each listed file's identity (device, inode, size, mtime) is recorded
// (ManifestFile.Identity).
//
// Staged (the default where possible, see StagingDir; Manifest.Staging
// "staged"): inside the freeze the immutable disk-chunk files (see
// immutableSuffixes) are hard-linked into a staging folder and the mutable
// ones read into memory (up to stageMemory, beyond it copied); after the
// unfreeze the links are copied (cloned where the file system can, else by
// the kernel) or compressed, hashed (sha256) and synced, and removed. Each
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
// With Base, unchanged immutable files are hard-linked from an earlier
// backup instead (see BackupOptions.Base).
//
// The tables are unfrozen as soon as the copies (or links) are made:
// exactly the tables Backup froze, once each, also on error, cancellation,
// panic (including one in Progress) or a lost connection (see WithFrozen).
// Then files and directories are synced, manifest.json is written last,
// and the temporary directory beside dir is renamed to dir. A failed backup
// leaves no directory named dir and no staging folder; a killed one leaves
// them with a marker no process holds, and the next backup beside dir (or
// with the same StagingDir) removes them.
//
// manticore.json and state.sql of the data_dir are copied too (state/), so
// RestoreBackup can rebuild a complete data_dir, and so is searchd's config
// file (config/, as manticore-backup keeps it), found with SHOW SETTINGS;
// the manifest records its path and the data_dir. RestoreBackup does not
// write the config file anywhere: it is kept for the operator.
//
// When this process runs as root and the data_dir belongs to another user
// (searchd's own), the backup is given to that user, so that IMPORT TABLE
// by that searchd can read it.
//
// dir may be "s3://bucket/prefix": the backup is made in a local folder
// (StagingDir, else the temp dir), uploaded after the unfreeze with
// manifest.json last, and the local folder removed (backup_remote.go).
func (m *Manticore) Backup(ctx context.Context, dir string, opts BackupOptions) (man *Manifest, err error) {
	if IsRemoteLocation(dir) {
		return m.backupRemote(ctx, dir, opts)
	}
	op := "manticore backup " + dir
	started := time.Now()
	target, err := filepath.Abs(dir)
	if err != nil {
		return nil, opErr(op, ErrInvalidArgument, "", err)
	}
	if _, err := os.Lstat(target); err == nil {
		return nil, opErr(op, ErrBackupExists, target, nil)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, opErr(op, nil, "", err)
	}
	selected, skipped, err := m.selectTables(ctx, op, opts.Tables)
	if err != nil {
		return nil, err
	}
	version, err := m.ServerVersion(ctx)
	if err != nil {
		return nil, err
	}
	// Where searchd's config file and data_dir are (manticore-2.jsonl,
	// "SHOW SETTINGS"). A server that refuses the statement (older than
	// SHOW SETTINGS) gets a backup without its config file.
	settings, err := m.Settings(ctx)
	if err != nil && !isServerError(err) {
		return nil, err
	}
	id, err := newBackupID()
	if err != nil {
		return nil, opErr(op, nil, "backup id", err)
	}
	b := &backupRun{m: m, op: op, opts: opts, target: target, started: started, settings: settings}
	b.man = &Manifest{
		FormatVersion: ManifestFormatVersion, Tool: "dbctl", ID: id, ServerVersion: version, Started: started.UTC(),
		Partial: len(opts.Tables) > 0, Skipped: skipped,
	}
	if opts.Compress {
		b.man.Compression = "zstd"
	}
	if err := b.readBase(ctx); err != nil {
		return nil, err
	}
	b.cleanStaleStaging(ctx)
	if b.tmp, err = os.MkdirTemp(filepath.Dir(target), "."+filepath.Base(target)+partialInfix); err != nil {
		return nil, opErr(op, nil, "create temporary directory", err)
	}
	// the marker lets the next backup remove this directory if this
	// process is killed; it is removed before the rename into place
	if b.tmpLock, err = lockMarker(b.tmp, map[string]any{"backup_id": id, "pid": os.Getpid(), "target": target}); err != nil {
		_ = os.RemoveAll(b.tmp)
		return nil, opErr(op, nil, "create temporary directory", err)
	}
	defer b.tmpLock.Close()
	return b.run(ctx, selected)
}

type backupRun struct {
	m       *Manticore
	op      string
	opts    BackupOptions
	tmp     string
	target  string
	started time.Time
	man     *Manifest
	// settings is SHOW SETTINGS, nil when the server refused it.
	settings *ServerSettings

	jobs    []backupJob
	phase   atomic.Value // string
	files   atomic.Int64
	bytes   atomic.Int64
	total   int64
	frozen  atomic.Int64 // unix nanos of the FREEZE, 0 before
	thawed  atomic.Int64 // unix nanos of the UNFREEZE, 0 before
	noClone atomic.Bool  // a clone failed: the file system cannot
	reports *reporter

	stagingMode atomic.Value // string: Manifest.Staging once decided
	staging     *stagingDir  // nil: no staging
	memBudget   atomic.Int64 // bytes of mutable files still allowed in memory (see stageMemory)
	base        *baseBackup  // nil: a full backup
	tmpLock     *os.File     // the locked marker of tmp
}

type backupJob struct {
	src, dst      string
	size          int64 // of the source when planned, for progress and copy order
	file          ManifestFile
	hashLater     bool   // cloned or copied by the kernel: hashed after the unfreeze
	compressLater bool   // compressed backup, copied to dst+stageSuffix: compressed after the unfreeze
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
	b.reports = startReporter(b.opts.Progress, b.snapshot, cancel)
	names := make([]string, 0, len(selected))
	for n := range selected {
		names = append(names, n)
	}
	sort.Strings(names)

	// holding says whether the tables are ours to release: only after
	// freezeOn succeeded (on failure it released what it froze itself), and
	// only once.
	var holding bool
	var conn = (*sqlConn)(nil)
	release := func() error {
		if !holding {
			conn.close()
			return nil
		}
		holding = false
		rerr := b.m.release(ctx, conn.get(), names)
		b.thawed.Store(time.Now().UnixNano())
		conn.close()
		return rerr
	}
	defer func() {
		p := recover()
		if rp := b.reports.stop(); p == nil {
			p = rp
		}
		if p != nil || err != nil {
			err = errors.Join(err, release())
			_ = b.staging.remove()
			_ = os.RemoveAll(b.tmp)
			man = nil
		}
		if p != nil {
			panic(p)
		}
	}()

	c, err := b.m.c.conn(ctx, b.op)
	if err != nil {
		return nil, err
	}
	conn = &sqlConn{c: c}
	b.frozen.Store(time.Now().UnixNano())
	files, err := b.m.freezeOn(ctx, c, "manticore freeze "+strings.Join(names, ", "), names)
	if err != nil {
		return nil, opErr(b.op, nil, "", err)
	}
	holding = true
	if _, err := b.m.c.query(ctx, c, "FLUSH ATTRIBUTES"); err != nil {
		return nil, manticoreErr(b.op+": flush attributes", err)
	}
	dataDir, err := b.plan(files, selected)
	if err != nil {
		return nil, err
	}
	b.man.DataDir = dataDir
	if err := b.chooseStaging(ctx, dataDir); err != nil {
		return nil, err
	}
	if err := b.copyAll(ctx); err != nil {
		return nil, err
	}
	if err := release(); err != nil {
		return nil, opErr(b.op, nil, "", err)
	}
	b.man.FreezeWindow = time.Duration(b.thawed.Load() - b.frozen.Load())
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
	if err := b.finish(); err != nil {
		return nil, err
	}
	return b.man, nil
}

// copyAll copies every file; largest first so that the workers finish
// together.
func (b *backupRun) copyAll(ctx context.Context) error {
	b.phase.Store("copy")
	if b.staging != nil {
		b.phase.Store("stage")
	}
	order := make([]int, len(b.jobs))
	for i := range b.jobs {
		order[i] = i
	}
	sort.SliceStable(order, func(x, y int) bool { return b.jobs[order[x]].size > b.jobs[order[y]].size })
	ext := ""
	if b.opts.Compress {
		ext = ".zst"
	}
	err := runWorkers(ctx, len(order), b.concurrency(), &b.bytes, func(ctx context.Context, w *fileWorker, k int) error {
		i := order[k]
		j := &b.jobs[i]
		if h := b.opts.hooks; h != nil && h.beforeCopy != nil {
			if err := h.beforeCopy(i, j.src); err != nil {
				return err
			}
		}
		if j.fromBase != "" {
			return nil // linked from the base after the unfreeze
		}
		if b.staging != nil && isImmutable(j.src) {
			if ok, err := b.link(i, j); err != nil || ok {
				return err
			}
		}
		if b.staging != nil && b.memBudget.Add(-j.size) >= 0 {
			return b.readToMemory(j)
		} else if b.staging != nil {
			b.memBudget.Add(j.size)
		}
		if err := b.copyOne(ctx, w, j, ext); err != nil {
			return err
		}
		// the source must still be the file of the freeze
		f, err := os.Open(j.src)
		if err != nil {
			return fmt.Errorf("copy %s: %w", j.src, err)
		}
		defer f.Close()
		return checkIdentity(f, &j.file)
	})
	if err != nil {
		return opErr(b.op, kindOf(err), "copy", err)
	}
	return nil
}

// copyOne copies one file inside the freeze (see copyAll). A compressed
// backup compresses the copy after the unfreeze where it can (a clone, or
// a kernel copy when staging or with CompressAfterUnfreeze), else inside
// the freeze.
func (b *backupRun) copyOne(ctx context.Context, w *fileWorker, j *backupJob, ext string) error {
	orCopy := b.opts.CompressAfterUnfreeze || b.staging != nil
	if clone := b.clone(); b.opts.Compress && ((clone != nil && !b.noClone.Load()) || orCopy) {
		res, ok, err := w.stage(ctx, j.src, j.dst+stageSuffix, clone, &b.noClone, orCopy)
		if err != nil {
			return fmt.Errorf("copy %s: %w", j.src, err)
		}
		if ok {
			j.file.Size, j.file.Mode, j.compressLater = res.size, res.mode, true
			b.files.Add(1)
			return nil
		}
	}
	res, err := w.copyFile(ctx, j.src, j.dst+ext, b.opts.Compress, b.clone())
	if err != nil {
		return fmt.Errorf("copy %s: %w", j.src, err)
	}
	j.file.Size, j.file.StoredSize, j.file.SHA256, j.file.Mode, j.hashLater = res.size, res.stored, res.sha256, res.mode, res.hashLater
	b.files.Add(1)
	return nil
}

// kindOf returns ErrSourceChanged when err says a source changed, so that
// the backup's error carries it as its kind.
func kindOf(err error) error {
	if errors.Is(err, ErrSourceChanged) {
		return ErrSourceChanged
	}
	return nil
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

func (b *backupRun) snapshot() BackupProgress {
	p := BackupProgress{
		Phase: b.phase.Load().(string), Files: int(b.files.Load()), FilesTotal: len(b.jobs),
		Bytes: b.bytes.Load(), BytesTotal: b.total, Elapsed: time.Since(b.started),
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
