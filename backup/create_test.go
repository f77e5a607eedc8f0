package backup

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
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
