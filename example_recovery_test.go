package dbctl_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/dbctl/dbctl"
	"github.com/dbctl/dbctl/dbctltest"
)

// The recovery examples run against the embedded MatrixOne of dbctltest,
// which keeps real rows and their history; against a real server, use
// dbctl.Open with its DSN.

// recoveryExample starts a server with database shop, table orders (two
// rows), and a client logged in as sys root.
func recoveryExample() (*dbctltest.MatrixOne, *dbctl.Client) {
	srv, err := dbctltest.StartMatrixOne()
	if err != nil {
		log.Fatal(err)
	}
	c, err := dbctl.Open(srv.DSN(), nil)
	if err != nil {
		log.Fatal(err)
	}
	run(c, "create database shop", "create table shop.orders (id int primary key, item varchar(20))",
		"insert into shop.orders values (1,'mug'),(2,'tea')")
	return srv, c
}

func run(c *dbctl.Client, stmts ...string) {
	for _, q := range stmts {
		if _, err := c.DB().Exec(q); err != nil {
			log.Fatal(q, ": ", err)
		}
	}
}

func printOrders(c *dbctl.Client) {
	rows, err := c.DB().Query("select * from shop.orders order by id")
	if err != nil {
		log.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int
		var item string
		if err := rows.Scan(&id, &item); err != nil {
			log.Fatal(err)
		}
		fmt.Printf("  %d %s\n", id, item)
	}
}

func ExampleSnapshots_Create() {
	srv, c := recoveryExample()
	defer srv.Close()
	defer c.Close()
	ctx := context.Background()

	s, err := c.Snapshots().Create(ctx, "Shop_Daily", dbctl.DatabaseTarget("shop"))
	if err != nil {
		log.Fatal(err)
	}
	// the name comes back as the server stores it
	fmt.Println(s.Name, s.Level, s.Account, s.Database, s.Timestamp.Location())

	_, err = c.Snapshots().Create(ctx, "shop_daily", dbctl.AccountTarget(""))
	fmt.Println(errors.Is(err, dbctl.ErrAlreadyExists))
	// Output:
	// shop_daily database sys shop UTC
	// true
}

func ExampleSnapshots_List() {
	srv, c := recoveryExample()
	defer srv.Close()
	defer c.Close()
	ctx := context.Background()
	for _, t := range []dbctl.Target{dbctl.AccountTarget(""), dbctl.TableTarget("shop", "orders")} {
		if _, err := c.Snapshots().Create(ctx, "snap_"+string(t.Level), t); err != nil {
			log.Fatal(err)
		}
	}
	list, err := c.Snapshots().List(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range list { // newest first
		fmt.Println(s.Name, s.Level, s.Database, s.Table)
	}
	// Output:
	// snap_table table shop orders
	// snap_account account
}

func ExampleSnapshots_Get() {
	srv, c := recoveryExample()
	defer srv.Close()
	defer c.Close()
	ctx := context.Background()
	if _, err := c.Snapshots().Create(ctx, "nightly", dbctl.AccountTarget("")); err != nil {
		log.Fatal(err)
	}
	s, err := c.Snapshots().Get(ctx, "NIGHTLY")
	fmt.Println(s.Name, s.Level, err)
	_, err = c.Snapshots().Get(ctx, "weekly")
	fmt.Println(errors.Is(err, dbctl.ErrSnapshotNotFound))
	// Output:
	// nightly account <nil>
	// true
}

func ExampleSnapshots_Drop() {
	srv, c := recoveryExample()
	defer srv.Close()
	defer c.Close()
	ctx := context.Background()
	if _, err := c.Snapshots().Create(ctx, "nightly", dbctl.AccountTarget("")); err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.Snapshots().Drop(ctx, "nightly"))
	fmt.Println(errors.Is(c.Snapshots().Drop(ctx, "nightly"), dbctl.ErrSnapshotNotFound))
	// Output:
	// <nil>
	// true
}

func ExampleSnapshots_Restore() {
	srv, c := recoveryExample()
	defer srv.Close()
	defer c.Close()
	ctx := context.Background()
	if _, err := c.Snapshots().Create(ctx, "before_cleanup", dbctl.DatabaseTarget("shop")); err != nil {
		log.Fatal(err)
	}
	run(c, "delete from shop.orders where id = 1", "update shop.orders set item = 'coffee' where id = 2")

	// replaces the whole database shop with its state at the snapshot
	if err := c.Snapshots().Restore(ctx, "before_cleanup", dbctl.DatabaseTarget("shop"), dbctl.SnapshotRestoreOptions{}); err != nil {
		log.Fatal(err)
	}
	printOrders(c)

	// TO ACCOUNT is refused for a database restore: the server would ignore it
	err := c.Snapshots().Restore(ctx, "before_cleanup", dbctl.DatabaseTarget("shop"), dbctl.SnapshotRestoreOptions{ToAccount: "acc1"})
	fmt.Println(err)
	// Output:
	//   1 mug
	//   2 tea
	// dbctl: snapshot restore before_cleanup to database shop: invalid argument: ToAccount "acc1" with a database restore: the server ignores TO ACCOUNT there and restores into the caller's account
}

func ExamplePITRs_Create() {
	srv, c := recoveryExample()
	defer srv.Close()
	defer c.Close()
	p, err := c.PITRs().Create(context.Background(), "Shop_PITR", dbctl.DatabaseTarget("shop"), dbctl.Range{N: 7, Unit: dbctl.RangeDays})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(p.Name, p.Level, p.Account, p.Database, p.Range)
	// Output:
	// shop_pitr database sys shop 7 d
}

func ExamplePITRs_List() {
	srv, c := recoveryExample()
	defer srv.Close()
	defer c.Close()
	ctx := context.Background()
	if _, err := c.PITRs().Create(ctx, "acct", dbctl.AccountTarget(""), dbctl.Range{N: 1, Unit: dbctl.RangeMonths}); err != nil {
		log.Fatal(err)
	}
	if _, err := c.PITRs().Create(ctx, "orders", dbctl.TableTarget("shop", "orders"), dbctl.Range{N: 12, Unit: dbctl.RangeHours}); err != nil {
		log.Fatal(err)
	}
	list, err := c.PITRs().List(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range list {
		fmt.Printf("%s %s %q %q %q %s\n", p.Name, p.Level, p.Account, p.Database, p.Table, p.Range)
	}
	// Output:
	// orders table "sys" "shop" "orders" 12 h
	// acct account "sys" "" "" 1 mo
}

func ExamplePITRs_Get() {
	srv, c := recoveryExample()
	defer srv.Close()
	defer c.Close()
	ctx := context.Background()
	if _, err := c.PITRs().Create(ctx, "acct", dbctl.AccountTarget(""), dbctl.Range{N: 1, Unit: dbctl.RangeYears}); err != nil {
		log.Fatal(err)
	}
	p, err := c.PITRs().Get(ctx, "ACCT")
	fmt.Println(p.Name, p.Range, err)
	_, err = c.PITRs().Get(ctx, "other")
	fmt.Println(errors.Is(err, dbctl.ErrPITRNotFound))
	// Output:
	// acct 1 y <nil>
	// true
}

func ExamplePITRs_Alter() {
	srv, c := recoveryExample()
	defer srv.Close()
	defer c.Close()
	ctx := context.Background()
	if _, err := c.PITRs().Create(ctx, "acct", dbctl.AccountTarget(""), dbctl.Range{N: 1, Unit: dbctl.RangeDays}); err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.PITRs().Alter(ctx, "acct", dbctl.Range{N: 3, Unit: dbctl.RangeDays}))
	p, _ := c.PITRs().Get(ctx, "acct")
	fmt.Println(p.Range)
	// the server would take 0 and keep nothing; the SDK refuses it
	fmt.Println(c.PITRs().Alter(ctx, "acct", dbctl.Range{N: 0, Unit: dbctl.RangeDays}))
	// Output:
	// <nil>
	// 3 d
	// dbctl: pitr alter acct: invalid argument: range value 0 (want 1 to 100)
}

func ExamplePITRs_Drop() {
	srv, c := recoveryExample()
	defer srv.Close()
	defer c.Close()
	ctx := context.Background()
	if _, err := c.PITRs().Create(ctx, "acct", dbctl.AccountTarget(""), dbctl.Range{N: 1, Unit: dbctl.RangeDays}); err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.PITRs().Drop(ctx, "acct"))
	fmt.Println(errors.Is(c.PITRs().Drop(ctx, "acct"), dbctl.ErrPITRNotFound))
	// the server's own PITR is never dropped through the SDK
	fmt.Println(c.PITRs().Drop(ctx, dbctl.ReservedPITRName))
	// Output:
	// <nil>
	// true
	// dbctl: pitr drop sys_mo_catalog_pitr: invalid identifier: PITR name "sys_mo_catalog_pitr" is the server's internal PITR on mo_catalog
}

func ExamplePITRs_Restore() {
	srv, c := recoveryExample()
	defer srv.Close()
	defer c.Close()
	ctx := context.Background()
	if _, err := c.PITRs().Create(ctx, "shop_pitr", dbctl.DatabaseTarget("shop"), dbctl.Range{N: 1, Unit: dbctl.RangeDays}); err != nil {
		log.Fatal(err)
	}
	run(c, "insert into shop.orders values (3,'jam')")
	at := time.Now() // any location: the SDK sends it in the server's zone
	run(c, "delete from shop.orders", "insert into shop.orders values (9,'oops')")

	// replaces the database shop with its rows at time at
	if err := c.PITRs().Restore(ctx, "shop_pitr", at, dbctl.DatabaseTarget("shop")); err != nil {
		log.Fatal(err)
	}
	printOrders(c)
	// before the PITR began: refused by the server, nothing changed
	err := c.PITRs().Restore(ctx, "shop_pitr", at.Add(-24*time.Hour), dbctl.DatabaseTarget("shop"))
	fmt.Println(errors.Is(err, dbctl.ErrInvalidArgument))
	printOrders(c)
	// Output:
	//   1 mug
	//   2 tea
	//   3 jam
	// true
	//   1 mug
	//   2 tea
	//   3 jam
}

func ExampleTarget_Validate() {
	for _, t := range []dbctl.Target{dbctl.DatabaseTarget("shop"), dbctl.DatabaseTarget("sh`op"), dbctl.TableTarget("shop", ""),
		{Level: dbctl.LevelDatabase, Account: "acc1", Database: "shop"}} {
		fmt.Println(t.Validate())
	}
	// Output:
	// <nil>
	// dbctl: invalid identifier: database name "sh`op" contains a back-tick, which MatrixOne refuses
	// dbctl: invalid identifier: empty table name
	// dbctl: invalid argument: a database target is always in the caller's own account; Account must be empty (got "acc1")
}

func ExampleValidateSnapshotRestore() {
	// checked without a connection, e.g. before asking for a confirmation
	fmt.Println(dbctl.ValidateSnapshotRestore("nightly", dbctl.AccountTarget("acc1"), dbctl.SnapshotRestoreOptions{ToAccount: "acc2"}))
	err := dbctl.ValidateSnapshotRestore("nightly", dbctl.DatabaseTarget("shop"), dbctl.SnapshotRestoreOptions{ToAccount: "acc2"})
	fmt.Println(errors.Is(err, dbctl.ErrInvalidArgument))
	fmt.Println(err)
	err = dbctl.ValidateSnapshotRestore("night`ly", dbctl.DatabaseTarget("shop"), dbctl.SnapshotRestoreOptions{})
	fmt.Println(errors.Is(err, dbctl.ErrInvalidIdentifier))
	// Output:
	// <nil>
	// true
	// dbctl: snapshot restore nightly to database shop: invalid argument: ToAccount "acc2" with a database restore: the server ignores TO ACCOUNT there and restores into the caller's account
	// true
}

func ExampleValidatePITRRestore() {
	at := time.Date(2026, 11, 30, 23, 38, 40, 0, time.UTC)
	fmt.Println(dbctl.ValidatePITRRestore("shop_pitr", at, dbctl.DatabaseTarget("shop")))
	// MatrixOne keeps nanoseconds since 1970 in an int64: 3000 does not fit
	err := dbctl.ValidatePITRRestore("shop_pitr", time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), dbctl.DatabaseTarget("shop"))
	fmt.Println(errors.Is(err, dbctl.ErrInvalidArgument))
	err = dbctl.ValidatePITRRestore(dbctl.ReservedPITRName, at, dbctl.ClusterTarget())
	fmt.Println(errors.Is(err, dbctl.ErrInvalidIdentifier))
	// Output:
	// <nil>
	// true
	// true
}

func ExamplePITRs_RecoveryWindow() {
	srv, c := recoveryExample()
	defer srv.Close()
	defer c.Close()
	ctx := context.Background()
	if _, err := c.Snapshots().Create(ctx, "nightly", dbctl.AccountTarget("")); err != nil {
		log.Fatal(err)
	}
	if _, err := c.PITRs().Create(ctx, "shop_pitr", dbctl.DatabaseTarget("shop"), dbctl.Range{N: 1, Unit: dbctl.RangeDays}); err != nil {
		log.Fatal(err)
	}
	windows, err := c.PITRs().RecoveryWindow(ctx, dbctl.DatabaseTarget("shop"))
	if err != nil {
		log.Fatal(err)
	}
	for _, w := range windows {
		fmt.Println(w.Level, w.Account, w.Database, w.Table)
		for _, s := range w.Snapshots {
			fmt.Println("  snapshot", s.Name)
		}
		for _, p := range w.PITRs {
			fmt.Println("  pitr", p.Name, !p.End.Before(p.Start))
		}
	}
	// Output:
	// database sys shop orders
	//   snapshot nightly
	//   pitr shop_pitr true
}

func ExampleParseRange() {
	r, err := dbctl.ParseRange("30d")
	fmt.Println(r.N, r.Unit, err)
	_, err = dbctl.ParseRange("2 w")
	fmt.Println(err)
	// Output:
	// 30 d <nil>
	// dbctl: invalid argument: range unit "w" (want h, d, mo or y)
}

func ExampleTableTarget() {
	for _, t := range []dbctl.Target{dbctl.ClusterTarget(), dbctl.AccountTarget(""), dbctl.AccountTarget("acc1"),
		dbctl.DatabaseTarget("shop"), dbctl.TableTarget("shop", "orders")} {
		fmt.Println(t)
	}
	// Output:
	// cluster
	// account (own)
	// account acc1
	// database shop
	// table shop.orders
}
