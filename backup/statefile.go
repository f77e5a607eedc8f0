package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/dbctl/dbctl/internal/crashpoint"
)

// The data_dir's state files (stateFiles: manticore.json, state.sql) are
// not table files: searchd replaces them whole whenever another client
// changes the daemon's state, also while the backup's tables are frozen,
// and a FREEZE does not stop that.
//
//   - manticore.json: src/searchdconfig.cpp ConfigWrite (called through
//     SaveConfigInt by CreateNewIndexConfigless, DropIndexInt and
//     AddExistingIndexConfigless: CREATE, DROP and IMPORT TABLE of any
//     table) writes "manticore.json.new", renames manticore.json to
//     "manticore.json.old", renames the new file to manticore.json and
//     unlinks the old one. Between the two renames there is no
//     manticore.json at all (the rename gap).
//   - state.sql: src/tasksavestate.cpp SphinxqlStateThreadFunc (CREATE
//     FUNCTION, CREATE PLUGIN, SET GLOBAL @var) writes "state.sql.new" and
//     renames it over state.sql (no gap).
//
// So a state file is read whole, once, inside the freeze, from one opened
// descriptor, and its identity is that descriptor's (fstat), not the one a
// path stat saw when the jobs were planned: a file replaced by a rename is
// then consistent by construction (the bytes of the inode that was opened),
// and a CREATE or DROP TABLE of another table during the backup does not
// fail it with ErrSourceChanged. The tables' own files keep their identity
// checks. The backup's manticore.json may then list a table the backup
// does not hold (created meanwhile) or miss one it holds (dropped
// meanwhile: searchd drops a frozen table at once, manticore.md §4.3):
// Restore rewrites it to list exactly the backup's tables (keepTables).

// stateRetryEvery and stateRetries bound the wait for a state file that is
// not there when it is opened (the rename gap above): 200 tries 5 ms
// apart, about one second, honouring ctx. Waiting is safe: the gap lies
// between two renames of the same function with nothing but the second
// rename between them (and when that rename fails, searchd renames the old
// file back), so the file is there again within microseconds; waiting
// longer only lengthens the freeze of a backup that fails anyway (a
// data_dir without manticore.json is not an RT-mode data_dir).
const (
	stateRetryEvery = 5 * time.Millisecond
	stateRetries    = 200
)

// openState opens path, trying again while it does not exist (see
// stateRetries); missing, when not nil, is called before each wait with
// the number of failed tries so far (a test's stand-in for searchd
// putting the file back). A file still missing after the last try is
// fs.ErrNotExist; ctx ending stops the wait with its error.
func openState(ctx context.Context, path string, missing func(tries int)) (f *os.File, err error) {
	err = whilePresent(ctx, missing, func() error {
		f, err = os.Open(path)
		return err
	})
	return f, err
}

// whilePresent runs fn, again while it fails with fs.ErrNotExist, up to
// stateRetries times stateRetryEvery apart (see openState).
func whilePresent(ctx context.Context, missing func(tries int), fn func() error) error {
	for tries := 1; ; tries++ {
		err := fn()
		if err == nil || !errors.Is(err, fs.ErrNotExist) || tries >= stateRetries {
			return err
		}
		if missing != nil {
			missing(tries)
		}
		t := time.NewTimer(stateRetryEvery)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// readState reads a state file whole from one descriptor (see above) into
// memory, inside the freeze, and records its identity, size and mode from
// that descriptor; the bytes are written to the backup (or the store)
// after the unfreeze, as a mutable table file's are. A file written in
// place while it is read (not how searchd writes it) is ErrSourceChanged.
func (b *backupRun) readState(ctx context.Context, j *backupJob) error {
	if err := crashpoint.Hit("backup.read state"); err != nil {
		return fmt.Errorf("copy %s: %w", j.src, err)
	}
	var missing func(int)
	if h := b.opts.hooks; h != nil {
		missing = h.stateMissing
	}
	f, err := openState(ctx, j.src, missing)
	if err != nil {
		if filepath.Base(j.src) == "manticore.json" && errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%s: %w", noManticoreJSON(filepath.Dir(j.src)), err)
		}
		return fmt.Errorf("copy %s: %w", j.src, err)
	}
	defer f.Close()
	data, fi, err := readWhole(f)
	if err != nil {
		return fmt.Errorf("copy %s: %w", j.src, err)
	}
	after, err := f.Stat()
	if err != nil {
		return fmt.Errorf("copy %s: %w", j.src, err)
	}
	if identityOf(after) != identityOf(fi) || int64(len(data)) != fi.Size() {
		got := identityOf(after)
		if got == identityOf(fi) {
			got.Size = int64(len(data))
		}
		return &SourceChangedError{Path: j.file.Path, Source: j.src, Want: identityOf(fi), Got: got}
	}
	if data == nil {
		data = []byte{} // an empty state.sql: still a job with bytes in memory (j.mem != nil)
	}
	id := identityOf(fi)
	b.bytesTotal.Add(fi.Size() - j.size) // planned from a path stat, maybe of another inode
	j.size, j.file.Identity, j.file.Mode, j.mem = fi.Size(), &id, fi.Mode().Perm(), data
	if filepath.Base(j.src) == "manticore.json" {
		b.noteDropped(ctx, data)
	}
	return nil
}

// noteDropped logs the backup's tables that the manticore.json read lacks
// (dropped by another client during the freeze, after FREEZE listed their
// files): the backup holds their files, and Restore rebuilds their entry
// (keepTables). A file that does not parse is left to Restore to report.
func (b *backupRun) noteDropped(ctx context.Context, data []byte) {
	var doc struct {
		Indexes map[string]json.RawMessage `json:"indexes"`
	}
	if json.Unmarshal(data, &doc) != nil {
		return
	}
	for _, t := range b.man.Tables {
		if _, ok := doc.Indexes[t.Name]; !ok {
			b.log().WarnContext(ctx, "dbctl: a table of the backup was dropped while it ran; a restore rebuilds its manticore.json entry", "table", t.Name)
		}
	}
}

// readWhole reads f to its end and returns the bytes and the descriptor's
// stat before the read.
func readWhole(f *os.File) ([]byte, fs.FileInfo, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%s is not a regular file", f.Name())
	}
	// one byte more than the size: a file grown meanwhile is seen
	data, err := io.ReadAll(io.LimitReader(f, fi.Size()+1))
	if err != nil {
		return nil, nil, err
	}
	return data, fi, nil
}

// checkDataDir refuses, before anything is frozen or made, a backup of a
// server whose data_dir (SHOW SETTINGS) has no manticore.json once
// searchd's rename gap is waited out: not a server in RT mode, or not on
// this machine. Without a data_dir from SHOW SETTINGS the FREEZE's file
// list tells it, inside the freeze (plan, readState).
func (b *backupRun) checkDataDir(ctx context.Context) error {
	if b.settings == nil || !filepath.IsAbs(b.settings.DataDir) {
		return nil
	}
	f, err := openState(ctx, filepath.Join(b.settings.DataDir, "manticore.json"), nil)
	if err != nil {
		return opErr(b.op, nil, noManticoreJSON(b.settings.DataDir), err)
	}
	return f.Close()
}

// noManticoreJSON says what a data_dir without manticore.json means.
func noManticoreJSON(dataDir string) string {
	return "data_dir " + dataDir + " has no manticore.json (is the server in RT mode, on this machine?)"
}
