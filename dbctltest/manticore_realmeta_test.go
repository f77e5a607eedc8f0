package dbctltest_test

import (
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dbctl/dbctl/dbctltest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// realTableFiles is ../shared/reference/data/real-table-files: a .meta and
// .settings as searchd 29.2.2 wrote them.
func realTableFiles(t *testing.T) string {
	dir := filepath.Join(filepath.Dir(goldenDir(t)), "data", "real-table-files")
	if _, err := os.Stat(filepath.Join(dir, "cap_imp.meta")); err != nil {
		t.Skipf("real table files not found in %s", dir)
	}
	return dir
}

func digest(t *testing.T, dir string) map[string][32]byte {
	out := map[string][32]byte{}
	require.NoError(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		require.NoError(t, err)
		if d.Type().IsRegular() && !strings.HasSuffix(p, ".lock") {
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			out[p] = sha256.Sum256(b)
		}
		return nil
	}))
	return out
}

// Issue 17: the embedded Manticore starts on a data_dir whose table files a
// real searchd wrote (its .meta has "schema" as an object), serves the
// table's schema, chunk list and document count, never rewrites its files,
// and says plainly that it cannot read the rows of searchd's binary chunks.
func TestStartsOnRealSearchdFiles(t *testing.T) {
	src := realTableFiles(t)
	data := t.TempDir()
	table := filepath.Join(data, "cap_imp")
	require.NoError(t, os.Mkdir(table, 0o755))
	for _, f := range []string{"cap_imp.meta", "cap_imp.settings"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(table, f), b, 0o600))
	}
	// the disk chunk's files (searchd's binary formats: the emulator reads
	// their names, not their bytes)
	for _, ext := range []string{"spa", "spd", "spds", "spe", "sph", "sphi", "spi", "spm", "spp", "spt"} {
		require.NoError(t, os.WriteFile(filepath.Join(table, "cap_imp.0."+ext), []byte("searchd bytes "+ext), 0o600))
	}
	mj, err := json.Marshal(map[string]any{"clusters": map[string]any{}, "indexes": map[string]any{"cap_imp": map[string]string{"type": "rt", "path": "cap_imp"}}})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(data, "manticore.json"), mj, 0o600))
	before := digest(t, table)

	srv, err := dbctltest.StartManticore(dbctltest.WithDataDir(data))
	require.NoError(t, err)
	db, err := sql.Open("mysql", srv.DSN())
	require.NoError(t, err)
	defer db.Close()

	var name, typ string
	require.NoError(t, db.QueryRow("SHOW TABLES LIKE 'cap_imp'").Scan(&name, &typ))
	assert.Equal(t, "rt", typ)
	var n int64
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM cap_imp").Scan(&n))
	assert.Equal(t, int64(3), n, "total_documents of the .meta")
	rows, err := db.Query("DESCRIBE cap_imp")
	require.NoError(t, err)
	var cols []string
	for rows.Next() {
		var f, ty, props sql.NullString
		require.NoError(t, rows.Scan(&f, &ty, &props))
		cols = append(cols, f.String+" "+ty.String)
	}
	require.NoError(t, rows.Err())
	assert.Equal(t, []string{"id bigint", "title text", "gid uint"}, cols)
	var k, v string
	require.NoError(t, db.QueryRow("SHOW TABLE cap_imp STATUS LIKE 'disk_chunks'").Scan(&k, &v))
	assert.Equal(t, "1", v)

	frows, err := db.Query("FREEZE cap_imp")
	require.NoError(t, err)
	var files []string
	for frows.Next() {
		var f, norm string
		require.NoError(t, frows.Scan(&f, &norm))
		files = append(files, filepath.Base(f))
	}
	require.NoError(t, frows.Err())
	assert.Len(t, files, 12, "the .meta, .settings and the chunk's 10 files: %v", files)
	assert.Contains(t, files, "cap_imp.meta")
	_, err = db.Exec("UNFREEZE cap_imp")
	require.NoError(t, err)

	for _, q := range []string{"SELECT * FROM cap_imp", "INSERT INTO cap_imp (id, title, gid) VALUES (4, 'four', 40)", "UPDATE cap_imp SET gid=1 WHERE id=1"} {
		_, err := db.Exec(q)
		require.Error(t, err, q)
		assert.Contains(t, err.Error(), "written by a real searchd", q)
	}
	// IMPORT TABLE of searchd's files: copied under the new name, served alike
	_, err = db.Exec("IMPORT TABLE cap_copy FROM '" + filepath.Join(table, "cap_imp") + "'")
	require.NoError(t, err)
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM cap_copy").Scan(&n))
	assert.Equal(t, int64(3), n)
	require.NoError(t, srv.Close()) // a clean shutdown saves tables: not these
	assert.Equal(t, before, digest(t, table), "searchd's files are left as they were")
}
