package dbctl

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
)

// ImportTable brings one table of a backup into the running server as a new
// table: IMPORT TABLE <as> FROM '<path>' (as empty means the table's own
// name). The table's files are verified first. searchd reads the files
// itself, so it must see the same paths (same machine, or the backup on a
// shared mount), and it cannot import from a path with a dot in a folder
// name (golden/manticore-3.jsonl): an uncompressed backup whose path has no
// dot is imported straight from its folder; otherwise (a dated folder such
// as bk.2026.12.06, a hidden folder, a compressed backup) the table is
// staged in a folder without a dot, in the server's data_dir when it is on
// this machine, else beside the backup, else in the temporary folder
// (stageImport), and the folder is removed afterwards. dir may be
// "s3://bucket/prefix": the table's files are downloaded and verified first.
//
// Once the IMPORT TABLE was sent, a ctx that ends first gives
// ErrOutcomeUnknown: searchd goes on copying without its client, and the
// table may still appear (SHOW TABLES tells); the staging folder is then
// left for searchd and removed by the next import.
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
	st, err := m.stageImport(ctx, op, abs, man, src, files)
	if err != nil {
		return err
	}
	keep := false // for an IMPORT that searchd may still run
	defer func() {
		if rerr := st.release(keep); rerr != nil {
			m.c.opts.logger.WarnContext(ctx, "dbctl: could not remove the import staging folder (the next import removes it)", "path", st.dir, "error", rerr)
		}
	}()
	lit, err := QuoteManticoreString(st.prefix)
	if err != nil {
		return opErr(op, nil, "", err)
	}
	_, err = m.execOutcome(ctx, op, "IMPORT TABLE "+quoteManticoreIdent(dst)+" FROM "+lit,
		"IMPORT TABLE was sent and its answer did not come; searchd goes on copying without its client, so the table may still appear (SHOW TABLES LIKE '"+dst+"')")
	keep = errors.Is(err, ErrOutcomeUnknown)
	if me, ok := ServerError(err); ok && strings.Contains(me.Message, "already exists") {
		return opErr(op, ErrTableExists, "", me)
	}
	return err
}
