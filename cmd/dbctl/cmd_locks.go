package main

import (
	"context"
	"errors"
	"strconv"

	"github.com/dbctl/dbctl"
	"github.com/spf13/cobra"
)

func (a *app) locksCmd() *cobra.Command {
	var release bool
	cmd := &cobra.Command{
		Use:   "locks",
		Short: "SHOW LOCKS: frozen and read-locked tables with their counters, and orphaned freezes",
		Long: `SHOW LOCKS: frozen and read-locked tables with their counters. Freezes that a dbctl run on this machine
recorded in its freeze journal (--state-dir) and did not live to release (killed, out of memory, machine lost)
are shown as orphaned, with the dead run's pid and time and what releasing them does: one UNFREEZE per table
that run froze, so another holder's freeze stays. --release-orphans releases them first.`,
		Args: noArgs,
		RunE: a.manticoreRun(func(ctx context.Context, m *dbctl.Manticore, _ []string) error {
			var orphans []dbctl.OrphanedFreeze
			var oerr error
			if release {
				orphans, oerr = a.releaseOrphans(ctx, m)
			} else {
				orphans, oerr = m.OrphanedFreezes(ctx)
			}
			if errors.Is(oerr, dbctl.ErrNotSupported) {
				oerr = nil
			}
			locks, err := m.Locks(ctx)
			if err != nil {
				return errors.Join(err, oerr)
			}
			orphaned := map[string]int{}
			for _, o := range orphans {
				if !o.Done {
					for _, n := range o.Release {
						orphaned[n]++
					}
				}
			}
			if a.json {
				type lock struct {
					Type           string `json:"type"`
					Name           string `json:"name"`
					LockType       string `json:"lock_type"`
					Count          int    `json:"count"`
					AdditionalInfo string `json:"additional_info"`
					Orphaned       int    `json:"orphaned"`
				}
				out := []lock{}
				for _, l := range locks {
					out = append(out, lock{l.Type, l.Name, l.LockType, l.Count, l.AdditionalInfo, orphanedOf(l, orphaned)})
				}
				a.printJSON(map[string]any{"locks": out, "orphaned": orphansJSON(orphans)})
				return oerr
			}
			rows := make([][]string, len(locks))
			for i, l := range locks {
				rows[i] = []string{l.Type, l.Name, l.LockType, strconv.Itoa(l.Count), strconv.Itoa(orphanedOf(l, orphaned))}
			}
			a.printTable([]string{"TYPE", "NAME", "LOCK", "COUNT", "ORPHANED"}, rows)
			if !release {
				for _, o := range orphans {
					a.notice("dbctl: %s", orphanLine(o))
				}
			}
			return oerr
		}),
	}
	cmd.Flags().BoolVar(&release, "release-orphans", false,
		"release the orphaned freezes first (one UNFREEZE per table a dead dbctl run froze)")
	return cmd
}

// orphanedOf is how much of a freeze row's count belongs to dead dbctl
// runs (what --release-orphans would release).
func orphanedOf(l dbctl.Lock, orphaned map[string]int) int {
	if l.LockType != "freeze" {
		return 0
	}
	return orphaned[l.Name]
}
