package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/dbctl/dbctl"
	"github.com/dbctl/dbctl/backup"
	"github.com/dbctl/dbctl/internal/crashpoint"
	"github.com/dbctl/dbctl/internal/s3test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dbctlKilled runs the binary with DBCTL_CRASHPOINT=spec and reports
// whether the process was killed at it (SIGKILL).
func dbctlKilled(t *testing.T, spec string, args ...string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(os.Environ(), "DBCTL_DSN=", crashpoint.EnvSpec+"="+spec)
	out, err := cmd.CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	require.True(t, ok, "dbctl ended with %v:\n%s", err, out)
	return ee.ExitCode() == -1 // ended by a signal
}

// A prune killed half-way (the process SIGKILLed at a step: in a folder
// after the backup was renamed aside, in S3 after its manifest was
// deleted) leaves nothing that is listed as a backup; the next `backups`
// lists the others, each verifying, and removes what the killed run left;
// the next prune finishes the job.
func TestPruneKilledThenBackupsCleansUp(t *testing.T) {
	s := newServers(t)
	c, err := dbctl.Open(s.mt.DSN(), nil)
	require.NoError(t, err)
	defer c.Close()
	roots := map[string]string{"folder": filepath.Join(t.TempDir(), "backups")}
	kills := map[string]string{"folder": "backup.remove pruned#1=kill", "s3": "store.list-uploads data/#1=kill"}
	if s3test.Available() {
		srv := s3test.Require(t)
		t.Setenv("AWS_ENDPOINT_URL", srv.Endpoint) // the binary reads it like the AWS CLI
		roots["s3"] = srv.Location(t)
	}
	require.NoError(t, os.MkdirAll(roots["folder"], 0o755))
	ctx := context.Background()
	for kind, root := range roots {
		t.Run(kind, func(t *testing.T) {
			for _, name := range []string{"one", "two", "three"} {
				_, err := backup.Create(ctx, c.Manticore(), root+"/"+name, backup.CreateOptions{Tables: []string{"products"}})
				require.NoError(t, err)
			}
			require.True(t, dbctlKilled(t, kills[kind], "manticore", "prune", root, "--keep-last", "1"), "killed at %s", kills[kind])

			r := dbctlRun(t, "manticore", "backups", root)
			require.Equal(t, 0, r.code, r.stderr)
			assert.Contains(t, r.stderr, "removed", "what the killed run left is removed, and said")
			assert.NotContains(t, r.stdout, "one")
			r = dbctlRun(t, "--json", "manticore", "backups", root)
			require.Equal(t, 0, r.code, r.stderr)
			assert.Empty(t, r.stderr)
			list := jsonOf(t, r)["backups"].([]any)
			var listed []string
			for _, b := range list {
				listed = append(listed, b.(map[string]any)["name"].(string))
			}
			assert.Equal(t, []string{"two", "three"}, listed, "the half-pruned backup is not listed")
			for _, n := range listed {
				r := dbctlRun(t, "manticore", "verify", root+"/"+n)
				require.Equal(t, 0, r.code, r.stderr)
			}
			r = dbctlRun(t, "--json", "manticore", "prune", root, "--keep-last", "1")
			require.Equal(t, 0, r.code, r.stderr)
			assert.Len(t, jsonOf(t, r)["deleted"], 1)
			if kind == "folder" {
				entries, err := os.ReadDir(root)
				require.NoError(t, err)
				require.Len(t, entries, 1, "only the kept backup")
				assert.Equal(t, "three", entries[0].Name())
			} else {
				left, err := backup.List(ctx, root, backup.ListOptions{})
				require.NoError(t, err)
				require.Len(t, left, 1)
				assert.Equal(t, "three", left[0].Name)
			}
		})
	}
}
