package dbctl

import (
	"context"
	"log/slog"
	"strings"
)

// ImportTable makes the table files at path a new table of the running
// server: IMPORT TABLE `table` FROM 'path'. path is the prefix of one
// table's files, "<dir>/<name>" (searchd appends ".meta", ".settings", ...:
// shared/reference/manticore.md §7); searchd opens them itself, so they must
// be on the server's machine and readable by the searchd process. The
// engine that imports a table of a backup (package backup, Import) finds
// and verifies those files, then calls this.
//
// Errors: an invalid table name is ErrInvalidIdentifier and an empty path
// ErrInvalidArgument, before anything is sent; a table of that name on the
// server is ErrTableExists ("table 'x' already exists",
// golden/manticore-2.jsonl); "no table files found" at path is an *OpError
// wrapping the server's *mysql.MySQLError.
func (m *Manticore) ImportTable(ctx context.Context, table, path string) error {
	op := "manticore import table " + table + " from " + path
	name, err := oneManticoreTable(table)
	if err != nil {
		return opErr(op, nil, "", err)
	}
	if path == "" {
		return opErr(op, ErrInvalidArgument, "empty path", nil)
	}
	stmt := "IMPORT TABLE " + quoteManticoreIdent(name) + " FROM " + QuoteString(path)
	if _, err := m.c.exec(ctx, m.c.db, stmt); err != nil {
		kind := classifyManticoreError(err)
		if me, ok := ServerError(err); ok && strings.Contains(me.Message, "already exists") {
			kind = ErrTableExists
		}
		return opErr(op, kind, "", err)
	}
	return nil
}

// Logger returns the logger the Client was given (WithLogger; never nil),
// so that engines built on the manager (package backup) log where its
// statements do.
func (m *Manticore) Logger() *slog.Logger { return m.c.opts.logger }
