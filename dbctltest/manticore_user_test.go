//go:build linux

package dbctltest_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/dbctl/dbctl/dbctltest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// WithUser: a searchd running as another user does not serve a table whose
// folder it cannot write (no <t>.lock), keeps it in manticore.json, and
// finds no files to import in a folder it cannot read (issue 9 §2.D).
func TestManticoreWithUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give files to another user")
	}
	const uid, gid = 4242, 4242
	data := t.TempDir()
	// t.TempDir's folders are 0700: let the user reach data_dir
	require.NoError(t, os.Chmod(filepath.Dir(data), 0o755))
	require.NoError(t, os.Chmod(data, 0o755))
	s, err := dbctltest.StartManticore(dbctltest.WithDataDir(data))
	require.NoError(t, err)
	db := openDB(t, s.DSN())
	mustExec(t, db, "CREATE TABLE mine(title text)", "CREATE TABLE roots(title text)",
		"INSERT INTO mine(id, title) VALUES (1,'x')")
	files := queryStrings(t, db, "FREEZE mine")
	bak := filepath.Join(t.TempDir(), "bk")
	require.NoError(t, os.MkdirAll(filepath.Join(bak, "mine"), 0o700))
	for _, f := range files {
		b, err := os.ReadFile(f[0])
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(bak, "mine", filepath.Base(f[0])), b, 0o644))
	}
	mustExec(t, db, "UNFREEZE mine")
	require.NoError(t, s.Close())
	// the user owns data_dir and mine/; roots/ stays root's (0755)
	for _, p := range []string{data, filepath.Join(data, "manticore.json"), filepath.Join(data, "mine")} {
		require.NoError(t, os.Chown(p, uid, gid))
	}

	s = dbctltest.NewManticore(t, dbctltest.WithDataDir(data), dbctltest.WithUser(uid, gid))
	db = openDB(t, s.DSN())
	assert.Equal(t, [][]string{{"mine", "rt"}}, queryStrings(t, db, "SHOW TABLES"), "roots/ is not writable: not served")
	state, err := os.ReadFile(filepath.Join(data, "manticore.json"))
	require.NoError(t, err)
	var doc struct{ Indexes map[string]any }
	require.NoError(t, json.Unmarshal(state, &doc))
	assert.Contains(t, doc.Indexes, "roots", "an unserved table stays in manticore.json")

	_, err = db.Exec("IMPORT TABLE imp FROM '" + bak + "/mine/mine'")
	assert.Equal(t, "unable to import table 'imp': no table files found", serverErr(t, err).Message, "a 0700 root folder")
	require.NoError(t, os.Chmod(filepath.Join(bak, "mine"), 0o755))
	for _, p := range []string{filepath.Dir(bak), bak} {
		require.NoError(t, os.Chmod(p, 0o755))
	}
	mustExec(t, db, "IMPORT TABLE imp FROM '"+bak+"/mine/mine'")
	assert.Equal(t, [][]string{{"1"}}, queryStrings(t, db, "SELECT COUNT(*) FROM imp"))
}
