package backup

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dbctl/dbctl"
	"github.com/dbctl/dbctl/backupstore"
	"github.com/klauspost/compress/zstd"
)

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
	state         bool   // a data_dir state file: read whole inside the freeze (readState)
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
