package backup_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/dbctl/dbctl"
	"github.com/dbctl/dbctl/backup"
	"github.com/dbctl/dbctl/backupstore"
	"github.com/dbctl/dbctl/backupstore/s3store"
)

// The remote examples use local folders as locations; an
// "s3://bucket/prefix" location works the same way (see the README section
// "Backups in S3-compatible object storage").

func Example_remoteLocation() {
	fmt.Println(backupstore.IsRemote("s3://backups/manticore/2026-12-01"))
	fmt.Println(backupstore.IsRemote("/var/backups/manticore/2026-12-01"))
	// Output:
	// true
	// false
}

func ExampleUpload() {
	srv, _, tmp, dir := backedUpExample()
	defer srv.Close()
	defer os.RemoveAll(tmp)
	ctx := context.Background()
	// The target may be "s3://bucket/prefix"; credentials and endpoint come
	// from the environment (AWS_ACCESS_KEY_ID, AWS_REGION, AWS_ENDPOINT_URL...).
	target := filepath.Join(tmp, "offsite", "backup-1")
	if err := backup.Upload(ctx, dir, target, backup.UploadOptions{Store: backupstore.Options{}}); err != nil {
		log.Fatal(err)
	}
	man, err := backup.Verify(ctx, target, backup.VerifyOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("uploaded and verified:", len(man.Tables), "table(s)")
	// Output:
	// uploaded and verified: 1 table(s)
}

func ExampleReadOptions() {
	srv, _, tmp, dir := backedUpExample()
	defer srv.Close()
	defer os.RemoveAll(tmp)
	man, err := backup.ReadManifest(context.Background(), dir, backup.ReadOptions{Store: backupstore.Options{}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(man.Tables[0].Name, man.Tables[0].Type)
	// Output:
	// products rt
}

func ExampleList() {
	srv, c, tmp := backupExampleServer()
	defer srv.Close()
	defer os.RemoveAll(tmp)
	ctx := context.Background()
	for _, name := range []string{"2026-11-30", "2026-12-01"} {
		if _, err := backup.Create(ctx, c.Manticore(), filepath.Join(tmp, name), backup.CreateOptions{}); err != nil {
			log.Fatal(err)
		}
	}
	list, err := backup.List(ctx, tmp, backup.ListOptions{})
	if err != nil {
		log.Fatal(err)
	}
	for _, b := range list {
		fmt.Println(b.Name, b.Tables, b.Incremental)
	}
	// Output:
	// 2026-11-30 [products] false
	// 2026-12-01 [products] false
}

func ExamplePrune() {
	srv, c, tmp := backupExampleServer()
	defer srv.Close()
	defer os.RemoveAll(tmp)
	ctx := context.Background()
	for _, name := range []string{"a", "b", "c"} {
		if _, err := backup.Create(ctx, c.Manticore(), filepath.Join(tmp, name), backup.CreateOptions{}); err != nil {
			log.Fatal(err)
		}
	}
	gone, err := backup.Prune(ctx, tmp, backup.PruneOptions{KeepLast: 1, DryRun: true})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("would delete:", len(gone))
	gone, err = backup.Prune(ctx, tmp, backup.PruneOptions{KeepLast: 1, KeepWithin: time.Nanosecond})
	if err != nil {
		log.Fatal(err)
	}
	for _, b := range gone {
		fmt.Println("deleted", b.Name)
	}
	left, _ := backup.List(ctx, tmp, backup.ListOptions{})
	fmt.Println("left:", left[0].Name)
	// Output:
	// would delete: 2
	// deleted a
	// deleted b
	// left: c
}

// List and Import take the options of an s3:// location in their Store field
// in code, for programs that do not configure S3 through the environment.
func ExampleImportOptions() {
	srv, c, tmp, dir := backedUpExample()
	defer srv.Close()
	defer os.RemoveAll(tmp)
	ctx := context.Background()
	remote := backupstore.Options{} // e.g. Endpoint: "https://minio.example.net:9000"
	list, err := backup.List(ctx, filepath.Dir(dir), backup.ListOptions{Store: remote})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(list), "backup(s)")
	if err := backup.Import(ctx, c.Manticore(), dir, "products", backup.ImportOptions{As: "products_old", Store: remote}); err != nil {
		log.Fatal(err)
	}
	var n int
	if err := c.DB().QueryRow("SELECT COUNT(*) FROM products_old").Scan(&n); err != nil {
		log.Fatal(err)
	}
	fmt.Println(n, "rows imported")
	// Output:
	// 1 backup(s)
	// 2 rows imported
}

// A program that configures S3 itself (credentials, retries, an HTTP
// client of its own) opens one store with its aws.Config (s3store.New; or
// s3store.NewFromClient with its *s3.Client) and lends it to every call
// through backupstore.Options.Using: every location under the store's is
// served by that one client, with one bucket check, and the program
// closes the store when done. (Not run here: it needs an S3 server.)
func Example_ownS3Client() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion("eu-west-1"))
	if err != nil {
		log.Fatal(err)
	}
	st, err := s3store.New(ctx, cfg, "s3://backups/manticore", backupstore.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	mine := backupstore.Options{Using: st}

	c, err := dbctl.Open("root@tcp(127.0.0.1:9306)/", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if _, err := backup.Create(ctx, c.Manticore(), "s3://backups/manticore/2026-12-06", backup.CreateOptions{Store: mine}); err != nil {
		log.Fatal(err)
	}
	list, err := backup.List(ctx, "s3://backups/manticore", backup.ListOptions{Store: mine})
	if err != nil {
		log.Fatal(err)
	}
	for _, b := range list {
		fmt.Println(b.Name, b.Tables)
	}
}

// Options.Using works with any store, a folder too: Prune and List below
// use the one store the example opened (a Create to a folder writes the
// folder itself; to an s3:// location, under a lent S3 store, it uses it
// as List and Prune do).
func ExampleListOptions_using() {
	srv, c, tmp := backupExampleServer()
	defer srv.Close()
	defer os.RemoveAll(tmp)
	ctx := context.Background()
	st, err := backupstore.OpenLocal(tmp)
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	mine := backupstore.Options{Using: st}
	for _, name := range []string{"a", "b"} {
		if _, err := backup.Create(ctx, c.Manticore(), filepath.Join(tmp, name), backup.CreateOptions{}); err != nil {
			log.Fatal(err)
		}
	}
	gone, err := backup.Prune(ctx, tmp, backup.PruneOptions{KeepLast: 1, Store: mine})
	if err != nil {
		log.Fatal(err)
	}
	list, err := backup.List(ctx, tmp, backup.ListOptions{Store: mine})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("pruned", gone[0].Name, "kept", list[0].Name)
	// Output:
	// pruned a kept b
}
