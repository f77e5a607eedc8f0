package backup_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/dbctl/dbctl"
	"github.com/dbctl/dbctl/backup"
	"github.com/dbctl/dbctl/backupstore"
	_ "github.com/dbctl/dbctl/backupstore/s3store" // the s3 scheme
	"github.com/dbctl/dbctl/internal/crashpoint"
	"github.com/dbctl/dbctl/internal/itest"
	"github.com/dbctl/dbctl/internal/s3test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countingStore is a store that counts the GETs of each key and the bytes
// they returned: how often Import reads each object.
type countingStore struct {
	backupstore.Store
	mu    sync.Mutex
	gets  map[string]int
	bytes map[string]int64
}

func newCountingStore(st backupstore.Store) *countingStore {
	return &countingStore{Store: st, gets: map[string]int{}, bytes: map[string]int64{}}
}

func (s *countingStore) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	rc, err := s.Store.Get(ctx, key)
	s.mu.Lock()
	s.gets[key]++
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return &countingReader{ReadCloser: rc, s: s, key: key}, nil
}

func (s *countingStore) GetRange(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	rc, err := s.Store.GetRange(ctx, key, off, n)
	s.mu.Lock()
	s.gets[key]++
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return &countingReader{ReadCloser: rc, s: s, key: key}, nil
}

type countingReader struct {
	io.ReadCloser
	s   *countingStore
	key string
}

func (r *countingReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	r.s.mu.Lock()
	r.s.bytes[r.key] += int64(n)
	r.s.mu.Unlock()
	return n, err
}

// s3Backup makes a backup of table at a fresh S3 location, deleted when the
// test ends, and returns the location, its manifest and a store on it.
func s3Backup(t *testing.T, srv s3test.Server, c *dbctl.Client, table string, compress bool) (string, *backup.Manifest, backupstore.Store) {
	ctx := context.Background()
	loc := srv.Location(t)
	st, err := backupstore.Open(ctx, loc, backupstore.Options{Endpoint: srv.Endpoint})
	require.NoError(t, err)
	t.Cleanup(func() {
		if objs, err := st.List(ctx, ""); err == nil && len(objs) > 0 {
			keys := make([]string, len(objs))
			for i, o := range objs {
				keys[i] = o.Key
			}
			_ = st.Delete(ctx, keys...)
		}
		_ = st.Close()
	})
	man, err := backup.Create(ctx, c.Manticore(), loc, backup.CreateOptions{Tables: []string{table}, Compress: compress})
	require.NoError(t, err)
	return loc, man, st
}

// stagedBytes sums the bytes of the regular files (but the marker) in the
// import staging folders in each of dirs, and lists every other entry (a download folder)
// of the first one, the temporary folder.
func stagedBytes(t *testing.T, dirs ...string) (staged int64, others []string) {
	t.Helper()
	for i, dir := range dirs {
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		for _, e := range entries {
			if !strings.HasPrefix(e.Name(), "dbctl-import-") {
				if i == 0 {
					others = append(others, e.Name())
				}
				continue
			}
			require.NoError(t, filepath.WalkDir(filepath.Join(dir, e.Name()), func(_ string, d fs.DirEntry, err error) error {
				if err == nil && d.Type().IsRegular() && d.Name() != "DBCTL-STAGING" { // not the marker
					fi, ierr := d.Info()
					if ierr == nil {
						staged += fi.Size()
					}
				}
				return err
			}))
		}
	}
	return staged, others
}

// Issue 17 and 20: an import from S3, compressed or not, streams each
// object of the table once (one GET each, the object's bytes once, the
// manifest read once) straight into the staging folder: when IMPORT TABLE
// is sent, the only copy on disk is the staging folder's (the table's
// original bytes once), and there is no download folder in the temporary
// folder. Runs unchanged against a real searchd on this machine
// (DBCTL_MANTICORE_DSN) with the S3 server of .ci/seaweedfs.sh.
func TestIntegrationImportFromS3(t *testing.T) {
	srv := s3test.Require(t)
	t.Setenv("AWS_ENDPOINT_URL", srv.Endpoint)
	target := itest.NewManticoreTarget(t)
	log := &statementLog{}
	c := itest.OpenClient(t, target.DSN, dbctl.Options{Logger: slog.New(log)})
	ctx := context.Background()
	name := itest.RTTable(t, c) // 3 rows
	dataDir := localDataDir(t, c)
	for _, compress := range []bool{true, false} {
		t.Run(map[bool]string{true: "compressed", false: "plain"}[compress], func(t *testing.T) {
			loc, man, st := s3Backup(t, srv, c, name, compress)
			tmp := itest.SharedTempDir(t)
			t.Setenv("TMPDIR", tmp)
			var size int64
			want := map[string]int64{"manifest.json": -1}
			for _, f := range man.Files {
				if f.Table == name {
					size += f.Size
					key := f.Path
					if compress {
						key += ".zst"
					}
					info, err := st.Stat(ctx, key)
					require.NoError(t, err)
					want[key] = info.Size
				}
			}
			counting := newCountingStore(st)
			imported := itest.UniqueName("dbctl_it_imp_")
			itest.DropTable(t, c, imported)
			staged, others := int64(-1), []string(nil)
			restore := crashpoint.Set(func(step string) error {
				if step == "sql.send IMPORT TABLE" {
					dirs := []string{tmp}
					if dataDir != "" {
						dirs = append(dirs, dataDir)
					}
					staged, others = stagedBytes(t, dirs...)
				}
				return nil
			})
			err := backup.Import(ctx, c.Manticore(), loc, name, backup.ImportOptions{As: imported, Store: backupstore.Options{Using: counting}})
			restore()
			require.NoError(t, err)
			var n int64
			require.NoError(t, c.DB().QueryRow("SELECT COUNT(*) FROM "+imported).Scan(&n))
			assert.Equal(t, int64(3), n)

			assert.Equal(t, size, staged, "one copy on disk when IMPORT TABLE is sent: the staging folder's")
			assert.Empty(t, others, "no download folder in the temporary folder")
			counting.mu.Lock()
			for key, b := range want {
				assert.Equal(t, 1, counting.gets[key], "one GET of %s", key)
				if b >= 0 {
					assert.Equal(t, b, counting.bytes[key], "%s read once", key)
				}
			}
			assert.Len(t, counting.gets, len(want), "no other object read: %v", counting.gets)
			counting.mu.Unlock()
			stmt := log.last("IMPORT TABLE `" + imported + "`")
			require.NotEmpty(t, stmt)
			assert.NotContains(t, stmt[strings.Index(stmt, " FROM "):], ".", "searchd is given a path without a dot")
			assert.Empty(t, leftovers(t, tmp))
			if dataDir != "" {
				assert.Empty(t, leftovers(t, dataDir), "no staging folder left in the data_dir")
			}
		})
	}
}

// localDataDir is the server's data_dir when it is a folder on this
// machine, else "".
func localDataDir(t *testing.T, c *dbctl.Client) string {
	s, err := c.Manticore().Settings(context.Background())
	require.NoError(t, err)
	if fi, err := os.Stat(s.DataDir); err == nil && fi.IsDir() && filepath.IsAbs(s.DataDir) {
		return s.DataDir
	}
	return ""
}

// A damaged or missing object of an S3 backup is ErrCorrupt naming the
// file, with nothing sent to the server and no staging folder left; a
// store that stops answering mid-import (connections cut) keeps its kind
// (backupstore.ErrNetwork) and is not ErrCorrupt. Runs unchanged against
// a real searchd on this machine.
func TestIntegrationImportFromS3Damaged(t *testing.T) {
	srv := s3test.Require(t)
	t.Setenv("AWS_ENDPOINT_URL", srv.Endpoint)
	target := itest.NewManticoreTarget(t)
	log := &statementLog{}
	c := itest.OpenClient(t, target.DSN, dbctl.Options{Logger: slog.New(log)})
	ctx := context.Background()
	name := itest.RTTable(t, c)
	dataDir := localDataDir(t, c)
	loc, man, st := s3Backup(t, srv, c, name, true)
	var victim backup.ManifestFile
	for _, f := range man.Files {
		if f.Table == name && f.Size > victim.Size {
			victim = f
		}
	}
	key := victim.Path + ".zst"
	orig, err := readAll(st, key)
	require.NoError(t, err)
	bad := append([]byte(nil), orig...)
	bad[len(bad)/2] ^= 0x55
	tmp := itest.SharedTempDir(t)
	t.Setenv("TMPDIR", tmp)

	cases := []struct {
		name    string
		prepare func(t *testing.T) backupstore.Options
		problem string // of the *FileError; "" when the store fails instead
	}{
		{"damaged", func(t *testing.T) backupstore.Options {
			_, err := st.Put(ctx, key, bytes.NewReader(bad), backupstore.PutOptions{})
			require.NoError(t, err)
			return backupstore.Options{}
		}, "x"},
		{"missing", func(t *testing.T) backupstore.Options {
			require.NoError(t, st.Delete(ctx, key))
			return backupstore.Options{}
		}, "missing"},
		{"store_down", func(t *testing.T) backupstore.Options {
			p := s3test.NewFaultProxy(t, srv.Endpoint)
			p.AddRule(s3test.Rule{Op: "GetObject", KeySuffix: ".zst", N: 1, Times: -1, Fault: s3test.CutBefore})
			return backupstore.Options{Endpoint: p.Endpoint, MaxAttempts: 1}
		}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.prepare(t)
			t.Cleanup(func() {
				_, err := st.Put(ctx, key, bytes.NewReader(orig), backupstore.PutOptions{})
				require.NoError(t, err)
			})
			imported := itest.UniqueName("dbctl_it_imp_")
			itest.DropTable(t, c, imported)
			err := backup.Import(ctx, c.Manticore(), loc, name, backup.ImportOptions{As: imported, Store: opts})
			require.Error(t, err)
			if tc.problem == "" {
				assert.ErrorIs(t, err, backupstore.ErrNetwork)
				assert.NotErrorIs(t, err, backup.ErrCorrupt, "a store that is down is not a damaged backup")
			} else {
				require.ErrorIs(t, err, backup.ErrCorrupt)
				var fe *backup.FileError
				require.True(t, errors.As(err, &fe), err.Error())
				assert.Equal(t, victim.Path, fe.Path, "the file is named")
				if tc.problem != "x" {
					assert.Equal(t, tc.problem, fe.Problem)
				}
			}
			assert.Empty(t, log.last("IMPORT TABLE `"+imported+"`"), "nothing sent")
			assert.Empty(t, leftovers(t, tmp))
			if dataDir != "" {
				assert.Empty(t, leftovers(t, dataDir), "the staging folder removed")
			}
		})
	}
}

func readAll(st backupstore.Store, key string) ([]byte, error) {
	rc, err := st.Get(context.Background(), key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}
