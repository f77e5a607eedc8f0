package backup_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"github.com/dbctl/dbctl/backup"
	"github.com/dbctl/dbctl/dbctltest"
	"github.com/dbctl/dbctl/internal/itest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Issue 17: an Overwrite restore of a backup over a data_dir holding newer
// data (another table, another disk chunk of the table, a binary log) leaves
// exactly the backup: the same files, bits and bytes as a restore into an
// empty data_dir; and a server started on it serves the backup's rows.
//
// Against a real searchd (DBCTL_MANTICORE_DSN; on this machine, as the
// backup reads the files FREEZE lists) the backups are of its tables, the
// restores go to temporary data_dirs, and the server started on the result
// is the embedded one, which reads a real searchd's .meta (dbctltest,
// manticore_realmeta.go) but not its chunk files: there the rows are
// checked by count, against the embedded source by id and title too.
func TestIntegrationRestoreOverwriteLeavesExactlyTheBackup(t *testing.T) {
	target := itest.NewManticoreTarget(t)
	ctx := context.Background()
	c := itest.OpenClient(t, target.DSN)
	name, other := itest.UniqueName("dbctl_it_rs_"), itest.UniqueName("dbctl_it_rs_")
	itest.DropTable(t, c, name)
	itest.DropTable(t, c, other)
	itest.ExecAll(t, c.DB(),
		"CREATE TABLE "+name+"(title text, gid int)",
		"INSERT INTO "+name+"(id,title,gid) VALUES (1,'one',1),(2,'two',2),(3,'three',3)",
		"FLUSH RAMCHUNK "+name)
	want := rowsOf(t, c.DB(), name)
	require.Len(t, want, 3)
	// the table folder's permission bits, which a restore gives back
	// (issue 18: restored folders were 0755 where searchd's were 0700);
	// the embedded server's folder is made 0700 so that the check can fail
	settings, err := c.Manticore().Settings(ctx)
	require.NoError(t, err)
	tableDir := filepath.Join(settings.DataDir, name)
	if target.Srv != nil {
		require.NoError(t, os.Chmod(tableDir, 0o700))
	}
	fi, err := os.Stat(tableDir)
	require.NoError(t, err)
	tableDirMode := fi.Mode().Perm()
	root := itest.SharedTempDir(t)
	older := filepath.Join(root, "older")
	_, err = backup.Create(ctx, c.Manticore(), older, backup.CreateOptions{Tables: []string{name}})
	require.NoError(t, err)

	// newer data: a second disk chunk of the table, another table
	itest.ExecAll(t, c.DB(),
		"INSERT INTO "+name+"(id,title,gid) VALUES (4,'four',4)",
		"FLUSH RAMCHUNK "+name,
		"CREATE TABLE "+other+"(title text)",
		"INSERT INTO "+other+"(id,title) VALUES (1,'newer')",
		"FLUSH RAMCHUNK "+other)
	newer := filepath.Join(root, "newer")
	_, err = backup.Create(ctx, c.Manticore(), newer, backup.CreateOptions{Tables: []string{name, other}})
	require.NoError(t, err)

	fresh := filepath.Join(root, "fresh")
	require.NoError(t, backup.Restore(ctx, older, fresh, backup.RestoreOptions{}))
	wantTree := itest.FileTree(t, fresh)
	fi, err = os.Stat(filepath.Join(fresh, name))
	require.NoError(t, err)
	assert.Equal(t, tableDirMode, fi.Mode().Perm(), "the table folder keeps searchd's permission bits")

	data := filepath.Join(root, "data")
	require.NoError(t, backup.Restore(ctx, newer, data, backup.RestoreOptions{}))
	require.NoError(t, os.MkdirAll(filepath.Join(data, "binlog"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(data, "binlog", "binlog.001"), []byte("a binary log searchd would replay"), 0o644))
	before := itest.FileTree(t, data)
	assert.Contains(t, before, other)
	assert.Greater(t, len(before), len(wantTree))

	var rep backup.RestoreReport
	require.NoError(t, backup.Restore(ctx, older, data, backup.RestoreOptions{Overwrite: true, Report: &rep}))
	assert.Equal(t, wantTree, itest.FileTree(t, data), "exactly the older backup")
	assert.Contains(t, rep.Replaced, "binlog")
	assert.Contains(t, rep.Replaced, other)
	assert.NoDirExists(t, filepath.Join(data, "binlog"))
	assert.NoDirExists(t, filepath.Join(data, other))

	srv, err := dbctltest.StartManticore(dbctltest.WithDataDir(data))
	require.NoError(t, err)
	defer srv.Close()
	rc := itest.OpenClient(t, srv.DSN())
	tables, err := rc.Manticore().Tables(ctx)
	require.NoError(t, err)
	var names []string
	for _, tb := range tables {
		names = append(names, tb.Name)
	}
	assert.Contains(t, names, name)
	assert.NotContains(t, names, other)
	var n int
	require.NoError(t, rc.DB().QueryRow("SELECT COUNT(*) FROM "+name).Scan(&n))
	assert.Equal(t, len(want), n)
	if target.Srv != nil {
		assert.Equal(t, want, rowsOf(t, rc.DB(), name))
	}
}

// rowsOf returns "id title gid" of every row of table, by id (the shape
// of manticore-3.jsonl's "SELECT id, title, gid FROM cap_imp_a ORDER BY id
// ASC").
func rowsOf(t *testing.T, db *sql.DB, table string) []string {
	t.Helper()
	rows, err := db.Query("SELECT id, title, gid FROM " + table + " ORDER BY id ASC")
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, title, gid string
		require.NoError(t, rows.Scan(&id, &title, &gid))
		out = append(out, id+" "+title+" "+gid)
	}
	require.NoError(t, rows.Err())
	return out
}
