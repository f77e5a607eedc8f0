package dbctl

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
)

// Freeze freezes the tables in one FREEZE statement and returns the files to
// copy, each attributed to its table. Names are validated, lower-cased and
// de-duplicated first; zero tables is ErrNoTables.
//
// FREEZE raises each table's locked counter by one; a table stays frozen
// until as many UNFREEZEs have been sent, by anyone: the counter lives in
// the server, not in this connection, and survives this process. Prefer
// WithFrozen, which always releases.
//
// When ctx ends or the connection breaks while FREEZE is under way, the
// statement may still run on the server; Freeze then unfreezes every table
// it named, on a new connection. If that UNFREEZE overtakes a FREEZE the
// server has not executed yet, the table stays frozen: keep deadlines for
// Freeze well above the server's latency, and check SHOW LOCKS after such an
// error.
//
// The server does not fail FREEZE for a table it cannot freeze (missing,
// plain or distributed): it only warns. Freeze reads that warning (SHOW
// WARNINGS on the same connection), and if any table was not frozen it
// unfreezes the ones that were and returns ErrTableNotFound naming the
// others, so that on error nothing is left frozen.
//
// While a table is frozen, UPDATE and FLUSH RAMCHUNK block until it is
// unfrozen; DELETE and REPLACE block when they touch a disk chunk; INSERT
// goes to RAM until rt_mem_limit, then blocks; TRUNCATE fails. Blocked
// statements have no server-side timeout, and they are not cancelled when
// their client gives up: a cancelled context closes the connection, but the
// server applies the statement after the UNFREEZE.
func (m *Manticore) Freeze(ctx context.Context, tables ...string) ([]FrozenFile, error) {
	op := "manticore freeze " + strings.Join(tables, ", ")
	names, err := canonicalManticoreTables(tables)
	if err != nil {
		return nil, opErr(op, nil, "", err)
	}
	conn, err := m.c.conn(ctx, op)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return m.freezeOn(ctx, conn, op, names)
}

// freezeOn runs FREEZE and SHOW WARNINGS on one connection. Once FREEZE may
// have run, every failure path releases what it froze before returning.
func (m *Manticore) freezeOn(ctx context.Context, conn *sql.Conn, op string, names []string) ([]FrozenFile, error) {
	if err := ctx.Err(); err != nil {
		return nil, opErr(op, nil, "", err)
	}
	t, err := m.c.query(ctx, conn, "FREEZE "+quoteManticoreList(names))
	if err != nil {
		if isServerError(err) || errors.Is(err, driver.ErrBadConn) {
			// The server refused the statement, or the driver did not send
			// it (it reports ErrBadConn only then): nothing was frozen.
			return nil, manticoreErr(op, err)
		}
		// The statement may have run before the connection or the context
		// went away. UNFREEZE of a table that cannot be frozen is a no-op,
		// so releasing every name is safe.
		return nil, errors.Join(opErr(op, nil, "", err), m.release(ctx, conn, names))
	}
	w, err := m.c.query(ctx, conn, "SHOW WARNINGS")
	if err != nil {
		return nil, errors.Join(opErr(op, nil, "read warnings", err), m.release(ctx, conn, names))
	}
	notFrozen, err := parseFreezeWarnings(w)
	if err != nil {
		return nil, errors.Join(opErr(op, nil, "read warnings", err), m.release(ctx, conn, names))
	}
	frozen := subtract(names, notFrozen)
	files, err := parseFreezeFiles(t, frozen)
	if err == nil {
		err = everyTableHasFiles(frozen, files)
	}
	if err != nil {
		return nil, errors.Join(opErr(op, nil, "", err), m.release(ctx, conn, frozen))
	}
	if missing := subtract(names, frozen); len(missing) > 0 {
		detail := "not frozen (missing, plain or distributed): " + strings.Join(missing, ", ")
		return nil, errors.Join(opErr(op, ErrTableNotFound, detail, nil), m.release(ctx, conn, frozen))
	}
	return files, nil
}

// everyTableHasFiles checks that each frozen table listed at least one file:
// every RT and percolate table has a .meta and a .settings file, so a frozen
// table without files is a result this package does not understand.
func everyTableHasFiles(tables []string, files []FrozenFile) error {
	has := make(map[string]bool, len(tables))
	for _, f := range files {
		has[f.Table] = true
	}
	for _, t := range tables {
		if !has[t] {
			return fmt.Errorf("%w: FREEZE listed no files for table %q", ErrUnexpectedResult, t)
		}
	}
	return nil
}

// subtract returns the names of a that are not in b, in a's order.
func subtract(a, b []string) []string {
	drop := make(map[string]struct{}, len(b))
	for _, n := range b {
		drop[n] = struct{}{}
	}
	out := make([]string, 0, len(a))
	for _, n := range a {
		if _, ok := drop[n]; !ok {
			out = append(out, n)
		}
	}
	return out
}

// Unfreeze lowers each table's locked counter by one (names are validated,
// lower-cased and de-duplicated; zero tables is ErrNoTables). The server
// clamps the counter at 0 and silently ignores names it does not know;
// Unfreeze reports those as ErrTableNotFound, after the known ones were
// unfrozen.
func (m *Manticore) Unfreeze(ctx context.Context, tables ...string) error {
	op := "manticore unfreeze " + strings.Join(tables, ", ")
	names, err := canonicalManticoreTables(tables)
	if err != nil {
		return opErr(op, nil, "", err)
	}
	return m.unfreeze(ctx, m.c.db, op, names)
}

func (m *Manticore) unfreeze(ctx context.Context, q querier, op string, names []string) error {
	n, err := m.c.exec(ctx, q, "UNFREEZE "+quoteManticoreList(names))
	if err != nil {
		return manticoreErr(op, err)
	}
	if n >= int64(len(names)) {
		return nil
	}
	// Affected rows = how many names were existing RT/percolate tables; ask
	// which ones were not.
	detail := fmt.Sprintf("the server knew %d of %d tables", n, len(names))
	if known, err := m.Tables(ctx); err == nil {
		var freezable []string
		for _, t := range known {
			if t.Freezable() {
				freezable = append(freezable, t.Name)
			}
		}
		if unknown := subtract(names, freezable); len(unknown) > 0 {
			detail = "no such RT or percolate table: " + strings.Join(unknown, ", ")
		}
	}
	return opErr(op, ErrTableNotFound, detail, nil)
}

// WithFrozen freezes the tables, calls fn with the files to copy, and then
// always unfreezes exactly the tables it froze, once each: after fn returns,
// when fn fails, when fn panics (the panic goes on after the release), and
// when ctx is cancelled (the release runs on a fresh context bounded by the
// release timeout, on a new connection if need be). Errors of fn and of the
// release are joined, never dropped.
//
// fn receives ctx. What blocks while a table is frozen, and why a blocked
// statement outlives its context, is described at Freeze.
func (m *Manticore) WithFrozen(ctx context.Context, tables []string, fn func(ctx context.Context, files []FrozenFile) error) (err error) {
	op := "manticore with frozen " + strings.Join(tables, ", ")
	if fn == nil {
		return opErr(op, ErrInvalidArgument, "nil callback", nil)
	}
	names, err := canonicalManticoreTables(tables)
	if err != nil {
		return opErr(op, nil, "", err)
	}
	conn, err := m.c.conn(ctx, op)
	if err != nil {
		return err
	}
	files, err := m.freezeOn(ctx, conn, "manticore freeze "+strings.Join(names, ", "), names)
	conn.Close()
	if err != nil {
		return err
	}
	defer func() {
		if p := recover(); p != nil {
			if rerr := m.release(ctx, nil, names); rerr != nil {
				m.c.opts.logger.ErrorContext(ctx, "dbctl: release after panic failed", "error", rerr)
			}
			panic(p)
		}
		err = errors.Join(err, m.release(ctx, nil, names))
	}()
	if err := fn(ctx, files); err != nil {
		return opErr(op, nil, "callback", err)
	}
	return nil
}
