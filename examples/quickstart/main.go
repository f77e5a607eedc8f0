// Command quickstart runs every operation of dbctl's two managers and prints
// what it got. It talks to the servers named by DBCTL_MANTICORE_DSN and
// DBCTL_MATRIXONE_DSN (a sys/moadmin login) when they are set, and starts
// the embedded test servers of package dbctltest otherwise:
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/dbctl/dbctl"
	"github.com/dbctl/dbctl/dbctltest"
)

func main() {
	log.SetFlags(0)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := manticore(ctx); err != nil {
		log.Fatalf("manticore: %v", err)
	}
	if err := matrixOne(ctx); err != nil {
		log.Fatalf("matrixone: %v", err)
	}
}

func manticore(ctx context.Context) error {
	dsn := os.Getenv("DBCTL_MANTICORE_DSN")
	if dsn == "" {
		srv, err := dbctltest.StartManticore()
		if err != nil {
			return err
		}
		defer srv.Close()
		dsn = srv.DSN()
		fmt.Printf("== Manticore: embedded server at %s (data_dir %s)\n", srv.Addr(), srv.DataDir())
	} else {
		fmt.Println("== Manticore: DBCTL_MANTICORE_DSN")
	}
	c, err := dbctl.Open(dsn, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	m := c.Manticore()
	if err := c.Ping(ctx); err != nil {
		return err
	}
	table := fmt.Sprintf("dbctl_quickstart_%d", time.Now().UnixNano()%1e6)
	for _, stmt := range []string{
		"CREATE TABLE " + table + "(title text, gid int)",
		"INSERT INTO " + table + "(id, title, gid) VALUES (1, 'one', 10), (2, 'two', 20)",
	} {
		if _, err := c.DB().ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	defer c.DB().ExecContext(context.Background(), "DROP TABLE IF EXISTS "+table)

	v, err := m.ServerVersion(ctx)
	show("ServerVersion", v, err)
	tables, err := m.Tables(ctx)
	show("Tables", tables, err)
	n, err := m.FlushHostnames(ctx)
	show("FlushHostnames (rows affected)", n, err)
	show("FlushRAMChunk", "ok", m.FlushRAMChunk(ctx, table))
	show("FlushTable", "ok", m.FlushTable(ctx, table))
	tag, err := m.FlushAttributes(ctx)
	show("FlushAttributes (tag)", tag, err)

	files, err := m.Freeze(ctx, table)
	show("Freeze", fmt.Sprintf("%d files", len(files)), err)
	for _, f := range files {
		fmt.Printf("     %s  %s\n", f.Table, f.Normalized)
	}
	locked, err := lockedCount(ctx, m, table)
	show("TableStatus: Locked (the FREEZE counter)", locked, err)
	locks, err := m.Locks(ctx)
	show("Locks", locks, err)
	err = m.Optimize(ctx, table, dbctl.OptimizeOptions{Sync: true})
	show("Optimize while frozen (refused)", errors.Is(err, dbctl.ErrTableFrozen), nil)
	show("Unfreeze", "ok", m.Unfreeze(ctx, table))

	st, err := m.TableStatus(ctx, table)
	if err == nil {
		show("TableStatus", fmt.Sprintf("%d keys; type=%s indexed_documents=%d disk_chunks=%d locked=%d",
			len(st.Vars), st.TableType, st.IndexedDocuments, st.DiskChunks, st.Locked), nil)
	} else {
		show("TableStatus", nil, err)
	}
	show("Optimize cutoff=1 sync", "ok", m.Optimize(ctx, table, dbctl.OptimizeOptions{Cutoff: 1, Sync: true}))

	err = m.WithFrozen(ctx, []string{table}, func(ctx context.Context, files []dbctl.FrozenFile) error {
		n, err := lockedCount(ctx, m, table)
		show("WithFrozen: locked inside", n, err)
		return nil
	})
	locked, _ = lockedCount(ctx, m, table)
	show("WithFrozen: locked after", locked, err)

	_, err = m.Freeze(ctx, "no_such_table")
	show("Freeze of a missing table", errors.Is(err, dbctl.ErrTableNotFound), nil)
	fmt.Printf("     %v\n", err)
	_, err = m.Freeze(ctx, "t; DROP TABLE x")
	show("Freeze of a hostile name (nothing sent)", errors.Is(err, dbctl.ErrInvalidIdentifier), nil)
	return nil
}

func matrixOne(ctx context.Context) error {
	dsn := os.Getenv("DBCTL_MATRIXONE_DSN")
	if dsn == "" {
		srv, err := dbctltest.StartMatrixOne()
		if err != nil {
			return err
		}
		defer srv.Close()
		dsn = srv.DSN()
		fmt.Printf("\n== MatrixOne: embedded server at %s (sys root)\n", srv.Addr())
	} else {
		fmt.Println("\n== MatrixOne: DBCTL_MATRIXONE_DSN")
	}
	c, err := dbctl.Open(dsn, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	mo := c.MoCtl()
	db := fmt.Sprintf("dbctl_quickstart_%d", time.Now().UnixNano()%1e6)
	for _, stmt := range []string{"create database " + db, "create table " + db + ".t (a int)", "insert into " + db + ".t values (1), (2)"} {
		if _, err := c.DB().ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	defer c.DB().ExecContext(context.Background(), "drop database if exists "+db)

	id, err := mo.CheckSysAccount(ctx)
	show("CheckSysAccount", id, err)
	r, err := mo.FlushTable(ctx, db, "t")
	showResult("FlushTable", r, err)
	var relID uint64
	if err := c.DB().QueryRowContext(ctx, "select rel_id from mo_catalog.mo_tables where reldatabase = '"+db+"' and relname = 't'").Scan(&relID); err != nil {
		return err
	}
	r, err = mo.FlushTableByID(ctx, relID)
	showResult(fmt.Sprintf("FlushTableByID(%d)", relID), r, err)
	r, err = mo.FlushAccountTable(ctx, db, "t", 0)
	showResult("FlushAccountTable(account 0 = sys)", r, err)
	r, err = mo.IncrementalCheckpoint(ctx)
	showResult("IncrementalCheckpoint (timeout from ctx)", r, err)
	r, err = mo.GlobalCheckpoint(ctx)
	showResult("GlobalCheckpoint", r, err)
	shards, err := mo.Ping(ctx)
	show("Ping", shards, err)
	r, err = mo.Exec(ctx, "dn", "inspect", "")
	if err == nil {
		show("Exec inspect (console text)", strings.SplitN(strings.TrimSpace(r.Raw), "\n", 2)[0], nil)
	} else {
		show("Exec inspect", nil, err)
	}
	_, err = mo.FlushTable(ctx, "no_such_db", "t")
	show("FlushTable of a missing database", errors.Is(err, dbctl.ErrTableNotFound), nil)
	fmt.Printf("     %v\n", err)
	return nil
}

func show(what string, v any, err error) {
	if err != nil {
		fmt.Printf("  %-42s ERROR %v\n", what, err)
		return
	}
	fmt.Printf("  %-42s %+v\n", what, v)
}

func showResult(what string, r *dbctl.MoCtlResult, err error) {
	if err != nil {
		show(what, nil, err)
		return
	}
	show(what, fmt.Sprintf("method=%s returnStr=%v", r.Method, r.ReturnStrs), nil)
}

// lockedCount is the table's FREEZE counter: TableStatus's Locked
// (SHOW TABLE t STATUS, "locked").
func lockedCount(ctx context.Context, m *dbctl.Manticore, table string) (int, error) {
	st, err := m.TableStatus(ctx, table)
	if err != nil {
		return 0, err
	}
	return st.Locked, nil
}
