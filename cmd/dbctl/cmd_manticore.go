package main

import (
	"context"
	"sort"
	"strconv"
	"strings"

	"github.com/dbctl/dbctl"
	"github.com/spf13/cobra"
)

func (a *app) manticoreCmd() *cobra.Command {
	cmd := group("manticore", "Manticore Search table control, backup and restore",
		a.freezeCmd(), a.unfreezeCmd(), a.locksCmd(), a.statusCmd(), a.flushCmd(), a.optimizeCmd(),
		a.backupCmd(), a.verifyCmd(), a.restoreCmd(), a.importCmd(), a.backupsCmd(), a.pruneCmd(),
	)
	cmd.PersistentFlags().StringVar(&a.stateDir, "state-dir", "",
		"folder of the freeze journal, shared by every dbctl on this machine (default $XDG_STATE_HOME/dbctl, else ~/.local/state/dbctl)")
	return cmd
}

// manticore returns the manager on a connected client.
func (a *app) manticore() (*dbctl.Manticore, error) {
	c, err := a.client("manticore")
	if err != nil {
		return nil, err
	}
	return c.Manticore(), nil
}

// manticoreRun is the body of most Manticore commands: connect, apply
// --timeout, run fn.
func (a *app) manticoreRun(fn func(ctx context.Context, m *dbctl.Manticore, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		m, err := a.manticore()
		if err != nil {
			return err
		}
		ctx, cancel := a.opContext(cmd.Context())
		defer cancel()
		return fn(ctx, m, args)
	}
}

func (a *app) freezeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "freeze TABLE...",
		Short: "FREEZE tables and print the files to copy (they stay frozen: unfreeze them when done)",
		Long: `FREEZE tables and print the files to copy. They stay frozen, on purpose: unfreeze them when done
('dbctl manticore unfreeze'). First, orphaned freezes of this server (of dbctl runs on this machine that died
holding them, see 'dbctl manticore locks') are released. If the command is interrupted while the FREEZE runs,
it waits for the FREEZE and unfreezes what it froze before it exits.`,
		Args: minArgs(1, "at least one TABLE"),
		RunE: a.manticoreRun(func(ctx context.Context, m *dbctl.Manticore, args []string) error {
			orphans := a.releaseOrphansOrWarn(ctx, m)
			files, err := m.Freeze(ctx, args...)
			if err != nil {
				return err
			}
			if a.json {
				type file struct {
					Table      string `json:"table"`
					File       string `json:"file"`
					Normalized string `json:"normalized"`
				}
				out := struct {
					Frozen          []string     `json:"frozen"`
					Files           []file       `json:"files"`
					ReleasedOrphans []orphanJSON `json:"released_orphans"`
				}{Frozen: lowerAll(args), Files: []file{}, ReleasedOrphans: orphansJSON(orphans)}
				for _, f := range files {
					out.Files = append(out.Files, file{f.Table, f.File, f.Normalized})
				}
				a.printJSON(out)
				return nil
			}
			rows := make([][]string, len(files))
			for i, f := range files {
				rows[i] = []string{f.Table, f.Normalized}
			}
			a.printTable([]string{"TABLE", "FILE"}, rows)
			a.info("frozen: %s (run 'dbctl manticore unfreeze %s' when done)", strings.Join(lowerAll(args), ", "), strings.Join(lowerAll(args), " "))
			return nil
		}),
	}
}

func lowerAll(names []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range names {
		if l := strings.ToLower(n); !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	return out
}

func (a *app) unfreezeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "unfreeze TABLE...",
		Short: "UNFREEZE tables (lowers each table's freeze counter by one)",
		Args:  minArgs(1, "at least one TABLE"),
		RunE: a.manticoreRun(func(ctx context.Context, m *dbctl.Manticore, args []string) error {
			if err := m.Unfreeze(ctx, args...); err != nil {
				return err
			}
			if a.json {
				a.printJSON(map[string]any{"unfrozen": lowerAll(args)})
				return nil
			}
			a.printTable([]string{"UNFROZEN"}, rowsOf(lowerAll(args)))
			return nil
		}),
	}
}

func rowsOf(vals []string) [][]string {
	out := make([][]string, len(vals))
	for i, v := range vals {
		out[i] = []string{v}
	}
	return out
}

func (a *app) statusCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "status TABLE",
		Short: "SHOW TABLE t STATUS (every key; 'locked' is the freeze counter)",
		Args:  exactArgs(1, "one TABLE"),
		RunE: a.manticoreRun(func(ctx context.Context, m *dbctl.Manticore, args []string) error {
			st, err := m.TableStatus(ctx, args[0])
			if err != nil {
				return err
			}
			if a.json {
				a.printJSON(map[string]any{"table": strings.ToLower(args[0]), "status": st.Vars})
				return nil
			}
			keys := make([]string, 0, len(st.Vars))
			for k := range st.Vars {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			rows := make([][]string, len(keys))
			for i, k := range keys {
				rows[i] = []string{k, st.Vars[k]}
			}
			a.printTable([]string{"KEY", "VALUE"}, rows)
			return nil
		}),
	}
}

func (a *app) flushCmd() *cobra.Command {
	simple := func(use, short string, fn func(ctx context.Context, m *dbctl.Manticore, args []string) (map[string]any, error), args cobra.PositionalArgs) *cobra.Command {
		return &cobra.Command{
			Use: use, Short: short, Args: args,
			RunE: a.manticoreRun(func(ctx context.Context, m *dbctl.Manticore, args []string) error {
				out, err := fn(ctx, m, args)
				if err != nil {
					return err
				}
				if a.json {
					a.printJSON(out)
					return nil
				}
				keys := make([]string, 0, len(out))
				for k := range out {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				rows := make([][]string, len(keys))
				for i, k := range keys {
					rows[i] = []string{k, toString(out[k])}
				}
				a.printTable([]string{"RESULT", "VALUE"}, rows)
				return nil
			}),
		}
	}
	return group("flush", "FLUSH ATTRIBUTES | HOSTNAMES | RAMCHUNK t | TABLE t",
		simple("attributes", "FLUSH ATTRIBUTES: save attribute updates; prints the tag", func(ctx context.Context, m *dbctl.Manticore, _ []string) (map[string]any, error) {
			tag, err := m.FlushAttributes(ctx)
			return map[string]any{"tag": tag}, err
		}, noArgs),
		simple("hostnames", "FLUSH HOSTNAMES: renew agent host name addresses", func(ctx context.Context, m *dbctl.Manticore, _ []string) (map[string]any, error) {
			n, err := m.FlushHostnames(ctx)
			return map[string]any{"rows_affected": n}, err
		}, noArgs),
		simple("ramchunk TABLE", "FLUSH RAMCHUNK: the RAM chunk becomes a disk chunk (waits while the table is frozen)", func(ctx context.Context, m *dbctl.Manticore, args []string) (map[string]any, error) {
			return map[string]any{"flushed_ramchunk": strings.ToLower(args[0])}, m.FlushRAMChunk(ctx, args[0])
		}, exactArgs(1, "one TABLE")),
		simple("table TABLE", "FLUSH TABLE: save the RAM chunk", func(ctx context.Context, m *dbctl.Manticore, args []string) (map[string]any, error) {
			return map[string]any{"flushed_table": strings.ToLower(args[0])}, m.FlushTable(ctx, args[0])
		}, exactArgs(1, "one TABLE")),
	)
}

func toString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	case bool:
		return strconv.FormatBool(x)
	}
	return ""
}

func (a *app) optimizeCmd() *cobra.Command {
	var opts dbctl.OptimizeOptions
	cmd := &cobra.Command{
		Use:   "optimize TABLE",
		Short: "OPTIMIZE TABLE: merge disk chunks (refused while the table is frozen: searchd would drop it)",
		Args:  exactArgs(1, "one TABLE"),
		RunE: a.manticoreRun(func(ctx context.Context, m *dbctl.Manticore, args []string) error {
			if err := m.Optimize(ctx, args[0], opts); err != nil {
				return err
			}
			out := map[string]any{"optimized": strings.ToLower(args[0]), "cutoff": opts.Cutoff, "sync": opts.Sync}
			if a.json {
				a.printJSON(out)
				return nil
			}
			state := "queued"
			if opts.Sync {
				state = "done"
			}
			a.printTable([]string{"TABLE", "CUTOFF", "STATE"}, [][]string{{strings.ToLower(args[0]), strconv.Itoa(opts.Cutoff), state}})
			return nil
		}),
	}
	cmd.Flags().IntVar(&opts.Cutoff, "cutoff", 0, "merge down to this many disk chunks (0: server default)")
	cmd.Flags().BoolVar(&opts.Sync, "sync", false, "wait for the merge to finish")
	return cmd
}
