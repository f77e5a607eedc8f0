package main

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/dbctl/dbctl/internal/s3test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// backups and prune over a folder and, with the S3 server, a prefix; the
// backup, verify, restore and import commands with an s3:// location.
func TestBackupsAndPruneCommands(t *testing.T) {
	s := newServers(t)
	roots := []string{filepath.Join(t.TempDir(), "backups")}
	if s3test.Available() {
		srv := s3test.Require(t)
		t.Setenv("AWS_ENDPOINT_URL", srv.Endpoint) // the binary reads it like the AWS CLI
		roots = append(roots, srv.Location(t))
	}
	require.NoError(t, os.MkdirAll(roots[0], 0o755)) // a local backup's parent must exist
	for i, root := range roots {
		t.Run(filepath.Base(root), func(t *testing.T) {
			r := dbctlRun(t, s.m("backup", "--dir", root+"/one", "--tables", "products", "--part-size", "5242880", "--upload-concurrency", "2")...)
			require.Equal(t, 0, r.code, r.stderr)
			assert.Contains(t, r.stdout, "backed up")
			r = dbctlRun(t, append([]string{"--json", "--quiet"}, s.m("backup", "--dir", root+"/two", "--compress", "--staging-dir", t.TempDir())...)...)
			require.Equal(t, 0, r.code, r.stderr)
			r = dbctlRun(t, s.m("backup", "--dir", root+"/two")...)
			assert.Equal(t, 1, r.code)
			assert.Contains(t, r.stderr, "backup already exists")

			r = dbctlRun(t, "manticore", "backups", root)
			require.Equal(t, 0, r.code, r.stderr)
			for _, want := range []string{"NAME", "one", "two", "products", "full"} {
				assert.Contains(t, r.stdout, want)
			}
			r = dbctlRun(t, "--json", "manticore", "backups", root)
			require.Equal(t, 0, r.code, r.stderr)
			list := jsonOf(t, r)["backups"].([]any)
			require.Len(t, list, 2)
			assert.Equal(t, "one", list[0].(map[string]any)["name"])
			assert.Equal(t, []any{"products"}, list[0].(map[string]any)["tables"])

			r = dbctlRun(t, "manticore", "verify", root+"/two")
			require.Equal(t, 0, r.code, r.stderr)
			assert.Contains(t, r.stdout, "every sha256 matches")
			restored := filepath.Join(t.TempDir(), "restored")
			r = dbctlRun(t, "--json", "manticore", "restore", root+"/one", "--data-dir", restored)
			require.Equal(t, 0, r.code, r.stderr)
			_, err := os.Stat(filepath.Join(restored, "manticore.json"))
			assert.NoError(t, err)
			r = dbctlRun(t, s.m("import", root+"/two", "products", "--as", "products_copy"+strconv.Itoa(i))...)
			require.Equal(t, 0, r.code, r.stderr)

			r = dbctlRun(t, "manticore", "prune", root)
			assert.Equal(t, 2, r.code)
			assert.Contains(t, r.stderr, "--keep-last")
			r = dbctlRun(t, "manticore", "prune", root, "--keep-last", "1", "--dry-run")
			require.Equal(t, 0, r.code, r.stderr)
			assert.Contains(t, r.stdout, "would delete 1 backups")
			r = dbctlRun(t, "--json", "manticore", "prune", root, "--keep-last", "1")
			require.Equal(t, 0, r.code, r.stderr)
			doc := jsonOf(t, r)
			gone := doc["deleted"].([]any)
			require.Len(t, gone, 1)
			assert.Equal(t, "one", gone[0].(map[string]any)["name"])
			r = dbctlRun(t, "--json", "manticore", "prune", root, "--keep-within", "1h")
			require.Equal(t, 0, r.code, r.stderr)
			assert.Empty(t, jsonOf(t, r)["deleted"])
			r = dbctlRun(t, "--json", "manticore", "prune", root, "--keep-last", "0", "--keep-within", "1ns")
			require.Equal(t, 0, r.code, r.stderr)
			assert.Len(t, jsonOf(t, r)["deleted"], 1, "the last backup deleted when asked")
		})
	}
}
