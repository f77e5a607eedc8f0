package backup_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/dbctl/dbctl/backup"
	"github.com/dbctl/dbctl/internal/crashpoint"
	"github.com/dbctl/dbctl/internal/itest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Another client creates a table and drops another one, neither of them
// in the backup, while a backup is inside its freeze: the backup is
// stopped after its plan, before it reads the data_dir's state files
// (crash point "backup.mkdir folders", the last step of the plan), and the
// statements run from another connection. searchd replaces manticore.json
// for each (src/searchdconfig.cpp ConfigWrite, through SaveConfigInt from
// CreateNewIndexConfigless and DropIndexInt); a backup that recorded the
// file's identity by path when it planned failed with ErrSourceChanged.
// Now the backup succeeds, nothing stays frozen, it verifies, and a
// restore's manticore.json lists exactly the backup's table (and the
// distributed tables the server had, which have no files).
//
// Runs unchanged against a real searchd on this machine
// (DBCTL_MANTICORE_DSN; the backup reads the files FREEZE lists): unique
// table names, dropped when the test ends.
func TestIntegrationUnrelatedTableDDLDuringBackup(t *testing.T) {
	target := itest.NewManticoreTarget(t)
	ctx := context.Background()
	c := itest.OpenClient(t, target.DSN)
	other := itest.OpenClient(t, target.DSN)
	keep, made, gone := itest.UniqueName("dbctl_it_sf_"), itest.UniqueName("dbctl_it_sf_"), itest.UniqueName("dbctl_it_sf_")
	for _, n := range []string{keep, made, gone} {
		itest.DropTable(t, c, n)
	}
	itest.ExecAll(t, c.DB(),
		"CREATE TABLE "+keep+"(title text, gid int)",
		"INSERT INTO "+keep+"(id,title,gid) VALUES (1,'one',1),(2,'two',2)",
		"FLUSH RAMCHUNK "+keep,
		"INSERT INTO "+keep+"(id,title,gid) VALUES (3,'three',3)",
		"CREATE TABLE "+gone+"(title text)")

	var once sync.Once
	var ran atomic.Bool
	var ddlErr error
	restore := crashpoint.Set(func(step string) error {
		if step == "backup.mkdir folders" {
			once.Do(func() {
				for _, q := range []string{"CREATE TABLE " + made + "(title text)", "DROP TABLE " + gone} {
					if _, err := other.DB().Exec(q); err != nil {
						ddlErr = err
						return
					}
				}
				ran.Store(true)
			})
		}
		return nil
	})
	root := itest.SharedTempDir(t)
	dir := filepath.Join(root, "bk")
	man, err := backup.Create(ctx, c.Manticore(), dir, backup.CreateOptions{Tables: []string{keep}})
	restore()
	require.NoError(t, ddlErr)
	require.True(t, ran.Load(), "the statements ran inside the freeze")
	require.NoError(t, err, "a CREATE or DROP of another table does not fail a backup")
	assert.Zero(t, itest.Locked(t, c, keep))
	require.Len(t, man.Tables, 1)
	assert.Equal(t, keep, man.Tables[0].Name)
	tables, err := c.Manticore().Tables(ctx)
	require.NoError(t, err)
	names := map[string]bool{}
	for _, tb := range tables {
		names[tb.Name] = true
	}
	assert.True(t, names[made], "created during the backup")
	assert.False(t, names[gone], "dropped during the backup")
	_, err = backup.Verify(ctx, dir, backup.VerifyOptions{})
	require.NoError(t, err)

	restored := filepath.Join(root, "data")
	var rep backup.RestoreReport
	require.NoError(t, backup.Restore(ctx, dir, restored, backup.RestoreOptions{Report: &rep}))
	assert.Empty(t, rep.Rebuilt)
	b, err := os.ReadFile(filepath.Join(restored, "manticore.json"))
	require.NoError(t, err)
	var doc struct {
		Indexes map[string]struct {
			Type string `json:"type"`
		} `json:"indexes"`
	}
	require.NoError(t, json.Unmarshal(b, &doc))
	var local []string
	for n, ix := range doc.Indexes {
		if ix.Type != "distributed" {
			local = append(local, n)
		}
	}
	sort.Strings(local)
	assert.Equal(t, []string{keep}, local, "exactly the backup's table")
	assert.DirExists(t, filepath.Join(restored, keep))
	assert.NoDirExists(t, filepath.Join(restored, made))
}
