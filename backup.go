package dbctl

import (
	"context"
	"encoding/json"
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

// BackupOptions configure Backup.
type BackupOptions struct {
	// Tables to back up; empty means every table of SHOW TABLES. Tables
	// that cannot be frozen (distributed, plain) are skipped and listed in
	// Manifest.Skipped, never silently.
	Tables []string
	// Compress stores files as zstd (".zst"); sizes and hashes in the
	// manifest are of the original bytes. Each byte is then read once,
	// hashed and compressed in one pass inside the freeze, so the freeze
	// window grows with the compression time (see CompressAfterUnfreeze).
	Compress bool
	// Concurrency is the number of copy workers; 0 means one per CPU.
	Concurrency int
	// Progress, when set, is called from one goroutine, at most ~10 times a
	// second and once more at the end. A panic in it cancels the backup,
	// which cleans up (unfreezes, removes its partial output) and then
	// re-panics in the caller's goroutine.
	Progress func(BackupProgress)
	// CompressAfterUnfreeze, with Compress, copies the files inside the
	// freeze (by the kernel: copy_file_range) and compresses the copies
	// after the unfreeze, so the tables stay frozen about as briefly as for
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
	// StagingDir and Remote apply to an s3:// location (backup_remote.go).
	StagingDir string
	Remote     RemoteOptions

	hooks *backupHooks // fault injection for this package's tests
}

// BackupProgress is a snapshot of a running Backup.
type BackupProgress struct {
	// Phase is "freeze", "copy", "compress" (after the unfreeze: the
	// staged copies of a compressed backup), "hash" (after the unfreeze: the
	// copies of an uncompressed backup, while they are synced), "sync" or
	// "manifest" (the last report, before manifest.json is written and the
	// directory renamed into place).
	Phase      string
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
	clone          func(dst, src *os.File) error
	beforeCopy     func(i int, src string) error
	beforeHash     func(path string) error
	beforeSync     func(path string) error
	beforeManifest func() error
}

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
// and Concurrency workers copy the listed files. Uncompressed, the bytes do
// not pass through this process inside the freeze: files are cloned where
// the file system can (FICLONE: the freeze window does not grow with the
// data), else copied by the kernel (copy_file_range); the copies are hashed
// (sha256) after the unfreeze, while they are synced. With Compress each
// byte is read once, hashed and compressed in one pass: inside the freeze,
// or after it, from clones where files can be cloned or from kernel copies
// with CompressAfterUnfreeze. The tables are
// unfrozen as soon as the copies are written: exactly the tables Backup
// froze, once each, also on error, cancellation, panic (including one in
// Progress) or a lost connection (see WithFrozen). Then files and
// directories are synced, manifest.json is written last, and the temporary
// directory beside dir is renamed to dir. A failed backup leaves no
// directory named dir.
//
// manticore.json and state.sql of the data_dir are copied too (state/), so
// RestoreBackup can rebuild a complete data_dir.
//
// dir may be "s3://bucket/prefix": staged locally, uploaded after the
// unfreeze, manifest.json last (backup_remote.go, README-s3.md).
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
	tmp, err := os.MkdirTemp(filepath.Dir(target), "."+filepath.Base(target)+".dbctl-partial-")
	if err != nil {
		return nil, opErr(op, nil, "create temporary directory", err)
	}
	b := &backupRun{m: m, op: op, opts: opts, tmp: tmp, target: target, started: started}
	b.man = &Manifest{
		FormatVersion: ManifestFormatVersion, Tool: "dbctl", ServerVersion: version, Started: started.UTC(),
		Partial: len(opts.Tables) > 0, Skipped: skipped,
	}
	if opts.Compress {
		b.man.Compression = "zstd"
	}
	return b.run(ctx, selected)
}

// selectTables resolves the tables to back up against SHOW TABLES.
func (m *Manticore) selectTables(ctx context.Context, op string, want []string) (map[string]string, []SkippedTable, error) {
	all, err := m.Tables(ctx)
	if err != nil {
		return nil, nil, err
	}
	types := map[string]string{}
	for _, t := range all {
		types[t.Name] = t.Type
	}
	names := make([]string, 0, len(all))
	if len(want) == 0 {
		for _, t := range all {
			names = append(names, t.Name)
		}
	} else {
		if names, err = canonicalManticoreTables(want); err != nil {
			return nil, nil, opErr(op, nil, "", err)
		}
		var missing []string
		for _, n := range names {
			if _, ok := types[n]; !ok {
				missing = append(missing, n)
			}
		}
		if len(missing) > 0 {
			return nil, nil, opErr(op, ErrTableNotFound, strings.Join(missing, ", "), nil)
		}
	}
	selected := map[string]string{}
	var skipped []SkippedTable
	for _, n := range names {
		switch typ := types[n]; typ {
		case "rt", "percolate":
			selected[n] = typ
		case "distributed":
			skipped = append(skipped, SkippedTable{Name: n, Type: typ, Reason: "distributed tables have no files of their own (their definition is in state/manticore.json)"})
		default:
			skipped = append(skipped, SkippedTable{Name: n, Type: typ, Reason: "FREEZE supports only RT and percolate tables"})
		}
	}
	if len(selected) == 0 {
		return nil, nil, opErr(op, ErrNoTables, "no RT or percolate table among the selected ones", nil)
	}
	return selected, skipped, nil
}

type backupRun struct {
	m       *Manticore
	op      string
	opts    BackupOptions
	tmp     string
	target  string
	started time.Time
	man     *Manifest

	jobs    []backupJob
	phase   atomic.Value // string
	files   atomic.Int64
	bytes   atomic.Int64
	total   int64
	frozen  atomic.Int64 // unix nanos of the FREEZE, 0 before
	thawed  atomic.Int64 // unix nanos of the UNFREEZE, 0 before
	noClone atomic.Bool  // a clone failed: the file system cannot
	reports *reporter
}

type backupJob struct {
	src, dst      string
	size          int64 // of the source when planned, for progress and copy order
	file          ManifestFile
	hashLater     bool // cloned or copied by the kernel: hashed after the unfreeze
	compressLater bool // compressed backup, copied to dst+stageSuffix: compressed after the unfreeze
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
	if err := b.copyAll(ctx); err != nil {
		return nil, err
	}
	if err := release(); err != nil {
		return nil, opErr(b.op, nil, "", err)
	}
	b.man.FreezeWindow = time.Duration(b.thawed.Load() - b.frozen.Load())
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

// plan maps every listed file to its place in the backup and adds the
// data_dir's state files.
func (b *backupRun) plan(files []FrozenFile, selected map[string]string) (string, error) {
	tables := map[string]*ManifestTable{}
	dataDir := ""
	for _, f := range files {
		src := f.Normalized
		if src == "" {
			src = f.File
		}
		if !filepath.IsAbs(src) {
			return "", opErr(b.op, ErrUnexpectedResult, "FREEZE listed a relative path: "+quoteForMessage(src), nil)
		}
		base := filepath.Base(src)
		if filepath.Base(filepath.Dir(src)) == f.Table && dataDir == "" {
			dataDir = filepath.Dir(filepath.Dir(src))
		}
		rel := "data/" + f.Table + "/" + base
		b.jobs = append(b.jobs, backupJob{src: src, dst: filepath.Join(b.tmp, "data", f.Table, base),
			file: ManifestFile{Path: rel, Table: f.Table, Source: src}})
		if tables[f.Table] == nil {
			tables[f.Table] = &ManifestTable{Name: f.Table, Type: selected[f.Table]}
		}
		tables[f.Table].Files++
	}
	if dataDir == "" {
		return "", opErr(b.op, ErrUnexpectedResult, "cannot tell the data_dir from the FREEZE file list", nil)
	}
	for _, name := range stateFiles {
		src := filepath.Join(dataDir, name)
		if _, err := os.Stat(src); err != nil {
			if name == "manticore.json" {
				return "", opErr(b.op, nil, "data_dir "+dataDir+" has no manticore.json (is the server in RT mode, on this machine?)", err)
			}
			continue
		}
		b.jobs = append(b.jobs, backupJob{src: src, dst: filepath.Join(b.tmp, "state", name),
			file: ManifestFile{Path: "state/" + name, Source: src}})
	}
	for _, t := range tables {
		b.man.Tables = append(b.man.Tables, *t)
	}
	sort.Slice(b.man.Tables, func(i, j int) bool { return b.man.Tables[i].Name < b.man.Tables[j].Name })
	dsts := make([]string, len(b.jobs))
	for i := range b.jobs {
		dsts[i] = b.jobs[i].dst
		if fi, err := os.Stat(b.jobs[i].src); err == nil {
			b.jobs[i].size = fi.Size()
			b.total += fi.Size()
		}
	}
	if err := mkdirAll(parentDirs(dsts)); err != nil {
		return "", opErr(b.op, nil, "create directories", err)
	}
	return dataDir, nil
}

// copyAll copies every file; largest first so that the workers finish
// together.
func (b *backupRun) copyAll(ctx context.Context) error {
	b.phase.Store("copy")
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
		if clone := b.clone(); b.opts.Compress && ((clone != nil && !b.noClone.Load()) || b.opts.CompressAfterUnfreeze) {
			res, ok, err := w.stage(ctx, j.src, j.dst+stageSuffix, clone, &b.noClone, b.opts.CompressAfterUnfreeze)
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
	})
	if err != nil {
		return opErr(b.op, nil, "copy", err)
	}
	return nil
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

// hashCopies hashes the files that were cloned or copied by the kernel
// during the freeze: after the unfreeze, so the freeze window does not
// include it.
func (b *backupRun) hashCopies(ctx context.Context) error {
	return b.afterUnfreeze(ctx, "hash", func(j *backupJob) bool { return j.hashLater },
		func(ctx context.Context, w *fileWorker, j *backupJob) error {
			n, sum, err := w.hashStored(ctx, j.dst, false, nil)
			if err != nil {
				return fmt.Errorf("hash %s: %w", j.dst, err)
			}
			j.file.Size, j.file.StoredSize, j.file.SHA256 = n, n, sum
			return nil
		})
}

// compressStaged compresses the copies a compressed backup made during the
// freeze: after the unfreeze, so the freeze window does not include it.
func (b *backupRun) compressStaged(ctx context.Context) error {
	return b.afterUnfreeze(ctx, "compress", func(j *backupJob) bool { return j.compressLater },
		func(ctx context.Context, w *fileWorker, j *backupJob) error {
			res, err := w.compressLater(ctx, j.dst+stageSuffix, j.dst+".zst", j.file.Mode)
			if err != nil {
				return fmt.Errorf("compress %s: %w", j.dst, err)
			}
			j.file.Size, j.file.StoredSize, j.file.SHA256 = res.size, res.stored, res.sha256
			return nil
		})
}

// afterUnfreeze runs fn on the workers for the jobs pick selects, as phase
// (the test hook beforeHash sees each file first: the copy, or the staged
// copy of a compressed backup).
func (b *backupRun) afterUnfreeze(ctx context.Context, phase string, pick func(*backupJob) bool, fn func(context.Context, *fileWorker, *backupJob) error) error {
	var idx []int
	for i := range b.jobs {
		if pick(&b.jobs[i]) {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return nil
	}
	b.phase.Store(phase)
	var discard atomic.Int64
	err := runWorkers(ctx, len(idx), b.concurrency(), &discard, func(ctx context.Context, w *fileWorker, k int) error {
		j := &b.jobs[idx[k]]
		if h := b.opts.hooks; h != nil && h.beforeHash != nil {
			path := j.dst
			if j.compressLater {
				path += stageSuffix
			}
			if err := h.beforeHash(path); err != nil {
				return err
			}
		}
		return fn(ctx, w, j)
	})
	if err != nil {
		return opErr(b.op, nil, phase, err)
	}
	return nil
}

// hashAndSync hashes the copies made during the freeze while every file is
// synced: hashing is CPU work on the page cache, fsync waits on the disk, so
// the two overlap. The first error stops both.
func (b *backupRun) hashAndSync(parent context.Context) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	synced := make(chan error, 1)
	go func() {
		err := b.syncFiles(ctx)
		if err != nil {
			cancel()
		}
		synced <- err
	}()
	herr := b.hashCopies(ctx)
	if herr != nil {
		cancel()
	}
	b.phase.Store("sync")
	serr := <-synced
	switch {
	case herr == nil && serr == nil:
		return b.syncDirs()
	case herr == nil:
		return serr
	case serr == nil || parent.Err() != nil:
		return herr
	case errors.Is(herr, context.Canceled):
		return serr // the sync failed first and stopped the hashing
	}
	return herr
}

// syncFiles makes every copied file durable.
func (b *backupRun) syncFiles(ctx context.Context) error {
	ext := ""
	if b.opts.Compress {
		ext = ".zst"
	}
	var discard atomic.Int64
	// fsync waits on the disk, not the CPU: more of them in flight let the
	// block layer queue and merge the writeback.
	err := runWorkers(ctx, len(b.jobs), syncConcurrency, &discard, func(ctx context.Context, _ *fileWorker, i int) error {
		p := b.jobs[i].dst + ext
		if h := b.opts.hooks; h != nil && h.beforeSync != nil {
			if err := h.beforeSync(p); err != nil {
				return err
			}
		}
		return syncFile(p)
	})
	if err != nil {
		return opErr(b.op, nil, "sync", err)
	}
	return nil
}

// syncDirs makes the directory entries of the copies durable.
func (b *backupRun) syncDirs() error {
	dirs := parentDirs(func() []string {
		var out []string
		for _, j := range b.jobs {
			out = append(out, j.dst)
		}
		return out
	}())
	for d := range dirs {
		if err := syncDir(d); err != nil {
			return opErr(b.op, nil, "sync", err)
		}
	}
	for _, d := range []string{filepath.Join(b.tmp, "data"), filepath.Join(b.tmp, "state")} {
		if _, err := os.Stat(d); err == nil {
			if err := syncDir(d); err != nil {
				return opErr(b.op, nil, "sync", err)
			}
		}
	}
	return nil
}

// finish writes manifest.json last, syncs it, and renames the temporary
// directory into place.
func (b *backupRun) finish() error {
	for _, j := range b.jobs {
		b.man.Files = append(b.man.Files, j.file)
	}
	sort.Slice(b.man.Files, func(x, y int) bool { return b.man.Files[x].Path < b.man.Files[y].Path })
	for i := range b.man.Tables {
		for _, f := range b.man.Files {
			if f.Table == b.man.Tables[i].Name {
				b.man.Tables[i].Bytes += f.Size
			}
		}
	}
	b.man.Finished = time.Now().UTC()
	if h := b.opts.hooks; h != nil && h.beforeManifest != nil {
		if err := h.beforeManifest(); err != nil {
			return opErr(b.op, nil, "write manifest", err)
		}
	}
	data, err := json.MarshalIndent(b.man, "", "  ")
	if err != nil {
		return opErr(b.op, nil, "write manifest", err)
	}
	mp := filepath.Join(b.tmp, manifestName)
	if err := os.WriteFile(mp, append(data, '\n'), 0o644); err != nil {
		return opErr(b.op, nil, "write manifest", err)
	}
	if err := syncFile(mp); err != nil {
		return opErr(b.op, nil, "sync manifest", err)
	}
	if err := syncDir(b.tmp); err != nil {
		return opErr(b.op, nil, "sync", err)
	}
	if err := os.Rename(b.tmp, b.target); err != nil {
		return opErr(b.op, ErrBackupExists, "rename into place", err)
	}
	if err := syncDir(filepath.Dir(b.target)); err != nil {
		return opErr(b.op, nil, "sync", err)
	}
	return nil
}

func (b *backupRun) snapshot() BackupProgress {
	p := BackupProgress{
		Phase: b.phase.Load().(string), Files: int(b.files.Load()), FilesTotal: len(b.jobs),
		Bytes: b.bytes.Load(), BytesTotal: b.total, Elapsed: time.Since(b.started),
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
