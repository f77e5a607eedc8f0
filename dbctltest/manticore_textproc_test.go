package dbctltest_test

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/dbctl/dbctl/dbctltest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A table created with wordforms, stopwords and exceptions keeps copies in
// its folder (manticore-2.jsonl: "FREEZE cap_wf"), applies them when
// searched (Manticore manual, no capture), and still applies them after
// its FREEZE-listed files are imported under a new name (issue 9 §2.B) and
// after a restart on the same data_dir.
func TestManticoreWordformsSurviveImport(t *testing.T) {
	fx := goldenFixtures(t)
	data := t.TempDir()
	s, err := dbctltest.StartManticore(dbctltest.WithDataDir(data))
	require.NoError(t, err)
	db := openDB(t, s.DSN())
	mustExec(t, db,
		"CREATE TABLE wf(title text) wordforms='"+fx+"/wf.txt' stopwords='"+fx+"/sw.txt' exceptions='"+fx+"/ex.txt'",
		"INSERT INTO wf(id, title) VALUES (1,'walked the dog'),(2,'AT&T phones'),(3,'a cat')")
	search := func(table string) map[string]string {
		out := map[string]string{}
		for _, q := range []string{"walking", "walk", "the", "AT&T", "dog", "cat"} {
			var ids []string
			for _, r := range queryStrings(t, db, "SELECT id FROM "+table+" WHERE MATCH('"+q+"')") {
				ids = append(ids, r[0])
			}
			sort.Strings(ids)
			out[q] = strings.Join(ids, ",")
		}
		return out
	}
	want := map[string]string{
		"walking": "1", // wordforms: walking > walk, walked > walk
		"walk":    "1",
		"the":     "",  // a stopword: nothing to search for
		"AT&T":    "2", // exceptions: AT&T => att
		"dog":     "1",
		"cat":     "3",
	}
	assert.Equal(t, want, search("wf"))

	// FREEZE lists the copies, in the table's folder
	files := queryStrings(t, db, "FREEZE wf")
	var names []string
	for _, f := range files {
		assert.Equal(t, filepath.Join(data, "wf"), filepath.Dir(f[0]))
		names = append(names, filepath.Base(f[0]))
	}
	assert.Subset(t, names, []string{"exceptions_chunk0_0.txt", "stopwords_chunk0_0.txt", "wordforms_chunk0_0.txt", "wf.meta", "wf.settings"})
	assert.NotContains(t, names, "wf.lock", "the lock file is not a table file")
	// a backup of the listed files, kept by table folder, imported anew
	bak := filepath.Join(t.TempDir(), "wf")
	require.NoError(t, os.MkdirAll(bak, 0o755))
	for _, f := range files {
		b, err := os.ReadFile(f[0])
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(bak, filepath.Base(f[0])), b, 0o644))
	}
	mustExec(t, db, "UNFREEZE wf", "IMPORT TABLE wf2 FROM '"+bak+"/wf'")
	for _, name := range []string{"wordforms_chunk0_0.txt", "stopwords_chunk0_0.txt", "exceptions_chunk0_0.txt"} {
		assert.FileExists(t, filepath.Join(data, "wf2", name))
	}
	assert.Equal(t, want, search("wf2"))

	// and after a restart on the same data_dir
	require.NoError(t, s.Close())
	s2 := dbctltest.NewManticore(t, dbctltest.WithDataDir(data))
	db = openDB(t, s2.DSN())
	assert.Equal(t, want, search("wf2"))
}

// CREATE TABLE refuses external files that are missing or relative
// (src/indexsettings.cpp CheckPaths).
func TestManticoreExternalFileErrors(t *testing.T) {
	s := dbctltest.NewManticore(t)
	db := openDB(t, s.DSN())
	fx := goldenFixtures(t)
	tests := []struct{ stmt, msg string }{
		{"CREATE TABLE a(title text) wordforms='" + fx + "/none.txt'", "table 'a': CREATE TABLE failed: file not found: '" + fx + "/none.txt'"},
		{"CREATE TABLE a(title text) stopwords='sw.txt'", "table 'a': CREATE TABLE failed: file not found: 'sw.txt'"},
	}
	for _, tc := range tests {
		_, err := db.Exec(tc.stmt)
		assert.Equal(t, tc.msg, serverErr(t, err).Message, tc.stmt)
	}
	_, err := os.Stat(filepath.Join(s.DataDir(), "a"))
	assert.True(t, os.IsNotExist(err), "nothing left behind")
}
