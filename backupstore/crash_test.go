package backupstore_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dbctl/dbctl/backupstore"
	"github.com/dbctl/dbctl/internal/crashpoint"
	"github.com/dbctl/dbctl/internal/crashpoint/crashtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// localOps are the state-changing operations of a folder store, each
// over a key that holds "old" before.
var localOps = []struct {
	name string
	key  string // the key checked
	run  func(ctx context.Context, st backupstore.Store) error
	// after lists what the key may hold once the operation failed or
	// was killed ("" for absent): the old bytes, or the new ones.
	after []string
}{
	{"put", "d/k", func(ctx context.Context, st backupstore.Store) error {
		_, err := st.Put(ctx, "d/k", strings.NewReader("new"), backupstore.PutOptions{})
		return err
	}, []string{"old", "new"}},
	{"put-compressed", "d/k", func(ctx context.Context, st backupstore.Store) error {
		_, err := st.Put(ctx, "d/k", strings.NewReader("new"), backupstore.PutOptions{Compress: true})
		return err
	}, []string{"old", "zstd"}},
	{"put-no-overwrite", "d/fresh", func(ctx context.Context, st backupstore.Store) error {
		_, err := st.Put(ctx, "d/fresh", strings.NewReader("new"), backupstore.PutOptions{NoOverwrite: true})
		return err
	}, []string{"", "new"}},
	{"delete", "d/k", func(ctx context.Context, st backupstore.Store) error {
		return st.Delete(ctx, "d/k", "d/other")
	}, []string{"old", ""}},
}

func seed(t *testing.T, dir string) backupstore.Store {
	st, err := backupstore.OpenLocal(dir)
	require.NoError(t, err)
	_, err = st.Put(context.Background(), "d/k", strings.NewReader("old"), backupstore.PutOptions{})
	require.NoError(t, err)
	_, err = st.Put(context.Background(), "d/other", strings.NewReader("other"), backupstore.PutOptions{})
	require.NoError(t, err)
	return st
}

// holds returns what key holds: "" absent, "zstd" for compressed bytes.
func holds(t *testing.T, dir, key string) string {
	b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(key)))
	if errors.Is(err, os.ErrNotExist) {
		return ""
	}
	require.NoError(t, err)
	if bytes.HasPrefix(b, []byte{0x28, 0xb5, 0x2f, 0xfd}) {
		return "zstd"
	}
	return string(b)
}

func tempFiles(t *testing.T, dir string) []string {
	var out []string
	require.NoError(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), ".dbctl-tmp-") {
			out = append(out, p)
		}
		return err
	}))
	return out
}

// Each operation fails (error, then panic) at every step it passes: the
// key holds its old bytes or its new ones, never a mix; a failed Put
// leaves no temporary file; and the operation then succeeds when run again.
func TestLocalCrashPointsFail(t *testing.T) {
	ctx := context.Background()
	for _, op := range localOps {
		t.Run(op.name, func(t *testing.T) {
			st := seed(t, t.TempDir())
			steps := crashtest.Record(t, func() { require.NoError(t, op.run(ctx, st)) })
			require.NotEmpty(t, steps)
			for _, step := range steps {
				assert.True(t, strings.HasPrefix(step.Name, "store."), step)
				for _, panics := range []bool{false, true} {
					t.Run(step.String()+map[bool]string{true: "/panic"}[panics], func(t *testing.T) {
						dir := t.TempDir()
						st := seed(t, dir)
						if panics {
							crashtest.PanicAt(t, step)
							assert.Panics(t, func() { _ = op.run(ctx, st) })
						} else {
							restore := crashtest.FailAt(t, step)
							require.ErrorIs(t, op.run(ctx, st), crashpoint.ErrInjected)
							restore()
						}
						assert.Contains(t, op.after, holds(t, dir, op.key))
						if !panics {
							assert.Empty(t, tempFiles(t, dir), "a failed Put removes its temporary file")
						}
						crashpoint.Set(nil)
						require.NoError(t, op.run(ctx, st), "the next run succeeds")
					})
				}
			}
		})
	}
}

// TestLocalCrashChild is the child's side of TestLocalCrashPointsKill.
func TestLocalCrashChild(t *testing.T) {
	if !crashtest.IsChild() {
		t.Skip("runs only as TestLocalCrashPointsKill's child")
	}
	dir, name := os.Getenv("DBCTL_TEST_DIR"), os.Getenv("DBCTL_TEST_OP")
	st, err := backupstore.OpenLocal(dir)
	require.NoError(t, err)
	for _, op := range localOps {
		if op.name == name {
			require.NoError(t, op.run(context.Background(), st))
		}
	}
}

// A process killed (SIGKILL) at any step leaves the old bytes or the new
// ones, and at most a temporary file that List does not show; the next
// run succeeds.
func TestLocalCrashPointsKill(t *testing.T) {
	if crashtest.IsChild() {
		t.Skip("child")
	}
	ctx := context.Background()
	for _, op := range localOps {
		t.Run(op.name, func(t *testing.T) {
			dir := t.TempDir()
			seed(t, dir)
			env := []string{"DBCTL_TEST_DIR=" + dir, "DBCTL_TEST_OP=" + op.name}
			rec := crashtest.Child(t, "TestLocalCrashChild", nil, time.Minute, env...)
			require.NoError(t, rec.Err, rec.Output)
			require.NotEmpty(t, rec.Steps)
			for _, step := range rec.Steps {
				t.Run(step.String(), func(t *testing.T) {
					dir := t.TempDir()
					st := seed(t, dir)
					spec := step.Spec(crashpoint.Kill)
					res := crashtest.Child(t, "TestLocalCrashChild", &spec, time.Minute, "DBCTL_TEST_DIR="+dir, "DBCTL_TEST_OP="+op.name)
					require.True(t, res.Killed, "%v\n%s", res.Err, res.Output)
					assert.Contains(t, op.after, holds(t, dir, op.key))
					infos, err := st.List(ctx, "")
					require.NoError(t, err)
					for _, in := range infos {
						assert.NotContains(t, in.Key, ".dbctl-tmp-")
					}
					require.NoError(t, op.run(ctx, st), "the next run succeeds")
				})
			}
		})
	}
}
