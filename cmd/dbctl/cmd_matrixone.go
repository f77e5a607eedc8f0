package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/dbctl/dbctl"
	"github.com/spf13/cobra"
)

func (a *app) matrixOneCmd() *cobra.Command {
	return group("matrixone", "MatrixOne: mo_ctl (sys account, moadmin role), snapshots, PITR, restore",
		a.moFlushCmd(), a.moCheckpointCmd(), a.moPingCmd(), a.moWhoamiCmd(), a.moExecCmd(),
		a.snapshotCmd(), a.pitrCmd(), a.recoveryWindowCmd())
}

func (a *app) moctl() (*dbctl.MoCtl, error) {
	c, err := a.client("matrixone")
	if err != nil {
		return nil, err
	}
	return c.MoCtl(), nil
}

// moctlRun is the body of most MatrixOne commands: connect, apply
// --timeout, run fn.
func (a *app) moctlRun(fn func(ctx context.Context, mo *dbctl.MoCtl, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		mo, err := a.moctl()
		if err != nil {
			return err
		}
		ctx, cancel := a.opContext(cmd.Context())
		defer cancel()
		return fn(ctx, mo, args)
	}
}

// printMoCtl prints a mo_ctl answer: method and returnStrs for people, the
// decoded result (or the raw text) for scripts.
func (a *app) printMoCtl(what string, r *dbctl.MoCtlResult) {
	if a.json {
		out := map[string]any{"command": what, "method": r.Method, "raw": r.Raw}
		if r.JSON {
			out["result"] = json.RawMessage(r.Result)
		}
		if r.ReturnStrs != nil {
			out["return_strs"] = r.ReturnStrs
		}
		a.printJSON(out)
		return
	}
	if r.ReturnStrs != nil {
		a.printTable([]string{"COMMAND", "METHOD", "RESULT"}, [][]string{{what, r.Method, strings.Join(r.ReturnStrs, ",")}})
		return
	}
	fmt.Fprint(a.stdout, r.Raw)
	if !strings.HasSuffix(r.Raw, "\n") {
		fmt.Fprintln(a.stdout)
	}
}

func (a *app) moFlushCmd() *cobra.Command {
	var tableID int64 = -1
	var accountID int64 = -1
	cmd := &cobra.Command{
		Use:   "flush DB.TABLE | --table-id N [--account-id N]",
		Short: "Flush a table's blocks on the TN (mo_ctl('dn', 'flush', ...))",
		Long: `Flush a table: DB.TABLE (names are lower-cased, as MatrixOne stores them), --table-id N (the only way to
flush a table whose name contains a dot), or DB.TABLE --account-id N for another account's table (from sys).`,
		Args: rangeArgs(0, 1, "DB.TABLE or --table-id N"),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case tableID >= 0 && len(args) > 0:
				return usagef("give DB.TABLE or --table-id, not both")
			case tableID < 0 && len(args) == 0:
				return usagef("flush needs DB.TABLE or --table-id N")
			case tableID >= 0 && accountID >= 0:
				return usagef("--account-id goes with DB.TABLE, not with --table-id")
			}
			var db, table string
			if len(args) == 1 {
				var ok bool
				if db, table, ok = strings.Cut(args[0], "."); !ok || db == "" || table == "" {
					return usagef("%q is not DB.TABLE (for a table whose name has a dot, use --table-id)", args[0])
				}
			}
			mo, err := a.moctl()
			if err != nil {
				return err
			}
			ctx, cancel := a.opContext(cmd.Context())
			defer cancel()
			var r *dbctl.MoCtlResult
			what := "flush " + strings.ToLower(args0(args))
			switch {
			case tableID >= 0:
				what = "flush table id " + strconv.FormatInt(tableID, 10)
				r, err = mo.FlushTableByID(ctx, uint64(tableID))
			case accountID >= 0:
				if accountID > 1<<32-1 {
					return usagef("--account-id %d is out of range", accountID)
				}
				what += " (account " + strconv.FormatInt(accountID, 10) + ")"
				r, err = mo.FlushAccountTable(ctx, db, table, uint32(accountID))
			default:
				r, err = mo.FlushTable(ctx, db, table)
			}
			if err != nil {
				return err
			}
			a.printMoCtl(what, r)
			return nil
		},
	}
	cmd.Flags().Int64Var(&tableID, "table-id", -1, "flush by table id (mo_catalog.mo_tables rel_id)")
	cmd.Flags().Int64Var(&accountID, "account-id", -1, "account of DB.TABLE (from sys)")
	return cmd
}

func args0(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}

func (a *app) moCheckpointCmd() *cobra.Command {
	var global bool
	cmd := &cobra.Command{
		Use:   "checkpoint [--global] [--timeout 90s]",
		Short: "Force an incremental (or --global) checkpoint; --timeout, less a margin, is sent as the server's own timeout",
		Args:  noArgs,
		RunE: a.moctlRun(func(ctx context.Context, mo *dbctl.MoCtl, _ []string) error {
			var r *dbctl.MoCtlResult
			var err error
			what := "checkpoint"
			if global {
				what = "globalcheckpoint"
				r, err = mo.GlobalCheckpoint(ctx)
			} else {
				r, err = mo.IncrementalCheckpoint(ctx)
			}
			if err != nil {
				return err
			}
			a.printMoCtl(what, r)
			return nil
		}),
	}
	cmd.Flags().BoolVar(&global, "global", false, "global checkpoint")
	return cmd
}

func (a *app) moPingCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "ping",
		Short: "Ping every TN shard",
		Args:  noArgs,
		RunE: a.moctlRun(func(ctx context.Context, mo *dbctl.MoCtl, _ []string) error {
			shards, err := mo.Ping(ctx)
			if err != nil {
				return err
			}
			if a.json {
				type shard struct {
					ServiceAddress string `json:"service_address"`
					ShardID        uint64 `json:"shard_id"`
					ReplicaID      uint64 `json:"replica_id"`
					LogShardID     uint64 `json:"log_shard_id"`
				}
				out := []shard{}
				for _, s := range shards {
					out = append(out, shard{s.ServiceAddress, s.ShardID, s.ReplicaID, s.LogShardID})
				}
				a.printJSON(map[string]any{"shards": out})
				return nil
			}
			rows := make([][]string, len(shards))
			for i, s := range shards {
				rows[i] = []string{s.ServiceAddress, strconv.FormatUint(s.ShardID, 10), strconv.FormatUint(s.ReplicaID, 10), strconv.FormatUint(s.LogShardID, 10)}
			}
			a.printTable([]string{"SERVICE ADDRESS", "SHARD", "REPLICA", "LOG SHARD"}, rows)
			return nil
		}),
	}
}

func (a *app) moWhoamiCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "whoami",
		Short: "Show the session's account, user and role, and whether mo_ctl is allowed",
		Args:  noArgs,
		RunE: a.moctlRun(func(ctx context.Context, mo *dbctl.MoCtl, _ []string) error {
			id, err := mo.CheckSysAccount(ctx)
			if err != nil && !errors.Is(err, dbctl.ErrNotSysAccount) {
				return err
			}
			allowed := err == nil
			if a.json {
				a.printJSON(map[string]any{"account": id.Account, "user": id.User, "role": id.Role, "mo_ctl_allowed": allowed})
				return nil
			}
			verdict := "yes"
			if !allowed {
				verdict = "no (needs account sys with role moadmin)"
			}
			a.printTable([]string{"ACCOUNT", "USER", "ROLE", "MO_CTL ALLOWED"}, [][]string{{id.Account, id.User, id.Role, verdict}})
			return nil
		}),
	}
}

func (a *app) moExecCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "exec SERVICE COMMAND [PARAM]",
		Short: "Run any mo_ctl command, e.g. exec dn inspect catalog",
		Args:  rangeArgs(2, 3, "SERVICE COMMAND [PARAM]"),
		RunE: a.moctlRun(func(ctx context.Context, mo *dbctl.MoCtl, args []string) error {
			param := ""
			if len(args) == 3 {
				param = args[2]
			}
			r, err := mo.Exec(ctx, args[0], args[1], param)
			if err != nil {
				return err
			}
			a.printMoCtl(strings.ToLower(args[1]), r)
			return nil
		}),
	}
}
