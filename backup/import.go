package dbctl

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
)

// ImportTable brings one table of a backup into the running server as a new
// table: IMPORT TABLE <as> FROM '<path>' (as empty means the table's own
// name). The table's files are verified first. An uncompressed backup is
// imported straight from its directory; a compressed one is first
// decompressed into a temporary directory beside the backup, removed
// afterwards. The server reads the files itself, so it must see the same
// paths (same machine, or the backup on a shared mount). dir may be
// "s3://bucket/prefix": the table's files are downloaded and verified first.
func (m *Manticore) ImportTable(ctx context.Context, dir, table, as string) (err error) {
	return m.ImportTableWith(ctx, dir, table, as, RemoteOptions{})
}

// ImportTableWith is ImportTable with the options of an s3:// dir
// (endpoint, credentials, ...; ignored for a folder).
func (m *Manticore) ImportTableWith(ctx context.Context, dir, table, as string, remote RemoteOptions) (err error) {
	if IsRemoteLocation(dir) {
		return m.importRemote(ctx, dir, table, as, remote)
	}
	if as == "" {
		as = table
	}
	op := "manticore import table " + table + " as " + as + " from " + dir
	src, err := oneManticoreTable(table)
	if err != nil {
		return opErr(op, nil, "", err)
	}
	dst, err := oneManticoreTable(as)
	if err != nil {
		return opErr(op, nil, "", err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return opErr(op, ErrInvalidArgument, "", err)
	}
	man, err := ReadManifest(abs)
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
		return opErr(op, ErrTableNotFound, "the backup has no table "+src, nil)
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
		// the backup (Backup gives it to the data_dir's owner).
		own, err := ownerOf(abs)
		if err == nil {
			err = giveTreeTo(own, stage)
		}
		if err != nil {
			return opErr(op, nil, "give the staging directory to the backup's owner", err)
		}
		prefix = filepath.Join(stage, src, src)
	}
	stmt := "IMPORT TABLE " + quoteManticoreIdent(dst) + " FROM " + QuoteString(prefix)
	if _, err := m.c.exec(ctx, m.c.db, stmt); err != nil {
		kind := classifyManticoreError(err)
		if me, ok := ServerError(err); ok && strings.Contains(me.Message, "already exists") {
			kind = ErrTableExists
		}
		return opErr(op, kind, "", err)
	}
	return nil
}
