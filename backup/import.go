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
// m speaks to as a new table (opts.As, else its own name): m.ImportTable
// sends IMPORT TABLE <as> FROM '<path>' once every file of the table matched
// the manifest (size and sha256). The server reads the files itself, so it
// must see the same paths (same machine, or the backup on a shared mount),
// and it cannot import from a path with a dot in a folder name
// (golden/manticore-3.jsonl).
//
// Each file of the backup is read once:
//   - an uncompressed backup in a folder is verified, then imported
//     straight from its folder when its path has no dot, else through a
//     symbolic link in a staging folder (a dated folder such as
//     bk.2026.12.06, a hidden folder): nothing is copied;
//   - a compressed backup in a folder, and any backup at an
//     "s3://bucket/prefix" location, is written into a staging folder
//     without a dot (in the server's data_dir when it is on this machine,
//     else beside the backup or in the temporary folder: stageImport),
//     each file decompressed and hashed as it arrives (from the folder, or
//     streamed from the store: no download folder, no second copy).
//
// The staging folder is removed afterwards.
//
// Errors: a table the backup does not hold is dbctl.ErrTableNotFound; a
// table of that name on the server dbctl.ErrTableExists (from
// m.ImportTable); damaged or missing files ErrCorrupt, naming each
// (*FileError), with nothing sent and the staging folder removed; a bad
// manifest ErrInvalid; a store that cannot be used keeps its
// backupstore kind (ErrNetwork, ErrUnavailable, ErrAccessDenied, ErrBucketNotFound) and is
// not ErrCorrupt. Once IMPORT TABLE was sent, a ctx that ends first gives
// dbctl.ErrOutcomeUnknown: searchd goes on copying without its client and
// the table may still appear (SHOW TABLES tells); the staging folder is
// then left for searchd and removed by the next import.
func Import(ctx context.Context, m *dbctl.Manticore, location, table string, opts ImportOptions) (err error) {
	as := opts.As
	if as == "" {
		as = table
	}
	op := "manticore import table " + table + " as " + as + " from " + location
	src, err := oneTable(table)
	if err != nil {
		return opErr(op, nil, "", err)
	}
	dst, err := oneTable(as)
	if err != nil {
		return opErr(op, nil, "", err)
	}
	from, err := openImportSource(ctx, op, location, opts.Store)
	if err != nil {
		return err
	}
	defer from.src.close()
	var files []ManifestFile
	for _, f := range from.man.Files {
		if f.Table == src {
			files = append(files, f)
		}
	}
	if len(files) == 0 {
		return opErr(op, dbctl.ErrTableNotFound, "the backup has no table "+src, nil)
	}
	if from.inPlace() {
		// read in place or through a link: this is the one read
		if err := verifyFiles(ctx, op, from.abs, from.man, files, 0, nil); err != nil {
			return err
		}
	}
	st, err := stageImport(ctx, m, op, from, src, files)
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

// importSource is the backup an Import reads: a folder (abs) or a store,
// its manifest (read once), and the opener of its stored files.
type importSource struct {
	location string // as given
	abs      string // the folder's absolute path; "" for a store
	man      *Manifest
	src      restoreSource // opens a stored file: a local file or a store object
}

// inPlace reports whether searchd can read the table's stored files as
// they are (an uncompressed backup in a folder): verified, not copied.
func (s *importSource) inPlace() bool { return s.abs != "" && s.man.Compression == "" }

// openImportSource reads and checks the manifest of the backup at
// location (a folder, or a store: one GET of manifest.json) and returns
// it with the opener of its files, whose opens are the crash points
// "import.stage-open <path>".
func openImportSource(ctx context.Context, op, location string, so backupstore.Options) (*importSource, error) {
	if !backupstore.IsRemote(location) {
		abs, err := filepath.Abs(location)
		if err != nil {
			return nil, opErr(op, dbctl.ErrInvalidArgument, "", err)
		}
		man, err := readManifest(abs)
		if err != nil {
			return nil, err
		}
		return &importSource{location: location, abs: abs, man: man, src: localSource{dir: abs, man: man, step: importOpenStep}}, nil
	}
	st, err := backupstore.Open(ctx, location, so)
	if err != nil {
		return nil, opErr(op, nil, "", err)
	}
	man, _, err := readStoreManifest(ctx, st)
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	return &importSource{location: location, man: man, src: storeSource{st: st, man: man, step: importOpenStep}}, nil
}
