package main

// dbctl matrixone snapshot create|list|drop|restore.

import (
	"context"
	"time"

	"github.com/dbctl/dbctl"
	"github.com/spf13/cobra"
)

func (a *app) snapshotCmd() *cobra.Command {
	return group("snapshot", "MatrixOne snapshots: create, list, drop, restore",
		a.snapshotCreateCmd(), snapshots.listCmd(a, "List the session account's snapshots, newest first"),
		snapshots.dropCmd(a, "Drop a snapshot"), a.snapshotRestoreCmd())
}

type snapshotJSON struct {
	Name      string `json:"name"`
	Timestamp string `json:"timestamp"`
	Level     string `json:"level"`
	Account   string `json:"account"`
	Database  string `json:"database"`
	Table     string `json:"table"`
}

var snapshots = recoveryObjects[dbctl.Snapshot]{
	kind: "snapshot",
	what: "a snapshot NAME",
	doc: func(s dbctl.Snapshot) any {
		return snapshotJSON{s.Name, s.Timestamp.UTC().Format(time.RFC3339Nano), string(s.Level), s.Account, s.Database, s.Table}
	},
	table: func(a *app, list []dbctl.Snapshot) {
		rows := make([][]string, len(list))
		for i, s := range list {
			rows[i] = []string{s.Name, s.Timestamp.UTC().Format("2006-01-02 15:04:05.000000000 MST"), string(s.Level), s.Account, s.Database, s.Table}
		}
		a.printTable([]string{"NAME", "TIMESTAMP", "LEVEL", "ACCOUNT", "DATABASE", "TABLE"}, rows)
	},
	list: func(ctx context.Context, c *dbctl.Client) ([]dbctl.Snapshot, error) { return c.Snapshots().List(ctx) },
	drop: func(ctx context.Context, c *dbctl.Client, name string) error { return c.Snapshots().Drop(ctx, name) },
}

func (a *app) snapshotCreateCmd() *cobra.Command {
	var tf targetFlags
	cmd := &cobra.Command{
		Use:   "create NAME [--cluster | --account ACC | --database DB [--table T]]",
		Short: "Take a snapshot (default: of the session's own account)",
		Args:  exactArgs(1, snapshots.what),
		RunE: a.recoveryRun(func(ctx context.Context, c *dbctl.Client, args []string) error {
			t, err := tf.target(false)
			if err != nil {
				return err
			}
			s, err := c.Snapshots().Create(ctx, args[0], t)
			if err != nil {
				return err
			}
			snapshots.print(a, []dbctl.Snapshot{*s}, true)
			return nil
		}),
	}
	tf.add(cmd)
	return cmd
}

func (a *app) snapshotRestoreCmd() *cobra.Command {
	var tf targetFlags
	var toAccount string
	var yes bool
	cmd := &cobra.Command{
		Use:   "restore NAME (--cluster | --account ACC [--to-account B] | --database DB [--table T]) [--yes]",
		Short: "Replace an account, database or table (or, with --cluster, every account) with its state at a snapshot",
		Long: `Restore replaces data: --database DB replaces the whole database (tables made since are dropped),
--table replaces the table's rows, --account ACC every database of the account (--to-account B: into account B,
sys only), --cluster EVERY ACCOUNT of the cluster. If --timeout passes before the server answers, the restore may
still be applied (MatrixOne runs it to the end): the error says so, and what to check. Asks for confirmation;
without a terminal, --yes is required.`,
		Args: exactArgs(1, snapshots.what),
		RunE: a.restoreRun(&yes, func(name string) (restorePlan, error) {
			t, err := tf.target(true)
			if err != nil {
				return restorePlan{}, err
			}
			opts := dbctl.SnapshotRestoreOptions{ToAccount: toAccount}
			if err := dbctl.ValidateSnapshotRestore(name, t, opts); err != nil {
				return restorePlan{}, err
			}
			p := restorePlan{what: "snapshot restore " + name, replaced: t, kind: "snapshot", target: t.String()}
			if toAccount != "" { // the snapshot of t goes into another account: that one is replaced
				p.replaced = dbctl.AccountTarget(toAccount)
				p.target = "into " + p.replaced.String() + " (snapshot of " + t.String() + ")"
				p.what += " " + p.target
			}
			p.run = func(ctx context.Context, c *dbctl.Client, name string) error {
				return c.Snapshots().Restore(ctx, name, t, opts)
			}
			return p, nil
		}),
	}
	tf.add(cmd)
	cmd.Flags().StringVar(&toAccount, "to-account", "", "restore an account snapshot into this account (sys only; refused for database and table restores)")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "confirm: data is replaced")
	return cmd
}
