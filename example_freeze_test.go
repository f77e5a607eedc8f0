package dbctl_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/dbctl/dbctl"
	"github.com/dbctl/dbctl/dbctltest"
)

// These examples run against the embedded Manticore of package dbctltest;
// against a real server, pass its DSN to dbctl.Open.

// exampleServer starts an embedded Manticore with a table "products", and
// returns it, a journal folder of its own, and what to call at the end.
func exampleServer() (srv *dbctltest.Manticore, state string, done func()) {
	srv, err := dbctltest.StartManticore()
	if err != nil {
		log.Fatal(err)
	}
	state, err = os.MkdirTemp("", "dbctl-example-state-")
	if err != nil {
		log.Fatal(err)
	}
	c, err := dbctl.Open(srv.DSN(), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if _, err := c.DB().Exec("CREATE TABLE products (title text)"); err != nil {
		log.Fatal(err)
	}
	return srv, state, func() { _ = os.RemoveAll(state); _ = srv.Close() }
}

func ExampleOptions_stateDir() {
	srv, state, done := exampleServer()
	defer done()
	// Every dbctl that freezes the same servers on this machine should
	// share one journal folder (the CLI: --state-dir).
	c, err := dbctl.Open(srv.DSN(), &dbctl.Options{StateDir: state})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	records := func() int {
		found, _ := filepath.Glob(filepath.Join(state, "freeze-*.json"))
		return len(found)
	}
	err = c.Manticore().WithFrozen(context.Background(), []string{"products"}, func(ctx context.Context, files []dbctl.FrozenFile) error {
		fmt.Println("journal records while frozen:", records())
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("after the release:", records())
	// Output:
	// journal records while frozen: 1
	// after the release: 0
}

func ExampleClient_WaitReleases() {
	srv, state, done := exampleServer()
	defer done()
	c, err := dbctl.Open(srv.DSN(), &dbctl.Options{StateDir: state})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	// A FREEZE slower than the caller's deadline (the embedded server
	// delays it): Freeze returns at the deadline, the FREEZE is awaited by
	// a releaser, which unfreezes the table when it answers.
	srv.Delay("^FREEZE", 300*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = c.Manticore().Freeze(ctx, "products")
	fmt.Println("deadline:", errors.Is(err, context.DeadlineExceeded))
	released, err := c.WaitReleases(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	st, err := c.Manticore().TableStatus(context.Background(), "products")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("released:", released, "locked:", st.Locked)
	// Output:
	// deadline: true
	// released: [products] locked: 0
}

func ExampleManticore_OrphanedFreezes() {
	srv, state, done := exampleServer()
	defer done()
	c, err := dbctl.Open(srv.DSN(), &dbctl.Options{StateDir: state})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	// Freezes of dbctl runs on this machine that died holding them, and
	// what releasing them would do; nothing is changed.
	orphans, err := c.Manticore().OrphanedFreezes(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	for _, o := range orphans {
		fmt.Printf("%s (pid %d, %s): would release %v: %s\n", o.Op, o.PID, o.Written.Format(time.RFC3339), o.Release, o.Reason)
	}
	fmt.Println(len(orphans), "orphaned")
	// Output: 0 orphaned
}

func ExampleManticore_ReleaseOrphanedFreezes() {
	srv, state, done := exampleServer()
	defer done()
	c, err := dbctl.Open(srv.DSN(), &dbctl.Options{StateDir: state})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	// WithFrozen does this first; a tool with its own freezes can call it
	// at its start.
	orphans, err := c.Manticore().ReleaseOrphanedFreezes(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	for _, o := range orphans {
		if o.Done && len(o.Release) > 0 {
			fmt.Printf("released %v of %s (dead pid %d): %s\n", o.Release, o.Op, o.PID, o.Reason)
		}
	}
	fmt.Println(len(orphans), "orphaned")
	// Output: 0 orphaned
}
