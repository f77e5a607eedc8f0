package backup

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/dbctl/dbctl"
	"github.com/dbctl/dbctl/backupstore"
)

// ImportOptions configure Import.
type ImportOptions struct {
	// As names the new table; empty means the table's own name.
	As string
	// Store configures an s3:// location (see backupstore.Options).
	Store backupstore.Options
}

// Import brings one table of the backup at location into the running server
// m speaks to as a new table (opts.As, else its own name): the table's files
// are verified first, then m.ImportTable sends IMPORT TABLE <as> FROM
// '<path>'. An uncompressed backup is imported straight from its
// directory; a compressed one is first decompressed into a temporary
// directory beside the backup, removed afterwards. The server reads the
// files itself, so it must see the same paths (same machine, or the backup
// on a shared mount). location may be "s3://bucket/prefix": the table's
// files are downloaded and verified first.
//
// Errors: a table the backup does not hold is dbctl.ErrTableNotFound; a
// table of that name on the server dbctl.ErrTableExists (from
// m.ImportTable); damaged files ErrCorrupt; a bad manifest ErrInvalid.
func Import(ctx context.Context, m *dbctl.Manticore, location, table string, opts ImportOptions) (err error) {
	dir, as := location, opts.As
	if backupstore.IsRemote(dir) {
		return importRemote(ctx, m, dir, table, as, opts.Store)
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
	prefix := filepath.Join(abs, "data", src, src)
	if man.Compression == "zstd" {
		stage, done, err := markedTempDir(filepath.Dir(abs), "."+filepath.Base(abs)+".dbctl-import", map[string]any{"import_of": abs})
		if err != nil {
			return opErr(op, nil, "staging directory", err)
		}
		defer done()
		if err := os.Mkdir(filepath.Join(stage, src), 0o755); err != nil {
			return opErr(op, nil, "staging directory", err)
		}
		w := newFileWorker(new(atomic.Int64))
		defer w.close()
		for _, f := range files {
			if err := writeVerified(ctx, w, man.storedPath(abs, f), filepath.Join(stage, src, filepath.Base(f.Path)), true, f); err != nil {
				return opErr(op, nil, "stage "+f.Path, err)
			}
		}
		// searchd reads the staged files itself: give them to the owner of
		// the backup (Create gives it to the data_dir's owner).
		own, err := ownerOf(abs)
		if err == nil {
			err = giveTreeTo(own, stage)
		}
		if err != nil {
			return opErr(op, nil, "give the staging directory to the backup's owner", err)
		}
		prefix = filepath.Join(stage, src, src)
	}
	return m.ImportTable(ctx, dst, prefix)
}
