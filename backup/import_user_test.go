package backup_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/dbctl/dbctl/backup"
	"github.com/dbctl/dbctl/dbctltest"
	"github.com/dbctl/dbctl/internal/itest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Issue 17: with dbctl running as root and searchd as its own user, an
// import from a dotted folder, from a hidden one and of a compressed backup
// works: the staging folder (in the data_dir) and its files are given to
// the data_dir's owner and readable by it. The embedded server checks file
// access as that user (dbctltest.WithUser), so this needs root.
func TestImportAsAnotherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("giving files to another user needs root (CI runs as root)")
	}
	const uid = 4242
	srv := dbctltest.NewManticore(t, dbctltest.WithUser(uid, uid))
	require.NoError(t, os.Chown(srv.DataDir(), uid, uid)) // a packaged searchd's data_dir is its user's
	t.Cleanup(func() { _ = os.Chown(srv.DataDir(), 0, 0) })
	c := itest.OpenClient(t, srv.DSN())
	ctx := context.Background()
	name := itest.RTTable(t, c)

	// a compressed backup in a folder only root can enter: the staging copy
	// in the data_dir is what searchd reads
	private := t.TempDir()
	require.NoError(t, os.Chmod(private, 0o700))
	shared := itest.SharedTempDir(t)
	cases := []struct {
		name     string
		dir      string
		compress bool
	}{
		{"dated_folder", filepath.Join(shared, "bk.2026.12.06"), false},
		{"hidden_folder", filepath.Join(shared, ".hidden", "bk"), false},
		{"compressed_private", filepath.Join(private, "bk"), true},
		{"compressed_dated_folder", filepath.Join(shared, "c.2026.12.06"), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, os.MkdirAll(filepath.Dir(tc.dir), 0o755))
			_, err := backup.Create(ctx, c.Manticore(), tc.dir, backup.CreateOptions{Tables: []string{name}, Compress: tc.compress})
			require.NoError(t, err)
			imported := itest.UniqueName("dbctl_it_imp_")
			require.NoError(t, backup.Import(ctx, c.Manticore(), tc.dir, name, backup.ImportOptions{As: imported}))
			var n int64
			require.NoError(t, c.DB().QueryRow("SELECT COUNT(*) FROM "+imported).Scan(&n))
			assert.Equal(t, int64(3), n)
			assert.Empty(t, leftovers(t, srv.DataDir()))
		})
	}
}
