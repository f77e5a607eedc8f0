package backup_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/dbctl/dbctl/backup"
	"github.com/dbctl/dbctl/internal/itest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Backups of one table at two compression levels (synced: one syncfs on
// Linux 5.8+): each records its level, verifies, and imports into the
// server. Against a real server
// the backup reads the data_dir's files, so it runs only with
// DBCTL_MANTICORE_LOCAL=1.
func TestIntegrationCompressionLevels(t *testing.T) {
	target := itest.NewManticoreTarget(t)
	if target.Srv == nil && os.Getenv("DBCTL_MANTICORE_LOCAL") != "1" {
		t.Skip("backup reads the data_dir: set DBCTL_MANTICORE_LOCAL=1 when searchd runs on this machine")
	}
	c := itest.OpenClient(t, target.DSN)
	ctx := context.Background()
	name := itest.RTTable(t, c) // 3 rows
	root := itest.SharedTempDir(t)
	for _, level := range []backup.CompressionLevel{backup.LevelFastest, backup.LevelBest} {
		dir := filepath.Join(root, "bk-"+string(level))
		man, err := backup.Create(ctx, c.Manticore(), dir, backup.CreateOptions{Tables: []string{name}, Compress: true, CompressLevel: level})
		require.NoError(t, err)
		assert.Equal(t, string(level), man.CompressionLevel)
		_, err = backup.Verify(ctx, dir, backup.VerifyOptions{})
		require.NoError(t, err)
		imported := itest.UniqueName("dbctl_it_lvl_")
		itest.DropTable(t, c, imported)
		require.NoError(t, backup.Import(ctx, c.Manticore(), dir, name, backup.ImportOptions{As: imported}))
		var n int64
		require.NoError(t, c.DB().QueryRow("SELECT COUNT(*) FROM "+imported).Scan(&n))
		assert.Equal(t, int64(3), n)
	}
	// which level stores fewer bytes is TestBackupCompressionLevels's to
	// tell: three rows are too few
}
