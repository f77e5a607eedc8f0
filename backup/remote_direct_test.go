//go:build unix

package backup

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/dbctl/dbctl/backupstore"
	"github.com/dbctl/dbctl/internal/s3test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// localCopyBytes sums the bytes of the regular files under the backup's
// own folders (".dbctl-*") in dirs that are neither a marker nor a hard
// link (a staged link has a second name: its source, or the folder's
// other link): what a backup has copied to local disk. Files removed
// while it looks (uploaded links) are skipped. It runs in the backup's
// workers: it reports with assert, never FailNow.
func localCopyBytes(t *testing.T, dirs ...string) (copied int64, links int) {
	t.Helper()
	for _, d := range dirs {
		entries, err := os.ReadDir(d)
		assert.NoError(t, err)
		for _, e := range entries {
			if !e.IsDir() || !strings.Contains(e.Name(), ".dbctl-") {
				continue
			}
			err := filepath.WalkDir(filepath.Join(d, e.Name()), func(p string, de fs.DirEntry, err error) error {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				if err != nil || de.IsDir() || de.Name() == stagingMarker {
					return err
				}
				var st syscall.Stat_t
				if err := syscall.Stat(p, &st); errors.Is(err, fs.ErrNotExist) {
					return nil
				} else if err != nil {
					return err
				}
				if st.Nlink > 1 {
					links++
				} else {
					copied += st.Size
				}
				return nil
			})
			assert.NoError(t, err)
		}
	}
	return copied, links
}

// isolatedTempDir points TMPDIR (os.TempDir) at a folder of the test's own
// and returns it: the fixture's data_dir made after it is in it, so the
// folder beside the data_dir is not shared with other processes.
func isolatedTempDir(t *testing.T) string {
	tmp, err := filepath.EvalSymlinks(t.TempDir())
	require.NoError(t, err)
	t.Setenv("TMPDIR", tmp)
	return tmp
}

// noBackupFoldersLeft checks that dirs hold no staging or temporary folder.
func noBackupFoldersLeft(t *testing.T, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		entries, err := os.ReadDir(d)
		require.NoError(t, err)
		for _, e := range entries {
			assert.NotContains(t, e.Name(), ".dbctl-", "left in %s", d)
		}
	}
}

// nothingUploaded checks that loc holds no object (no manifest) and no
// unfinished multipart upload.
func nothingUploaded(t *testing.T, srv s3test.Server, loc string) {
	t.Helper()
	st := openDirect(t, srv, loc)
	assert.Empty(t, listKeys(t, st, ""), "no object, no manifest")
	ups, err := st.MultipartUploads(context.Background())
	require.NoError(t, err)
	assert.Empty(t, ups, "no unfinished multipart upload")
}

// A backup to S3 keeps the staged freeze of a local one and uploads from
// the staging folder after the unfreeze: the immutable files from their
// hard links, the mutable ones from memory. At no point does local disk
// hold a copy of a file (only links and markers), and nothing is left
// afterwards. Without StagingDir the staging folder is beside the data_dir.
func TestS3BackupUploadsFromStaging(t *testing.T) {
	srv := s3Env(t)
	for _, v := range []struct {
		compress, stagingDir bool
	}{{false, true}, {true, true}, {false, false}, {true, false}} {
		t.Run(fmt.Sprintf("compress=%v/staging-dir=%v", v.compress, v.stagingDir), func(t *testing.T) {
			// the temp dir: where the backup's temporary folder goes without
			// StagingDir, and the fixture's data_dir (so that nothing else
			// uses the folder beside it)
			tmp := isolatedTempDir(t)
			f := newBackupFixture(t)
			f.twoChunks(t)
			addBigRow(t, f)
			beside := filepath.Dir(f.srv.DataDir())
			require.Equal(t, tmp, beside)
			watch := []string{tmp, beside}
			opts := CreateOptions{Compress: v.compress, Store: backupstore.Options{PartSize: backupstore.MinPartSize, Concurrency: 2}}
			wantPlace := beside
			if v.stagingDir {
				opts.StagingDir = t.TempDir()
				watch, wantPlace = append(watch, opts.StagingDir), opts.StagingDir
			}
			var mu sync.Mutex
			var staged, maxLinks int
			var copied int64
			opts.hooks = &backupHooks{beforeStaged: func(src, link string) error {
				mu.Lock()
				defer mu.Unlock()
				staged++
				if n, _ := f.srv.Locked("a"); n > 0 {
					t.Errorf("%s read while frozen", src)
				}
				assert.Equal(t, filepath.Join(wantPlace, stagingPrefix), link[:len(wantPlace)+1+len(stagingPrefix)])
				c, l := localCopyBytes(t, watch...)
				copied, maxLinks = max(copied, c), max(maxLinks, l)
				return nil
			}}
			before := f.counters(t)
			loc := srv.Location(t)
			man, err := Create(context.Background(), f.c.Manticore(), loc, opts)
			require.NoError(t, err)
			assert.Equal(t, before, f.counters(t))
			assert.Equal(t, StagingStaged, man.Staging, "the freeze window of a local staged backup")
			assert.Positive(t, man.FreezeWindow)
			assert.Equal(t, len(immutableFiles(man)), staged, "every immutable file uploaded from its link")
			assert.Zero(t, copied, "no file copied to local disk")
			assert.Positive(t, maxLinks)
			noBackupFoldersLeft(t, watch...)

			st := openDirect(t, srv, loc)
			assert.Len(t, listKeys(t, st, ""), len(man.Files)+1)
			got, err := Verify(context.Background(), loc, VerifyOptions{})
			require.NoError(t, err)
			assert.Equal(t, man.Files, got.Files, "the manifest uploaded is the one returned")
			for _, mf := range man.Files {
				require.NotNil(t, mf.Identity, mf.Path)
				assert.NotEmpty(t, mf.SHA256, mf.Path)
				if !v.compress {
					assert.Equal(t, mf.Size, mf.StoredSize, mf.Path)
				}
			}
			restored := t.TempDir()
			require.NoError(t, Restore(context.Background(), loc, restored, RestoreOptions{}))
			assert.Equal(t, rowCounts(t, f.c.DB()), rowCountsOf(t, restored))
			cleanupStore(t, st)
		})
	}
}

// A source changed behind the backup after the unfreeze fails the S3
// backup with ErrSourceChanged naming the file, and leaves no object, no
// manifest, no multipart upload and no local folder: whether the change is
// seen before the file's upload starts, or after it (the change lands
// while its multipart upload runs: the object was complete, and is
// deleted).
func TestS3BackupSourceChanged(t *testing.T) {
	srv := s3Env(t)
	for _, when := range []string{"before the upload", "during the upload"} {
		for _, compress := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/compress=%v", when, compress), func(t *testing.T) {
				f := newBackupFixture(t)
				addBigRow(t, f)
				victim := filepath.Join(f.srv.DataDir(), "b", "b.1.spds")
				change := func() {
					out, err := os.OpenFile(victim, os.O_WRONLY|os.O_APPEND, 0)
					require.NoError(t, err)
					_, err = out.WriteString("rewritten behind the backup")
					require.NoError(t, err)
					require.NoError(t, out.Close())
				}
				var once atomic.Bool
				staging := t.TempDir()
				opts := CreateOptions{Compress: compress, StagingDir: staging, Concurrency: 1,
					Store: backupstore.Options{Endpoint: srv.Endpoint, PartSize: backupstore.MinPartSize, Concurrency: 2}}
				if compress {
					// b.1.spds must upload in parts (over 5 MiB stored): the
					// fastest level stores addBigRow's random hex as it is,
					// the default one halves it
					opts.CompressLevel = LevelFastest
				}
				if when == "before the upload" {
					opts.hooks = &backupHooks{beforeStaged: func(src, _ string) error {
						if src == victim && once.CompareAndSwap(false, true) {
							change()
						}
						return nil
					}}
				} else {
					p := s3test.NewFaultProxy(t, srv.Endpoint)
					p.SetFail(func(r *http.Request) (int, string) {
						if s3test.IsUploadPart(r) && strings.HasSuffix(r.URL.Path, "b.1.spds"+map[bool]string{true: ".zst"}[compress]) &&
							once.CompareAndSwap(false, true) {
							change()
						}
						return 0, ""
					})
					opts.Store.Endpoint = p.Endpoint
				}
				before := f.counters(t)
				loc := srv.Location(t)
				man, err := Create(context.Background(), f.c.Manticore(), loc, opts)
				require.True(t, once.Load(), "the change ran")
				require.ErrorIs(t, err, ErrSourceChanged)
				assert.Nil(t, man)
				var sc *SourceChangedError
				require.ErrorAs(t, err, &sc)
				assert.Equal(t, "data/b/b.1.spds", sc.Path)
				assert.Equal(t, before, f.counters(t))
				nothingUploaded(t, srv, loc)
				noBackupFoldersLeft(t, staging)
			})
		}
	}
}

// Cancelling the context in the middle of the upload, after some objects
// were written: the error says so, and nothing is left in the store or on
// local disk.
func TestS3BackupCancelledMidUpload(t *testing.T) {
	srv := s3Env(t)
	f := newBackupFixture(t)
	f.twoChunks(t)
	addBigRow(t, f)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	loc := srv.Location(t)
	st := openDirect(t, srv, loc)
	staging := t.TempDir()
	var calls atomic.Int64
	var written []string
	opts := CreateOptions{StagingDir: staging, Concurrency: 1, Store: backupstore.Options{PartSize: backupstore.MinPartSize},
		hooks: &backupHooks{beforeStaged: func(_, _ string) error {
			if calls.Add(1) == 3 { // in a worker: assert, never FailNow
				objs, err := st.List(context.Background(), "")
				assert.NoError(t, err)
				for _, o := range objs {
					written = append(written, o.Key)
				}
				cancel()
			}
			return nil
		}}}
	man, err := Create(ctx, f.c.Manticore(), loc, opts)
	require.ErrorIs(t, err, context.Canceled)
	assert.Nil(t, man)
	assert.NotEmpty(t, written, "objects were written before the cancel")
	assert.NotContains(t, written, manifestName)
	assert.Equal(t, map[string]int{"a": 0, "b": 0, "pq": 0}, f.counters(t))
	nothingUploaded(t, srv, loc)
	noBackupFoldersLeft(t, staging)
}

// Where no staging folder can be made on the data_dir's file system (here:
// every other folder reports another device), the S3 backup falls back to
// copying every file inside the freeze into its temporary folder
// (StagingDir, else the temp dir) and says so in Manifest.Staging; it is
// complete all the same, and the folder is removed.
func TestS3BackupFallsBackWithoutStaging(t *testing.T) {
	srv := s3Env(t)
	for _, v := range []struct {
		compress, stagingDir bool
	}{{false, false}, {true, true}} {
		t.Run(fmt.Sprintf("compress=%v/staging-dir=%v", v.compress, v.stagingDir), func(t *testing.T) {
			tmp := isolatedTempDir(t)
			f := newBackupFixture(t)
			dataDir := filepath.Clean(f.srv.DataDir())
			opts := CreateOptions{Compress: v.compress, hooks: &backupHooks{dev: func(p string) (uint64, error) {
				if filepath.Clean(p) == dataDir {
					return 1, nil
				}
				return 2, nil
			}}}
			watch := []string{tmp, filepath.Dir(dataDir)}
			if v.stagingDir {
				opts.StagingDir = t.TempDir()
				watch = append(watch, opts.StagingDir)
			}
			loc := srv.Location(t)
			man, err := Create(context.Background(), f.c.Manticore(), loc, opts)
			require.NoError(t, err)
			assert.Equal(t, StagingCopiedInFreeze, man.Staging)
			noBackupFoldersLeft(t, watch...)
			_, err = Verify(context.Background(), loc, VerifyOptions{})
			require.NoError(t, err)
			cleanupStore(t, openDirect(t, srv, loc))
		})
	}
}

// An incremental backup to S3 from a local base: the unchanged immutable
// files are uploaded from the base's stored files (checked against the
// base's record), the others from staging.
func TestS3BackupIncrementalFromLocalBase(t *testing.T) {
	srv := s3Env(t)
	for _, compress := range []bool{false, true} {
		t.Run(fmt.Sprintf("compress=%v", compress), func(t *testing.T) {
			f := newBackupFixture(t)
			ctx := context.Background()
			base := filepath.Join(t.TempDir(), "base")
			_, err := Create(ctx, f.c.Manticore(), base, CreateOptions{Compress: compress})
			require.NoError(t, err)
			loc := srv.Location(t)
			man, err := Create(ctx, f.c.Manticore(), loc, CreateOptions{Compress: compress, Base: base})
			require.NoError(t, err)
			require.NotNil(t, man.Base)
			reused := 0
			for _, mf := range man.Files {
				if mf.FromBase {
					reused++
				}
			}
			assert.Equal(t, len(immutableFiles(man)), reused)
			_, err = Verify(ctx, loc, VerifyOptions{})
			require.NoError(t, err)
			cleanupStore(t, openDirect(t, srv, loc))
		})
	}
}

// A panic in Progress at its last report (every file uploaded, the
// manifest not yet): the panic reaches the caller after the cleanup, and
// every object written is deleted.
func TestS3BackupPanicInProgress(t *testing.T) {
	srv := s3Env(t)
	f := newBackupFixture(t)
	staging := t.TempDir()
	loc := srv.Location(t)
	var uploaded atomic.Int64
	assert.PanicsWithValue(t, "progress boom", func() {
		_, _ = Create(context.Background(), f.c.Manticore(), loc, CreateOptions{StagingDir: staging,
			Progress: func(p Progress) {
				if p.Phase == "manifest" {
					uploaded.Store(int64(p.Files))
					panic("progress boom")
				}
			}})
	})
	assert.Positive(t, uploaded.Load(), "files were uploaded before the panic")
	assert.Equal(t, map[string]int{"a": 0, "b": 0, "pq": 0}, f.counters(t))
	nothingUploaded(t, srv, loc)
	noBackupFoldersLeft(t, staging)
}

// A staging folder that a killed S3 backup left beside the data_dir (its
// links pin source files) is removed by the next S3 backup, before the
// freeze.
func TestS3BackupRemovesKilledRunsStagingBesideDataDir(t *testing.T) {
	srv := s3Env(t)
	isolatedTempDir(t)
	f := newBackupFixture(t)
	beside := filepath.Dir(f.srv.DataDir())
	killed, err := createStaging(beside, "killeds3run", map[string]any{"pid": 1})
	require.NoError(t, err)
	require.NoError(t, os.Link(filepath.Join(f.srv.DataDir(), "a", "a.0.spd"), filepath.Join(killed.path, "0-a.0.spd")))
	require.NoError(t, killed.lock.Close()) // the process died: the kernel dropped its lock
	loc := srv.Location(t)
	man, err := Create(context.Background(), f.c.Manticore(), loc, CreateOptions{})
	require.NoError(t, err)
	assert.Equal(t, StagingStaged, man.Staging)
	_, err = os.Stat(killed.path)
	assert.True(t, errors.Is(err, os.ErrNotExist), "the killed run's folder is gone")
	noBackupFoldersLeft(t, beside, os.TempDir())
	cleanupStore(t, openDirect(t, srv, loc))
}
