package dbctl

import (
	"context"
	"database/sql"
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
// The FREEZE's answer is always awaited: searchd runs a FREEZE whose client
// has gone (FREEZE saves the RAM chunk and stops a merge, which can take
// long on a big table or a slow disk), so no deadline cuts it. When ctx ends
// first, Freeze returns ctx's error at once (an *OpError naming the
// tables) and a releaser goes on waiting: when the FREEZE answers, it
// unfreezes exactly the tables the FREEZE froze (Client.WaitReleases and
// Close wait for it). When the connection dies with the FREEZE in flight,
// the error is ErrFreezeOutcomeUnknown (see there).
//
// While in flight the freeze is journaled (Options.StateDir): a process killed
// then leaves a record that the next run on this machine releases. Once
// Freeze returns the files the record is removed: the freeze is the
// caller's, and no later run takes it for an orphan.
//
// The server does not fail FREEZE for a table it cannot freeze (missing,
// plain or distributed): it lists no files for it and sets a warning.
// Freeze decides from the file list, never from SHOW WARNINGS, which on a
// pooled connection can still hold an earlier statement's warning
// (manticore-2.jsonl); if any table was not frozen it unfreezes the ones
// that were and returns ErrTableNotFound naming the others, quoting the
// connection's last warning, so that on error nothing is left frozen.
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
	_, files, err := m.freeze(ctx, op, names, handOver)
	return files, err
}

// How freeze decides from FREEZE's answer which tables it froze: a frozen
// RT or percolate table always lists its own files (at least .meta and
// .settings: manticore-2.jsonl "FREEZE cap_rt", "FREEZE cap_pq"), and a
// table FREEZE could not freeze lists none (manticore-2.jsonl "FREEZE
// cap_dist": columns, no rows). SHOW WARNINGS is not used for that
// decision: searchd keeps a warning on its connection until another
// statement replaces it, so on a pooled connection it can name tables of
// an earlier FREEZE (manticore-2.jsonl, the note at "FREEZE cap_rt,
// cap_dist, cap_nope"), and with no warning it answers an OK packet, not a
// result set (manticore.md §4.5). It is read only to quote the server's
// words in the error (manticore_flight.go).

// lastWarning returns the messages of SHOW WARNINGS on conn, or "" when
// there is none or it cannot be read (it only decorates an error). With no
// warning searchd answers an OK packet, which reads as a table without
// columns (manticore-2.jsonl: "SHOW WARNINGS" on connection "other").
func (m *Manticore) lastWarning(ctx context.Context, conn *sql.Conn) string {
	wctx, cancel := m.c.detached(ctx)
	defer cancel()
	w, err := m.c.query(wctx, conn, "SHOW WARNINGS")
	if err != nil {
		return ""
	}
	msgs, err := parseWarnings(w)
	if err != nil {
		return ""
	}
	return strings.Join(msgs, "; ")
}

// tablesOf returns the names (in names' order) that have at least one file.
func tablesOf(files []FrozenFile, names []string) []string {
	has := make(map[string]bool, len(names))
	for _, f := range files {
		has[f.Table] = true
	}
	out := make([]string, 0, len(names))
	for _, n := range names {
		if has[n] {
			out = append(out, n)
		}
	}
	return out
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
			if t.Freezable {
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
// First it releases this server's orphaned freezes (ReleaseOrphanedFreezes:
// freezes of dbctl runs on this machine that died holding them), logging
// what it released. Its own freeze is journaled (Options.StateDir) from before
// the FREEZE until the UNFREEZE is confirmed, so that if this process dies
// meanwhile the next run releases it. When ctx ends while the FREEZE runs,
// WithFrozen returns at once without calling fn, and the FREEZE is released
// when it answers (see Freeze).
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
	m.releaseOrphansFirst(ctx, op)
	h, files, err := m.freeze(ctx, "manticore with frozen "+strings.Join(names, ", "), names, keepHeld) // the op names a WithFrozen in its journal record too
	if err != nil {
		return err
	}
	defer func() {
		if p := recover(); p != nil {
			if rerr := h.release(ctx); rerr != nil {
				m.c.opts.logger.ErrorContext(ctx, "dbctl: release after panic failed", "error", rerr)
			}
			panic(p)
		}
		err = errors.Join(err, h.release(ctx))
	}()
	if err := fn(ctx, files); err != nil {
		return opErr(op, nil, "callback", err)
	}
	return nil
}
