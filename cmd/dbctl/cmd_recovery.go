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

func (a *app) snapshotCmd() *cobra.Command {
	return group("snapshot", "MatrixOne snapshots: create, list, drop, restore",
		a.snapshotCreateCmd(), a.snapshotListCmd(), a.snapshotDropCmd(), a.snapshotRestoreCmd())
}

func (a *app) pitrCmd() *cobra.Command {
	return group("pitr", "MatrixOne point-in-time recovery: create, list, alter, drop, restore",
		a.pitrCreateCmd(), a.pitrListCmd(), a.pitrAlterCmd(), a.pitrDropCmd(), a.pitrRestoreCmd())
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

type snapshotJSON struct {
	Name      string `json:"name"`
	Timestamp string `json:"timestamp"`
	Level     string `json:"level"`
	Account   string `json:"account"`
	Database  string `json:"database"`
	Table     string `json:"table"`
}

func snapshotDoc(s dbctl.Snapshot) snapshotJSON {
	return snapshotJSON{s.Name, s.Timestamp.UTC().Format(time.RFC3339Nano), string(s.Level), s.Account, s.Database, s.Table}
}

func (a *app) printSnapshots(list []dbctl.Snapshot) {
	rows := make([][]string, len(list))
	for i, s := range list {
		rows[i] = []string{s.Name, s.Timestamp.UTC().Format("2006-01-02 15:04:05.000000000 MST"), string(s.Level), s.Account, s.Database, s.Table}
	}
	a.printTable([]string{"NAME", "TIMESTAMP", "LEVEL", "ACCOUNT", "DATABASE", "TABLE"}, rows)
}

func (a *app) snapshotCreateCmd() *cobra.Command {
	var tf targetFlags
	cmd := &cobra.Command{
		Use:   "create NAME [--cluster | --account ACC | --database DB [--table T]]",
		Short: "Take a snapshot (default: of the session's own account)",
		Args:  exactArgs(1, "a snapshot NAME"),
		RunE: a.recoveryRun(func(ctx context.Context, c *dbctl.Client, args []string) error {
			t, err := tf.target(false)
			if err != nil {
				return err
			}
			s, err := c.Snapshots().Create(ctx, args[0], t)
			if err != nil {
				return err
			}
			if a.json {
				a.printJSON(map[string]any{"snapshot": snapshotDoc(*s)})
				return nil
			}
			a.printSnapshots([]dbctl.Snapshot{*s})
			return nil
		}),
	}
	tf.add(cmd)
	return cmd
}

func (a *app) snapshotListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the session account's snapshots, newest first",
		Args:  noArgs,
		RunE: a.recoveryRun(func(ctx context.Context, c *dbctl.Client, _ []string) error {
			list, err := c.Snapshots().List(ctx)
			if err != nil {
				return err
			}
			if a.json {
				out := []snapshotJSON{}
				for _, s := range list {
					out = append(out, snapshotDoc(s))
				}
				a.printJSON(map[string]any{"snapshots": out})
				return nil
			}
			a.printSnapshots(list)
			return nil
		}),
	}
}

func (a *app) snapshotDropCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "drop NAME",
		Short: "Drop a snapshot",
		Args:  exactArgs(1, "a snapshot NAME"),
		RunE: a.recoveryRun(func(ctx context.Context, c *dbctl.Client, args []string) error {
			if err := c.Snapshots().Drop(ctx, args[0]); err != nil {
				return err
			}
			return a.printDone("dropped", "snapshot", strings.ToLower(args[0]), "")
		}),
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

// confirmRestore asks before a restore: --yes, or an answer "yes" on a
// terminal. Without a terminal and without --yes it refuses (exit 2).
func (a *app) confirmRestore(yes bool, what string, t dbctl.Target) error {
	if yes {
		return nil
	}
	replaced := "the data of " + t.String()
	if t.Level == dbctl.LevelCluster {
		replaced = "the data of EVERY ACCOUNT of the cluster"
	}
	if !stdinIsTerminal() {
		return usagef("%s replaces %s and stdin is not a terminal to confirm it: pass --yes", what, replaced)
	}
	fmt.Fprintf(a.stderr, "%s replaces %s. Type yes to go on: ", what, replaced)
	line, _ := bufio.NewReader(stdin).ReadString('\n')
	if strings.TrimSpace(strings.ToLower(line)) != "yes" {
		return fmt.Errorf("%s: not confirmed, nothing was sent", what)
	}
	return nil
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
sys only), --cluster EVERY ACCOUNT of the cluster. Asks for confirmation; without a terminal, --yes is required.`,
		Args: exactArgs(1, "a snapshot NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			// the target and the confirmation come before connecting
			t, err := tf.target(true)
			if err != nil {
				return err
			}
			if err := a.confirmRestore(yes, "snapshot restore "+args[0], t); err != nil {
				return err
			}
			return a.recoveryRun(func(ctx context.Context, c *dbctl.Client, args []string) error {
				if err := c.Snapshots().Restore(ctx, args[0], t, dbctl.SnapshotRestoreOptions{ToAccount: toAccount}); err != nil {
					return err
				}
				return a.printDone("restored", "snapshot", strings.ToLower(args[0]), t.String())
			})(cmd, args)
		},
	}
	tf.add(cmd)
	cmd.Flags().StringVar(&toAccount, "to-account", "", "restore an account snapshot into this account (sys only; refused for database and table restores)")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "confirm: data is replaced")
	return cmd
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

func pitrDoc(p dbctl.PITR) pitrJSON {
	return pitrJSON{p.Name, p.Created.Format(time.RFC3339), p.Modified.Format(time.RFC3339), string(p.Level),
		p.Account, p.Database, p.Table, p.Range.N, string(p.Range.Unit)}
}

func (a *app) printPITRs(list []dbctl.PITR) {
	rows := make([][]string, len(list))
	for i, p := range list {
		rows[i] = []string{p.Name, p.Created.Format(time.RFC3339), p.Modified.Format(time.RFC3339), string(p.Level), p.Account, p.Database, p.Table, p.Range.String()}
	}
	a.printTable([]string{"NAME", "CREATED", "MODIFIED", "LEVEL", "ACCOUNT", "DATABASE", "TABLE", "RANGE"}, rows)
}

func (a *app) pitrCreateCmd() *cobra.Command {
	var tf targetFlags
	var rng string
	cmd := &cobra.Command{
		Use:   "create NAME --range N{h|d|mo|y} [--cluster | --account ACC | --database DB [--table T]]",
		Short: "Start a PITR (default: on the session's own account)",
		Args:  exactArgs(1, "a PITR NAME"),
		RunE: a.recoveryRun(func(ctx context.Context, c *dbctl.Client, args []string) error {
			t, err := tf.target(false)
			if err != nil {
				return err
			}
			r, err := dbctl.ParseRange(rng)
			if err != nil {
				return err
			}
			p, err := c.PITRs().Create(ctx, args[0], t, r)
			if err != nil {
				return err
			}
			if a.json {
				a.printJSON(map[string]any{"pitr": pitrDoc(*p)})
				return nil
			}
			a.printPITRs([]dbctl.PITR{*p})
			return nil
		}),
	}
	tf.add(cmd)
	cmd.Flags().StringVar(&rng, "range", "", "how far back: N and a unit h, d, mo or y (1-100), e.g. 7d")
	_ = cmd.MarkFlagRequired("range")
	return cmd
}

func (a *app) pitrListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the session account's PITRs, newest first (times in the server's zone)",
		Args:  noArgs,
		RunE: a.recoveryRun(func(ctx context.Context, c *dbctl.Client, _ []string) error {
			list, err := c.PITRs().List(ctx)
			if err != nil {
				return err
			}
			if a.json {
				out := []pitrJSON{}
				for _, p := range list {
					out = append(out, pitrDoc(p))
				}
				a.printJSON(map[string]any{"pitrs": out})
				return nil
			}
			a.printPITRs(list)
			return nil
		}),
	}
}

func (a *app) pitrAlterCmd() *cobra.Command {
	var rng string
	cmd := &cobra.Command{
		Use:   "alter NAME --range N{h|d|mo|y}",
		Short: "Change a PITR's range",
		Args:  exactArgs(1, "a PITR NAME"),
		RunE: a.recoveryRun(func(ctx context.Context, c *dbctl.Client, args []string) error {
			r, err := dbctl.ParseRange(rng)
			if err != nil {
				return err
			}
			if err := c.PITRs().Alter(ctx, args[0], r); err != nil {
				return err
			}
			return a.printDone("altered", "pitr", strings.ToLower(args[0]), "range "+r.String())
		}),
	}
	cmd.Flags().StringVar(&rng, "range", "", "new range: N and a unit h, d, mo or y (1-100)")
	_ = cmd.MarkFlagRequired("range")
	return cmd
}

func (a *app) pitrDropCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "drop NAME",
		Short: "Drop a PITR (never the server's own sys_mo_catalog_pitr)",
		Args:  exactArgs(1, "a PITR NAME"),
		RunE: a.recoveryRun(func(ctx context.Context, c *dbctl.Client, args []string) error {
			if err := c.PITRs().Drop(ctx, args[0]); err != nil {
				return err
			}
			return a.printDone("dropped", "pitr", strings.ToLower(args[0]), "")
		}),
	}
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
duration before now (-15m); it is sent in the server's own zone. Asks for confirmation; without a terminal,
--yes is required.`,
		Args: exactArgs(1, "a PITR NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			// the target, the time and the confirmation come before connecting
			t, err := tf.target(true)
			if err != nil {
				return err
			}
			if at == "" {
				return usagef("pitr restore needs --at TIME")
			}
			when, err := parseAt(at, time.Now())
			if err != nil {
				return err
			}
			if err := a.confirmRestore(yes, "pitr restore "+args[0]+" at "+when.UTC().Format(time.RFC3339Nano), t); err != nil {
				return err
			}
			return a.recoveryRun(func(ctx context.Context, c *dbctl.Client, args []string) error {
				if err := c.PITRs().Restore(ctx, args[0], when, t); err != nil {
					return err
				}
				return a.printDone("restored", "pitr", strings.ToLower(args[0]), t.String()+" at "+when.UTC().Format(time.RFC3339Nano))
			})(cmd, args)
		},
	}
	tf.add(cmd)
	cmd.Flags().StringVar(&at, "at", "", "the time to restore to")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "confirm: data is replaced")
	return cmd
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
