//go:build unix

package backup_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/dbctl/dbctl/backup"
	"github.com/dbctl/dbctl/dbctltest"
	"github.com/dbctl/dbctl/internal/itest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// End-to-end tests of the faults of issue 9 that concern the backup engine,
// each able to run against a real searchd on this machine
// (DBCTL_MANTICORE_DSN): backups read the files FREEZE lists, and IMPORT
// TABLE reads the backup, so both sides must see the same paths. The freeze
// faults (A, C) are in the root package's integration_faults_test.go.

// B: a table created with wordforms, stopwords and exceptions keeps its own
// copies of them in its folder, not named after it. It backs up (plain and
// compressed), verifies, imports under a new name after the original
// fixture files are gone, and the imported table still applies the word
// forms: "walking" finds the document that says "walked". Restored into a
// new data_dir, a server started there applies them too.
func TestIntegrationBackupOfTableWithWordforms(t *testing.T) {
	target := itest.NewManticoreTarget(t)
	ctx := context.Background()
	c := itest.OpenClient(t, target.DSN)
	for _, compress := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "zstd"}[compress], func(t *testing.T) {
			fixtures := itest.SharedTempDir(t)
			for name, text := range map[string]string{"wf.txt": "walked > walk\nwalking > walk\n", "sw.txt": "the\nand\n", "ex.txt": "AT&T => att\n"} {
				require.NoError(t, os.WriteFile(filepath.Join(fixtures, name), []byte(text), 0o644))
			}
			name, imported := itest.UniqueName("dbctl_it_"), itest.UniqueName("dbctl_it_")
			itest.DropTable(t, c, name)
			itest.DropTable(t, c, imported)
			itest.ExecAll(t, c.DB(),
				"CREATE TABLE "+name+" (title text) wordforms='"+fixtures+"/wf.txt' stopwords='"+fixtures+"/sw.txt' exceptions='"+fixtures+"/ex.txt'",
				"INSERT INTO "+name+" (id, title) VALUES (1, 'walked the dog')",
				"FLUSH RAMCHUNK "+name)

			dir := filepath.Join(itest.SharedTempDir(t), "bk")
			man, err := backup.Create(ctx, c.Manticore(), dir, backup.CreateOptions{Tables: []string{name}, Compress: compress})
			require.NoError(t, err)
			var own []string
			for _, f := range man.Files {
				if f.Table == name && !strings.HasPrefix(filepath.Base(f.Path), name+".") {
					own = append(own, filepath.Base(f.Path))
				}
			}
			assert.NotEmpty(t, own, "the table's copies of wordforms, stopwords and exceptions")
			for _, f := range own {
				assert.True(t, strings.HasSuffix(f, ".txt"), f)
			}
			require.NoError(t, os.RemoveAll(fixtures), "the backup needs only its own copies")
			_, err = backup.Verify(ctx, dir, backup.VerifyOptions{})
			require.NoError(t, err)

			require.NoError(t, backup.Import(ctx, c.Manticore(), dir, name, backup.ImportOptions{As: imported}))
			var id int64
			require.NoError(t, c.DB().QueryRow("SELECT id FROM "+imported+" WHERE MATCH('walking')").Scan(&id))
			assert.Equal(t, int64(1), id)

			if target.Srv != nil {
				data := filepath.Join(t.TempDir(), "data")
				require.NoError(t, backup.Restore(ctx, dir, data, backup.RestoreOptions{}))
				srv, err := dbctltest.StartManticore(dbctltest.WithDataDir(data))
				require.NoError(t, err)
				defer srv.Close()
				rc := itest.OpenClient(t, srv.DSN())
				require.NoError(t, rc.DB().QueryRow("SELECT id FROM "+name+" WHERE MATCH('walking')").Scan(&id))
				assert.Equal(t, int64(1), id)
			}
		})
	}
}

// D: restored files belong to the data_dir's owner, and a backup to the
// owner of the data_dir it came from, so that a searchd running as its own
// user can lock restored tables and read backups it imports.
func TestIntegrationRestoreAndBackupOwnership(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("giving files to another user needs root (CI runs as root)")
	}
	target := itest.NewManticoreTarget(t)
	ctx := context.Background()
	c := itest.OpenClient(t, target.DSN)
	name := itest.RTTable(t, c)
	settings, err := c.Manticore().Settings(ctx)
	require.NoError(t, err)
	dataDirOwner := ownerUID(t, settings.DataDir)
	if target.Srv != nil {
		// the embedded server runs as root: give its data_dir to another
		// user, as a packaged searchd's data_dir belongs to "manticore"
		require.NoError(t, os.Chown(settings.DataDir, 4242, 4242))
		t.Cleanup(func() { _ = os.Chown(settings.DataDir, 0, 0) })
		dataDirOwner = 4242
	}
	dir := filepath.Join(itest.SharedTempDir(t), "bk")
	_, err = backup.Create(ctx, c.Manticore(), dir, backup.CreateOptions{Tables: []string{name}})
	require.NoError(t, err)
	assertTreeOwner(t, dir, dataDirOwner)

	restoreTo := filepath.Join(itest.SharedTempDir(t), "data")
	require.NoError(t, os.Mkdir(restoreTo, 0o750))
	require.NoError(t, os.Chown(restoreTo, 4343, 4343))
	require.NoError(t, backup.Restore(ctx, dir, restoreTo, backup.RestoreOptions{}))
	assertTreeOwner(t, restoreTo, 4343)
	assert.FileExists(t, filepath.Join(restoreTo, "manticore.json"))

	// A searchd running as that user serves the restored table and can
	// import from the backup (the embedded server checks file access as
	// that user: dbctltest.WithUser).
	srv, err := dbctltest.StartManticore(dbctltest.WithDataDir(restoreTo), dbctltest.WithUser(4343, 4343))
	require.NoError(t, err)
	defer srv.Close()
	rc := itest.OpenClient(t, srv.DSN())
	var n int64
	require.NoError(t, rc.DB().QueryRow("SELECT COUNT(*) FROM "+name).Scan(&n))
	assert.Equal(t, int64(3), n)
	if target.Srv != nil {
		// the backup belongs to 4242, the source data_dir's owner: a
		// searchd running as 4242 imports it
		imp, err := dbctltest.StartManticore(dbctltest.WithUser(4242, 4242))
		require.NoError(t, err)
		defer imp.Close()
		require.NoError(t, os.Chown(imp.DataDir(), 4242, 4242))
		ic := itest.OpenClient(t, imp.DSN())
		require.NoError(t, backup.Import(ctx, ic.Manticore(), dir, name, backup.ImportOptions{As: "imported"}))
		require.NoError(t, ic.DB().QueryRow("SELECT COUNT(*) FROM imported").Scan(&n))
		assert.Equal(t, int64(3), n)
	}
}

func ownerUID(t *testing.T, path string) uint32 {
	fi, err := os.Stat(path)
	require.NoError(t, err)
	return fi.Sys().(*syscall.Stat_t).Uid
}

func assertTreeOwner(t *testing.T, root string, uid uint32) {
	t.Helper()
	n := 0
	require.NoError(t, filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		require.NoError(t, err)
		assert.Equal(t, uid, ownerUID(t, p), p)
		n++
		return nil
	}))
	assert.Greater(t, n, 2)
}

// E: Restore into the data_dir of a running searchd is refused,
// whatever the options, and changes nothing. Against a real server this
// targets its real data_dir: it runs only with DBCTL_IT_RESTORE_LIVE=1.
func TestIntegrationRestoreRefusesRunningServer(t *testing.T) {
	target := itest.NewManticoreTarget(t)
	if target.Srv == nil && os.Getenv("DBCTL_IT_RESTORE_LIVE") != "1" {
		t.Skip("targets the real server's data_dir: set DBCTL_IT_RESTORE_LIVE=1 to run it there")
	}
	ctx := context.Background()
	c := itest.OpenClient(t, target.DSN)
	name := itest.RTTable(t, c)
	dir := filepath.Join(itest.SharedTempDir(t), "bk")
	_, err := backup.Create(ctx, c.Manticore(), dir, backup.CreateOptions{Tables: []string{name}})
	require.NoError(t, err)
	settings, err := c.Manticore().Settings(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, settings.DataDir)
	before, err := os.ReadFile(filepath.Join(settings.DataDir, "manticore.json"))
	require.NoError(t, err)
	for _, opts := range []backup.RestoreOptions{{}, {Overwrite: true}} {
		err := backup.Restore(ctx, dir, settings.DataDir, opts)
		require.ErrorIs(t, err, backup.ErrServerRunning)
		assert.Contains(t, err.Error(), name)
	}
	after, err := os.ReadFile(filepath.Join(settings.DataDir, "manticore.json"))
	require.NoError(t, err)
	assert.Equal(t, string(before), string(after))
	assert.Equal(t, 0, itest.Locked(t, c, name))

	if target.Srv != nil {
		// a running server that serves no table holds its binary log
		empty, err := dbctltest.StartManticore()
		require.NoError(t, err)
		defer empty.Close()
		err = backup.Restore(ctx, dir, empty.DataDir(), backup.RestoreOptions{Overwrite: true})
		require.ErrorIs(t, err, backup.ErrServerRunning)
		assert.Contains(t, err.Error(), "binlog/binlog.lock")
		after, err := os.ReadFile(filepath.Join(empty.DataDir(), "manticore.json"))
		require.NoError(t, err)
		assert.NotContains(t, string(after), name, "nothing restored")
		assert.NoDirExists(t, filepath.Join(empty.DataDir(), name))
	}
}
