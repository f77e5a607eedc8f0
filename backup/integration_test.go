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

// A staged, then an incremental backup of one table: both verify, the
// incremental one names the full one as its base (its disk-chunk files are
// taken from it: same inode, size and mtime at both freezes), nothing stays
// frozen. Runs unchanged against a real searchd on this machine
// (DBCTL_MANTICORE_DSN; the backup reads the files FREEZE lists, as root or
// as the data_dir's owner). Whether the full backup stages (hard links in a
// folder beside the target) depends on the target being on the data_dir's
// file system, which only the embedded server's test set-up guarantees.
func TestIntegrationManticoreStagedIncrementalBackup(t *testing.T) {
	target := itest.NewManticoreTarget(t)
	c := itest.OpenClient(t, target.DSN)
	ctx := context.Background()
	name := itest.UniqueName("dbctl_it_bk_")
	itest.DropTable(t, c, name) // also when a statement below fails
	itest.ExecAll(t, c.DB(),
		"CREATE TABLE "+name+"(title text, gid int)",
		"INSERT INTO "+name+"(id,title,gid) VALUES (1,'one',1),(2,'two',2)",
		"FLUSH RAMCHUNK "+name)
	m := c.Manticore()
	dir := t.TempDir()
	full, err := backup.Create(ctx, m, dir+"/full", backup.CreateOptions{Tables: []string{name}})
	require.NoError(t, err)
	inc, err := backup.Create(ctx, m, dir+"/inc", backup.CreateOptions{Tables: []string{name}, Base: dir + "/full"})
	require.NoError(t, err)
	if target.Srv != nil {
		assert.Equal(t, backup.StagingStaged, full.Staging)
	}
	require.NotNil(t, inc.Base, "the disk chunk's files are taken from the full backup")
	assert.Equal(t, full.ID, inc.Base.ID)
	require.NoError(t, os.RemoveAll(dir+"/full"))
	_, err = backup.Verify(ctx, dir+"/inc", backup.VerifyOptions{})
	require.NoError(t, err)
	st, err := m.TableStatus(ctx, name)
	require.NoError(t, err)
	assert.Zero(t, st.Locked)
}
