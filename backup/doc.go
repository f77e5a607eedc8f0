// Package backup is dbctl's Manticore Search backup engine: consistent,
// checksummed backups of a running searchd's RT and percolate tables to a
// folder or an S3-compatible object store, with a freeze window of
// milliseconds whatever the data size, incremental backups, verification,
// offline restore of a data_dir, and import of one table into a running
// server. It drives the dbctl.Manticore manager through its exported API
// (WithFrozen, FlushAttributes, Settings, Tables, ImportTable) and keeps its
// files in a backupstore.Store. Importing it links zstd (klauspost/compress)
// but not the AWS SDK: s3:// locations need the blank import of
// github.com/dbctl/dbctl/backupstore/s3store, which registers the scheme
// (without it they fail with backupstore.ErrNotRegistered naming that
// import). The root package dbctl links neither.
//
// The one call a user makes:
//
//	c, err := dbctl.Open("root@tcp(127.0.0.1:9306)/", nil)
//	...
//	man, err := backup.Create(ctx, c.Manticore(), "/var/backups/manticore/2026-12-06", backup.CreateOptions{})
//
// and later Verify, List, Prune, Restore (searchd stopped) or Import (one
// table, searchd running) with the same location, which may be
// "s3://bucket/prefix" (CreateOptions.Store and the other options' Store
// field configure the store; the environment does by default).
//
// Every error is a *dbctl.OpError ("dbctl: <op>: ...") wrapping at most one
// sentinel of this package (ErrExists, ErrInvalid, ErrCorrupt,
// ErrDataDirNotEmpty, ErrSourceChanged, ErrServerRunning) or of dbctl, and
// the cause; bad files are *FileError, changed sources *SourceChangedError.
//
// # Files, in the order the data flows through them
//
// A backup (Create):
//
//   - options.go: CreateOptions and Progress, what a caller sets and sees.
//   - create.go: Create: orphaned freezes released first, the tables to
//     back up, the backup's id and temporary folder beside the target
//     (with a marker a killed run's successor removes).
//   - run.go: one backup run (backupRun, backupJob): the freeze window
//     through m.WithFrozen, what happens inside it, then the phases after
//     the unfreeze.
//   - plan.go: SHOW TABLES to the selected tables; inside the freeze,
//     FREEZE's file list to one job per file (data/<table>/..., state/...).
//   - statefile.go: the data_dir's state files (manticore.json,
//     state.sql), which searchd replaces by rename whenever any table is
//     created or dropped, also during a freeze: read whole inside the
//     freeze from one descriptor (its identity from fstat), waiting out
//     the instant in which searchd has renamed manticore.json away.
//   - config.go: searchd's config file (SHOW SETTINGS) into config/; the
//     finished backup handed to the data_dir's owner.
//   - prefreeze.go, hugepage_*.go: before the FREEZE, memory allocated
//     (advised to huge pages) and touched for the mutable files.
//   - stage.go: inside the freeze, the staging folder on the data_dir's file
//     system and hard links of the immutable disk-chunk files into it
//     (staging folders of killed runs are removed first).
//   - incremental.go: with a Base, files whose identity (or bytes) match the
//     base's record are linked from the base instead of read.
//   - copy.go: inside the freeze, the files that are not staged are copied
//     (cloned, copied by the kernel, or compressed) by the workers.
//   - files.go, reflink_*.go, compress.go: the workers' primitives: copy,
//     clone (FICLONE), zstd compression at the backup's level, sha256;
//     dirs.go: fsync of files (of directories: internal/fsutil).
//   - durable.go, writeback_*.go: how a synced backup becomes durable:
//     each file's writeback started as it is written, then one syncfs
//     before the rename into place (else an fsync of every file and
//     folder).
//   - identity*.go: each table file checked to be the very file of the
//     freeze before and after its bytes are read (ErrSourceChanged).
//   - stage_copy.go: after the unfreeze, the staged links and the bytes held
//     in memory written into the backup, and synced as they land.
//   - finish.go: compression of staged copies, hashing (and, without
//     syncfs, fsync) of the rest, then manifest.json, written last, the
//     syncfs, the rename into place, and the temporary folder's marker
//     removed from the finished backup.
//   - manifest.go: the manifest format and its checks (paths stay inside
//     the backup).
//   - remote.go, remote_direct.go: for an s3:// location, the prefix claimed
//     before the freeze and every file streamed once to the store after it,
//     manifest.json last; Upload of a finished local backup; on failure,
//     every object written deleted, the claim last.
//   - claim.go, claim_life.go, claim_*.go, pidalive_*.go: the claim of a
//     backup's prefix in a store (.dbctl-writing): taken with a conditional
//     write, renewed by a heartbeat, read back before the manifest; a dead
//     writer's (its process gone, or no sign of life for 15 minutes) taken
//     over by the next run.
//   - leftovers.go: what a dead writer left under a prefix (partial
//     objects, unfinished multipart uploads, a folder's temporary files),
//     removed by the run that took its claim over.
//
// Reading backups back:
//
//   - remote_read.go: ReadManifest (a store's manifest read once), and
//     Verify of a backup in a store (every object streamed once).
//   - catalog.go: List of the backups under a location (never a
//     temporary, staging or partial folder), removing what runs that are
//     gone left there.
//   - prune.go: Prune, each backup as a whole (a folder renamed aside,
//     then removed; a prefix claimed, its manifest deleted first).
//   - restore.go: Verify (every file re-hashed); Restore's options, report
//     and checks.
//   - restore_guard.go, livelock_*.go: Restore refuses a data_dir a running
//     searchd holds (its lock files locked).
//   - restore_recover.go: first, the restore folders of killed restores in
//     the data_dir rolled back or forward from their journals.
//   - restore_write.go, restore_file.go, restore_sync.go, restore_mmap_*.go:
//     the backup read once (from a folder, mapped; or streamed from the
//     store) into the restore folder's new/, every file hashed as it is
//     written and synced beside the workers.
//   - restore_state.go: the restored manticore.json rewritten to list
//     exactly the backup's tables (a table created during the backup
//     removed, the entry of one dropped during it rebuilt).
//   - restore_swap.go, restore_journal.go: the swap under a journal (the
//     data_dir's entries into old/, the new ones in, the commit), and the
//     undo of a swap that did not commit.
//   - import.go, import_stage.go, import_write.go: Import of one table,
//     from a folder or a store: an uncompressed one in a folder verified,
//     then read in place when its path has no dot, else through a symlink
//     in a dot-free staging folder (in the data_dir when it is local); a
//     compressed one, or one in a store, written into that staging folder
//     in one pass (each file or object read once, decompressed and hashed
//     as it is written); then m.ImportTable, only when every file matched.
//
// Shared by all: progress.go (the Progress reporter), marked.go (folders
// marked with a locked marker, made and removed so that a killed run's are
// told from a live run's and removed by the next run), catalog_clean.go (a catalog folder's cleanup: such
// folders, markers left in finished backups), owner_*.go (files given to
// searchd's user when run as root), errors.go (sentinels and error
// types). Each file step of Create, Import and Prune and each store
// request is a crash point (internal/crashpoint; the README's faults
// matrices); where there is no flock (identity_other.go) Create refuses.
package backup
