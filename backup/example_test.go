package backup_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/dbctl/dbctl"
	"github.com/dbctl/dbctl/backup"
	"github.com/dbctl/dbctl/dbctltest"
)

// The backup examples run against the embedded Manticore of dbctltest,
// which keeps its tables as real files.

func backupExampleServer() (*dbctltest.Manticore, *dbctl.Client, string) {
	srv, err := dbctltest.StartManticore()
	if err != nil {
		log.Fatal(err)
	}
	c, err := dbctl.Open(srv.DSN(), nil)
	if err != nil {
		log.Fatal(err)
	}
	for _, q := range []string{
		"CREATE TABLE products(title text, price float)",
		"INSERT INTO products(id, title, price) VALUES (1, 'mug', 4.5), (2, 'tea', 3.2)",
		"CREATE TABLE everything type='distributed' local='products'",
	} {
		if _, err := c.DB().Exec(q); err != nil {
			log.Fatal(err)
		}
	}
	tmp, err := os.MkdirTemp("", "dbctl-example-")
	if err != nil {
		log.Fatal(err)
	}
	return srv, c, tmp
}

// backedUpExample is backupExampleServer with a backup of it already made,
// for the examples of what comes after a backup.
func backedUpExample() (srv *dbctltest.Manticore, c *dbctl.Client, tmp, dir string) {
	srv, c, tmp = backupExampleServer()
	dir = filepath.Join(tmp, "backup-1")
	if _, err := backup.Create(context.Background(), c.Manticore(), dir, backup.CreateOptions{}); err != nil {
		log.Fatal(err)
	}
	return srv, c, tmp, dir
}

func ExampleCreate() {
	srv, c, tmp := backupExampleServer()
	defer srv.Close()
	defer os.RemoveAll(tmp)
	ctx := context.Background()

	man, err := backup.Create(ctx, c.Manticore(), filepath.Join(tmp, "backup-1"), backup.CreateOptions{Compress: true})
	if err != nil {
		log.Fatal(err)
	}
	for _, t := range man.Tables {
		fmt.Println("backed up", t.Name, t.Type)
	}
	for _, s := range man.Skipped {
		fmt.Println("skipped", s.Name, s.Type)
	}
	st, err := c.Manticore().TableStatus(ctx, "products")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("locked after:", st.Locked)
	// Output:
	// backed up products rt
	// skipped everything distributed
	// locked after: 0
}

// With CompressAfterUnfreeze a compressed backup keeps the tables frozen
// only while the files are copied, not while they are compressed.
func ExampleCreateOptions_compressAfterUnfreeze() {
	srv, c, tmp := backupExampleServer()
	defer srv.Close()
	defer os.RemoveAll(tmp)
	ctx := context.Background()

	opts := backup.CreateOptions{Compress: true, CompressAfterUnfreeze: true}
	man, err := backup.Create(ctx, c.Manticore(), filepath.Join(tmp, "backup-1"), opts)
	if err != nil {
		log.Fatal(err)
	}
	_, err = backup.Verify(ctx, filepath.Join(tmp, "backup-1"), backup.VerifyOptions{})
	fmt.Println(man.Compression, err)
	// Output:
	// zstd <nil>
}

func ExampleVerify() {
	srv, _, tmp, dir := backedUpExample()
	defer srv.Close()
	defer os.RemoveAll(tmp)
	ctx := context.Background()
	_, err := backup.Verify(ctx, dir, backup.VerifyOptions{})
	fmt.Println(err)

	_ = os.Truncate(filepath.Join(dir, "data", "products", "products.meta"), 10)
	_, err = backup.Verify(ctx, dir, backup.VerifyOptions{})
	var fe *backup.FileError
	fmt.Println(errors.As(err, &fe), fe.Path, fe.Problem[:9])
	// Output:
	// <nil>
	// true data/products/products.meta truncated
}

func ExampleRestore() {
	srv, _, tmp, dir := backedUpExample()
	defer srv.Close()
	defer os.RemoveAll(tmp)
	ctx := context.Background()
	// Offline: restore into an empty data_dir, then start searchd on it.
	dataDir := filepath.Join(tmp, "restored")
	if err := backup.Restore(ctx, dir, dataDir, backup.RestoreOptions{}); err != nil {
		log.Fatal(err)
	}
	restored, err := dbctltest.StartManticore(dbctltest.WithDataDir(dataDir))
	if err != nil {
		log.Fatal(err)
	}
	defer restored.Close()
	rc, _ := dbctl.Open(restored.DSN(), nil)
	defer rc.Close()
	var count int
	_ = rc.DB().QueryRow("SELECT COUNT(*) FROM products").Scan(&count)
	fmt.Println("rows:", count)
	// Output: rows: 2
}

func ExampleImport() {
	srv, c, tmp, dir := backedUpExample()
	defer srv.Close()
	defer os.RemoveAll(tmp)
	ctx := context.Background()
	// Online: bring a table of the backup back under a new name.
	if err := backup.Import(ctx, c.Manticore(), dir, "products", backup.ImportOptions{As: "products_restored"}); err != nil {
		log.Fatal(err)
	}
	var count int
	_ = c.DB().QueryRow("SELECT COUNT(*) FROM products_restored").Scan(&count)
	fmt.Println("rows:", count)
	// Output: rows: 2
}

func ExampleReadManifest() {
	srv, _, tmp, dir := backedUpExample()
	defer srv.Close()
	defer os.RemoveAll(tmp)
	man, err := backup.ReadManifest(context.Background(), dir, backup.ReadOptions{})
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range man.Files {
		if f.Table == "" {
			fmt.Println(f.Path, len(f.SHA256))
		}
	}
	// Output:
	// config/manticore.conf 64
	// state/manticore.json 64
	// state/state.sql 64
}

func ExampleVerifyOptions() {
	srv, _, tmp, dir := backedUpExample()
	defer srv.Close()
	defer os.RemoveAll(tmp)
	var last backup.Progress
	man, err := backup.Verify(context.Background(), dir, backup.VerifyOptions{
		Concurrency: 1,
		Progress:    func(p backup.Progress) { last = p },
	})
	fmt.Println(err, last.Phase, last.Files == len(man.Files))
	// Output: <nil> verify true
}

// An incremental backup hard-links from its base the unchanged disk-chunk
// files and the mutable files whose bytes read at this freeze are the
// base's; it writes only what changed (here the attribute rows, histograms
// and meta an UPDATE rewrote) and stays complete on its own when the base
// is removed.
func ExampleCreateOptions_base() {
	srv, c, tmp := backupExampleServer()
	defer srv.Close()
	defer os.RemoveAll(tmp)
	ctx := context.Background()
	m := c.Manticore()
	if _, err := c.DB().Exec("FLUSH RAMCHUNK products"); err != nil {
		log.Fatal(err)
	}
	full := filepath.Join(tmp, "full")
	if _, err := backup.Create(ctx, m, full, backup.CreateOptions{}); err != nil {
		log.Fatal(err)
	}
	// an attribute update rewrites the chunk's attribute rows in place
	for _, q := range []string{"UPDATE products SET price=4.9 WHERE id=1", "FLUSH ATTRIBUTES"} {
		if _, err := c.DB().Exec(q); err != nil {
			log.Fatal(err)
		}
	}
	inc := filepath.Join(tmp, "incremental")
	man, err := backup.Create(ctx, m, inc, backup.CreateOptions{Base: full})
	if err != nil {
		log.Fatal(err)
	}
	linked := 0
	for _, f := range man.Files {
		if f.FromBase {
			linked++
		} else {
			fmt.Println("written:", f.Path)
		}
	}
	fmt.Println("staging:", man.Staging)
	fmt.Println("linked from the base:", linked)
	_ = os.RemoveAll(full)
	_, err = backup.Verify(ctx, inc, backup.VerifyOptions{})
	fmt.Println("verify without the base:", err)
	// Output:
	// written: data/products/products.0.spa
	// written: data/products/products.0.sphi
	// written: data/products/products.meta
	// staging: staged
	// linked from the base: 12
	// verify without the base: <nil>
}

// NoSync skips the fsyncs, as cp does: for a backup that is verified or
// shipped elsewhere at once. Verify re-reads every file.
func ExampleCreateOptions_noSync() {
	srv, c, tmp := backupExampleServer()
	defer srv.Close()
	defer os.RemoveAll(tmp)
	ctx := context.Background()
	dir := filepath.Join(tmp, "unsynced")
	if _, err := backup.Create(ctx, c.Manticore(), dir, backup.CreateOptions{NoSync: true}); err != nil {
		log.Fatal(err)
	}
	man, err := backup.Verify(ctx, dir, backup.VerifyOptions{})
	fmt.Println(err, man.Staging)
	// Output: <nil> staged
}

// The manifest records each source file's identity at the freeze. A
// backup that finds a file changed behind its back (a disk-chunk file
// searchd never rewrites, read after the unfreeze through its hard link)
// fails with an error that matches ErrSourceChanged and carries a
// *SourceChangedError naming the file.
func ExampleSourceChangedError() {
	srv, c, tmp := backupExampleServer()
	defer srv.Close()
	defer os.RemoveAll(tmp)
	if _, err := c.DB().Exec("FLUSH RAMCHUNK products"); err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	dir := filepath.Join(tmp, "full")
	if _, err := backup.Create(ctx, c.Manticore(), dir, backup.CreateOptions{}); err != nil {
		log.Fatal(err)
	}
	man, _ := backup.ReadManifest(context.Background(), dir, backup.ReadOptions{})
	for _, f := range man.Files {
		if f.Path == "data/products/products.0.spd" {
			fmt.Println("identity recorded:", f.Identity != nil && f.Identity.Size > 0)
		}
	}
	err := &backup.SourceChangedError{Path: "data/products/products.0.spd"}
	fmt.Println(errors.Is(err, backup.ErrSourceChanged))
	// Output:
	// identity recorded: true
	// true
}

// Restore refuses a data_dir whose tables a running searchd holds,
// whatever the options, before it reads or writes anything.
func ExampleRestore_serverRunning() {
	srv, c, tmp, dir := backedUpExample()
	defer srv.Close()
	defer os.RemoveAll(tmp)
	defer c.Close()

	err := backup.Restore(context.Background(), dir, srv.DataDir(), backup.RestoreOptions{Overwrite: true})
	fmt.Println(errors.Is(err, backup.ErrServerRunning))
	// Output:
	// true
}
