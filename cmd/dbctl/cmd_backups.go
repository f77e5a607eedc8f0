package main

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/dbctl/dbctl/backup"
	"github.com/dbctl/dbctl/backupstore"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// uploadFlags adds the upload flags of an s3:// location to a command.
// The endpoint, region and credentials come from the environment as the
// AWS CLI reads them (AWS_ENDPOINT_URL, AWS_REGION, AWS_PROFILE, ...).
func uploadFlags(f *pflag.FlagSet, o *backupstore.Options) {
	f.Int64Var(&o.PartSize, "part-size", 0, "s3://: multipart part size in bytes (default 16 MiB, at least 5 MiB)")
	f.IntVar(&o.Concurrency, "upload-concurrency", 0, "s3://: parts in flight at once (default 4; memory is part-size x this)")
}

// cleanupLog is the logger of what List and Prune remove of runs that are
// gone: lines on stderr for people, none with --quiet or --json.
func (a *app) cleanupLog() *slog.Logger {
	if a.quiet || a.json {
		return nil
	}
	return slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, at slog.Attr) slog.Attr {
			if at.Key == slog.TimeKey {
				return slog.Attr{} // the terminal has its own clock
			}
			return at
		}}))
}

func (a *app) backupsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "backups LOCATION",
		Short: "List the backups under a folder or s3://bucket/prefix (each sub-folder with a manifest.json)",
		Long: `List the backups under LOCATION: each sub-folder (or sub-prefix) holding a manifest.json, oldest first.
Temporary, staging and partial folders of backups being written, or of runs that were killed, are never listed.
What runs that are gone left there (such folders, and the claims, partial objects and unfinished multipart
uploads of backups that never finished) is removed, and said on stderr; a sub-folder that is not a backup and
holds no claim of dbctl's is left alone.`,
		Args: exactArgs(1, "the LOCATION (folder or s3://bucket/prefix)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := a.opContext(cmd.Context())
			defer cancel()
			list, err := backup.List(ctx, args[0], backup.ListOptions{Logger: a.cleanupLog()})
			if err != nil {
				return err
			}
			if a.json {
				a.printJSON(map[string]any{"location": args[0], "backups": list})
				return nil
			}
			a.printBackups(list)
			return nil
		},
	}
}

func (a *app) printBackups(list []backup.Info) {
	rows := make([][]string, 0, len(list))
	for _, b := range list {
		if b.Problem != "" {
			rows = append(rows, []string{b.Name, "-", "-", "-", "-", "-", "unreadable: " + b.Problem})
			continue
		}
		kind := "full"
		if b.Incremental {
			kind = "incremental of " + b.Base.ID
		}
		rows = append(rows, []string{b.Name, b.Started.UTC().Format(time.RFC3339), strings.Join(b.Tables, ","),
			humanBytes(b.Bytes), humanBytes(b.StoredBytes), b.FreezeWindow.Round(time.Millisecond).String(), kind})
	}
	a.printTable([]string{"NAME", "STARTED", "TABLES", "SIZE", "STORED", "FROZEN", "KIND"}, rows)
}

func (a *app) pruneCmd() *cobra.Command {
	var opts backup.PruneOptions
	cmd := &cobra.Command{
		Use:   "prune LOCATION --keep-last N [--keep-within 168h] [--dry-run]",
		Short: "Delete older backups under a folder or s3://bucket/prefix, never one a kept incremental backup uses",
		Long: `Delete the backups under LOCATION that --keep-last (the newest N) and --keep-within (finished within
that long) do not keep. A backup that a kept incremental backup uses as its base is kept, and so is one whose
manifest cannot be read. --dry-run lists what would be deleted.

Each backup goes as a whole: a folder is renamed aside first, then removed; in S3 the backup's prefix is
claimed and its manifest.json deleted first, then the rest. An interrupted or killed prune leaves nothing that
is listed as a backup; the next backups or prune removes what it left.`,
		Args: exactArgs(1, "the LOCATION (folder or s3://bucket/prefix)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.KeepLast <= 0 && opts.KeepWithin <= 0 {
				return usagef("prune needs --keep-last N or --keep-within DURATION")
			}
			ctx, cancel := a.opContext(cmd.Context())
			defer cancel()
			opts.Logger = a.cleanupLog()
			gone, err := backup.Prune(ctx, args[0], opts)
			if err != nil {
				if len(gone) > 0 {
					names := make([]string, len(gone))
					for i, b := range gone {
						names[i] = b.Name
					}
					a.info("deleted before the error (no longer listed): %s", strings.Join(names, ", "))
				}
				return err
			}
			if a.json {
				a.printJSON(map[string]any{"location": args[0], "dry_run": opts.DryRun, "deleted": gone})
				return nil
			}
			a.printBackups(gone)
			verb := "deleted"
			if opts.DryRun {
				verb = "would delete"
			}
			fmt.Fprintf(a.stdout, "\n%s %s backups under %s\n", verb, strconv.Itoa(len(gone)), args[0])
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&opts.KeepLast, "keep-last", 0, "keep the newest N backups")
	f.DurationVar(&opts.KeepWithin, "keep-within", 0, "keep the backups that finished within this long, e.g. 168h")
	f.BoolVar(&opts.DryRun, "dry-run", false, "delete nothing; list what would be deleted")
	return cmd
}
