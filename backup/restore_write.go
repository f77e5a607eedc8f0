package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"

	"github.com/dbctl/dbctl/backupstore"
	"github.com/dbctl/dbctl/internal/crashpoint"
)

// restoreRun is one Restore: the backup's files written into the restore
// folder's new/ while they are hashed, then swapped in (restore_swap.go).
type restoreRun struct {
	op, location string
	dataDir      string // absolute
	man          *Manifest
	src          restoreSource
	own          owner
	opts         RestoreOptions
	log          *slog.Logger
	rep          *RestoreReport

	dir         string   // <dataDir>/.dbctl-restore-<id>
	lock        *os.File // the folder's marker, flock'd while this run lives
	createdDirs []string // the data_dir and parents this run made, deepest first: removed again on failure
	jobs        []restoreJob
	newNames    []string // the entries of new/, in the order they are swapped in
	tr          *tracker
	j           *journal    // set once the swap began
	sync        *fileSyncer // fsyncs the files written, beside the workers
	committed   bool
}

// restoreJob is one file of the backup and its place under new/.
type restoreJob struct {
	f   ManifestFile
	rel string // slash path under new/: "<table>/<file>" or "manticore.json"
}

// restoreSource reads a backup's stored files: a folder, or a store.
type restoreSource interface {
	open(ctx context.Context, f ManifestFile) (io.ReadCloser, error)
	close()
}

// localSource and storeSource hit the crash point "<step> <path>" before
// each open: step is "restore.open" when empty (Import sets its own).
type localSource struct {
	dir  string
	man  *Manifest
	step string
}

func openStep(step string) string {
	if step == "" {
		return "restore.open"
	}
	return step
}

func (s localSource) open(_ context.Context, f ManifestFile) (io.ReadCloser, error) {
	if err := crashpoint.Hit(openStep(s.step) + " " + f.Path); err != nil {
		return nil, err
	}
	in, _, err := openRegular(s.man.storedPath(s.dir, f))
	return in, err
}

func (localSource) close() {}

type storeSource struct {
	st   backupstore.Store
	man  *Manifest
	step string
}

func (s storeSource) open(ctx context.Context, f ManifestFile) (io.ReadCloser, error) {
	if err := crashpoint.Hit(openStep(s.step) + " " + f.Path); err != nil {
		return nil, err
	}
	return s.st.Get(ctx, s.man.storedKey(f))
}

func (s storeSource) close() { _ = s.st.Close() }

// openRestoreSource reads and checks the manifest of the backup at
// location and returns the source of its files.
func openRestoreSource(ctx context.Context, op, location string, so backupstore.Options) (restoreSource, *Manifest, error) {
	if !backupstore.IsRemote(location) {
		man, err := readManifest(location)
		if err != nil {
			return nil, nil, err
		}
		return localSource{dir: location, man: man}, man, nil
	}
	st, err := backupstore.Open(ctx, location, so)
	if err != nil {
		return nil, nil, opErr(op, nil, "", err)
	}
	man, _, err := readStoreManifest(ctx, st)
	if err != nil {
		_ = st.Close()
		return nil, nil, err
	}
	return storeSource{st: st, man: man}, man, nil
}

// plan lists the files written into new/: every table file under its
// table's folder, the state files at the top; config/ is kept for the
// operator and not written anywhere. newNames puts the tables first and
// manticore.json last: until it is swapped in, searchd does not see a
// data_dir with these tables.
func (r *restoreRun) plan() {
	tables := map[string]bool{}
	for _, f := range r.man.Files {
		switch {
		case f.Table != "":
			r.jobs = append(r.jobs, restoreJob{f: f, rel: f.Table + "/" + path2base(f.Path)})
			tables[f.Table] = true
		case strings.HasPrefix(f.Path, "state/"):
			r.jobs = append(r.jobs, restoreJob{f: f, rel: path2base(f.Path)})
		}
	}
	for t := range tables {
		r.newNames = append(r.newNames, t)
	}
	sort.Strings(r.newNames)
	for _, name := range []string{"state.sql", "manticore.json"} {
		for _, j := range r.jobs {
			if j.rel == name {
				r.newNames = append(r.newNames, name)
			}
		}
	}
	// the largest files first, so that no worker is left with a large one
	// at the end while the others are idle
	sort.SliceStable(r.jobs, func(a, b int) bool { return r.jobs[a].f.Size > r.jobs[b].f.Size })
	files := make([]ManifestFile, len(r.jobs))
	for i, j := range r.jobs {
		files[i] = j.f
	}
	r.tr = newTracker("restore", files)
}

func path2base(p string) string { return p[strings.LastIndexByte(p, '/')+1:] }

// begin makes the data_dir when it does not exist and the restore folder
// in it, whose marker this run holds locked until it ends.
func (r *restoreRun) begin() error {
	if _, err := os.Lstat(r.dataDir); errors.Is(err, fs.ErrNotExist) {
		if err := crashpoint.Hit("restore.mkdir data_dir"); err != nil {
			return err
		}
		// the folders made, deepest first, removed again on failure
		for p := r.dataDir; ; p = filepath.Dir(p) {
			if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) || filepath.Dir(p) == p {
				break
			}
			r.createdDirs = append(r.createdDirs, p)
		}
		if err := os.MkdirAll(r.dataDir, 0o755); err != nil {
			return err
		}
		if err := giveTo(r.own, []string{r.dataDir}); err != nil {
			return err
		}
	}
	id, err := newBackupID()
	if err != nil {
		return err
	}
	dir := filepath.Join(r.dataDir, restorePrefix+id[:16])
	if err := crashpoint.Hit("restore.mkdir restore-folder"); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return err
	}
	r.dir = dir
	if err := crashpoint.Hit("restore.create marker"); err != nil {
		return err
	}
	if r.lock, err = lockMarker(dir, map[string]any{"restore_of": r.location, "pid": os.Getpid()}); err != nil {
		return err
	}
	if err := crashpoint.Hit("restore.mkdir new"); err != nil {
		return err
	}
	return os.Mkdir(filepath.Join(dir, "new"), 0o700)
}

// writeAll writes every job into new/ (restoreFile), then, when every file
// matched the manifest, rewrites manticore.json (keepTables), gives
// the table folders their recorded bits and everything to the data_dir's
// owner, and syncs the folders.
func (r *restoreRun) writeAll(ctx context.Context) error {
	newDir := filepath.Join(r.dir, "new")
	for _, name := range r.newNames {
		if name == "manticore.json" || name == "state.sql" {
			continue
		}
		if err := crashpoint.Hit("restore.mkdir new/" + name); err != nil {
			return err
		}
		if err := os.Mkdir(filepath.Join(newDir, name), 0o755); err != nil {
			return err
		}
	}
	conc := runtime.NumCPU()
	if _, remote := r.src.(storeSource); remote {
		conc = max(4, conc)
	}
	bad := make([]error, len(r.jobs))
	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	r.sync = startFileSyncer(2, cancel)
	p, err := restoreWorkers(wctx, len(r.jobs), conc, &r.tr.bytes, func(ctx context.Context, w *fileWorker, i int) error {
		var err error
		bad[i], err = r.restoreFile(ctx, w, r.jobs[i], filepath.Join(newDir, filepath.FromSlash(r.jobs[i].rel)))
		r.tr.files.Add(1)
		return err
	})
	sp, serr := r.sync.wait()
	if p == nil {
		p = sp
	}
	if p != nil {
		panic(p)
	}
	if serr != nil {
		return serr
	}
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range bad {
		if e != nil {
			errs = append(errs, e)
		}
	}
	if len(errs) > 0 {
		return opErr(r.op, ErrCorrupt, fmt.Sprintf("%d of %d files bad; the data_dir was not changed", len(errs), len(r.jobs)), errors.Join(errs...))
	}
	for _, f := range r.jobs {
		r.rep.Files++
		r.rep.Bytes += f.f.Size
	}
	return r.finishNew(newDir)
}

// finishNew completes new/ once every file is in place and synced.
func (r *restoreRun) finishNew(newDir string) error {
	// every restore, not only a partial backup's: the kept manticore.json
	// is the one of the freeze instant, which may list a table created
	// meanwhile or miss one dropped meanwhile (keepTables, statefile.go)
	if slices.Contains(r.newNames, "manticore.json") {
		if err := crashpoint.Hit("restore.rewrite new/manticore.json"); err != nil {
			return err
		}
		rebuilt, err := keepTables(filepath.Join(newDir, "manticore.json"), r.man)
		if err != nil {
			return fmt.Errorf("rewrite manticore.json: %w", err)
		}
		r.rep.Rebuilt = rebuilt
		for _, name := range rebuilt {
			r.log.Warn("dbctl: the backup's manticore.json had no entry for a table the backup holds (dropped while the backup ran); its entry was rebuilt",
				"table", name)
		}
	}
	modes := map[string]fs.FileMode{}
	for _, t := range r.man.Tables {
		modes[t.Name] = t.DirMode
	}
	for _, name := range r.newNames {
		p := filepath.Join(newDir, name)
		if m := modes[name]; m != 0 {
			if err := os.Chmod(p, m); err != nil {
				return err
			}
		}
		if err := giveTreeTo(r.own, p); err != nil {
			return fmt.Errorf("give the restored files to the data_dir's owner: %w", err)
		}
		if name == "manticore.json" || name == "state.sql" {
			continue
		}
		if err := crashpoint.Hit("restore.sync-dir new/" + name); err != nil {
			return err
		}
		if err := restoreSyncDir(p); err != nil {
			return err
		}
	}
	if err := crashpoint.Hit("restore.sync-dir new"); err != nil {
		return err
	}
	return restoreSyncDir(newDir)
}
