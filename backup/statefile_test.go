package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/dbctl/dbctl/dbctltest"
	"github.com/dbctl/dbctl/internal/crashpoint"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// openState waits out the instant in which searchd has renamed
// manticore.json away and not yet renamed the new one in
// (src/searchdconfig.cpp ConfigWrite): the file is renamed away here, and
// put back by the stand-in for searchd while the read waits; a file that
// never comes back fails after stateRetries tries, and ctx stops the wait.
func TestOpenStateWaitsOutTheRenameGap(t *testing.T) {
	for _, tc := range []struct {
		name      string
		backAt    int // the try after which the file is put back; 0: never
		cancelAt  int // the try after which ctx is cancelled; 0: never
		away      bool
		wantErr   error
		wantCalls int
	}{
		{name: "there", wantCalls: 0},
		{name: "back after the first try", away: true, backAt: 1, wantCalls: 1},
		{name: "back after three tries", away: true, backAt: 3, wantCalls: 3},
		{name: "never back", away: true, wantErr: fs.ErrNotExist, wantCalls: stateRetries - 1},
		{name: "ctx cancelled while waiting", away: true, cancelAt: 2, wantErr: context.Canceled, wantCalls: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "manticore.json")
			require.NoError(t, os.WriteFile(path, []byte(`{"indexes":{}}`), 0o644))
			if tc.away {
				require.NoError(t, os.Rename(path, path+".old"))
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			calls := 0
			f, err := openState(ctx, path, func(tries int) {
				calls++
				assert.Equal(t, calls, tries)
				if tries == tc.backAt {
					require.NoError(t, os.Rename(path+".old", path))
				}
				if tries == tc.cancelAt {
					cancel()
				}
			})
			assert.Equal(t, tc.wantCalls, calls)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				assert.Nil(t, f)
				return
			}
			require.NoError(t, err)
			defer f.Close()
			b, err := io.ReadAll(f)
			require.NoError(t, err)
			assert.Equal(t, `{"indexes":{}}`, string(b))
		})
	}
}

// A Create meets manticore.json in searchd's rename gap when it reads it
// (the file renamed away right before, and put back while the read
// waits): it succeeds, keeps the file's bytes, and the backup verifies.
func TestBackupWaitsOutTheRenameGap(t *testing.T) {
	for _, v := range []struct{ compress, noStaging bool }{{false, false}, {true, false}, {false, true}, {true, true}} {
		t.Run(fmt.Sprintf("compress=%v/noStaging=%v", v.compress, v.noStaging), func(t *testing.T) {
			f := newBackupFixture(t)
			mj := filepath.Join(f.srv.DataDir(), "manticore.json")
			want, err := os.ReadFile(mj)
			require.NoError(t, err)
			var away, waits atomic.Int64
			opts := CreateOptions{Compress: v.compress, NoStaging: v.noStaging, Concurrency: 2, hooks: &backupHooks{
				beforeCopy: func(_ int, src string) error {
					if src == mj {
						away.Add(1)
						return os.Rename(mj, mj+".old")
					}
					return nil
				},
				stateMissing: func(tries int) {
					waits.Add(1)
					if tries == 2 {
						require.NoError(t, os.Rename(mj+".old", mj))
					}
				},
			}}
			dir := filepath.Join(t.TempDir(), "bk")
			man, err := Create(context.Background(), f.c.Manticore(), dir, opts)
			require.NoError(t, err)
			assert.Equal(t, int64(1), away.Load())
			assert.Equal(t, int64(2), waits.Load(), "the read waited until the file was back")
			_, err = Verify(context.Background(), dir, VerifyOptions{})
			require.NoError(t, err)
			assert.Equal(t, string(want), string(storedBytes(t, dir, man, "state/manticore.json")))
		})
	}
}

// storedBytes returns the original bytes of a backup's file.
func storedBytes(t *testing.T, dir string, man *Manifest, path string) []byte {
	t.Helper()
	for _, mf := range man.Files {
		if mf.Path != path {
			continue
		}
		w := newFileWorker(new(atomic.Int64))
		defer w.close()
		var out bytes.Buffer
		_, _, err := w.hashStored(context.Background(), man.storedPath(dir, mf), man.Compression == "zstd", &out)
		require.NoError(t, err)
		return out.Bytes()
	}
	t.Fatalf("%s not in the backup", path)
	return nil
}

// indexesOf returns the table names a manticore.json lists.
func indexesOf(t *testing.T, b []byte) []string {
	t.Helper()
	var doc struct {
		Indexes map[string]json.RawMessage `json:"indexes"`
	}
	require.NoError(t, json.Unmarshal(b, &doc))
	var out []string
	for n := range doc.Indexes {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// onceAt installs a crash-point handler that runs fn the first time step
// is reached, on the goroutine that reached it (the backup waits for it).
func onceAt(t *testing.T, step string, fn func()) *atomic.Bool {
	var once sync.Once
	var ran atomic.Bool
	restore := crashpoint.Set(func(s string) error {
		if s == step {
			once.Do(func() { fn(); ran.Store(true) })
		}
		return nil
	})
	t.Cleanup(restore)
	return &ran
}

// Another client creates a table, and creates and drops a second one,
// while a full backup is inside its freeze (stopped after its plan, before
// the state files are read): searchd replaces manticore.json each time
// (src/searchdconfig.cpp ConfigWrite; the embedded server too). The backup
// succeeds and verifies; the manticore.json it keeps lists the new table;
// a restore's manticore.json lists exactly the backup's tables (and the
// distributed one), and a server started on it serves the backup's rows.
func TestBackupSurvivesTableDDLInTheFreeze(t *testing.T) {
	for _, v := range []struct{ compress, noStaging bool }{{false, false}, {true, false}, {false, true}} {
		t.Run(fmt.Sprintf("compress=%v/noStaging=%v", v.compress, v.noStaging), func(t *testing.T) {
			f := newBackupFixture(t)
			want := rowCounts(t, f.c.DB())
			other, err := sql.Open("mysql", f.srv.DSN())
			require.NoError(t, err)
			defer other.Close()
			before := f.counters(t)
			ran := onceAt(t, "backup.mkdir folders", func() {
				for _, q := range []string{"CREATE TABLE ddl_new(title text)", "CREATE TABLE ddl_tmp(title text)", "DROP TABLE ddl_tmp"} {
					_, err := other.Exec(q)
					require.NoError(t, err, q)
				}
			})
			dir := filepath.Join(t.TempDir(), "bk")
			man, err := Create(context.Background(), f.c.Manticore(), dir, CreateOptions{Compress: v.compress, NoStaging: v.noStaging, Concurrency: 2})
			require.NoError(t, err)
			require.True(t, ran.Load(), "the DDL ran inside the freeze")
			assert.Equal(t, before, f.counters(t))
			assert.Equal(t, []string{"a", "b", "pq"}, tableNamesOf(man))
			_, err = Verify(context.Background(), dir, VerifyOptions{})
			require.NoError(t, err)
			assert.Equal(t, []string{"a", "b", "d", "ddl_new", "pq"}, indexesOf(t, storedBytes(t, dir, man, "state/manticore.json")),
				"the file of the instant it was read")

			restored := t.TempDir()
			var rep RestoreReport
			require.NoError(t, Restore(context.Background(), dir, restored, RestoreOptions{Report: &rep}))
			assert.Empty(t, rep.Rebuilt)
			b, err := os.ReadFile(filepath.Join(restored, "manticore.json"))
			require.NoError(t, err)
			assert.Equal(t, []string{"a", "b", "d", "pq"}, indexesOf(t, b), "exactly the backup's tables and the distributed one")
			srv2 := dbctltest.NewManticore(t, dbctltest.WithDataDir(restored))
			db2, err := sql.Open("mysql", srv2.DSN())
			require.NoError(t, err)
			defer db2.Close()
			assert.Equal(t, want, rowCounts(t, db2))
		})
	}
}

// setStoredState replaces a state file of an uncompressed local backup and
// its manifest record (a backup whose manticore.json is of another
// instant than its tables' files, as Create may now keep one).
func setStoredState(t *testing.T, dir string, man *Manifest, path string, data []byte) {
	t.Helper()
	require.Empty(t, man.Compression)
	for i, mf := range man.Files {
		if mf.Path != path {
			continue
		}
		require.NoError(t, os.WriteFile(man.storedPath(dir, mf), data, 0o644))
		sum := sha256.Sum256(data)
		man.Files[i].Size, man.Files[i].StoredSize, man.Files[i].SHA256 = int64(len(data)), int64(len(data)), hex.EncodeToString(sum[:])
		b, err := json.MarshalIndent(man, "", "  ")
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, manifestName), b, 0o644))
		return
	}
	t.Fatalf("%s not in the backup", path)
}

// A table dropped during a backup after its files were read is missing
// from the manticore.json the backup keeps (searchd drops a frozen table
// at once, manticore.md §4.3): Restore rebuilds its entry as searchd
// writes it, says so (RestoreReport.Rebuilt), removes the entry of a
// table created meanwhile, and a server started on the result serves
// every table of the backup.
func TestRestoreRebuildsTheEntryOfATableDroppedDuringTheBackup(t *testing.T) {
	f := newBackupFixture(t)
	want := rowCounts(t, f.c.DB())
	dir := filepath.Join(t.TempDir(), "bk")
	man, err := Create(context.Background(), f.c.Manticore(), dir, CreateOptions{})
	require.NoError(t, err)
	var doc map[string]map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(storedBytes(t, dir, man, "state/manticore.json"), &doc))
	delete(doc["indexes"], "pq")
	delete(doc["indexes"], "b")
	doc["indexes"]["made_meanwhile"] = json.RawMessage(`{"type":"rt","path":"made_meanwhile"}`)
	b, err := json.Marshal(doc)
	require.NoError(t, err)
	setStoredState(t, dir, man, "state/manticore.json", b)
	_, err = Verify(context.Background(), dir, VerifyOptions{})
	require.NoError(t, err)

	restored := t.TempDir()
	var rep RestoreReport
	require.NoError(t, Restore(context.Background(), dir, restored, RestoreOptions{Report: &rep}))
	assert.Equal(t, []string{"b", "pq"}, rep.Rebuilt)
	got, err := os.ReadFile(filepath.Join(restored, "manticore.json"))
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b", "d", "pq"}, indexesOf(t, got))
	var out struct {
		Indexes map[string]manticoreEntry `json:"indexes"`
	}
	require.NoError(t, json.Unmarshal(got, &out))
	assert.Equal(t, manticoreEntry{Type: "percolate", Path: "pq"}, out.Indexes["pq"])
	assert.Equal(t, manticoreEntry{Type: "rt", Path: "b"}, out.Indexes["b"])
	srv2 := dbctltest.NewManticore(t, dbctltest.WithDataDir(restored))
	db2, err := sql.Open("mysql", srv2.DSN())
	require.NoError(t, err)
	defer db2.Close()
	assert.Equal(t, want, rowCounts(t, db2))
}

// keepTables: what stays, what goes, what is rebuilt, and what is refused.
func TestKeepTables(t *testing.T) {
	man := &Manifest{Tables: []ManifestTable{{Name: "a", Type: "rt"}, {Name: "p", Type: "percolate"}}}
	for _, tc := range []struct {
		name, in    string
		want        string // the "indexes" object written, "" for an error
		wantRebuilt []string
	}{
		{"exactly the backup's", `{"clusters":{},"indexes":{"a":{"type":"rt","path":"a"},"p":{"type":"percolate","path":"p"}}}`,
			`{"a":{"type":"rt","path":"a"},"p":{"type":"percolate","path":"p"}}`, nil},
		{"created meanwhile, plain, distributed", `{"indexes":{"a":{"type":"rt","path":"a"},"p":{"type":"percolate","path":"p"},"x":{"type":"rt","path":"x"},"pl":{"type":"plain","path":"pl"},"d":{"type":"distributed","locals":["a"]}}}`,
			`{"a":{"type":"rt","path":"a"},"d":{"type":"distributed","locals":["a"]},"p":{"type":"percolate","path":"p"}}`, nil},
		{"dropped meanwhile", `{"indexes":{"a":{"type":"rt","path":"a"}}}`,
			`{"a":{"type":"rt","path":"a"},"p":{"type":"percolate","path":"p"}}`, []string{"p"}},
		{"re-made as another kind meanwhile", `{"indexes":{"a":{"type":"distributed","locals":["p"]},"p":{"type":"percolate","path":"p"}}}`,
			`{"a":{"type":"rt","path":"a"},"p":{"type":"percolate","path":"p"}}`, []string{"a"}},
		{"no indexes at all", `{"clusters":{}}`,
			`{"a":{"type":"rt","path":"a"},"p":{"type":"percolate","path":"p"}}`, []string{"a", "p"}},
		{"not an object", `[1]`, "", nil},
		{"indexes not an object", `{"indexes":[1]}`, "", nil},
		{"null", `null`, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "manticore.json")
			require.NoError(t, os.WriteFile(path, []byte(tc.in), 0o600))
			rebuilt, err := keepTables(path, man)
			if tc.want == "" {
				require.Error(t, err)
				b, _ := os.ReadFile(path)
				assert.Equal(t, tc.in, string(b), "left as it was")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.wantRebuilt, rebuilt)
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			var doc map[string]json.RawMessage
			require.NoError(t, json.Unmarshal(b, &doc))
			assert.JSONEq(t, tc.want, string(doc["indexes"]))
			fi, err := os.Stat(path)
			require.NoError(t, err)
			assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "the file keeps its bits")
		})
	}
	_, err := keepTables(filepath.Join(t.TempDir(), "manticore.json"), &Manifest{Tables: []ManifestTable{{Name: "a"}}})
	assert.ErrorIs(t, err, fs.ErrNotExist)
	path := filepath.Join(t.TempDir(), "manticore.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"indexes":{}}`), 0o644))
	_, err = keepTables(path, &Manifest{Tables: []ManifestTable{{Name: "a"}}})
	assert.ErrorIs(t, err, ErrInvalid, "no entry and no type to rebuild it with")
}

// The manticore.json a Create reads lacks a table it backs up (as when
// another client drops it during the freeze, after its files were read;
// here searchd's save is played right before the read): Create logs it,
// succeeds, and a restore rebuilds the table's entry and names it.
func TestBackupOfATableMissingFromManticoreJSON(t *testing.T) {
	f := newBackupFixture(t)
	mj := filepath.Join(f.srv.DataDir(), "manticore.json")
	var log bytes.Buffer
	opts := CreateOptions{Logger: slog.New(slog.NewTextHandler(&log, nil)), hooks: &backupHooks{beforeCopy: func(_ int, src string) error {
		if src != mj {
			return nil
		}
		var doc map[string]map[string]json.RawMessage
		b, err := os.ReadFile(mj)
		if err == nil {
			err = json.Unmarshal(b, &doc)
		}
		if err != nil {
			return err
		}
		delete(doc["indexes"], "pq")
		if b, err = json.Marshal(doc); err != nil {
			return err
		}
		if err := os.WriteFile(mj+".new", b, 0o644); err != nil {
			return err
		}
		return os.Rename(mj+".new", mj)
	}}}
	dir := filepath.Join(t.TempDir(), "bk")
	_, err := Create(context.Background(), f.c.Manticore(), dir, opts)
	require.NoError(t, err)
	assert.Contains(t, log.String(), "table=pq")
	restored := t.TempDir()
	var rep RestoreReport
	require.NoError(t, Restore(context.Background(), dir, restored, RestoreOptions{Report: &rep}))
	assert.Equal(t, []string{"pq"}, rep.Rebuilt)
	b, err := os.ReadFile(filepath.Join(restored, "manticore.json"))
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b", "d", "pq"}, indexesOf(t, b))
}
