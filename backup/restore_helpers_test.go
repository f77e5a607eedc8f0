//go:build unix

package backup

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// tree is a folder's content: for each path under it, its kind, permission
// bits, owner, and for files size and sha256, for links the target.
type tree map[string]string

// treeOf hashes everything under root (root itself excluded).
func treeOf(t testing.TB, root string) tree {
	t.Helper()
	out := tree{}
	require.NoError(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		head := fmt.Sprintf("%s %#o uid=%d gid=%d", fi.Mode().Type(), fi.Mode().Perm(), st.Uid, st.Gid)
		switch {
		case fi.Mode().IsRegular():
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			h := sha256.New()
			n, err := io.Copy(h, f)
			f.Close()
			if err != nil {
				return err
			}
			out[rel] = fmt.Sprintf("%s size=%d sha256=%s", head, n, hex.EncodeToString(h.Sum(nil)))
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			out[rel] = head + " -> " + target
		default:
			out[rel] = head
		}
		return nil
	}))
	return out
}

// diff renders what differs between two trees, for failure messages.
func (a tree) diff(b tree) string {
	var lines []string
	for p, v := range a {
		if w, ok := b[p]; !ok {
			lines = append(lines, "- "+p+" "+v)
		} else if w != v {
			lines = append(lines, "~ "+p+" "+v+" => "+w)
		}
	}
	for p, w := range b {
		if _, ok := a[p]; !ok {
			lines = append(lines, "+ "+p+" "+w)
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// requireTree fails unless dir holds exactly want.
func requireTree(t testing.TB, want tree, dir, msg string) {
	t.Helper()
	got := treeOf(t, dir)
	if d := want.diff(got); d != "" {
		t.Fatalf("%s: %s differs:\n%s", msg, dir, d)
	}
}

// copyTree copies src to dst (which must not exist) with the permission
// bits of every file and folder.
func copyTree(t testing.TB, src, dst string) {
	t.Helper()
	require.NoError(t, filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			if err := os.Mkdir(to, 0o700); err != nil {
				return err
			}
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.WriteFile(to, b, 0o600); err != nil {
			return err
		}
		return os.Chmod(to, fi.Mode().Perm())
	}))
	// folder bits last, once their files are in
	require.NoError(t, filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		return os.Chmod(filepath.Join(dst, rel), fi.Mode().Perm())
	}))
}

// restoreFolders lists the restore folders left in dataDir.
func restoreFolders(t testing.TB, dataDir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dataDir)
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), restorePrefix) {
			out = append(out, e.Name())
		}
	}
	return out
}

// newerDataDir makes, from a restore of backup dir, a data_dir holding
// newer data than the backup: an extra table (folder and manticore.json
// entry), an extra disk chunk of table a, a binary log, and a changed
// state.sql; a table folder is 0700 there.
func newerDataDir(t testing.TB, backupDir, dataDir string) {
	t.Helper()
	require.NoError(t, Restore(t.Context(), backupDir, dataDir, RestoreOptions{}))
	for p, content := range map[string]string{
		"newer/newer.meta":    "meta of a table made after the backup",
		"newer/newer.0.spd":   "its disk chunk",
		"a/a.9.spd":           "a disk chunk made after the backup",
		"a/a.9.spa":           "its attributes",
		"binlog/binlog.001":   "a binary log searchd would replay",
		"binlog/binlog.meta":  "SPLI",
		"state.sql":           "SET GLOBAL newer = 1;\n",
		"manticore.json.bak":  "{}",
		"unrelated-top-level": "not searchd's, still replaced",
	} {
		p = filepath.Join(dataDir, filepath.FromSlash(p))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o640))
	}
	require.NoError(t, os.Chmod(filepath.Join(dataDir, "newer"), 0o700))
	b, err := os.ReadFile(filepath.Join(dataDir, "manticore.json"))
	require.NoError(t, err)
	b = append(b, "\n\n"...) // still valid JSON, other bytes
	require.NoError(t, os.WriteFile(filepath.Join(dataDir, "manticore.json"), b, 0o644))
}
