package backup

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"

	"github.com/dbctl/dbctl"
	"github.com/dbctl/dbctl/backupstore"
)

// ImportOptions configure Import.
type ImportOptions struct {
	// As names the new table; empty means the table's own name.
	As string
	// Store configures an s3:// location (see backupstore.Options).
	Store backupstore.Options
	// Logger receives a warning when the staging folder cannot be
	// removed. Default (nil): discarded (see CreateOptions.Logger).
	Logger *slog.Logger
}

// Import brings one table of the backup at location into the running server
// m speaks to as a new table (opts.As, else its own name): the table's files
// are verified first, then m.ImportTable sends IMPORT TABLE <as> FROM
// '<path>'. The server reads the files itself, so it must see the same
// paths (same machine, or the backup on a shared mount), and it cannot
// import from a path with a dot in a folder name (golden/manticore-3.jsonl):
// an uncompressed backup whose path has no dot is imported straight from
// its folder; otherwise (a dated folder such as bk.2026.12.06, a hidden
// folder, a compressed backup) the table is staged in a folder without a
// dot, in the server's data_dir when it is on this machine, else beside
// the backup, else in the temporary folder (stageImport), and the folder is
// removed afterwards. location may be "s3://bucket/prefix": the table's
// files are downloaded and verified first.
//
// Errors: a table the backup does not hold is dbctl.ErrTableNotFound; a
// table of that name on the server dbctl.ErrTableExists (from
// m.ImportTable); damaged files ErrCorrupt; a bad manifest ErrInvalid.
// Once IMPORT TABLE was sent, a ctx that ends first gives
// dbctl.ErrOutcomeUnknown: searchd goes on copying without its client and
// the table may still appear (SHOW TABLES tells); the staging folder is
// then left for searchd and removed by the next import.
func Import(ctx context.Context, m *dbctl.Manticore, location, table string, opts ImportOptions) (err error) {
	dir, as := location, opts.As
	if backupstore.IsRemote(dir) {
		return importRemote(ctx, m, dir, table, opts)
	}
	if as == "" {
		as = table
	}
	op := "manticore import table " + table + " as " + as + " from " + dir
	src, err := oneTable(table)
	if err != nil {
		return opErr(op, nil, "", err)
	}
	dst, err := oneTable(as)
	if err != nil {
		return opErr(op, nil, "", err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return opErr(op, dbctl.ErrInvalidArgument, "", err)
	}
	man, err := readManifest(abs)
	if err != nil {
		return err
	}
	var files []ManifestFile
	for _, f := range man.Files {
		if f.Table == src {
			files = append(files, f)
		}
	}
	if len(files) == 0 {
		return opErr(op, dbctl.ErrTableNotFound, "the backup has no table "+src, nil)
	}
	if err := verifyFiles(ctx, op, abs, man, files, 0, nil); err != nil {
		return err
	}
	st, err := stageImport(ctx, m, op, abs, man, src, files)
	if err != nil {
		return err
	}
	keep := false // for an IMPORT that searchd may still run
	defer func() {
		if rerr := st.release(keep); rerr != nil {
			loggerOr(opts.Logger).WarnContext(ctx, "dbctl: could not remove the import staging folder (the next import removes it)", "path", st.dir, "error", rerr)
		}
	}()
	err = m.ImportTable(ctx, dst, st.prefix)
	keep = errors.Is(err, dbctl.ErrOutcomeUnknown)
	return err
}
