package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dbctl/dbctl/internal/itest"
)

// restore --overwrite asks first and refuses without --yes when stdin is
// not a terminal, before it touches anything; a run killed in the middle
// of its swap is rolled back by the next one, which says so; the replaced
// entries are listed, and kept where asked.
func TestRestoreCommandOverwrite(t *testing.T) {
	s := newServers(t)
	bk := filepath.Join(t.TempDir(), "bk")
	r := dbctlRun(t, s.m("backup", "--dir", bk, "--tables", "products")...)
	require.Equal(t, 0, r.code, r.stderr)
	data := filepath.Join(t.TempDir(), "data")
	r = dbctlRun(t, "manticore", "restore", bk, "--data-dir", data)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "restored "+bk+" into "+data+": 1 tables")
	assert.NotContains(t, r.stdout, "replaced")
	fresh := itest.FileTree(t, data)

	// newer content than the backup
	require.NoError(t, os.MkdirAll(filepath.Join(data, "binlog"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(data, "binlog", "binlog.001"), []byte("replayed if kept"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(data, "extra.txt"), []byte("newer"), 0o644))
	before := itest.FileTree(t, data)

	r = dbctlRun(t, "manticore", "restore", bk, "--data-dir", data)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "data_dir is not empty")
	r = dbctlRun(t, "manticore", "restore", bk, "--data-dir", data, "--overwrite")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "restore "+bk+" into "+data+" with --overwrite replaces everything in "+data+
		" (binlog, extra.txt, manticore.json, products, state.sql) and stdin is not a terminal to confirm it: pass --yes")
	r = dbctlRun(t, "manticore", "restore", bk, "--data-dir", data, "--keep-replaced", "--yes")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "--keep-replaced needs --overwrite")
	assert.Equal(t, before, itest.FileTree(t, data), "refusals change nothing")

	// killed (SIGKILL) in the middle of the swap
	r = dbctlRunEnv(t, []string{"DBCTL_CRASHPOINT=restore.move-in state.sql=kill"}, "manticore", "restore", bk, "--data-dir", data, "--overwrite", "--yes")
	require.Equal(t, -1, r.code, "killed: %s", r.stderr)
	assert.NotEqual(t, before, itest.FileTree(t, data), "half swapped")

	r = dbctlRun(t, "--json", "manticore", "restore", bk, "--data-dir", data, "--overwrite", "--yes", "--keep-replaced")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stderr, "dbctl: a killed restore into "+data+" was rolled back ("+data+"/.dbctl-restore-")
	doc := jsonOf(t, r)
	assert.Equal(t, []any{"binlog", "extra.txt", "manticore.json", "products", "state.sql"}, doc["replaced"])
	kept := doc["kept_at"].(string)
	assert.True(t, strings.HasPrefix(kept, data+"/.dbctl-replaced-"), kept)
	assert.Len(t, doc["recovered"], 1)
	assert.Equal(t, before, itest.FileTree(t, kept), "the replaced entries, kept as they were")
	after := itest.FileTree(t, data)
	for p := range after {
		if strings.HasPrefix(p, filepath.Base(kept)) {
			delete(after, p)
		}
	}
	assert.Equal(t, fresh, after, "exactly the backup: no binlog, no extra file")

	r = dbctlRun(t, "manticore", "restore", bk, "--data-dir", data, "--overwrite", "-y")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "replaced: manticore.json, products, state.sql\n")
	assert.NotContains(t, r.stdout, "kept in")
}

// The prompt, in process: "yes" on a terminal restores, anything else
// changes nothing (exit 1).
func TestRestoreCommandConfirmationOnATerminal(t *testing.T) {
	s := newServers(t)
	oldIn, oldTerm := stdin, stdinIsTerminal
	t.Cleanup(func() { stdin, stdinIsTerminal = oldIn, oldTerm })
	stdinIsTerminal = func() bool { return true }
	bk := filepath.Join(t.TempDir(), "bk")
	var out, errb bytes.Buffer
	require.Equal(t, 0, run(context.Background(), append([]string{"--quiet"}, s.m("backup", "--dir", bk, "--tables", "products")...), &out, &errb), errb.String())
	data := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(data, "state.sql"), []byte("newer"), 0o644))
	before := itest.FileTree(t, data)

	stdin = strings.NewReader("no\n")
	errb.Reset()
	assert.Equal(t, 1, run(context.Background(), []string{"manticore", "restore", bk, "--data-dir", data, "--overwrite"}, &out, &errb))
	assert.Contains(t, errb.String(), "replaces everything in "+data+" (state.sql). Type yes to go on:")
	assert.Contains(t, errb.String(), "not confirmed, nothing was changed")
	assert.Equal(t, before, itest.FileTree(t, data))

	stdin = strings.NewReader("yes\n")
	errb.Reset()
	out.Reset()
	assert.Equal(t, 0, run(context.Background(), []string{"--quiet", "manticore", "restore", bk, "--data-dir", data, "--overwrite"}, &out, &errb), errb.String())
	assert.Contains(t, out.String(), "replaced: state.sql\n")
	assert.FileExists(t, filepath.Join(data, "manticore.json"))
}
