package backup

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzReadJournal: a journal that recovery follows only names entries of
// the data_dir (one path element, not "." or "..") and keeps the replaced
// entries only in a .dbctl-replaced- folder beside the restore folder;
// anything else is refused, never followed.
func FuzzReadJournal(f *testing.F) {
	f.Add(`{"version":1,"state":"swapping","old":["a","manticore.json"],"new":["a"]}`)
	f.Add(`{"version":1,"state":"committed","old":["a"],"new":["a"],"keep":"DATA/.dbctl-replaced-x"}`)
	f.Add(`{"version":1,"state":"committed","keep":"/etc"}`)
	f.Add(`{"version":1,"state":"swapping","old":["../x"]}`)
	f.Add(`{"version":2,"state":"swapping"}`)
	f.Add(`{"version":1,"state":"gone"}`)
	f.Add(`not json`)
	f.Fuzz(func(t *testing.T, doc string) {
		data := t.TempDir()
		dir := filepath.Join(data, restorePrefix+"fuzz")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		doc = strings.ReplaceAll(doc, "DATA", data)
		if err := os.WriteFile(filepath.Join(dir, journalName), []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		j, err := readJournal(dir)
		if err != nil {
			return
		}
		if j == nil || j.Version != journalVersion || (j.State != stateSwapping && j.State != stateCommitted) {
			t.Fatalf("accepted %+v", j)
		}
		for _, n := range append(append([]string(nil), j.Old...), j.New...) {
			if n == "" || n == "." || n == ".." || filepath.Base(n) != n || strings.ContainsAny(n, "/\\\x00") {
				t.Fatalf("entry %q accepted", n)
			}
		}
		if j.Keep != "" && (filepath.Dir(j.Keep) != data || !strings.HasPrefix(filepath.Base(j.Keep), replacedPrefix)) {
			t.Fatalf("keep %q accepted", j.Keep)
		}
	})
}
