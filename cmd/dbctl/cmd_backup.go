package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/dbctl/dbctl"
	"github.com/dbctl/dbctl/backup"
	"github.com/spf13/cobra"
)

func (a *app) backupCmd() *cobra.Command {
	var dir, tables, level string
	var opts backup.CreateOptions
	cmd := &cobra.Command{
		Use:   "backup --dir DIR",
		Short: "Back up tables: one freeze, checksummed copy, exact unfreeze, manifest written last",
		Long: `Back up tables into DIR (which must not exist). All selected tables are frozen in one FREEZE;
the immutable disk-chunk files are hard-linked into a staging folder (beside DIR when it is on the data_dir's
file system, else in --staging-dir) and only the others are copied; the tables are unfrozen (exactly those this
command froze, once each); then the staged files are copied (with --compress, compressed: --compress=LEVEL takes
fastest, default (about zstd -3, what --compress alone means), better, best or a zstd level 1-22), every file is
checked to be the one of the freeze and hashed (sha256), manifest.json is written last, and the backup is made
durable (its writeback started as each file is written, then one syncfs; not with --no-sync).
Without a staging folder every file is copied inside the freeze. With --base, unchanged immutable files are
hard-linked from an earlier backup instead of read again, and so are the mutable files whose bytes read at this
freeze are the earlier backup's: only what changed is written. Distributed and plain tables are skipped and listed.
DIR may be s3://bucket/prefix: the freeze is the same (the staging folder in --staging-dir, else beside the
data_dir, else in the temp dir), and after the unfreeze each file is streamed once to the store, manifest.json
last; a failure deletes every object written.
SIGINT/SIGTERM stop the backup, unfreeze, and remove the partial output. The server must run on this machine.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				return usagef("backup needs --dir DIR")
			}
			if cmd.Flags().Changed("compress") {
				opts.Compress, opts.CompressLevel = true, backup.CompressionLevel(level)
				if level == "" {
					return usagef("--compress=LEVEL: want fastest, default, better, best or a zstd level 1 to 22")
				}
			}
			if opts.CompressAfterUnfreeze && !opts.Compress {
				return usagef("--compress-after-unfreeze needs --compress")
			}
			if tables != "" {
				opts.Tables = strings.Split(tables, ",")
			}
			m, err := a.manticore()
			if err != nil {
				return err
			}
			ctx, cancel := a.opContext(cmd.Context())
			defer cancel()
			a.releaseOrphansOrWarn(ctx, m)
			pp := a.progress("backup")
			opts.Progress = pp.update
			before, beforeErr := freezeCounters(ctx, m)
			man, err := backup.Create(ctx, m, dir, opts)
			pp.done()
			if err != nil {
				if ctx.Err() != nil {
					a.interruptNote = "partial output was removed; " + a.releaseNote(m, before, beforeErr, err)
				}
				return err
			}
			a.printManifest(dir, man)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "", "backup directory to create (must not exist)")
	f.StringVar(&tables, "tables", "", "comma-separated tables (default: all)")
	f.StringVar(&level, "compress", "", "store files as zstd, at LEVEL: fastest, default (about zstd -3), better, best or a zstd level 1-22 (--compress alone: default)")
	f.Lookup("compress").NoOptDefVal = string(backup.LevelDefault)
	f.BoolVar(&opts.CompressAfterUnfreeze, "compress-after-unfreeze", false,
		"with --compress: copy inside the freeze, compress after it (short freeze; needs the uncompressed size in free space for a while)")
	f.IntVar(&opts.Concurrency, "concurrency", 0, "copy workers (default: one per CPU)")
	f.BoolVar(&opts.NoReflink, "no-reflink", false, "always copy bytes, never clone files (FICLONE)")
	f.StringVar(&opts.Base, "base", "", "earlier backup DIR of the same server: unchanged files are hard-linked from it (incremental)")
	f.StringVar(&opts.StagingDir, "staging-dir", "", "staging folder on the data_dir's file system, for a DIR on another file system or an s3:// DIR")
	f.BoolVar(&opts.NoStaging, "no-staging", false, "copy every file inside the freeze (no hard links)")
	f.BoolVar(&opts.NoSync, "no-sync", false, "do not fsync the backup's files (faster; a machine crash soon after can lose bytes the manifest lists)")
	uploadFlags(f, &opts.Store)
	return cmd
}

func (a *app) printManifest(dir string, man *backup.Manifest) {
	var bytes, stored int64
	for _, f := range man.Files {
		bytes += f.Size
		stored += f.StoredSize
	}
	if a.json {
		a.printJSON(map[string]any{"dir": dir, "manifest": man, "bytes": bytes, "stored_bytes": stored})
		return
	}
	rows := make([][]string, 0, len(man.Tables)+len(man.Skipped))
	for _, t := range man.Tables {
		rows = append(rows, []string{t.Name, t.Type, strconv.Itoa(t.Files), humanBytes(t.Bytes), "backed up"})
	}
	for _, s := range man.Skipped {
		rows = append(rows, []string{s.Name, s.Type, "-", "-", "skipped: " + s.Reason})
	}
	a.printTable([]string{"TABLE", "TYPE", "FILES", "SIZE", "STATE"}, rows)
	fmt.Fprintf(a.stdout, "\nbackup %s: %d files, %s (stored %s), frozen %s (%s), took %s\n", dir, len(man.Files), humanBytes(bytes),
		humanBytes(stored), man.FreezeWindow.Round(1e6), man.Staging, man.Finished.Sub(man.Started).Round(1e6))
	if man.Base != nil {
		var n int
		var reused int64
		for _, f := range man.Files {
			if f.FromBase {
				n++
				reused += f.Size
			}
		}
		fmt.Fprintf(a.stdout, "incremental on %s: %d files (%s) linked from it, %s read from the server\n",
			man.Base.Location, n, humanBytes(reused), humanBytes(bytes-reused))
	}
}

func (a *app) verifyCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "verify DIR",
		Short: "Re-hash every file of a backup against its manifest",
		Args:  exactArgs(1, "the backup DIR"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := a.opContext(cmd.Context())
			defer cancel()
			pp := a.progress("verify")
			man, err := backup.Verify(ctx, args[0], backup.VerifyOptions{Progress: pp.update})
			pp.done()
			var bad []*backup.FileError
			if err != nil {
				bad = fileErrors(err)
				if len(bad) == 0 || man == nil {
					return err
				}
			}
			if a.json {
				type badFile struct {
					Path    string `json:"path"`
					Problem string `json:"problem"`
				}
				out := struct {
					OK    bool      `json:"ok"`
					Files int       `json:"files"`
					Bad   []badFile `json:"bad"`
				}{OK: err == nil, Files: len(man.Files), Bad: []badFile{}}
				for _, b := range bad {
					out.Bad = append(out.Bad, badFile{b.Path, b.Problem})
				}
				a.printJSON(out)
			} else {
				rows := make([][]string, len(bad))
				for i, b := range bad {
					rows[i] = []string{b.Path, b.Problem}
				}
				if len(rows) > 0 {
					a.printTable([]string{"FILE", "PROBLEM"}, rows)
				} else {
					var bytes int64
					for _, f := range man.Files {
						bytes += f.Size
					}
					fmt.Fprintf(a.stdout, "ok: %d files, %s, every sha256 matches\n", len(man.Files), humanBytes(bytes))
				}
			}
			if err != nil {
				return quietErr{err}
			}
			return nil
		},
	}
}

// quietErr is an error whose details were already printed: execute prints
// only its first line.
type quietErr struct{ error }

func (q quietErr) Error() string {
	s := q.error.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func (q quietErr) Unwrap() error { return q.error }

// fileErrors collects the *backup.FileError of a joined error tree.
func fileErrors(err error) []*backup.FileError {
	var out []*backup.FileError
	var walk func(error)
	walk = func(e error) {
		if e == nil {
			return
		}
		var fe *backup.FileError
		if errors.As(e, &fe) && fe == e {
			out = append(out, fe)
			return
		}
		switch x := e.(type) {
		case interface{ Unwrap() []error }:
			for _, c := range x.Unwrap() {
				walk(c)
			}
		case interface{ Unwrap() error }:
			walk(x.Unwrap())
		}
	}
	walk(err)
	return out
}

func (a *app) importCmd() *cobra.Command {
	var as string
	cmd := &cobra.Command{
		Use:   "import DIR TABLE [--as NAME]",
		Short: "IMPORT TABLE from a verified backup into the running server",
		Args:  exactArgs(2, "the backup DIR and a TABLE"),
		RunE: a.manticoreRun(func(ctx context.Context, m *dbctl.Manticore, args []string) error {
			name := as
			if name == "" {
				name = args[1]
			}
			if err := backup.Import(ctx, m, args[0], args[1], backup.ImportOptions{As: name}); err != nil {
				return err
			}
			if a.json {
				a.printJSON(map[string]any{"imported": strings.ToLower(args[1]), "as": strings.ToLower(name), "from": args[0]})
				return nil
			}
			fmt.Fprintf(a.stdout, "imported %s as %s from %s\n", strings.ToLower(args[1]), strings.ToLower(name), args[0])
			return nil
		}),
	}
	cmd.Flags().StringVar(&as, "as", "", "name of the new table (default: TABLE)")
	return cmd
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
