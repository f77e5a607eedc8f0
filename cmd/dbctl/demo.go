package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/dbctl/dbctl/dbctltest"
	"github.com/spf13/cobra"
)

// demoStep is one command of the demo; wantFail marks a step that shows an
// error on purpose.
type demoStep struct {
	args     []string
	wantFail bool
}

func (a *app) demoCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "Run every command against embedded demo servers (no database needed)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			mt, err := dbctltest.StartManticore()
			if err != nil {
				return err
			}
			defer mt.Close()
			mo, err := dbctltest.StartMatrixOne()
			if err != nil {
				return err
			}
			defer mo.Close()
			if err := seed(mt.DSN(), manticoreDemo); err != nil {
				return err
			}
			if err := seed(mo.DSN(), matrixOneDemo); err != nil {
				return err
			}
			tmp, err := os.MkdirTemp("", "dbctl-demo-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(tmp)
			bk, bkz, restored := filepath.Join(tmp, "backup"), filepath.Join(tmp, "backup-zstd"), filepath.Join(tmp, "restored")
			m := func(args ...string) demoStep {
				return demoStep{args: append([]string{"--dsn", mt.DSN(), "manticore"}, args...)}
			}
			x := func(args ...string) demoStep {
				return demoStep{args: append([]string{"--dsn", mo.DSN(), "matrixone"}, args...)}
			}
			fail := func(s demoStep) demoStep { s.wantFail = true; return s }
			steps := []demoStep{
				{args: []string{"version"}},
				m("freeze", "products"), m("locks"), m("status", "products"), m("unfreeze", "products"),
				m("flush", "attributes"), m("flush", "hostnames"), m("flush", "ramchunk", "products"), m("flush", "table", "products"),
				m("optimize", "products", "--cutoff", "1", "--sync"),
				m("backup", "--dir", bk), m("verify", bk),
				m("backup", "--dir", bkz, "--compress", "--tables", "products"),
				m("import", bkz, "products", "--as", "products_copy"),
				m("restore", bk, "--data-dir", restored),
				fail(m("freeze", "no_such_table")),
				x("whoami"), x("flush", "shop.orders"), x("checkpoint"), x("checkpoint", "--global", "--timeout", "30s"),
				x("ping"), x("exec", "dn", "inspect", ""),
				fail(x("flush", "nodb.t")),
				x("snapshot", "create", "demo_snap", "--database", "shop"), x("snapshot", "list"),
				x("pitr", "create", "demo_pitr", "--database", "shop", "--range", "7d"), x("pitr", "alter", "demo_pitr", "--range", "30d"),
				x("pitr", "list"), x("recovery-window", "--database", "shop"),
				x("snapshot", "restore", "demo_snap", "--database", "shop", "--yes"),
				x("pitr", "restore", "demo_pitr", "--at", "-0s", "--table", "orders", "--database", "shop", "--yes"),
				fail(x("pitr", "drop", "sys_mo_catalog_pitr")),
				x("pitr", "drop", "demo_pitr"), x("snapshot", "drop", "demo_snap"),
			}
			failed := 0
			for _, s := range steps {
				fmt.Fprintf(a.stdout, "$ dbctl %s\n", demoLine(s.args))
				args := append([]string{"--quiet"}, s.args...)
				if a.json {
					args = append([]string{"--json"}, args...)
				}
				code := newApp(a.stdout, a.stdout).execute(cmd.Context(), args)
				if (code != exitOK) != s.wantFail {
					failed++
					fmt.Fprintf(a.stdout, "(unexpected exit code %d)\n", code)
				}
				fmt.Fprintln(a.stdout)
			}
			if failed > 0 {
				return fmt.Errorf("demo: %d steps did not go as expected", failed)
			}
			return nil
		},
	}
}

// demoLine shows a step without its DSN (the embedded servers' ports change
// from run to run) and with empty arguments quoted.
func demoLine(args []string) string {
	var out []string
	for i := 0; i < len(args); i++ {
		if args[i] == "--dsn" {
			i++
			continue
		}
		if args[i] == "" {
			out = append(out, "''")
			continue
		}
		out = append(out, args[i])
	}
	return strings.Join(out, " ")
}
