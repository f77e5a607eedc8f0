package backup_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/dbctl/dbctl/backup"
	"github.com/dbctl/dbctl/backupstore"
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
