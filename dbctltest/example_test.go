package dbctltest_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/dbctl/dbctl"
	"github.com/dbctl/dbctl/dbctltest"
	_ "github.com/go-sql-driver/mysql"
)

// An embedded Manticore in one line: real files in DataDir, searchd's
// answers (in tests, NewManticore(t) also closes it with t.Cleanup).
func ExampleStartManticore() {
	srv, err := dbctltest.StartManticore()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	c, err := dbctl.Open(srv.DSN(), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if _, err := c.DB().Exec("CREATE TABLE products(title text)"); err != nil {
		log.Fatal(err)
	}
	files, err := c.Manticore().Freeze(context.Background(), "products")
	if err != nil {
		log.Fatal(err)
	}
	n, _ := srv.Locked("products")
	fmt.Println(len(files) > 0, n)
	fmt.Println(c.Manticore().Unfreeze(context.Background(), "products"))
	// Output:
	// true 1
	// <nil>
}

// Hold makes a statement wait on the server until released, so a test
// orders what happens without timing; Held says a statement waits.
func ExampleManticore_Hold() {
	srv, err := dbctltest.StartManticore()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	db, err := sql.Open("mysql", srv.DSN())
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	release := srv.Hold("^SHOW LOCKS")
	done := make(chan error)
	go func() {
		_, err := db.Exec("SHOW LOCKS")
		done <- err
	}()
	for srv.Held() == 0 {
		time.Sleep(time.Millisecond)
	}
	fmt.Println("waiting:", srv.Held())
	release()
	fmt.Println(<-done)
	// Output:
	// waiting: 1
	// <nil>
}

// FailNext makes the next matching statement fail with the server's kind
// of error, without running it.
func ExampleManticore_FailNext() {
	srv, err := dbctltest.StartManticore()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	c, err := dbctl.Open(srv.DSN(), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	srv.FailNext("SHOW LOCKS", 1064, "injected")
	_, err = c.Manticore().Locks(context.Background())
	fmt.Println(err)
	// Output:
	// dbctl: manticore show locks: Error 1064 (42000): injected
}

// An embedded MatrixOne with accounts, users and roles: mo_ctl answers for
// sys/moadmin only, as on the real server.
func ExampleStartMatrixOne() {
	srv, err := dbctltest.StartMatrixOne()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	if err := srv.CreateAccount("acc1", "admin", "111"); err != nil {
		log.Fatal(err)
	}
	root, err := dbctl.Open(srv.DSN(), nil) // root:111, sys, moadmin
	if err != nil {
		log.Fatal(err)
	}
	defer root.Close()
	shards, err := root.MoCtl().Ping(context.Background())
	fmt.Println(len(shards) > 0, err)
	tenant, err := dbctl.Open(srv.DSNFor("acc1", "admin", "111"), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer tenant.Close()
	_, err = tenant.MoCtl().Ping(context.Background())
	fmt.Println(errors.Is(err, dbctl.ErrNotSysAccount))
	// Output:
	// true <nil>
	// true
}
