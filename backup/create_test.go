package backup

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/dbctl/dbctl"
	"github.com/dbctl/dbctl/dbctltest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// backupFixture is an embedded Manticore with an RT table with a disk chunk
// and RAM rows (a), an RT table with a string attribute (b), a percolate
// table (pq) and a distributed table (d).
type backupFixture struct {
	srv *dbctltest.Manticore
	c   *dbctl.Client
}

func newBackupFixture(t *testing.T) *backupFixture {
	srv := dbctltest.NewManticore(t)
	c, err := dbctl.Open(srv.DSN(), nil)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	for _, q := range []string{
		"CREATE TABLE a(title text, gid int, price float)",
		"INSERT INTO a(id,title,gid,price) VALUES (1,'one',10,1.5),(2,'two',20,2.5),(3,'three',30,3.5)",
		"FLUSH RAMCHUNK a",
		"INSERT INTO a(id,title,gid,price) VALUES (4,'four',40,4.5)",
		"CREATE TABLE b(title text, tag string attribute)",
		"INSERT INTO b(id,title,tag) VALUES (1,'alpha','x'),(2,'beta','y')",
		"FLUSH RAMCHUNK b",
		"CREATE TABLE pq(title text) type='percolate'",
		"INSERT INTO pq(query) VALUES ('hello')",
		"CREATE TABLE d type='distributed' local='a' local='b'",
	} {
		_, err := c.DB().Exec(q)
		require.NoError(t, err, q)
	}
	return &backupFixture{srv: srv, c: c}
}

func (f *backupFixture) counters(t *testing.T) map[string]int {
	out := map[string]int{}
	for _, n := range []string{"a", "b", "pq"} {
		v, ok := f.srv.Locked(n)
		require.True(t, ok)
		out[n] = v
	}
	return out
}

func rowCounts(t *testing.T, db *sql.DB) map[string]string {
	out := map[string]string{}
	rows, err := db.Query("SHOW TABLES")
	require.NoError(t, err)
	var names []string
	for rows.Next() {
		var n, typ string
		require.NoError(t, rows.Scan(&n, &typ))
		names = append(names, n+":"+typ)
	}
	rows.Close()
	for _, nt := range names {
		n, typ, _ := strings.Cut(nt, ":")
		if typ == "distributed" {
			out[n] = typ
			continue
		}
		var c string
		require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM "+n).Scan(&c))
		out[n] = typ + "/" + c
	}
	return out
}

// noPartialLeft checks that no temporary directory is left beside target.
func noPartialLeft(t *testing.T, target string) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Dir(target))
	require.NoError(t, err)
	for _, e := range entries {
		assert.NotContains(t, e.Name(), ".dbctl-", "leftover %s", e.Name())
	}
	_, err = os.Stat(target)
	assert.True(t, errors.Is(err, os.ErrNotExist), "no directory named like the backup")
}

func TestBackupVerifyRestoreRoundTrip(t *testing.T) {
	for _, compress := range []bool{false, true} {
		t.Run(fmt.Sprintf("compress=%v", compress), func(t *testing.T) {
			f := newBackupFixture(t)
			ctx := context.Background()
			want := rowCounts(t, f.c.DB())
			_, err := f.c.DB().Exec("FREEZE b") // another holder's lock
			require.NoError(t, err)
			before := f.counters(t)
			require.NoError(t, os.Chmod(filepath.Join(f.srv.DataDir(), "a", "a.settings"), 0o640))

			var reports atomic.Int64
			var last atomic.Value
			dir := filepath.Join(t.TempDir(), "backup-1")
			man, err := Create(ctx, f.c.Manticore(), dir, CreateOptions{Compress: compress, Concurrency: 2,
				Progress: func(p Progress) { reports.Add(1); last.Store(p) }})
			require.NoError(t, err)
			assert.Equal(t, before, f.counters(t), "counters back to their values")
			assert.Greater(t, reports.Load(), int64(0))
			lp := last.Load().(Progress)
			assert.Equal(t, "manifest", lp.Phase)
			assert.Equal(t, lp.FilesTotal, lp.Files)

			assert.Equal(t, []string{"a", "b", "pq"}, tableNamesOf(man))
			require.Len(t, man.Skipped, 1)
			assert.Equal(t, "d", man.Skipped[0].Name)
			assert.Equal(t, "distributed", man.Skipped[0].Type)
			assert.Greater(t, man.FreezeWindow, int64(0))
			assert.Equal(t, f.srv.DataDir(), man.DataDir)
			assert.Equal(t, "29.2.2 fe8f84c8b@260821", man.ServerVersion)
			paths := map[string]ManifestFile{}
			for _, mf := range man.Files {
				paths[mf.Path] = mf
			}
			assert.Contains(t, paths, "state/manticore.json")
			assert.Contains(t, paths, "state/state.sql")
			assert.Contains(t, paths, "data/a/a.0.spd")
			assert.Contains(t, paths, "data/a/a.ram")
			assert.Contains(t, paths, "data/b/b.0.spb")
			assert.Contains(t, paths, "data/pq/pq.meta")
			assert.Equal(t, os.FileMode(0o640), paths["data/a/a.settings"].Mode)
			if compress {
				_, err := os.Stat(filepath.Join(dir, "data", "a", "a.meta.zst"))
				assert.NoError(t, err)
			}

			_, err = Verify(ctx, dir, VerifyOptions{})
			require.NoError(t, err)

			// corrupt one byte of one file: verification names it
			victim := man.storedPath(dir, paths["data/a/a.0.spd"])
			orig, err := os.ReadFile(victim)
			require.NoError(t, err)
			bad := append([]byte(nil), orig...)
			bad[len(bad)/2] ^= 0x01
			require.NoError(t, os.WriteFile(victim, bad, 0o644))
			_, err = Verify(ctx, dir, VerifyOptions{})
			require.ErrorIs(t, err, ErrCorrupt)
			var fe *FileError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, "data/a/a.0.spd", fe.Path)
			assert.Contains(t, err.Error(), "data/a/a.0.spd")
			assert.Contains(t, err.Error(), "1 of ")

			restored := t.TempDir()
			err = Restore(ctx, dir, restored, RestoreOptions{})
			require.ErrorIs(t, err, ErrCorrupt, "nothing restored from a corrupt backup")
			empty, _ := dirIsEmpty(restored)
			assert.True(t, empty)

			require.NoError(t, os.WriteFile(victim, orig, 0o644))
			require.NoError(t, Restore(ctx, dir, restored, RestoreOptions{}))
			fi, err := os.Stat(filepath.Join(restored, "a", "a.settings"))
			require.NoError(t, err)
			assert.Equal(t, os.FileMode(0o640), fi.Mode().Perm(), "modes restored")
			assert.ErrorIs(t, Restore(ctx, dir, restored, RestoreOptions{}), ErrDataDirNotEmpty)
			require.NoError(t, Restore(ctx, dir, restored, RestoreOptions{Overwrite: true}))

			// a server started on the restored data_dir has the same tables and rows
			srv2 := dbctltest.NewManticore(t, dbctltest.WithDataDir(restored))
			db2, err := sql.Open("mysql", srv2.DSN())
			require.NoError(t, err)
			defer db2.Close()
			assert.Equal(t, want, rowCounts(t, db2))
			_, err = f.c.DB().Exec("UNFREEZE b")
			require.NoError(t, err)
		})
	}
}

func tableNamesOf(m *Manifest) []string {
	var out []string
	for _, t := range m.Tables {
		out = append(out, t.Name)
	}
	sort.Strings(out)
	return out
}

func TestBackupRefusesBadInput(t *testing.T) {
	f := newBackupFixture(t)
	ctx := context.Background()
	m := f.c.Manticore()
	existing := t.TempDir()
	_, err := Create(ctx, m, existing, CreateOptions{})
	assert.ErrorIs(t, err, ErrExists)

	target := filepath.Join(t.TempDir(), "bk")
	_, err = Create(ctx, m, target, CreateOptions{Tables: []string{"a", "nope"}})
	assert.ErrorIs(t, err, dbctl.ErrTableNotFound)
	assert.Contains(t, err.Error(), "nope")
	_, err = Create(ctx, m, target, CreateOptions{Tables: []string{"a-b"}})
	assert.ErrorIs(t, err, dbctl.ErrInvalidIdentifier)
	_, err = Create(ctx, m, target, CreateOptions{Tables: []string{"d"}})
	assert.ErrorIs(t, err, dbctl.ErrNoTables)
	noPartialLeft(t, target)
	assert.Equal(t, map[string]int{"a": 0, "b": 0, "pq": 0}, f.counters(t))

	_, err = Create(ctx, m, filepath.Join(t.TempDir(), "no", "such", "parent"), CreateOptions{})
	assert.Error(t, err)
}

func TestBackupPartialRestoresOnlyItsTables(t *testing.T) {
	f := newBackupFixture(t)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "bk")
	man, err := Create(ctx, f.c.Manticore(), dir, CreateOptions{Tables: []string{"A", "d"}})
	require.NoError(t, err)
	assert.True(t, man.Partial)
	assert.Equal(t, []string{"a"}, tableNamesOf(man))
	require.Len(t, man.Skipped, 1)
	restored := t.TempDir()
	require.NoError(t, Restore(ctx, dir, restored, RestoreOptions{}))
	srv2 := dbctltest.NewManticore(t, dbctltest.WithDataDir(restored))
	db2, err := sql.Open("mysql", srv2.DSN())
	require.NoError(t, err)
	defer db2.Close()
	assert.Equal(t, map[string]string{"a": "rt/4", "d": "distributed"}, rowCounts(t, db2))
}

// Every step of a backup can fail; afterwards every counter is what it was
// and nothing looks like a finished backup.
func TestBackupFaultMatrix(t *testing.T) {
	boom := errors.New("injected")
	tests := []struct {
		name    string
		arrange func(f *backupFixture, o *CreateOptions, cancel context.CancelFunc)
		want    string
	}{
		{"freeze", func(f *backupFixture, _ *CreateOptions, _ context.CancelFunc) {
			f.srv.FailNext("FREEZE `", 1064, "injected freeze failure")
		}, "injected freeze failure"},
		{"flush attributes", func(f *backupFixture, _ *CreateOptions, _ context.CancelFunc) {
			f.srv.FailNext("FLUSH ATTRIBUTES", 1064, "injected flush failure")
		}, "injected flush failure"},
		{"copy of the first file", func(_ *backupFixture, o *CreateOptions, _ context.CancelFunc) {
			o.hooks = &backupHooks{beforeCopy: func(i int, _ string) error {
				if i == 0 {
					return boom
				}
				return nil
			}}
		}, "injected"},
		{"copy of the last file", func(_ *backupFixture, o *CreateOptions, _ context.CancelFunc) {
			var n atomic.Int64
			o.hooks = &backupHooks{beforeCopy: func(int, string) error {
				if n.Add(1) == 10 {
					return boom
				}
				return nil
			}}
		}, "injected"},
		{"hash of a copy after the unfreeze (uncompressed: copied by the kernel)", func(_ *backupFixture, o *CreateOptions, _ context.CancelFunc) {
			o.hooks = &backupHooks{beforeHash: func(p string) error {
				if strings.HasSuffix(p, ".meta") {
					return boom
				}
				return nil
			}}
			if o.Compress { // compressed files are hashed while copied
				o.hooks.beforeCopy = func(int, string) error { return boom }
			}
		}, "injected"},
		{"compress or hash of a clone after the unfreeze", func(_ *backupFixture, o *CreateOptions, _ context.CancelFunc) {
			o.hooks = &backupHooks{
				clone: func(dst, src *os.File) error { _, err := io.Copy(dst, src); return err },
				beforeHash: func(p string) error {
					if strings.Contains(p, ".meta") {
						return boom
					}
					return nil
				},
			}
		}, "injected"},
		{"fsync", func(_ *backupFixture, o *CreateOptions, _ context.CancelFunc) {
			o.hooks = &backupHooks{perFileSync: true, beforeSync: func(p string) error {
				if strings.HasSuffix(p, ".meta") || strings.HasSuffix(p, ".meta.zst") {
					return boom
				}
				return nil
			}}
		}, "injected"},
		{"the one syncfs, or the fsync of a file where there is none", func(_ *backupFixture, o *CreateOptions, _ context.CancelFunc) {
			o.hooks = &backupHooks{beforeSync: func(p string) error {
				if strings.Contains(filepath.Base(p), partialInfix) || !syncFSReportsErrors() && strings.Contains(p, ".meta") {
					return boom
				}
				return nil
			}}
		}, "injected"},
		{"manifest write", func(_ *backupFixture, o *CreateOptions, _ context.CancelFunc) {
			o.hooks = &backupHooks{beforeManifest: func() error { return boom }}
		}, "injected"},
		{"context cancelled during the copy", func(_ *backupFixture, o *CreateOptions, cancel context.CancelFunc) {
			o.hooks = &backupHooks{beforeCopy: func(i int, _ string) error {
				if i == 3 {
					cancel()
				}
				return nil
			}}
		}, "context canceled"},
		{"UNFREEZE refused every time", func(f *backupFixture, _ *CreateOptions, _ context.CancelFunc) {
			for i := 0; i < 5; i++ { // dbctl's release sends at most 5 UNFREEZEs
				f.srv.FailNext("UNFREEZE", 1064, "injected unfreeze failure")
			}
		}, "gave up after 5 attempts; still frozen by this call: a, b, pq"},
	}
	for _, tc := range tests {
		for _, v := range []struct{ compress, noStaging bool }{{false, false}, {true, false}, {false, true}, {true, true}} {
			compress := v.compress
			t.Run(fmt.Sprintf("%s/compress=%v/noStaging=%v", tc.name, v.compress, v.noStaging), func(t *testing.T) {
				f := newBackupFixture(t)
				_, err := f.c.DB().Exec("FREEZE a")
				require.NoError(t, err)
				before := f.counters(t)
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				opts := CreateOptions{Compress: compress, Concurrency: 2, NoStaging: v.noStaging}
				tc.arrange(f, &opts, cancel)
				target := filepath.Join(t.TempDir(), "bk")
				man, err := Create(ctx, f.c.Manticore(), target, opts)
				require.Error(t, err)
				assert.Nil(t, man)
				assert.Contains(t, err.Error(), tc.want)
				assert.True(t, strings.HasPrefix(err.Error(), "dbctl: manticore backup "), err.Error())
				noPartialLeft(t, target)
				if strings.HasPrefix(tc.name, "UNFREEZE refused") {
					// the server refused every UNFREEZE: the error says which
					// tables are still frozen by this call; undo by hand
					_, err := f.c.DB().Exec("UNFREEZE a, b, pq")
					require.NoError(t, err)
				}
				assert.Equal(t, before, f.counters(t))
			})
		}
	}
}

// Faults the backup survives: a refused UNFREEZE that works the second
// time, and connections dropped in the middle of the copy (the release
// reconnects).
func TestBackupSurvivesTransientFaults(t *testing.T) {
	for _, tc := range []struct {
		name    string
		arrange func(f *backupFixture, o *CreateOptions)
	}{
		{"UNFREEZE refused once", func(f *backupFixture, _ *CreateOptions) {
			f.srv.FailNext("UNFREEZE", 1064, "injected")
		}},
		{"connections dropped during the copy", func(f *backupFixture, o *CreateOptions) {
			o.hooks = &backupHooks{beforeCopy: func(i int, _ string) error {
				if i == 2 {
					f.srv.DropConnections()
				}
				return nil
			}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newBackupFixture(t)
			before := f.counters(t)
			opts := CreateOptions{Concurrency: 1}
			tc.arrange(f, &opts)
			dir := filepath.Join(t.TempDir(), "bk")
			_, err := Create(context.Background(), f.c.Manticore(), dir, opts)
			require.NoError(t, err)
			assert.Equal(t, before, f.counters(t))
			_, err = Verify(context.Background(), dir, VerifyOptions{})
			require.NoError(t, err)
		})
	}
}

// Uncompressed, every file is hashed after the unfreeze, never while
// frozen, each once: a staged link as it is copied (through a mapping),
// a clone (here a stand-in that fails half-way, so a copy starts afresh)
// after it is made.
func TestBackupHashesKernelCopiesAfterUnfreeze(t *testing.T) {
	for _, failedClone := range []bool{false, true} {
		t.Run(fmt.Sprintf("failedClone=%v", failedClone), func(t *testing.T) {
			testBackupHashesKernelCopiesAfterUnfreeze(t, failedClone)
		})
	}
}

func testBackupHashesKernelCopiesAfterUnfreeze(t *testing.T, failedClone bool) {
	f := newBackupFixture(t)
	var hashed, hashedWhileFrozen atomic.Int64
	opts := CreateOptions{NoReflink: !failedClone, hooks: &backupHooks{beforeHash: func(string) error {
		if n, _ := f.srv.Locked("a"); n > 0 {
			hashedWhileFrozen.Add(1)
		}
		hashed.Add(1)
		return nil
	}}}
	if failedClone { // a clone that fails half-way: the copy starts afresh
		opts.hooks.clone = func(dst, _ *os.File) error {
			_, _ = dst.WriteString("half a clone")
			return syscall.EOPNOTSUPP
		}
	}
	dir := filepath.Join(t.TempDir(), "bk")
	man, err := Create(context.Background(), f.c.Manticore(), dir, opts)
	require.NoError(t, err)
	assert.Equal(t, int64(len(man.Files)), hashed.Load(), "every copy is hashed")
	assert.Zero(t, hashedWhileFrozen.Load(), "after the unfreeze")
	for _, mf := range man.Files {
		src, err := os.ReadFile(mf.Source)
		require.NoError(t, err)
		sum := sha256.Sum256(src)
		assert.Equal(t, hex.EncodeToString(sum[:]), mf.SHA256, mf.Path)
		assert.Equal(t, int64(len(src)), mf.Size, mf.Path)
	}
	_, err = Verify(context.Background(), dir, VerifyOptions{})
	require.NoError(t, err)
}

// Where the file system clones files, the copies are made inside the freeze
// and hashed after the unfreeze. ext4 here cannot clone, so a stand-in that
// copies in the kernel plays FICLONE; it records whether the tables were
// frozen when it ran, and the hashes must still come out right.
func TestBackupClonesThenHashesAfterUnfreeze(t *testing.T) {
	f := newBackupFixture(t)
	var clonedWhileFrozen, clones atomic.Int64
	opts := CreateOptions{NoStaging: true, hooks: &backupHooks{clone: func(dst, src *os.File) error {
		if n, _ := f.srv.Locked("a"); n > 0 {
			clonedWhileFrozen.Add(1)
		}
		clones.Add(1)
		_, err := io.Copy(dst, src)
		return err
	}}}
	dir := filepath.Join(t.TempDir(), "bk")
	man, err := Create(context.Background(), f.c.Manticore(), dir, opts)
	require.NoError(t, err)
	assert.Equal(t, int64(len(man.Files)), clones.Load())
	assert.Equal(t, clones.Load(), clonedWhileFrozen.Load(), "clones are made inside the freeze")
	_, err = Verify(context.Background(), dir, VerifyOptions{})
	require.NoError(t, err, "hashes computed after the unfreeze match the files")
	for _, mf := range man.Files {
		assert.Len(t, mf.SHA256, 64)
		assert.Equal(t, mf.Size, mf.StoredSize)
	}
}

// A compressed backup where files can be cloned clones them inside the
// freeze and compresses the clones after the unfreeze; where cloning fails
// it stops trying, and compresses inside the freeze, or with
// CompressAfterUnfreeze copies inside the freeze and compresses after.
func TestBackupCompressesAfterUnfreeze(t *testing.T) {
	for _, tc := range []struct {
		name                  string
		canClone, noReflink   bool
		afterUnfreeze         bool
		wantClones, wantLater func(files int) int
	}{
		{"clones", true, false, false, func(n int) int { return n }, func(n int) int { return n }},
		{"no clones", false, false, false, func(int) int { return 1 }, func(int) int { return 0 }},
		{"no clones, CompressAfterUnfreeze", false, false, true, func(int) int { return 1 }, func(n int) int { return n }},
		{"NoReflink, CompressAfterUnfreeze", true, true, true, func(int) int { return 0 }, func(n int) int { return n }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newBackupFixture(t)
			before := f.counters(t)
			var clones, compressedLater, compressedWhileFrozen atomic.Int64
			opts := CreateOptions{Compress: true, Concurrency: 1, NoReflink: tc.noReflink, CompressAfterUnfreeze: tc.afterUnfreeze, NoStaging: true,
				hooks: &backupHooks{clone: func(dst, src *os.File) error {
					clones.Add(1)
					if n, _ := f.srv.Locked("a"); n == 0 {
						t.Error("clone outside the freeze")
					}
					if !tc.canClone {
						_, _ = dst.WriteString("half a clone") // rewound before the copy
						return syscall.EOPNOTSUPP
					}
					_, err := io.Copy(dst, src)
					return err
				}, beforeHash: func(string) error {
					compressedLater.Add(1)
					if n, _ := f.srv.Locked("a"); n > 0 {
						compressedWhileFrozen.Add(1)
					}
					return nil
				}}}
			dir := filepath.Join(t.TempDir(), "bkz")
			man, err := Create(context.Background(), f.c.Manticore(), dir, opts)
			require.NoError(t, err)
			assert.Equal(t, before, f.counters(t))
			assert.Equal(t, int64(tc.wantClones(len(man.Files))), clones.Load(), "clones tried")
			assert.Equal(t, int64(tc.wantLater(len(man.Files))), compressedLater.Load(), "files compressed after the unfreeze")
			assert.Zero(t, compressedWhileFrozen.Load())
			for _, mf := range man.Files {
				src, err := os.ReadFile(mf.Source)
				require.NoError(t, err)
				sum := sha256.Sum256(src)
				assert.Equal(t, hex.EncodeToString(sum[:]), mf.SHA256, mf.Path)
				fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(mf.Path)+".zst"))
				require.NoError(t, err)
				assert.Equal(t, fi.Size(), mf.StoredSize, mf.Path)
				srcFi, err := os.Stat(mf.Source)
				require.NoError(t, err)
				assert.Equal(t, srcFi.Mode().Perm(), mf.Mode.Perm(), "the source's mode, not the staged copy's")
			}
			_ = filepath.WalkDir(dir, func(p string, _ fs.DirEntry, _ error) error {
				assert.False(t, strings.HasSuffix(p, stageSuffix), "staged copy left behind: %s", p)
				return nil
			})
			_, err = Verify(context.Background(), dir, VerifyOptions{})
			require.NoError(t, err)
		})
	}
}

func TestBackupPanicInProgress(t *testing.T) {
	f := newBackupFixture(t)
	before := f.counters(t)
	target := filepath.Join(t.TempDir(), "bk")
	assert.PanicsWithValue(t, "progress boom", func() {
		_, _ = Create(context.Background(), f.c.Manticore(), target, CreateOptions{
			Progress: func(Progress) { panic("progress boom") },
		})
	})
	noPartialLeft(t, target)
	assert.Equal(t, before, f.counters(t))
}
