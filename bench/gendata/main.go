// Command gendata builds Manticore table files for the backup benchmark: it
// starts the embedded server (dbctltest) on -dir, creates bench_a, bench_b
// and bench_c (4:3:2, four disk chunks each) and loads -rows documents of
// deterministic pseudo-text through SQL (by default the peer measurement's
// 900,000, about 1.1 GB of table files), then stops the server cleanly so
// the files stay in -dir.
//
//	go run ./bench/gendata -dir /tmp/dbctl-bench-data
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io/fs"
	"log"
	"path/filepath"
	"time"

	"github.com/dbctl/dbctl/dbctltest"
	"github.com/dbctl/dbctl/internal/benchdata"
	_ "github.com/go-sql-driver/mysql"
)

func main() {
	dir := flag.String("dir", "", "data_dir to create or reuse (required)")
	rows := flag.Int("rows", benchdata.PeerRows, "documents to load (split 4:3:2 over the tables)")
	seed := flag.Int64("seed", 1, "random seed")
	flag.Parse()
	if *dir == "" {
		log.Fatal("gendata: -dir is required")
	}
	start := time.Now()
	srv, err := dbctltest.StartManticore(dbctltest.WithDataDir(*dir))
	if err != nil {
		log.Fatal(err)
	}
	db, err := sql.Open("mysql", srv.DSN())
	if err != nil {
		log.Fatal(err)
	}
	if err := benchdata.Load(context.Background(), db, benchdata.Split(*rows), *seed); err != nil {
		log.Fatal(err)
	}
	db.Close()
	if err := srv.Close(); err != nil {
		log.Fatal(err)
	}
	var files int
	var bytes int64
	_ = filepath.WalkDir(srv.DataDir(), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			fi, _ := d.Info()
			files++
			bytes += fi.Size()
		}
		return nil
	})
	fmt.Printf("gendata: %s: %d files, %.3f GiB, in %.1fs\n", srv.DataDir(), files, float64(bytes)/(1<<30), time.Since(start).Seconds())
}
