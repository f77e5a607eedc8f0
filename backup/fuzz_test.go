package backup

import (
	"path"
	"strings"
	"testing"
)

// FuzzManifestPath: a path the manifest check accepts stays inside the
// backup, and a table file lies in its own table's folder.
func FuzzManifestPath(f *testing.F) {
	f.Add("data/t/t.meta", "t")
	f.Add("data/t/wordforms_chunk0_0.txt", "t")
	f.Add("data/u/t.meta", "t")
	f.Add("config/manticore.conf", "")
	f.Add("state/../../etc/passwd", "")
	f.Add("data/t/../u/x", "t")
	f.Fuzz(func(t *testing.T, p, table string) {
		tables := map[string]bool{"t": true, "u": true}
		if checkManifestPath(ManifestFile{Path: p, Table: table}, tables) != nil {
			return
		}
		if path.IsAbs(p) || path.Clean(p) != p || strings.Contains("/"+p+"/", "/../") || strings.ContainsAny(p, "\\\x00") {
			t.Fatalf("unsafe path accepted: %q", p)
		}
		parts := strings.Split(p, "/")
		switch parts[0] {
		case "data":
			if len(parts) != 3 || parts[1] != table || !tables[table] {
				t.Fatalf("table file %q accepted for table %q", p, table)
			}
		case "state", "config":
			if len(parts) != 2 || table != "" {
				t.Fatalf("%q accepted with table %q", p, table)
			}
		default:
			t.Fatalf("%q accepted", p)
		}
	})
}
