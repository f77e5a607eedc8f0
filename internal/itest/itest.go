// Package itest holds what the end-to-end tests of more than one package
// share (the root package's and package backup's integration tests): the
// Manticore under test (the embedded server of dbctltest, or a real searchd
// when DBCTL_MANTICORE_DSN is set), unique table names, clients that close
// when the test ends, and folders a searchd running as another user can
// read. Only test code imports it.
package itest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/dbctl/dbctl"
	"github.com/dbctl/dbctl/dbctltest"
	"github.com/stretchr/testify/require"
)

// ManticoreTarget is the Manticore a test runs against.
type ManticoreTarget struct {
	DSN string
	Srv *dbctltest.Manticore // nil for a real server
}

// NewManticoreTarget returns the real searchd of DBCTL_MANTICORE_DSN when
// it is set, else a new embedded server closed when the test ends.
func NewManticoreTarget(t *testing.T) ManticoreTarget {
	if dsn := os.Getenv("DBCTL_MANTICORE_DSN"); dsn != "" {
		return ManticoreTarget{DSN: dsn}
	}
	s := dbctltest.NewManticore(t)
	return ManticoreTarget{DSN: s.DSN(), Srv: s}
}

// NeedEmbedded skips the test against a real server.
func (m ManticoreTarget) NeedEmbedded(t *testing.T) {
	if m.Srv == nil {
		t.Skip("fault injection needs the embedded server")
	}
}

// UniqueName returns prefix and 8 random hex digits.
func UniqueName(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// OpenClient opens a Client on dsn, closed when the test ends; opts (at
// most one) configure it.
func OpenClient(t *testing.T, dsn string, opts ...dbctl.Options) *dbctl.Client {
	var o *dbctl.Options
	if len(opts) > 0 {
		o = &opts[0]
	}
	c, err := dbctl.Open(dsn, o)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// ExecAll runs each statement on db, failing the test at the first error.
func ExecAll(t *testing.T, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		_, err := db.Exec(s)
		require.NoError(t, err, s)
	}
}

// RTTable creates an RT table with rows in a disk chunk and in RAM, and
// drops it when the test ends.
func RTTable(t *testing.T, c *dbctl.Client) string {
	name := UniqueName("dbctl_it_")
	ExecAll(t, c.DB(),
		"CREATE TABLE "+name+"(title text, gid int, price float)",
		"INSERT INTO "+name+"(id,title,gid,price) VALUES (1,'one',10,1.5),(2,'two',20,2.5)",
		"FLUSH RAMCHUNK "+name,
		"INSERT INTO "+name+"(id,title,gid,price) VALUES (3,'three',30,3.5)")
	DropTable(t, c, name)
	return name
}

// Locked returns the table's FREEZE counter (SHOW TABLE t STATUS,
// "locked").
func Locked(t *testing.T, c *dbctl.Client, table string) int {
	t.Helper()
	st, err := c.Manticore().TableStatus(context.Background(), table)
	require.NoError(t, err)
	return st.Locked
}

// SharedTempDir is a folder a searchd running as another user can read
// (t.TempDir is 0700 and owned by the test's user).
func SharedTempDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "dbctl-it-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o755))
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// DropTable unfreezes (up to 10 times) and drops the table when the test
// ends, so a real server is left as it was.
func DropTable(t *testing.T, c *dbctl.Client, name string) {
	t.Cleanup(func() {
		for i := 0; i < 10; i++ {
			_, _ = c.DB().Exec("UNFREEZE " + name)
		}
		_, _ = c.DB().Exec("DROP TABLE IF EXISTS " + name)
	})
}

// FileTree maps every path under root (root itself excluded; dot entries
// too) to its mode bits and, for regular files, the sha256 of their bytes:
// two trees are equal when a restore left them byte for byte alike.
func FileTree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	require.NoError(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		v := fi.Mode().String()
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			v += " " + hex.EncodeToString(sum[:])
		}
		out[rel] = v
		return nil
	}))
	return out
}
