package dbctl_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/dbctl/dbctl"
)

// The remote examples use local folders as locations; an
// "s3://bucket/prefix" location works the same way (see the README section
// "Backups in S3-compatible object storage").

func ExampleIsRemoteLocation() {
	fmt.Println(dbctl.IsRemoteLocation("s3://backups/manticore/2026-12-01"))
	fmt.Println(dbctl.IsRemoteLocation("/var/backups/manticore/2026-12-01"))
	// Output:
	// true
	// false
}

func ExampleUploadBackup() {
	srv, _, tmp, dir := backedUpExample()
	defer srv.Close()
	defer os.RemoveAll(tmp)
	ctx := context.Background()
	// The target may be "s3://bucket/prefix"; credentials and endpoint come
	// from the environment (AWS_ACCESS_KEY_ID, AWS_REGION, AWS_ENDPOINT_URL...).
	target := filepath.Join(tmp, "offsite", "backup-1")
	if err := dbctl.UploadBackup(ctx, dir, target, dbctl.RemoteOptions{}); err != nil {
		log.Fatal(err)
	}
	man, err := dbctl.VerifyBackup(ctx, target)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("uploaded and verified:", len(man.Tables), "table(s)")
	// Output:
	// uploaded and verified: 1 table(s)
}

func ExampleReadManifestAt() {
	srv, _, tmp, dir := backedUpExample()
	defer srv.Close()
	defer os.RemoveAll(tmp)
	man, err := dbctl.ReadManifestAt(context.Background(), dir, dbctl.RemoteOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(man.Tables[0].Name, man.Tables[0].Type)
	// Output:
	// products rt
}

func ExampleListBackups() {
	srv, c, tmp := backupExampleServer()
	defer srv.Close()
	defer os.RemoveAll(tmp)
	ctx := context.Background()
	for _, name := range []string{"2026-11-30", "2026-12-01"} {
		if _, err := c.Manticore().Backup(ctx, filepath.Join(tmp, name), dbctl.BackupOptions{}); err != nil {
			log.Fatal(err)
		}
	}
	list, err := dbctl.ListBackups(ctx, tmp)
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

func ExamplePruneBackups() {
	srv, c, tmp := backupExampleServer()
	defer srv.Close()
	defer os.RemoveAll(tmp)
	ctx := context.Background()
	for _, name := range []string{"a", "b", "c"} {
		if _, err := c.Manticore().Backup(ctx, filepath.Join(tmp, name), dbctl.BackupOptions{}); err != nil {
			log.Fatal(err)
		}
	}
	gone, err := dbctl.PruneBackups(ctx, tmp, dbctl.PruneOptions{KeepLast: 1, DryRun: true})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("would delete:", len(gone))
	gone, err = dbctl.PruneBackups(ctx, tmp, dbctl.PruneOptions{KeepLast: 1, KeepWithin: time.Nanosecond})
	if err != nil {
		log.Fatal(err)
	}
	for _, b := range gone {
		fmt.Println("deleted", b.Name)
	}
	left, _ := dbctl.ListBackups(ctx, tmp)
	fmt.Println("left:", left[0].Name)
	// Output:
	// would delete: 2
	// deleted a
	// deleted b
	// left: c
}

// ListBackupsWith and ImportTableWith take the options of an s3:// location
// in code, for programs that do not configure S3 through the environment.
func ExampleManticore_ImportTableWith() {
	srv, c, tmp, dir := backedUpExample()
	defer srv.Close()
	defer os.RemoveAll(tmp)
	ctx := context.Background()
	remote := dbctl.RemoteOptions{} // e.g. Endpoint: "https://minio.example.net:9000"
	list, err := dbctl.ListBackupsWith(ctx, filepath.Dir(dir), remote)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(list), "backup(s)")
	if err := c.Manticore().ImportTableWith(ctx, dir, "products", "products_old", remote); err != nil {
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
