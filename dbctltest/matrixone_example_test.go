package dbctltest_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/dbctl/dbctl"
	"github.com/dbctl/dbctl/dbctltest"
)

// The emulated server's clock: snapshots, PITRs and the row history a
// PITR restore reads all use it. It runs only forward.
func ExampleMatrixOne_SetClock() {
	srv, err := dbctltest.StartMatrixOne()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	srv.SetClock(time.Date(time.Now().Year()+1, time.June, 1, 12, 0, 0, 0, time.UTC))
	c, err := dbctl.Open(srv.DSN(), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if _, err := c.DB().Exec("create database shop"); err != nil {
		log.Fatal(err)
	}
	s, err := c.Snapshots().Create(context.Background(), "june", dbctl.DatabaseTarget("shop"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(s.Timestamp.Month(), s.Timestamp.Day(), s.Timestamp.Hour())
	// Output:
	// June 1 12
}

// A checkpoint that takes longer than the timeout it is given gives up on
// the server, which answers with its timeout error: dbctl sends the time
// left before the caller's deadline, minus a margin, so that this answer
// comes first.
func ExampleMatrixOne_SetCheckpointDuration() {
	srv, err := dbctltest.StartMatrixOne()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	srv.SetCheckpointDuration(time.Hour)
	c, err := dbctl.Open(srv.DSN(), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err = c.MoCtl().IncrementalCheckpoint(ctx)
	fmt.Println(errors.Is(err, dbctl.ErrServerTimeout))
	// Output:
	// true
}

// Held says how many statements wait on a Hold: here a restore, whose
// caller gives up; the server runs it to the end once released.
func ExampleMatrixOne_Held() {
	srv, err := dbctltest.StartMatrixOne()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	c, err := dbctl.Open(srv.DSN(), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	for _, q := range []string{"create database shop", "create table shop.orders (id int primary key, item varchar(9))",
		"insert into shop.orders values (1,'mug')"} {
		if _, err := c.DB().Exec(q); err != nil {
			log.Fatal(err)
		}
	}
	if _, err := c.Snapshots().Create(context.Background(), "s1", dbctl.DatabaseTarget("shop")); err != nil {
		log.Fatal(err)
	}
	if _, err := c.DB().Exec("delete from shop.orders"); err != nil {
		log.Fatal(err)
	}
	release := srv.Hold("restore database")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err = c.Snapshots().Restore(ctx, "s1", dbctl.DatabaseTarget("shop"), dbctl.SnapshotRestoreOptions{})
	fmt.Println(errors.Is(err, dbctl.ErrOutcomeUnknown), srv.Held())
	release()
	// Output:
	// true 1
}
