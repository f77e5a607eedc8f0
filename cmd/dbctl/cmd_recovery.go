package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/dbctl/dbctl"
	"github.com/spf13/cobra"
)

// MatrixOne recovery commands: snapshot, pitr, recovery-window.

// stdin and stdinIsTerminal are the confirmation prompt's input; tests
// replace them.
var (
	stdin           io.Reader = os.Stdin
	stdinIsTerminal           = func() bool { return stdinTerminal(os.Stdin) }
)

// targetFlags are the target of a recovery command: --cluster, --account
// ACC, --database DB [--table T]; none is the caller's own account.
type targetFlags struct {
	cluster         bool
	account, db, tb string
}

func (f *targetFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.BoolVar(&f.cluster, "cluster", false, "the whole cluster: every account (sys only)")
	fl.StringVar(&f.account, "account", "", "an account (default: the session's own account)")
	fl.StringVar(&f.db, "database", "", "a database of the session's account")
	fl.StringVar(&f.tb, "table", "", "a table of --database")
}

// target builds the Target; explicit requires one of the flags (restores
// never default to anything).
func (f *targetFlags) target(explicit bool) (dbctl.Target, error) {
	n := 0
	for _, set := range []bool{f.cluster, f.account != "", f.db != ""} {
		if set {
			n++
		}
	}
	switch {
	case n > 1:
		return dbctl.Target{}, usagef("give one of --cluster, --account, --database")
	case f.tb != "" && f.db == "":
		return dbctl.Target{}, usagef("--table needs --database")
	case f.cluster:
		return dbctl.ClusterTarget(), nil
	case f.db != "" && f.tb != "":
		return dbctl.TableTarget(f.db, f.tb), nil
	case f.db != "":
		return dbctl.DatabaseTarget(f.db), nil
	case f.account != "":
		return dbctl.AccountTarget(f.account), nil
	case explicit:
		return dbctl.Target{}, usagef("a restore needs its target: --cluster, --account ACC (your own account by name), or --database DB [--table T]")
	}
	return dbctl.AccountTarget(""), nil
}

// recoveryRun connects, applies --timeout and runs fn.
func (a *app) recoveryRun(fn func(ctx context.Context, c *dbctl.Client, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		c, err := a.client("matrixone")
		if err != nil {
			return err
		}
		ctx, cancel := a.opContext(cmd.Context())
		defer cancel()
		return fn(ctx, c, args)
	}
}

func (a *app) printDone(verb, kind, name, target string) error {
	if a.json {
		doc := map[string]any{verb: map[string]string{"kind": kind, "name": name}}
		if target != "" {
			doc[verb].(map[string]string)["target"] = target
		}
		a.printJSON(doc)
		return nil
	}
	line := strings.ToUpper(verb[:1]) + verb[1:] + " " + kind + " " + name
	if target != "" {
		line += " -> " + target
	}
	fmt.Fprintln(a.stdout, line)
	return nil
}

// recoveryObjects prints one kind of recovery object (snapshots, PITRs)
// and builds the commands that are the same for every kind: list and drop.
type recoveryObjects[T any] struct {
	kind  string                 // "snapshot", "pitr"; the JSON key of one, kind+"s" of a list
	what  string                 // the NAME argument: "a snapshot NAME"
	doc   func(T) any            // the JSON document of one
	table func(a *app, list []T) // the table of a list
	drop  func(context.Context, *dbctl.Client, string) error
	list  func(context.Context, *dbctl.Client) ([]T, error)
}

// print prints list: under kind+"s" with --json (one=false), or under kind
// as one object (one=true), else as a table.
func (o recoveryObjects[T]) print(a *app, list []T, one bool) {
	switch {
	case a.json && one:
		a.printJSON(map[string]any{o.kind: o.doc(list[0])})
	case a.json:
		out := []any{}
		for _, v := range list {
			out = append(out, o.doc(v))
		}
		a.printJSON(map[string]any{o.kind + "s": out})
	default:
		o.table(a, list)
	}
}

func (o recoveryObjects[T]) listCmd(a *app, short string) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: short,
		Args:  noArgs,
		RunE: a.recoveryRun(func(ctx context.Context, c *dbctl.Client, _ []string) error {
			list, err := o.list(ctx, c)
			if err != nil {
				return err
			}
			o.print(a, list, false)
			return nil
		}),
	}
}

func (o recoveryObjects[T]) dropCmd(a *app, short string) *cobra.Command {
	return &cobra.Command{
		Use:   "drop NAME",
		Short: short,
		Args:  exactArgs(1, o.what),
		RunE: a.recoveryRun(func(ctx context.Context, c *dbctl.Client, args []string) error {
			if err := o.drop(ctx, c, args[0]); err != nil {
				return err
			}
			return a.printDone("dropped", o.kind, strings.ToLower(args[0]), "")
		}),
	}
}

// restorePlan is a restore checked and described before anything is asked
// or sent: what runs, what it replaces, and how it is reported.
type restorePlan struct {
	// what names the restore in the prompt and the refusals
	// ("snapshot restore snap1 into account acc2").
	what string
	// replaced says whose data is replaced ("account acc2").
	replaced dbctl.Target
	// kind and target are the result line's: "Restored KIND NAME -> TARGET".
	kind, target string
	run          func(ctx context.Context, c *dbctl.Client, name string) error
}

// restoreRun is the RunE of a restore command: plan checks the input
// (flags and the SDK's own validation, no connection), then the restore is
// confirmed, then it connects and runs. A bad input is therefore reported
// as itself, never as a missing --yes.
func (a *app) restoreRun(yes *bool, plan func(name string) (restorePlan, error)) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		p, err := plan(args[0])
		if err != nil {
			return err
		}
		if err := a.confirmRestore(*yes, p.what, p.replaced); err != nil {
			return err
		}
		return a.recoveryRun(func(ctx context.Context, c *dbctl.Client, args []string) error {
			if err := p.run(ctx, c, args[0]); err != nil {
				return err
			}
			return a.printDone("restored", p.kind, strings.ToLower(args[0]), p.target)
		})(cmd, args)
	}
}

// confirmRestore asks before a restore: --yes, or an answer "yes" on a
// terminal. Without a terminal and without --yes it refuses (exit 2).
// replaced is what the restore replaces.
func (a *app) confirmRestore(yes bool, what string, replaced dbctl.Target) error {
	if yes {
		return nil
	}
	data := "the data of " + replaced.String()
	if replaced.Level == dbctl.LevelCluster {
		data = "the data of EVERY ACCOUNT of the cluster"
	}
	return a.confirm(what, data, "nothing was sent")
}

// confirm asks on a terminal whether what, which replaces data, goes on;
// an answer other than "yes" refuses, saying nothing (what was not done).
// Without a terminal it refuses with a usage error (exit 2): pass --yes.
func (a *app) confirm(what, data, nothing string) error {
	if !stdinIsTerminal() {
		return usagef("%s replaces %s and stdin is not a terminal to confirm it: pass --yes", what, data)
	}
	fmt.Fprintf(a.stderr, "%s replaces %s. Type yes to go on: ", what, data)
	line, _ := bufio.NewReader(stdin).ReadString('\n')
	if strings.TrimSpace(strings.ToLower(line)) != "yes" {
		return fmt.Errorf("%s: not confirmed, %s", what, nothing)
	}
	return nil
}

func (a *app) recoveryWindowCmd() *cobra.Command {
	var tf targetFlags
	cmd := &cobra.Command{
		Use:   "recovery-window [--account ACC | --database DB [--table T]]",
		Short: "Show, per table, the snapshots and PITR ranges it can be restored from",
		Args:  noArgs,
		RunE: a.recoveryRun(func(ctx context.Context, c *dbctl.Client, _ []string) error {
			t, err := tf.target(false)
			if err != nil {
				return err
			}
			ws, err := c.PITRs().RecoveryWindow(ctx, t)
			if err != nil {
				return err
			}
			if a.json {
				type snap struct {
					Name      string `json:"name"`
					Timestamp string `json:"timestamp"`
				}
				type pitr struct {
					Name  string `json:"name"`
					Start string `json:"start"`
					End   string `json:"end"`
				}
				type window struct {
					Level     string `json:"level"`
					Account   string `json:"account"`
					Database  string `json:"database"`
					Table     string `json:"table"`
					Snapshots []snap `json:"snapshots"`
					PITRs     []pitr `json:"pitrs"`
				}
				out := []window{}
				for _, w := range ws {
					d := window{Level: string(w.Level), Account: w.Account, Database: w.Database, Table: w.Table, Snapshots: []snap{}, PITRs: []pitr{}}
					for _, s := range w.Snapshots {
						d.Snapshots = append(d.Snapshots, snap{s.Name, s.Timestamp.UTC().Format(time.RFC3339Nano)})
					}
					for _, p := range w.PITRs {
						d.PITRs = append(d.PITRs, pitr{p.Name, p.Start.Format(time.RFC3339Nano), p.End.Format(time.RFC3339Nano)})
					}
					out = append(out, d)
				}
				a.printJSON(map[string]any{"windows": out})
				return nil
			}
			var rows [][]string
			for _, w := range ws {
				for _, s := range w.Snapshots {
					rows = append(rows, []string{w.Account, w.Database, w.Table, "snapshot", s.Name, s.Timestamp.UTC().Format(time.RFC3339), ""})
				}
				for _, p := range w.PITRs {
					rows = append(rows, []string{w.Account, w.Database, w.Table, "pitr", p.Name, p.Start.Format(time.RFC3339), p.End.Format(time.RFC3339)})
				}
			}
			a.printTable([]string{"ACCOUNT", "DATABASE", "TABLE", "SOURCE", "NAME", "FROM", "TO"}, rows)
			return nil
		}),
	}
	tf.add(cmd)
	return cmd
}
