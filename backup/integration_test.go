package backup_test

import (
	"context"
	"os"
	"testing"

	"github.com/dbctl/dbctl/backup"
	"github.com/dbctl/dbctl/internal/itest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A staged, then an incremental backup of one table: both verify, nothing
// stays frozen. Against a real server the backup reads the data_dir's
// files, so it runs only with DBCTL_MANTICORE_LOCAL=1 (searchd on this
// machine, its files readable).
func TestIntegrationManticoreStagedIncrementalBackup(t *testing.T) {
	target := itest.NewManticoreTarget(t)
	if target.Srv == nil && os.Getenv("DBCTL_MANTICORE_LOCAL") != "1" {
		t.Skip("backup reads the data_dir: set DBCTL_MANTICORE_LOCAL=1 when searchd runs on this machine")
	}
	c := itest.OpenClient(t, target.DSN)
	ctx := context.Background()
	name := itest.UniqueName("dbctl_it_bk_")
	itest.ExecAll(t, c.DB(),
		"CREATE TABLE "+name+"(title text, gid int)",
		"INSERT INTO "+name+"(id,title,gid) VALUES (1,'one',1),(2,'two',2)",
		"FLUSH RAMCHUNK "+name)
	t.Cleanup(func() { _, _ = c.DB().Exec("DROP TABLE IF EXISTS " + name) })
	m := c.Manticore()
	dir := t.TempDir()
	full, err := backup.Create(ctx, m, dir+"/full", backup.CreateOptions{Tables: []string{name}})
	require.NoError(t, err)
	inc, err := backup.Create(ctx, m, dir+"/inc", backup.CreateOptions{Tables: []string{name}, Base: dir + "/full"})
	require.NoError(t, err)
	if target.Srv != nil {
		assert.Equal(t, backup.StagingStaged, full.Staging)
		require.NotNil(t, inc.Base)
		assert.Equal(t, full.ID, inc.Base.ID)
	}
	require.NoError(t, os.RemoveAll(dir+"/full"))
	_, err = backup.Verify(ctx, dir+"/inc", backup.VerifyOptions{})
	require.NoError(t, err)
	st, err := m.TableStatus(ctx, name)
	require.NoError(t, err)
	assert.Zero(t, st.Locked)
}
