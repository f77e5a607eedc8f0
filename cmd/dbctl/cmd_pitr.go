package main

// dbctl matrixone pitr create|list|alter|drop|restore.

import (
	"context"
	"strings"
	"time"

	"github.com/dbctl/dbctl"
	"github.com/spf13/cobra"
)

func (a *app) pitrCmd() *cobra.Command {
	return group("pitr", "MatrixOne point-in-time recovery: create, list, alter, drop, restore",
		a.pitrCreateCmd(), pitrs.listCmd(a, "List the session account's PITRs, newest first (times in UTC)"),
		a.pitrAlterCmd(), pitrs.dropCmd(a, "Drop a PITR (never the server's own sys_mo_catalog_pitr)"), a.pitrRestoreCmd())
}

type pitrJSON struct {
	Name     string `json:"name"`
	Created  string `json:"created"`
	Modified string `json:"modified"`
	Level    string `json:"level"`
	Account  string `json:"account"`
	Database string `json:"database"`
	Table    string `json:"table"`
	RangeN   int    `json:"range_n"`
	Unit     string `json:"range_unit"`
}

var pitrs = recoveryObjects[dbctl.PITR]{
	kind: "pitr",
	what: "a PITR NAME",
	doc: func(p dbctl.PITR) any {
		return pitrJSON{p.Name, p.Created.Format(time.RFC3339), p.Modified.Format(time.RFC3339), string(p.Level),
			p.Account, p.Database, p.Table, p.Range.N, string(p.Range.Unit)}
	},
	table: func(a *app, list []dbctl.PITR) {
		rows := make([][]string, len(list))
		for i, p := range list {
			rows[i] = []string{p.Name, p.Created.Format(time.RFC3339), p.Modified.Format(time.RFC3339), string(p.Level), p.Account, p.Database, p.Table, p.Range.String()}
		}
		a.printTable([]string{"NAME", "CREATED", "MODIFIED", "LEVEL", "ACCOUNT", "DATABASE", "TABLE", "RANGE"}, rows)
	},
	list: func(ctx context.Context, c *dbctl.Client) ([]dbctl.PITR, error) { return c.PITRs().List(ctx) },
	drop: func(ctx context.Context, c *dbctl.Client, name string) error { return c.PITRs().Drop(ctx, name) },
}

func (a *app) pitrCreateCmd() *cobra.Command {
	var tf targetFlags
	var rng string
	cmd := &cobra.Command{
		Use:   "create NAME --range N{h|d|mo|y} [--cluster | --account ACC | --database DB [--table T]]",
		Short: "Start a PITR (default: on the session's own account)",
		Args:  exactArgs(1, pitrs.what),
		RunE: a.recoveryRun(func(ctx context.Context, c *dbctl.Client, args []string) error {
			t, err := tf.target(false)
			if err != nil {
				return err
			}
			r, err := dbctl.ParseRange(rng)
			if err != nil {
				return &dbctl.OpError{Op: "pitr create " + args[0], Err: err}
			}
			p, err := c.PITRs().Create(ctx, args[0], t, r)
			if err != nil {
				return err
			}
			pitrs.print(a, []dbctl.PITR{*p}, true)
			return nil
		}),
	}
	tf.add(cmd)
	addRangeFlag(cmd, &rng, "how far back: N and a unit h, d, mo or y (1-100), e.g. 7d")
	return cmd
}

func (a *app) pitrAlterCmd() *cobra.Command {
	var rng string
	cmd := &cobra.Command{
		Use:   "alter NAME --range N{h|d|mo|y}",
		Short: "Change a PITR's range",
		Args:  exactArgs(1, pitrs.what),
		RunE: a.recoveryRun(func(ctx context.Context, c *dbctl.Client, args []string) error {
			r, err := dbctl.ParseRange(rng)
			if err != nil {
				return &dbctl.OpError{Op: "pitr alter " + args[0], Err: err}
			}
			if err := c.PITRs().Alter(ctx, args[0], r); err != nil {
				return err
			}
			return a.printDone("altered", "pitr", strings.ToLower(args[0]), "range "+r.String())
		}),
	}
	addRangeFlag(cmd, &rng, "new range: N and a unit h, d, mo or y (1-100)")
	return cmd
}

// addRangeFlag adds the required --range of pitr create and alter.
func addRangeFlag(cmd *cobra.Command, rng *string, usage string) {
	cmd.Flags().StringVar(rng, "range", "", usage)
	_ = cmd.MarkFlagRequired("range")
}

// parseAt reads --at: RFC 3339 (with its zone), "YYYY-MM-DD HH:MM:SS[.f]"
// (UTC), or a negative duration before now ("-15m").
func parseAt(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "-") {
		d, err := time.ParseDuration(s)
		if err == nil {
			return now.Add(d), nil
		}
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation("2006-01-02 15:04:05", s, time.UTC); err == nil {
		return t, nil
	}
	return time.Time{}, usagef("--at %q: want RFC 3339 (2026-11-30T23:38:40Z, 2026-12-01T07:38:40+08:00), \"YYYY-MM-DD HH:MM:SS\" in UTC, or a duration before now such as -15m", s)
}

func (a *app) pitrRestoreCmd() *cobra.Command {
	var tf targetFlags
	var at string
	var yes bool
	cmd := &cobra.Command{
		Use:   "restore NAME --at TIME (--cluster | --account ACC | --database DB [--table T]) [--yes]",
		Short: "Replace an account, database or table (or, with --cluster, every account) with its state at a time",
		Long: `Restore replaces data with its state at --at: --database DB the whole database (tables made since are
dropped), --table its rows, --account ACC every database of the account (your own account: give its name),
--cluster EVERY ACCOUNT of the cluster. --at is RFC 3339 with a zone, "YYYY-MM-DD HH:MM:SS[.f]" in UTC, or a
duration before now (-15m); it is sent as the wall clock of the server's own zone at that instant (a time
the server would read as another instant, in the hour that repeats when the clocks go back, is refused).
If --timeout passes before the server answers, the restore may still be applied: the error says so, and what
to check. Asks for confirmation; without a terminal, --yes is required.`,
		Args: exactArgs(1, pitrs.what),
		RunE: a.restoreRun(&yes, func(name string) (restorePlan, error) {
			t, err := tf.target(true)
			if err != nil {
				return restorePlan{}, err
			}
			if at == "" {
				return restorePlan{}, usagef("pitr restore needs --at TIME")
			}
			when, err := parseAt(at, time.Now())
			if err != nil {
				return restorePlan{}, err
			}
			if err := dbctl.ValidatePITRRestore(name, when, t); err != nil {
				return restorePlan{}, err
			}
			stamp := " at " + when.UTC().Format(time.RFC3339Nano)
			return restorePlan{what: "pitr restore " + name + stamp, replaced: t, kind: "pitr", target: t.String() + stamp,
				run: func(ctx context.Context, c *dbctl.Client, name string) error {
					return c.PITRs().Restore(ctx, name, when, t)
				}}, nil
		}),
	}
	tf.add(cmd)
	cmd.Flags().StringVar(&at, "at", "", "the time to restore to")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "confirm: data is replaced")
	return cmd
}
