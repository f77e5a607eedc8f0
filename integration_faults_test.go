package dbctl_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dbctl/dbctl"
	"github.com/dbctl/dbctl/dbctltest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// One end-to-end test per fault of issue 9, each able to run against a real
// searchd on this machine (DBCTL_MANTICORE_DSN): backups read the files
// FREEZE lists, and IMPORT TABLE reads the backup, so both sides must see
// the same paths. Fault C (cancel during FREEZE) is in
// TestIntegrationFreezeFaults and needs the embedded server's delay.

// sharedTempDir is a folder a searchd running as another user can read
// (t.TempDir is 0700 and owned by the test's user).
func sharedTempDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "dbctl-it-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o755))
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

func dropTable(t *testing.T, c *dbctl.Client, name string) {
	t.Cleanup(func() {
		for i := 0; i < 10; i++ {
			_, _ = c.DB().Exec("UNFREEZE " + name)
		}
		_, _ = c.DB().Exec("DROP TABLE IF EXISTS " + name)
	})
}

// A: a warning stays on its connection (manticore-2.jsonl), so on a pool of
// one connection the warning of a FREEZE of a missing table is still there
// when that table, created meanwhile from another connection, is frozen.
// Freeze decides from the file list and succeeds.
func TestIntegrationFreezeAfterStaleWarning(t *testing.T) {
	target := newManticoreTarget(t)
	ctx := context.Background()
	c := openClient(t, target.dsn)
	c.DB().SetMaxOpenConns(1)
	c.DB().SetMaxIdleConns(1)
	name := uniqueName("dbctl_it_")
	other := openClient(t, target.dsn)
	dropTable(t, other, name)

	_, err := c.Manticore().Freeze(ctx, name)
	require.ErrorIs(t, err, dbctl.ErrTableNotFound)
	assert.Contains(t, err.Error(), "not frozen (missing, plain or distributed): "+name)

	execAll(t, other.DB(), "CREATE TABLE "+name+" (title text)", "INSERT INTO "+name+" (id, title) VALUES (1, 'one')")
	files, err := c.Manticore().Freeze(ctx, name)
	require.NoError(t, err)
	var exts []string
	for _, f := range files {
		assert.Equal(t, name, f.Table)
		exts = append(exts, filepath.Ext(f.Normalized))
	}
	assert.Contains(t, exts, ".meta")
	assert.Contains(t, exts, ".settings")
	assert.Equal(t, 1, locked(t, other, name))
	require.NoError(t, c.Manticore().Unfreeze(ctx, name))
	assert.Equal(t, 0, locked(t, other, name))
}

// B: a table created with wordforms, stopwords and exceptions keeps its own
// copies of them in its folder, not named after it. It backs up (plain and
// compressed), verifies, imports under a new name after the original
// fixture files are gone, and the imported table still applies the word
// forms: "walking" finds the document that says "walked". Restored into a
// new data_dir, a server started there applies them too.
func TestIntegrationBackupOfTableWithWordforms(t *testing.T) {
	target := newManticoreTarget(t)
	ctx := context.Background()
	c := openClient(t, target.dsn)
	for _, compress := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "zstd"}[compress], func(t *testing.T) {
			fixtures := sharedTempDir(t)
			for name, text := range map[string]string{"wf.txt": "walked > walk\nwalking > walk\n", "sw.txt": "the\nand\n", "ex.txt": "AT&T => att\n"} {
				require.NoError(t, os.WriteFile(filepath.Join(fixtures, name), []byte(text), 0o644))
			}
			name, imported := uniqueName("dbctl_it_"), uniqueName("dbctl_it_")
			dropTable(t, c, name)
			dropTable(t, c, imported)
			execAll(t, c.DB(),
				"CREATE TABLE "+name+" (title text) wordforms='"+fixtures+"/wf.txt' stopwords='"+fixtures+"/sw.txt' exceptions='"+fixtures+"/ex.txt'",
				"INSERT INTO "+name+" (id, title) VALUES (1, 'walked the dog')",
				"FLUSH RAMCHUNK "+name)

			dir := filepath.Join(sharedTempDir(t), "bk")
			man, err := c.Manticore().Backup(ctx, dir, dbctl.BackupOptions{Tables: []string{name}, Compress: compress})
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
			_, err = dbctl.VerifyBackup(ctx, dir)
			require.NoError(t, err)

			require.NoError(t, c.Manticore().ImportTable(ctx, dir, name, imported))
			var id int64
			require.NoError(t, c.DB().QueryRow("SELECT id FROM "+imported+" WHERE MATCH('walking')").Scan(&id))
			assert.Equal(t, int64(1), id)

			if target.srv != nil {
				data := filepath.Join(t.TempDir(), "data")
				require.NoError(t, dbctl.RestoreBackup(ctx, dir, data, dbctl.RestoreOptions{}))
				srv, err := dbctltest.StartManticore(dbctltest.WithDataDir(data))
				require.NoError(t, err)
				defer srv.Close()
				rc := openClient(t, srv.DSN())
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
	target := newManticoreTarget(t)
	ctx := context.Background()
	c := openClient(t, target.dsn)
	name := rtTable(t, c)
	settings, err := c.Manticore().Settings(ctx)
	require.NoError(t, err)
	dataDirOwner := ownerUID(t, settings.DataDir)
	if target.srv != nil {
		// the embedded server runs as root: give its data_dir to another
		// user, as a packaged searchd's data_dir belongs to "manticore"
		require.NoError(t, os.Chown(settings.DataDir, 4242, 4242))
		t.Cleanup(func() { _ = os.Chown(settings.DataDir, 0, 0) })
		dataDirOwner = 4242
	}
	dir := filepath.Join(sharedTempDir(t), "bk")
	_, err = c.Manticore().Backup(ctx, dir, dbctl.BackupOptions{Tables: []string{name}})
	require.NoError(t, err)
	assertTreeOwner(t, dir, dataDirOwner)

	restoreTo := filepath.Join(sharedTempDir(t), "data")
	require.NoError(t, os.Mkdir(restoreTo, 0o750))
	require.NoError(t, os.Chown(restoreTo, 4343, 4343))
	require.NoError(t, dbctl.RestoreBackup(ctx, dir, restoreTo, dbctl.RestoreOptions{}))
	assertTreeOwner(t, restoreTo, 4343)
	assert.FileExists(t, filepath.Join(restoreTo, "manticore.json"))

	// A searchd running as that user serves the restored table and can
	// import from the backup (the embedded server checks file access as
	// that user: dbctltest.WithUser).
	srv, err := dbctltest.StartManticore(dbctltest.WithDataDir(restoreTo), dbctltest.WithUser(4343, 4343))
	require.NoError(t, err)
	defer srv.Close()
	rc := openClient(t, srv.DSN())
	var n int64
	require.NoError(t, rc.DB().QueryRow("SELECT COUNT(*) FROM "+name).Scan(&n))
	assert.Equal(t, int64(3), n)
	if target.srv != nil {
		// the backup belongs to 4242, the source data_dir's owner: a
		// searchd running as 4242 imports it
		imp, err := dbctltest.StartManticore(dbctltest.WithUser(4242, 4242))
		require.NoError(t, err)
		defer imp.Close()
		require.NoError(t, os.Chown(imp.DataDir(), 4242, 4242))
		ic := openClient(t, imp.DSN())
		require.NoError(t, ic.Manticore().ImportTable(ctx, dir, name, "imported"))
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

// E: RestoreBackup into the data_dir of a running searchd is refused,
// whatever the options, and changes nothing. Against a real server this
// targets its real data_dir: it runs only with DBCTL_IT_RESTORE_LIVE=1.
func TestIntegrationRestoreRefusesRunningServer(t *testing.T) {
	target := newManticoreTarget(t)
	if target.srv == nil && os.Getenv("DBCTL_IT_RESTORE_LIVE") != "1" {
		t.Skip("targets the real server's data_dir: set DBCTL_IT_RESTORE_LIVE=1 to run it there")
	}
	ctx := context.Background()
	c := openClient(t, target.dsn)
	name := rtTable(t, c)
	dir := filepath.Join(sharedTempDir(t), "bk")
	_, err := c.Manticore().Backup(ctx, dir, dbctl.BackupOptions{Tables: []string{name}})
	require.NoError(t, err)
	settings, err := c.Manticore().Settings(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, settings.DataDir)
	before, err := os.ReadFile(filepath.Join(settings.DataDir, "manticore.json"))
	require.NoError(t, err)
	for _, opts := range []dbctl.RestoreOptions{{}, {Overwrite: true}} {
		err := dbctl.RestoreBackup(ctx, dir, settings.DataDir, opts)
		require.ErrorIs(t, err, dbctl.ErrServerRunning)
		assert.Contains(t, err.Error(), name)
	}
	after, err := os.ReadFile(filepath.Join(settings.DataDir, "manticore.json"))
	require.NoError(t, err)
	assert.Equal(t, string(before), string(after))
	assert.Equal(t, 0, locked(t, c, name))

	if target.srv != nil {
		// a running server that serves no table holds its binary log
		empty, err := dbctltest.StartManticore()
		require.NoError(t, err)
		defer empty.Close()
		err = dbctl.RestoreBackup(ctx, dir, empty.DataDir(), dbctl.RestoreOptions{Overwrite: true})
		require.ErrorIs(t, err, dbctl.ErrServerRunning)
		assert.Contains(t, err.Error(), "binlog/binlog.lock")
		after, err := os.ReadFile(filepath.Join(empty.DataDir(), "manticore.json"))
		require.NoError(t, err)
		assert.NotContains(t, string(after), name, "nothing restored")
		assert.NoDirExists(t, filepath.Join(empty.DataDir(), name))
	}
}

// C, deterministically: searchd runs a FREEZE whose client has gone, so a
// FREEZE is never abandoned. When the caller's deadline passes while the
// FREEZE is held on the server, Freeze returns at once and a releaser
// unfreezes the table as soon as the FREEZE lands. When the connection is
// cut while searchd holds the FREEZE, the outcome is unknown to the
// caller, and the releaser undoes the FREEZE once it lands, never before
// (an UNFREEZE sent first would run first). A FREEZE slower than the
// release timeout is simply waited for.
func TestIntegrationFreezeNeverAbandoned(t *testing.T) {
	target := newManticoreTarget(t)
	target.needEmbedded(t)
	srv := target.srv
	waitHeld := func() {
		t.Helper()
		for srv.Held() == 0 {
			time.Sleep(time.Millisecond)
		}
	}

	t.Run("caller deadline passes while FREEZE is held", func(t *testing.T) {
		c := openClient(t, target.dsn)
		a := rtTable(t, c)
		release := srv.Hold("^FREEZE")
		defer release()
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := c.Manticore().Freeze(ctx, a)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Contains(t, err.Error(), "FREEZE still running on the server: "+a+" are unfrozen as soon as it answers")
		assert.Equal(t, 1, srv.Held(), "Freeze returned while the FREEZE was still held on the server")
		release()
		released, err := c.WaitReleases(context.Background())
		require.NoError(t, err)
		assert.Equal(t, []string{a}, released)
		assert.Equal(t, 0, locked(t, c, a))
	})

	t.Run("connection cut while FREEZE is held: undone once it lands", func(t *testing.T) {
		c := openClient(t, target.dsn, dbctl.WithReleaseTimeout(time.Minute))
		a := rtTable(t, c)
		release := srv.Hold("^FREEZE")
		defer release()
		done := make(chan error)
		go func() { _, err := c.Manticore().Freeze(context.Background(), a); done <- err }()
		waitHeld()
		srv.DropConnections()
		err := <-done
		require.ErrorIs(t, err, dbctl.ErrFreezeOutcomeUnknown)
		assert.Contains(t, err.Error(), "the connection died with the FREEZE in flight")
		assert.Equal(t, 1, srv.Held(), "the FREEZE had not landed when Freeze returned")
		release()
		released, err := c.WaitReleases(context.Background())
		require.NoError(t, err)
		assert.Equal(t, []string{a}, released)
		assert.Equal(t, 0, locked(t, c, a))
	})

	t.Run("FREEZE slower than the release timeout: awaited", func(t *testing.T) {
		c := openClient(t, target.dsn, dbctl.WithReleaseTimeout(50*time.Millisecond))
		a := rtTable(t, c)
		release := srv.Hold("^FREEZE")
		defer release()
		done := make(chan error, 1)
		go func() { _, err := c.Manticore().Freeze(context.Background(), a); done <- err }()
		waitHeld()
		time.Sleep(200 * time.Millisecond) // four release timeouts
		select {
		case err := <-done:
			t.Fatalf("Freeze gave up on a FREEZE still running: %v", err)
		default:
		}
		release()
		require.NoError(t, <-done)
		assert.Equal(t, 1, locked(t, c, a), "the caller's freeze")
		require.NoError(t, c.Manticore().Unfreeze(context.Background(), a))
	})
}
