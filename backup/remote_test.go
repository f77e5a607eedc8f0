package backup

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/dbctl/dbctl"
	"github.com/dbctl/dbctl/backupstore"
	"github.com/dbctl/dbctl/backupstore/s3store" // the s3 scheme, for the whole test binary
	"github.com/dbctl/dbctl/dbctltest"
	"github.com/dbctl/dbctl/internal/s3test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// s3Env returns the real S3 server and sets AWS_ENDPOINT_URL for the
// calls given no Store options (List, Import).
func s3Env(t *testing.T) s3test.Server {
	srv := s3test.Require(t)
	t.Setenv("AWS_ENDPOINT_URL", srv.Endpoint)
	return srv
}

// openDirect opens location on the real server without any proxy; the
// store is closed when the test ends.
func openDirect(t *testing.T, srv s3test.Server, location string) *s3store.Store {
	st, err := s3store.Open(context.Background(), location, backupstore.Options{Endpoint: srv.Endpoint})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func listKeys(t *testing.T, st backupstore.Store, prefix string) []string {
	objs, err := st.List(context.Background(), prefix)
	require.NoError(t, err)
	keys := []string{}
	for _, o := range objs {
		keys = append(keys, o.Key)
	}
	return keys
}

// addBigRow makes table b's next disk chunk hold files over one 5 MiB part
// (b.1.spds and b.1.spi are about 6 MiB), so that uploads are multipart.
func addBigRow(t *testing.T, f *backupFixture) {
	b := make([]byte, 3<<20)
	_, _ = rand.Read(b)
	for _, q := range []string{"INSERT INTO b(id,title,tag) VALUES (3,'" + hex.EncodeToString(b) + "','z')", "FLUSH RAMCHUNK b"} {
		_, err := f.c.DB().Exec(q)
		require.NoError(t, err)
	}
}

func TestS3BackupListVerifyRestoreImportPrune(t *testing.T) {
	for _, compress := range []bool{false, true} {
		t.Run(fmt.Sprintf("compress=%v", compress), func(t *testing.T) {
			srv := s3Env(t)
			f := newBackupFixture(t)
			addBigRow(t, f)
			ctx := context.Background()
			m := f.c.Manticore()
			want := rowCounts(t, f.c.DB())
			root := srv.Location(t)
			loc := root + "/bk-1"
			staging := t.TempDir()
			remote := backupstore.Options{PartSize: backupstore.MinPartSize, Concurrency: 2}
			var phases []string
			man, err := Create(ctx, m, loc, CreateOptions{Compress: compress, StagingDir: staging, Store: remote,
				Progress: func(p Progress) {
					if len(phases) == 0 || phases[len(phases)-1] != p.Phase {
						phases = append(phases, p.Phase)
					}
				}})
			require.NoError(t, err)
			assert.Equal(t, map[string]int{"a": 0, "b": 0, "pq": 0}, f.counters(t))
			assert.Contains(t, phases, "upload")
			entries, _ := os.ReadDir(staging)
			assert.Empty(t, entries, "staging folder removed")
			st := openDirect(t, srv, loc)
			keys := listKeys(t, st, "")
			assert.Len(t, keys, len(man.Files)+1)
			assert.Contains(t, keys, "manifest.json")
			assert.Contains(t, keys, man.storedKey(ManifestFile{Path: "data/b/b.1.spds"}))

			// a prefix that holds a manifest is refused before anything is frozen
			f.srv.FailNext("FREEZE `", 1064, "FREEZE was sent")
			_, err = Create(ctx, m, loc, CreateOptions{Store: remote})
			assert.ErrorIs(t, err, ErrExists)
			assert.NotContains(t, err.Error(), "FREEZE was sent")
			_, err = f.c.DB().Exec("FREEZE `pq`") // consumes the armed failure
			require.Error(t, err)

			list, err := List(ctx, root, ListOptions{})
			require.NoError(t, err)
			require.Len(t, list, 1)
			assert.Equal(t, "bk-1", list[0].Name)
			assert.Equal(t, loc, list[0].Location)
			assert.Equal(t, []string{"a", "b", "pq"}, list[0].Tables)
			assert.Equal(t, len(man.Files), list[0].Files)
			assert.Equal(t, man.FreezeWindow, list[0].FreezeWindow)
			assert.False(t, list[0].Incremental)

			_, err = Verify(ctx, loc, VerifyOptions{})
			require.NoError(t, err)

			// one object damaged, one missing: both reported
			damaged := man.storedKey(ManifestFile{Path: "data/a/a.0.spd"})
			orig := readObject(t, st, damaged)
			bad := append([]byte(nil), orig...)
			bad[len(bad)/2] ^= 0x01
			_, err = st.Put(ctx, damaged, bytes.NewReader(bad), backupstore.PutOptions{})
			require.NoError(t, err)
			gone := man.storedKey(ManifestFile{Path: "data/pq/pq.meta"})
			pqMeta := readObject(t, st, gone)
			require.NoError(t, st.Delete(ctx, gone))
			_, err = Verify(ctx, loc, VerifyOptions{})
			require.ErrorIs(t, err, ErrCorrupt)
			problems := map[string]string{}
			for _, fe := range backupFileErrors(err) {
				problems[fe.Path] = fe.Problem
			}
			assert.Len(t, problems, 2, err.Error())
			assert.Equal(t, "missing", problems["data/pq/pq.meta"])
			assert.NotEmpty(t, problems["data/a/a.0.spd"])

			parent := t.TempDir()
			restored := filepath.Join(parent, "data")
			err = Restore(ctx, loc, restored, RestoreOptions{})
			require.ErrorIs(t, err, ErrCorrupt, "nothing restored from a corrupt backup")
			empty, _ := dirIsEmpty(restored)
			assert.True(t, empty)
			left, _ := os.ReadDir(parent)
			assert.Empty(t, left, "download folder removed")

			_, err = st.Put(ctx, damaged, bytes.NewReader(orig), backupstore.PutOptions{})
			require.NoError(t, err)
			_, err = st.Put(ctx, gone, bytes.NewReader(pqMeta), backupstore.PutOptions{})
			require.NoError(t, err)
			require.NoError(t, Restore(ctx, loc, restored, RestoreOptions{}))
			left, _ = os.ReadDir(parent)
			assert.Len(t, left, 1, "only the data_dir")
			srv2 := dbctltest.NewManticore(t, dbctltest.WithDataDir(restored))
			db2, err := sql.Open("mysql", srv2.DSN())
			require.NoError(t, err)
			defer db2.Close()
			assert.Equal(t, want, rowCounts(t, db2))

			require.NoError(t, Import(ctx, m, loc, "b", ImportOptions{As: "b_copy"}))
			var n string
			require.NoError(t, f.c.DB().QueryRow("SELECT COUNT(*) FROM b_copy").Scan(&n))
			assert.Equal(t, "3", n)
			assert.ErrorIs(t, Import(ctx, m, loc, "nope", ImportOptions{As: "x"}), dbctl.ErrTableNotFound)

			// a second backup; prune keeps the newest
			_, err = Create(ctx, m, root+"/bk-2", CreateOptions{Compress: compress, Tables: []string{"a"}, Store: remote})
			require.NoError(t, err)
			would, err := Prune(ctx, root, PruneOptions{KeepLast: 1, DryRun: true})
			require.NoError(t, err)
			require.Len(t, would, 1)
			assert.Equal(t, "bk-1", would[0].Name)
			assert.Len(t, listKeys(t, st, ""), len(man.Files)+1, "dry run deletes nothing")
			pruned, err := Prune(ctx, root, PruneOptions{KeepLast: 1})
			require.NoError(t, err)
			assert.Equal(t, would, pruned)
			assert.Empty(t, listKeys(t, st, ""))
			list, err = List(ctx, root, ListOptions{})
			require.NoError(t, err)
			require.Len(t, list, 1)
			assert.Equal(t, "bk-2", list[0].Name)
			require.NoError(t, deletePrefix(ctx, openDirect(t, srv, root), "bk-2"))
		})
	}
}

func readObject(t *testing.T, st backupstore.Store, key string) []byte {
	rc, err := st.Get(context.Background(), key)
	require.NoError(t, err)
	defer rc.Close()
	b, err := io.ReadAll(rc)
	require.NoError(t, err)
	return b
}

// backupFileErrors collects the *FileError of a joined error tree.
func backupFileErrors(err error) []*FileError {
	var out []*FileError
	var walk func(error)
	walk = func(e error) {
		switch x := e.(type) {
		case nil:
		case *FileError:
			out = append(out, x)
		case interface{ Unwrap() []error }:
			for _, c := range x.Unwrap() {
				walk(c)
			}
		case interface{ Unwrap() error }:
			walk(x.Unwrap())
		}
	}
	walk(err)
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

func TestUploadBackupToFolderAndS3(t *testing.T) {
	f := newBackupFixture(t)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "bk")
	man, err := Create(ctx, f.c.Manticore(), dir, CreateOptions{Compress: true})
	require.NoError(t, err)
	targets := []string{filepath.Join(t.TempDir(), "copy")}
	if s3test.Available() {
		targets = append(targets, s3Env(t).Location(t))
	}
	for _, target := range targets {
		require.NoError(t, Upload(ctx, dir, target, UploadOptions{Store: backupstore.Options{}}))
		got, err := Verify(ctx, target, VerifyOptions{})
		require.NoError(t, err, target)
		assert.Equal(t, man.Files, got.Files)
		assert.ErrorIs(t, Upload(ctx, dir, target, UploadOptions{Store: backupstore.Options{}}), ErrExists)
	}
	// a file changed after the backup was made is caught in the upload pass
	victim := man.storedPath(dir, man.Files[0])
	require.NoError(t, os.WriteFile(victim, []byte("not the same bytes"), 0o644))
	target := filepath.Join(t.TempDir(), "copy2")
	err = Upload(ctx, dir, target, UploadOptions{Store: backupstore.Options{}})
	require.ErrorIs(t, err, ErrCorrupt)
	left, _ := os.ReadDir(target)
	assert.Empty(t, left, "what was written is deleted")
}

// deletePrefix deletes every object under name/ (the tests' cleanup).
func deletePrefix(ctx context.Context, st backupstore.Store, name string) error {
	objs, err := st.List(ctx, name+"/")
	if err != nil || len(objs) == 0 {
		return err
	}
	keys := make([]string, len(objs))
	for i, o := range objs {
		keys[i] = o.Key
	}
	return st.Delete(ctx, keys...)
}
