package backup

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
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
