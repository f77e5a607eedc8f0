package backup

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dbctl/dbctl"
	"github.com/dbctl/dbctl/dbctltest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// twoChunks gives table a of the fixture a second disk chunk, so that
// OPTIMIZE has something to merge.
func (f *backupFixture) twoChunks(t *testing.T) {
	for _, q := range []string{
		"INSERT INTO a(id,title,gid,price) VALUES (5,'five',50,5.5),(6,'six',60,6.5)",
		"FLUSH RAMCHUNK a",
	} {
		_, err := f.c.DB().Exec(q)
		require.NoError(t, err, q)
	}
}

func immutableFiles(man *Manifest) []string {
	var out []string
	for _, mf := range man.Files {
		if isImmutable(mf.Path) {
			out = append(out, mf.Path)
		}
	}
	return out
}

func TestIsImmutable(t *testing.T) {
	for path, want := range map[string]bool{
		"/d/a/a.0.spd": true, "/d/a/a.12.spds": true, "/d/a/a.3.spt": true, "/d/a/a.0.sph": true,
		"/d/a/a.0.spe": true, "/d/a/a.0.spi": true, "/d/a/a.0.spp": true,
		"/d/a/a.0.spa": false, "/d/a/a.0.spb": false, "/d/a/a.0.spm": false, "/d/a/a.0.sphi": false,
		"/d/a/a.0.spidx": false, "/d/a/a.0.spc": false, "/d/a/a.meta": false, "/d/a/a.ram": false,
		"/d/a/a.settings": false, "/d/a/a.spd": false, "/d/a/a.x.spd": false, "/d/a/wordforms_chunk0_0.txt": false,
		"/d/manticore.json": false,
	} {
		assert.Equal(t, want, isImmutable(path), path)
	}
}

// Staged: inside the freeze only the mutable files are copied and the
// immutable ones hard-linked; the links are read after the unfreeze; the
// result verifies and restores like any backup, and no staging folder is
// left.
func TestBackupStaged(t *testing.T) {
	for _, v := range []struct {
		compress bool
		memory   int64
	}{{false, 0}, {true, 0}, {false, 1}, {true, 1}} {
		compress := v.compress
		// memory 1: no mutable file fits in memory; they are copied to
		// the backup inside the freeze instead
		t.Run(fmt.Sprintf("compress=%v/memory=%d", compress, v.memory), func(t *testing.T) {
			f := newBackupFixture(t)
			f.twoChunks(t)
			ctx := context.Background()
			want := rowCounts(t, f.c.DB())
			before := f.counters(t)
			var staged, stagedWhileFrozen atomic.Int64
			var sawStaging atomic.Value
			parent := t.TempDir()
			dir := filepath.Join(parent, "bk")
			man, err := Create(ctx, f.c.Manticore(), dir, CreateOptions{Compress: compress, Concurrency: 2,
				Progress: func(p Progress) {
					if p.Staging != "" {
						sawStaging.Store(p.Staging)
					}
				},
				hooks: &backupHooks{stageMemory: v.memory, beforeStaged: func(src, link string) error {
					staged.Add(1)
					if n, _ := f.srv.Locked("a"); n > 0 {
						stagedWhileFrozen.Add(1)
					}
					if !sameInode(t, src, link) {
						t.Errorf("%s is not a hard link of %s", link, src)
					}
					assert.Equal(t, filepath.Join(parent, stagingPrefix), link[:len(parent)+1+len(stagingPrefix)], "beside the target")
					return nil
				}}})
			require.NoError(t, err)
			assert.Equal(t, StagingStaged, man.Staging)
			assert.Equal(t, StagingStaged, sawStaging.Load())
			assert.Len(t, man.ID, 32)
			assert.Equal(t, before, f.counters(t))
			imm := immutableFiles(man)
			assert.NotEmpty(t, imm)
			assert.Equal(t, int64(len(imm)), staged.Load(), "every immutable file went through staging")
			assert.Zero(t, stagedWhileFrozen.Load(), "read after the unfreeze")
			for _, mf := range man.Files {
				require.NotNil(t, mf.Identity, mf.Path)
				fi, err := os.Stat(mf.Source)
				require.NoError(t, err)
				assert.Equal(t, identityOf(fi), *mf.Identity, mf.Path)
				assert.False(t, mf.FromBase)
			}
			noStagingLeft(t, parent)
			_, err = os.Stat(filepath.Join(dir, stagingMarker))
			assert.True(t, errors.Is(err, os.ErrNotExist), "the finished backup holds no marker")
			_, err = Verify(ctx, dir, VerifyOptions{})
			require.NoError(t, err)
			restored := t.TempDir()
			require.NoError(t, Restore(ctx, dir, restored, RestoreOptions{}))
			assert.Equal(t, want, rowCountsOf(t, restored))
		})
	}
}

func sameInode(t *testing.T, a, b string) bool {
	t.Helper()
	fa, err := os.Stat(a)
	require.NoError(t, err)
	fb, err := os.Stat(b)
	require.NoError(t, err)
	return os.SameFile(fa, fb)
}

// noStagingLeft checks that dir holds no staging folder.
func noStagingLeft(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		assert.False(t, strings.HasPrefix(e.Name(), stagingPrefix), "staging folder left: %s", e.Name())
	}
}

// rowCountsOf starts a server on a restored data_dir and counts its rows.
func rowCountsOf(t *testing.T, dataDir string) map[string]string {
	srv := dbctltest.NewManticore(t, dbctltest.WithDataDir(dataDir))
	db, err := sql.Open("mysql", srv.DSN())
	require.NoError(t, err)
	defer db.Close()
	return rowCounts(t, db)
}

// What searchd may do while the staged links are read, after the unfreeze:
// merge chunks (the old files are unlinked), update attributes (in place,
// but those files were copied inside the freeze): the backup holds the
// freeze's state. A file changed behind the backup's back (in place, or
// only its mtime) fails it with ErrSourceChanged naming the file.
func TestBackupStagedRaces(t *testing.T) {
	tests := []struct {
		name  string
		race  func(t *testing.T, f *backupFixture, src string) error
		check func(t *testing.T, man *Manifest, dir string, err error, wantRows map[string]string)
	}{
		{"OPTIMIZE merges the chunks (old files unlinked)", func(t *testing.T, f *backupFixture, _ string) error {
			_, err := f.c.DB().Exec("OPTIMIZE TABLE a OPTION cutoff=1, sync=1")
			require.NoError(t, err)
			_, err = os.Stat(filepath.Join(f.srv.DataDir(), "a", "a.0.spd"))
			require.True(t, errors.Is(err, os.ErrNotExist), "merged away")
			return nil
		}, func(t *testing.T, man *Manifest, dir string, err error, wantRows map[string]string) {
			require.NoError(t, err)
			_, err = Verify(context.Background(), dir, VerifyOptions{})
			require.NoError(t, err)
			restored := t.TempDir()
			require.NoError(t, Restore(context.Background(), dir, restored, RestoreOptions{}))
			assert.Equal(t, wantRows, rowCountsOf(t, restored))
		}},
		{"UPDATE and FLUSH ATTRIBUTES (in place, copied inside the freeze)", func(t *testing.T, f *backupFixture, _ string) error {
			for _, q := range []string{"UPDATE a SET gid=99 WHERE id=1", "FLUSH ATTRIBUTES", "DELETE FROM a WHERE id=2", "FLUSH ATTRIBUTES"} {
				_, err := f.c.DB().Exec(q)
				require.NoError(t, err, q)
			}
			return nil
		}, func(t *testing.T, man *Manifest, dir string, err error, wantRows map[string]string) {
			require.NoError(t, err)
			restored := t.TempDir()
			require.NoError(t, Restore(context.Background(), dir, restored, RestoreOptions{}))
			srv := dbctltest.NewManticore(t, dbctltest.WithDataDir(restored))
			db, err := sql.Open("mysql", srv.DSN())
			require.NoError(t, err)
			defer db.Close()
			var gid string
			require.NoError(t, db.QueryRow("SELECT gid FROM a WHERE id=1").Scan(&gid))
			assert.Equal(t, "10", gid, "the value at the freeze")
			assert.Equal(t, wantRows, rowCounts(t, db))
		}},
		{"an immutable file rewritten in place", func(t *testing.T, _ *backupFixture, src string) error {
			out, err := os.OpenFile(src, os.O_WRONLY|os.O_APPEND, 0)
			require.NoError(t, err)
			_, err = out.WriteString("rewritten behind the backup")
			require.NoError(t, err)
			return out.Close()
		}, func(t *testing.T, man *Manifest, _ string, err error, _ map[string]string) {
			assertSourceChanged(t, err)
		}},
		{"an immutable file's mtime moved (same size)", func(t *testing.T, _ *backupFixture, src string) error {
			return os.Chtimes(src, time.Now(), time.Now().Add(time.Hour))
		}, func(t *testing.T, man *Manifest, _ string, err error, _ map[string]string) {
			assertSourceChanged(t, err)
		}},
	}
	for _, tc := range tests {
		for _, compress := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/compress=%v", tc.name, compress), func(t *testing.T) {
				f := newBackupFixture(t)
				f.twoChunks(t)
				want := rowCounts(t, f.c.DB())
				before := f.counters(t)
				var once atomic.Bool
				parent := t.TempDir()
				dir := filepath.Join(parent, "bk")
				man, err := Create(context.Background(), f.c.Manticore(), dir, CreateOptions{Compress: compress, Concurrency: 1,
					hooks: &backupHooks{beforeStaged: func(src, _ string) error {
						if filepath.Base(src) == "a.0.spd" && once.CompareAndSwap(false, true) {
							return tc.race(t, f, src)
						}
						return nil
					}}})
				assert.True(t, once.Load(), "the race ran")
				tc.check(t, man, dir, err, want)
				assert.Equal(t, before, f.counters(t))
				noStagingLeft(t, parent)
				if err != nil {
					noPartialLeft(t, dir)
				}
			})
		}
	}
}

func assertSourceChanged(t *testing.T, err error) {
	t.Helper()
	require.ErrorIs(t, err, ErrSourceChanged)
	var sc *SourceChangedError
	require.ErrorAs(t, err, &sc)
	assert.Equal(t, "data/a/a.0.spd", sc.Path)
	assert.Contains(t, err.Error(), "data/a/a.0.spd")
	assert.NotEqual(t, sc.Want, sc.Got)
}

// A failure after the staging, before or during the copy from it: the
// tables were unfrozen already; the links, the staging folder and the
// partial backup are removed.
func TestBackupFailsBetweenStagingAndCopy(t *testing.T) {
	boom := errors.New("injected")
	for _, tc := range []struct {
		name string
		fail func(n int64) bool
	}{{"first staged file", func(n int64) bool { return n == 1 }}, {"third staged file", func(n int64) bool { return n == 3 }}} {
		for _, compress := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/compress=%v", tc.name, compress), func(t *testing.T) {
				f := newBackupFixture(t)
				_, err := f.c.DB().Exec("FREEZE a")
				require.NoError(t, err)
				before := f.counters(t)
				var n atomic.Int64
				parent := t.TempDir()
				dir := filepath.Join(parent, "bk")
				var stagingDir string
				_, err = Create(context.Background(), f.c.Manticore(), dir, CreateOptions{Compress: compress, Concurrency: 1,
					hooks: &backupHooks{beforeStaged: func(_, link string) error {
						stagingDir = filepath.Dir(link)
						if tc.fail(n.Add(1)) {
							return boom
						}
						return nil
					}}})
				require.ErrorIs(t, err, boom)
				assert.NotEmpty(t, stagingDir)
				noPartialLeft(t, dir)
				noStagingLeft(t, parent)
				assert.Equal(t, before, f.counters(t))
			})
		}
	}
}

// The staging folder follows the data_dir's file system: beside the target
// when it is there; else StagingDir, which must be there; else every file
// is copied inside the freeze. The "other file system" is /dev/shm (a
// tmpfs) where it is one, and a stand-in device number otherwise.
func TestBackupStagingOnOtherFileSystem(t *testing.T) {
	f := newBackupFixture(t)
	ctx := context.Background()
	dataDev, err := devOf(f.srv.DataDir())
	require.NoError(t, err)
	other := ""
	if d, err := devOf("/dev/shm"); err == nil && d != dataDev {
		if dir, err := os.MkdirTemp("/dev/shm", "dbctl-test-"); err == nil {
			other = dir
			t.Cleanup(func() { os.RemoveAll(dir) })
		}
	}
	var hooks *backupHooks
	if other == "" { // no tmpfs: pretend that folders named "other" are elsewhere
		other = filepath.Join(t.TempDir(), "other")
		require.NoError(t, os.Mkdir(other, 0o755))
		hooks = &backupHooks{dev: func(p string) (uint64, error) {
			if strings.HasPrefix(p, other) {
				return dataDev + 1, nil
			}
			return devOf(p)
		}}
	}
	before := f.counters(t)
	want := rowCounts(t, f.c.DB())
	sameFS := t.TempDir()

	t.Run("no StagingDir: copied inside the freeze", func(t *testing.T) {
		dir := filepath.Join(other, "bk1")
		man, err := Create(ctx, f.c.Manticore(), dir, CreateOptions{hooks: hooks})
		require.NoError(t, err)
		assert.Equal(t, StagingCopiedInFreeze, man.Staging)
		_, err = Verify(ctx, dir, VerifyOptions{})
		require.NoError(t, err)
	})
	t.Run("StagingDir on the data_dir's file system", func(t *testing.T) {
		dir := filepath.Join(other, "bk2")
		var links atomic.Int64
		h := &backupHooks{beforeStaged: func(_, link string) error {
			assert.True(t, strings.HasPrefix(link, sameFS), link)
			links.Add(1)
			return nil
		}}
		if hooks != nil {
			h.dev = hooks.dev
		}
		man, err := Create(ctx, f.c.Manticore(), dir, CreateOptions{StagingDir: sameFS, Compress: true, hooks: h})
		require.NoError(t, err)
		assert.Equal(t, StagingStaged, man.Staging)
		assert.Equal(t, int64(len(immutableFiles(man))), links.Load())
		noStagingLeft(t, sameFS)
		restored := t.TempDir()
		require.NoError(t, Restore(ctx, dir, restored, RestoreOptions{}))
		assert.Equal(t, want, rowCountsOf(t, restored))
	})
	t.Run("StagingDir on another file system: refused before the FREEZE", func(t *testing.T) {
		// SHOW SETTINGS gave the data_dir: the staging folder is chosen
		// before the FREEZE, which is then never sent
		f.srv.FailNext("FREEZE `", 1064, "a FREEZE was sent")
		dir := filepath.Join(t.TempDir(), "bk3")
		h := &backupHooks{dev: func(p string) (uint64, error) {
			if strings.HasPrefix(p, filepath.Dir(dir)) || strings.HasPrefix(p, other) {
				return dataDev + 1, nil
			}
			return devOf(p)
		}}
		_, err := Create(ctx, f.c.Manticore(), dir, CreateOptions{StagingDir: other, hooks: h})
		require.ErrorIs(t, err, dbctl.ErrInvalidArgument)
		assert.Contains(t, err.Error(), "not on the file system of the data_dir")
		noPartialLeft(t, dir)
		noStagingLeft(t, other)
		_, err = f.c.Manticore().Freeze(ctx, "a")
		require.ErrorContains(t, err, "a FREEZE was sent", "the backup's FREEZE would have used the injected failure")
	})
	assert.Equal(t, before, f.counters(t))
}

// isImmutable never panics, and says yes only for "<name>.<digits>.<ext>"
// with ext on the list.
func FuzzIsImmutable(f *testing.F) {
	for _, s := range []string{"/d/a/a.0.spd", "a.12.spds", "a.meta", ".spd", "a..spd", "/x/y.z.0.spt", "a.0.spd/", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		if !isImmutable(path) {
			return
		}
		base := filepath.Base(path)
		ext := filepath.Ext(base)
		require.True(t, immutableSuffixes[ext], path)
		chunk := filepath.Ext(strings.TrimSuffix(base, ext))
		require.Greater(t, len(chunk), 1, path)
		require.Equal(t, "", strings.Trim(chunk[1:], "0123456789"), path)
	})
}
