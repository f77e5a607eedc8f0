package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/dbctl/dbctl/backup"
	"github.com/spf13/cobra"
)

// dbctl manticore restore: backup.Restore, with the confirmation the
// MatrixOne restores ask for when it replaces data (--overwrite).

func (a *app) restoreCmd() *cobra.Command {
	var dataDir string
	var yes bool
	var opts backup.RestoreOptions
	cmd := &cobra.Command{
		Use:   "restore DIR --data-dir D [--overwrite [--keep-replaced] [--yes]]",
		Short: "Rebuild a data_dir from a backup, as a whole or not at all (offline: stop searchd first)",
		Long: `Restore rebuilds searchd's data_dir D from the backup DIR (a folder or s3://bucket/prefix), offline.
The backup is read once: each file is written into a folder inside D (.dbctl-restore-<id>) while it is hashed;
only when every file matches its sha256 are D's entries swapped for the new ones, under a journal. On any
failure, cancel (SIGINT/SIGTERM) or bad file before that, D is left as it was, byte for byte. A restore killed
half-way is rolled back (or, if its swap was committed, finished) by the next restore into D.
D must be empty (dot entries and lost+found do not count) unless --overwrite, which replaces everything in D:
tables, disk chunks, manticore.json, state.sql and the binary log (searchd starts with an empty one). With
--overwrite it asks for confirmation on a terminal and, when stdin is not one, refuses without --yes (exit 2)
before it touches anything. --keep-replaced keeps the replaced entries in D/.dbctl-replaced-<time>-<id>.
Refused while a searchd holds D (its binlog or table lock files locked).`,
		Args: exactArgs(1, "the backup DIR"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dataDir == "" {
				return usagef("restore needs --data-dir D")
			}
			if opts.KeepReplaced && !opts.Overwrite {
				return usagef("--keep-replaced needs --overwrite")
			}
			if opts.Overwrite {
				if err := a.confirmOverwrite(yes, args[0], dataDir); err != nil {
					return err
				}
			}
			ctx, cancel := a.opContext(cmd.Context())
			defer cancel()
			pp := a.progress("restore")
			var rep backup.RestoreReport
			opts.Progress, opts.Report = pp.update, &rep
			err := backup.Restore(ctx, args[0], dataDir, opts)
			pp.done()
			for _, r := range rep.Recovered {
				fmt.Fprintf(a.stderr, "dbctl: a killed restore into %s was %s (%s)%s\n", dataDir, r.Action, r.Path, keptNote(r.KeptAt))
			}
			if err != nil {
				return err
			}
			if len(rep.Rebuilt) > 0 {
				fmt.Fprintf(a.stderr, "dbctl: the backup's manticore.json had no entry for %s (dropped while the backup ran); rebuilt, the table is restored\n", strings.Join(rep.Rebuilt, ", "))
			}
			if rep.Leftover != "" {
				fmt.Fprintf(a.stderr, "dbctl: restored, but %s could not be removed; the next restore into %s removes it\n", rep.Leftover, dataDir)
			}
			man, err := backup.ReadManifest(ctx, args[0], backup.ReadOptions{Store: opts.Store})
			if err != nil {
				return err
			}
			if a.json {
				a.printJSON(map[string]any{"restored": args[0], "data_dir": dataDir, "files": rep.Files, "tables": man.Tables,
					"replaced": nonNil(rep.Replaced), "kept_at": rep.KeptAt, "recovered": rep.Recovered})
				return nil
			}
			fmt.Fprintf(a.stdout, "restored %s into %s: %d tables, %d files\n", args[0], dataDir, len(man.Tables), rep.Files)
			if len(rep.Replaced) > 0 {
				fmt.Fprintf(a.stdout, "replaced: %s%s\n", strings.Join(rep.Replaced, ", "), keptNote(rep.KeptAt))
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&dataDir, "data-dir", "", "data_dir to restore into (empty unless --overwrite)")
	fl.BoolVar(&opts.Overwrite, "overwrite", false, "replace everything in a data_dir that has entries (asks first)")
	fl.BoolVar(&opts.KeepReplaced, "keep-replaced", false, "with --overwrite: keep the replaced entries in D/.dbctl-replaced-<time>-<id>")
	fl.BoolVarP(&yes, "yes", "y", false, "confirm --overwrite: the data_dir's content is replaced")
	return cmd
}

func keptNote(at string) string {
	if at == "" {
		return ""
	}
	return " (kept in " + at + ")"
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// confirmOverwrite asks before a restore replaces a data_dir's content:
// --yes, or an answer "yes" on a terminal. Without a terminal and without
// --yes it refuses (exit 2), before anything is read or changed.
func (a *app) confirmOverwrite(yes bool, location, dataDir string) error {
	if yes {
		return nil
	}
	what := "restore " + location + " into " + dataDir + " with --overwrite"
	data := "everything in " + dataDir + " (" + entriesNote(dataDir) + ")"
	return a.confirm(what, data, "nothing was changed")
}

// entriesNote names what a restore would replace in dataDir, for the
// prompt: its entries but dot entries and lost+found, at most 8.
func entriesNote(dataDir string) string {
	entries, err := os.ReadDir(dataDir)
	if err != nil {
		return "nothing there now"
	}
	var names []string
	for _, e := range entries {
		if n := e.Name(); !strings.HasPrefix(n, ".") && n != "lost+found" {
			names = append(names, n)
		}
	}
	switch {
	case len(names) == 0:
		return "nothing there now"
	case len(names) > 8:
		return fmt.Sprintf("%s and %d more", strings.Join(names[:8], ", "), len(names)-8)
	}
	return strings.Join(names, ", ")
}
