//go:build unix

package dbctltest_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/dbctl/dbctl/dbctltest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// inode returns a file's inode number, or 0 when it does not exist.
func inode(t *testing.T, path string) uint64 {
	t.Helper()
	fi, err := os.Stat(path)
	if os.IsNotExist(err) {
		return 0
	}
	require.NoError(t, err)
	return fi.Sys().(*syscall.Stat_t).Ino
}

// The emulator writes a table's files as searchd does (manticore_filerules.go):
// UPDATE and DELETE change .spa/.spb/.sphi/.spm in place, never the text
// index or the document store; .meta is replaced by a rename; OPTIMIZE
// writes a new chunk and unlinks the old ones; a restart reads the updated
// attribute values back.
func TestManticoreFileRules(t *testing.T) {
	s := dbctltest.NewManticore(t, dbctltest.WithDataDir(t.TempDir()))
	db := openDB(t, s.DSN())
	dir := filepath.Join(s.DataDir(), "t")
	p := func(name string) string { return filepath.Join(dir, name) }
	mustExec(t, db,
		"CREATE TABLE t(title text, tag string attribute, gid int)",
		"INSERT INTO t(id,title,tag,gid) VALUES (1,'hello','x\ty',1),(2,'world','y',2)",
		"FLUSH RAMCHUNK t",
		"INSERT INTO t(id,title,tag,gid) VALUES (3,'again','z',3)",
		"FLUSH RAMCHUNK t",
	)
	immutable := []string{"t.0.spd", "t.0.spp", "t.0.spi", "t.0.spe", "t.0.sph", "t.0.spds", "t.0.spt"}
	before := map[string]uint64{}
	content := map[string][]byte{}
	for _, f := range append(immutable, "t.0.spa", "t.0.spb", "t.0.spm", "t.0.sphi", "t.meta") {
		before[f] = inode(t, p(f))
		require.NotZero(t, before[f], f)
		b, err := os.ReadFile(p(f))
		require.NoError(t, err)
		content[f] = b
	}

	mustExec(t, db, "UPDATE t SET tag='new', gid=10 WHERE id=1", "DELETE FROM t WHERE id=2")
	var tag int64
	require.NoError(t, db.QueryRow("FLUSH ATTRIBUTES").Scan(&tag))
	for _, f := range immutable {
		b, err := os.ReadFile(p(f))
		require.NoError(t, err)
		assert.Equal(t, content[f], b, "%s is never rewritten", f)
		assert.Equal(t, before[f], inode(t, p(f)), f)
	}
	for _, f := range []string{"t.0.spa", "t.0.spb", "t.0.spm", "t.0.sphi"} {
		b, err := os.ReadFile(p(f))
		require.NoError(t, err)
		assert.NotEqual(t, content[f], b, "%s changed", f)
		assert.Equal(t, before[f], inode(t, p(f)), "%s changed in place", f)
	}
	mustExec(t, db, "FLUSH TABLE t")
	assert.NotEqual(t, before["t.meta"], inode(t, p("t.meta")), ".meta is replaced by a rename")

	// a restart reads the attribute values from .spa/.spb
	require.NoError(t, s.Close())
	s2 := dbctltest.NewManticore(t, dbctltest.WithDataDir(s.DataDir()))
	db2 := openDB(t, s2.DSN())
	assert.Equal(t, [][]string{{"1", "new", "10"}, {"3", "z", "3"}}, queryStrings(t, db2, "SELECT id, tag, gid FROM t"))

	// OPTIMIZE merges the two chunks into a new one and unlinks the old files
	mustExec(t, db2, "OPTIMIZE TABLE t OPTION cutoff=1, sync=1")
	for _, f := range append(immutable, "t.0.spa", "t.1.spd") {
		assert.Zero(t, inode(t, p(f)), "%s unlinked by the merge", f)
	}
	assert.NotZero(t, inode(t, p("t.2.spd")), "the merged chunk is new")
	assert.Equal(t, [][]string{{"1", "new", "10"}, {"3", "z", "3"}}, queryStrings(t, db2, "SELECT id, tag, gid FROM t"))
}
