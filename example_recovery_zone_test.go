package dbctl_test

import (
	"context"
	"fmt"
	"log"
	"time"
	_ "time/tzdata" // Europe/Berlin, whatever the machine has

	"github.com/dbctl/dbctl"
	"github.com/dbctl/dbctl/dbctltest"
)

// A server process in Europe/Berlin, asked in December: a PITR restore to a
// summer instant (CEST, +2) and to a winter one (CET, +1) each bring back
// the rows of that instant. dbctl asks the server for its zone's offset at
// each instant (or takes it from Options.MatrixOneTimeZone).
func ExamplePITRs_Restore_daylightSavingTime() {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		log.Fatal(err)
	}
	srv, err := dbctltest.StartMatrixOne()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	srv.SetTimeZone(berlin)
	// the emulated clock runs only forward: next year's summer, then winter
	y := time.Now().Year() + 1
	day := func(month time.Month, hour, min int) time.Time {
		return time.Date(y, month, 1, hour, min, 0, 0, time.UTC)
	}
	srv.SetClock(day(time.July, 11, 0))
	c, err := dbctl.Open(srv.DSN(), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	run(c, "create database shop", "create table shop.orders (id int primary key, item varchar(20))")
	if _, err := c.PITRs().Create(ctx, "shop_pitr", dbctl.DatabaseTarget("shop"), dbctl.Range{N: 1, Unit: dbctl.RangeYears}); err != nil {
		log.Fatal(err)
	}
	run(c, "insert into shop.orders values (1,'ice cream')")
	srv.SetClock(day(time.July, 12, 30))
	run(c, "insert into shop.orders values (2,'sun hat')")
	srv.SetClock(day(time.December, 11, 0))
	run(c, "insert into shop.orders values (3,'scarf')")
	srv.SetClock(day(time.December, 12, 30))
	run(c, "insert into shop.orders values (4,'gloves')")
	srv.SetClock(day(time.December, 13, 0))

	for _, at := range []time.Time{day(time.July, 12, 0), day(time.December, 12, 0)} {
		if err := c.PITRs().Restore(ctx, "shop_pitr", at, dbctl.DatabaseTarget("shop")); err != nil {
			log.Fatal(err)
		}
		fmt.Println("at 12:00 UTC on 1", at.Month(), "("+at.In(berlin).Format("15:04 MST")+" in Berlin):")
		printOrders(c)
	}
	// Output:
	// at 12:00 UTC on 1 July (14:00 CEST in Berlin):
	//   1 ice cream
	// at 12:00 UTC on 1 December (13:00 CET in Berlin):
	//   1 ice cream
	//   2 sun hat
	//   3 scarf
}

// Options.MatrixOneTimeZone names the server process's zone: dbctl then asks
// the server for no offset. An instant whose wall clock the server would
// read as another one (the first 02:30 of the night the clocks go back) is
// refused before anything is sent.
func ExampleOptions_matrixOneTimeZone() {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		log.Fatal(err)
	}
	srv, err := dbctltest.StartMatrixOne()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	srv.SetTimeZone(berlin)
	c, err := dbctl.Open(srv.DSN(), &dbctl.Options{MatrixOneTimeZone: berlin})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	at := time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC) // 02:30 CEST, an hour before 02:30 CET
	err = c.PITRs().Restore(context.Background(), "p", at, dbctl.DatabaseTarget("shop"))
	fmt.Println(err)
	// Output:
	// dbctl: pitr restore p to database shop: invalid argument: restore time 2026-10-25T00:30:00Z is 2026-10-25 02:30:00 in the server's zone, a wall clock that occurs twice there (the clocks are turned back); RESTORE ... FROM PITR takes a wall clock with no offset and the server would read it as 2026-10-25T01:30:00Z: choose a time outside the repeated hour
}
