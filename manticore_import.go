package dbctl

import (
	"context"
	"errors"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/dbctl/dbctl/internal/sqllit"
)

// ImportTable makes the table files at path a new table of the running
// server: IMPORT TABLE `table` FROM 'path'. path is the prefix of one
// table's files, "<dir>/<name>" (searchd appends ".meta", ".settings", ...:
// shared/reference/manticore.md §7); searchd opens them itself, so they must
// be on the server's machine and readable by the searchd process. The
// engine that imports a table of a backup (package backup, Import) finds
// and verifies those files, stages them where needed, then calls this.
//
// path must have no dot: searchd takes everything from the first dot of
// each file's path on as the file's extension (src/sphinxutils.cpp
// GetExtension, used by src/searchdconfig.cpp CopyIndexFiles) and fails on
// a dot in a folder name (golden/manticore-3.jsonl: "failed to open
// <data_dir>/<new>/<new>.ted/...: No such file or directory"). The path is
// sent as searchd's lexer reads a string literal (internal/sqllit), so
// quotes, backslashes, spaces and non-ASCII are safe.
//
// Errors: an invalid table name is ErrInvalidIdentifier, and an empty path,
// one with a dot or a NUL byte ErrInvalidArgument, before anything is sent;
// a table of that name on the server is ErrTableExists ("table 'x' already
// exists", golden/manticore-2.jsonl); "no table files found" at path is an
// *OpError wrapping the server's *mysql.MySQLError. Once the statement was
// sent, a ctx that ends first (or a broken connection) is ErrOutcomeUnknown:
// searchd copies on without its client, and the table may still appear.
func (m *Manticore) ImportTable(ctx context.Context, table, path string) error {
	op := "manticore import table " + table + " from " + path
	name, err := oneManticoreTable(table)
	if err != nil {
		return opErr(op, nil, "", err)
	}
	switch {
	case path == "":
		return opErr(op, ErrInvalidArgument, "empty path", nil)
	case strings.Contains(path, "."):
		return opErr(op, ErrInvalidArgument, "the path has a dot, from which searchd would take the files' extension: it cannot import from there (stage the files in a folder without a dot; backup.Import does)", nil)
	}
	lit, err := sqllit.QuoteManticore(path)
	if err != nil {
		return opErr(op, ErrInvalidArgument, "", err)
	}
	_, err = m.execOutcome(ctx, op, "IMPORT TABLE "+quoteManticoreIdent(name)+" FROM "+lit,
		"IMPORT TABLE was sent and its answer did not come; searchd goes on copying without its client, so the table may still appear (SHOW TABLES LIKE '"+name+"')")
	var me *mysql.MySQLError
	if errors.As(err, &me) && strings.Contains(me.Message, "already exists") {
		return opErr(op, ErrTableExists, "", me)
	}
	return err
}
