package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/dbctl/dbctl"
	"github.com/dbctl/dbctl/internal/crashpoint"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestImportTable(t *testing.T) {
	for _, compress := range []bool{false, true} {
		t.Run(fmt.Sprintf("compress=%v", compress), func(t *testing.T) {
			f := newBackupFixture(t)
			ctx := context.Background()
			parent := t.TempDir()
			dir := filepath.Join(parent, "bk")
			_, err := Create(ctx, f.c.Manticore(), dir, CreateOptions{Compress: compress})
			require.NoError(t, err)
			m := f.c.Manticore()
			require.NoError(t, Import(ctx, m, dir, "a", ImportOptions{As: "a_copy"}))
			var n string
			require.NoError(t, f.c.DB().QueryRow("SELECT COUNT(*) FROM a_copy").Scan(&n))
			assert.Equal(t, "4", n)
			assert.ErrorIs(t, Import(ctx, m, dir, "a", ImportOptions{As: "a_copy"}), dbctl.ErrTableExists)
			assert.ErrorIs(t, Import(ctx, m, dir, "nope", ImportOptions{As: "x"}), dbctl.ErrTableNotFound)
			assert.ErrorIs(t, Import(ctx, m, dir, "a", ImportOptions{As: "bad-name"}), dbctl.ErrInvalidIdentifier)
			entries, _ := os.ReadDir(parent)
			assert.Len(t, entries, 1, "staging directory removed")

			// a corrupt file: verified first, nothing imported
			man, err := readManifest(dir)
			require.NoError(t, err)
			for _, mf := range man.Files {
				if mf.Path == "data/b/b.meta" {
					require.NoError(t, os.Truncate(man.storedPath(dir, mf), 3))
				}
			}
			err = Import(ctx, m, dir, "b", ImportOptions{As: "b_copy"})
			require.ErrorIs(t, err, ErrCorrupt)
			tables, _ := m.Tables(ctx)
			for _, tb := range tables {
				assert.NotEqual(t, "b_copy", tb.Name)
			}
		})
	}
}

func TestManifestRejectsTricks(t *testing.T) {
	f := newBackupFixture(t)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "bk")
	_, err := Create(ctx, f.c.Manticore(), dir, CreateOptions{})
	require.NoError(t, err)
	good, err := os.ReadFile(filepath.Join(dir, manifestName))
	require.NoError(t, err)
	rewrite := func(edit func(m map[string]any)) {
		var m map[string]any
		require.NoError(t, json.Unmarshal(good, &m))
		edit(m)
		b, _ := json.Marshal(m)
		require.NoError(t, os.WriteFile(filepath.Join(dir, manifestName), b, 0o644))
	}
	setPath := func(p string) func(m map[string]any) {
		return func(m map[string]any) {
			m["files"].([]any)[0].(map[string]any)["path"] = p
		}
	}
	cases := map[string]func(m map[string]any){
		"parent escape":   setPath("../../etc/passwd"),
		"absolute":        setPath("/etc/passwd"),
		"dot segments":    setPath("data/a/../../x"),
		"outside data":    setPath("other/a.meta"),
		"wrong table dir": setPath("data/zz/a.meta"),
		"other table dir": setPath("data/b/a.meta"),
		"nested":          setPath("data/a/sub/a.meta"),
		"config nested":   setPath("config/x/manticore.conf"),
		"backslash":       setPath(`data\a\a.meta`),
		"format":          func(m map[string]any) { m["format_version"] = 99 },
		"bad hash":        func(m map[string]any) { m["files"].([]any)[0].(map[string]any)["sha256"] = "xyz" },
		"bad table":       func(m map[string]any) { m["tables"].([]any)[0].(map[string]any)["name"] = "../x" },
		"compression":     func(m map[string]any) { m["compression"] = "rot13" },
	}
	for name, edit := range cases {
		rewrite(edit)
		_, err := Verify(ctx, dir, VerifyOptions{})
		assert.ErrorIs(t, err, ErrInvalid, name)
		assert.ErrorIs(t, Restore(ctx, dir, t.TempDir(), RestoreOptions{}), ErrInvalid, name)
		assert.ErrorIs(t, Import(ctx, f.c.Manticore(), dir, "a", ImportOptions{As: "x"}), ErrInvalid, name)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, manifestName), []byte("{not json"), 0o644))
	_, err = Verify(ctx, dir, VerifyOptions{})
	assert.ErrorIs(t, err, ErrInvalid)
	require.NoError(t, os.Remove(filepath.Join(dir, manifestName)))
	_, err = Verify(ctx, dir, VerifyOptions{})
	assert.ErrorIs(t, err, ErrInvalid)

	// missing and over-long files
	require.NoError(t, os.WriteFile(filepath.Join(dir, manifestName), good, 0o644))
	require.NoError(t, os.Remove(filepath.Join(dir, "data", "a", "a.meta")))
	f2, err := os.OpenFile(filepath.Join(dir, "data", "b", "b.meta"), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, _ = f2.WriteString("extra")
	f2.Close()
	_, err = Verify(ctx, dir, VerifyOptions{})
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), "data/a/a.meta: missing")
	assert.Contains(t, err.Error(), "data/b/b.meta: too long")
}

func TestVerifyAndRestoreProgress(t *testing.T) {
	f := newBackupFixture(t)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "bk")
	man, err := Create(ctx, f.c.Manticore(), dir, CreateOptions{Compress: true})
	require.NoError(t, err)

	var last atomic.Value
	_, err = Verify(ctx, dir, VerifyOptions{Concurrency: 1, Progress: func(p Progress) { last.Store(p) }})
	require.NoError(t, err)
	p := last.Load().(Progress)
	assert.Equal(t, "verify", p.Phase)
	assert.Equal(t, len(man.Files), p.Files)
	assert.Equal(t, p.BytesTotal, p.Bytes)

	// one pass: no separate verification; the last report is the swap's,
	// every file written
	var last2 atomic.Value
	restored := t.TempDir()
	require.NoError(t, Restore(ctx, dir, restored, RestoreOptions{Progress: func(p Progress) { last2.Store(p) }}))
	r := last2.Load().(Progress)
	assert.Equal(t, "swap", r.Phase)
	assert.Equal(t, len(man.Files)-1, r.Files, "every file but config/manticore.conf, which is not restored")
	assert.Equal(t, r.BytesTotal, r.Bytes)
	assert.NoFileExists(t, filepath.Join(restored, "manticore.conf"))

	// a panic in Progress before the swap is committed: the data_dir is
	// as it was (empty), the restore folder gone, and the panic goes on in
	// the caller's goroutine. The first file's write waits until Progress
	// has panicked and cancelled the restore, so that it comes before the
	// commit.
	target := t.TempDir()
	cancelled := make(chan struct{})
	var once sync.Once
	defer crashpoint.Set(func(step string) error {
		switch {
		case step == "progress.panicked": // the panic has cancelled the restore
			close(cancelled)
		case strings.HasPrefix(step, "restore.write "):
			once.Do(func() { <-cancelled })
		}
		return nil
	})()
	assert.PanicsWithValue(t, "restore boom", func() {
		_ = Restore(ctx, dir, target, RestoreOptions{Progress: func(p Progress) {
			panic("restore boom")
		}})
	})
	left, err := os.ReadDir(target)
	require.NoError(t, err)
	assert.Empty(t, left)
}

// Backup keeps searchd's config file under config/ and records where it and
// the data_dir are, as SHOW SETTINGS says (manticore-2.jsonl); Restore
// does not write it into the data_dir.
func TestBackupKeepsConfigFile(t *testing.T) {
	f := newBackupFixture(t)
	ctx := context.Background()
	settings, err := f.c.Manticore().Settings(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, settings.ConfigurationFile)
	dir := filepath.Join(t.TempDir(), "bk")
	man, err := Create(ctx, f.c.Manticore(), dir, CreateOptions{Compress: true})
	require.NoError(t, err)
	assert.Equal(t, settings.ConfigurationFile, man.ConfigFile)
	assert.Equal(t, settings.DataDir, man.DataDir)
	want, err := os.ReadFile(settings.ConfigurationFile)
	require.NoError(t, err)
	var kept *ManifestFile
	for i := range man.Files {
		if man.Files[i].Path == "config/"+filepath.Base(settings.ConfigurationFile) {
			kept = &man.Files[i]
		}
	}
	require.NotNil(t, kept)
	assert.Equal(t, int64(len(want)), kept.Size)
	assert.Equal(t, sha256Hex(want), kept.SHA256)
	again, err := readManifest(dir)
	require.NoError(t, err)
	assert.Equal(t, man.ConfigFile, again.ConfigFile)
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
