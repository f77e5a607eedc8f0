package dbctltest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzRealMeta: any bytes as a searchd .meta (and .settings) load without
// a panic; what loads is a foreign table whose columns have types the
// emulator knows and never a negative chunk id.
func FuzzRealMeta(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("..", "..", "shared", "reference", "data", "real-table-files", "cap_imp.meta")); err == nil {
		f.Add(b, []byte("{\n}"))
	}
	f.Add([]byte(`{"meta_version":24,"total_documents":2,"schema":{"fields":[{"name":"Title"}],"attributes":[{"name":"id","type":6},{"name":"$_blob_locator","type":6},{"name":"tags","type":1073741825}]},"chunk_names":[0,3]}`), []byte(`{"rt_mem_limit":134217728}`))
	f.Add([]byte(`{"schema":{"attributes":[{"name":"v","type":99}]}}`), []byte(``))
	f.Add([]byte(`{"schema":[{"name":"title","type":"text"}]}`), []byte(`[]`))
	f.Fuzz(func(t *testing.T, meta, settings []byte) {
		if !isRealMeta(meta) {
			return
		}
		tb, err := parseRealTable("t", meta, settings)
		if err != nil {
			return
		}
		if !tb.foreign || tb.Type != "rt" {
			t.Fatalf("loaded %+v", tb)
		}
		known := map[string]bool{"text": true}
		for _, v := range realAttrTypes {
			known[v] = true
		}
		for _, c := range tb.Fields {
			if !known[c.Type] || c.Name == "id" || c.Name != strings.ToLower(c.Name) {
				t.Fatalf("column %+v", c)
			}
		}
		if len(tb.chunks) != len(tb.ChunkIDs) {
			t.Fatalf("chunks %d, ids %d", len(tb.chunks), len(tb.ChunkIDs))
		}
	})
}
