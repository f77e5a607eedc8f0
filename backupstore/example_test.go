package backupstore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/dbctl/dbctl/backupstore"
)

func ExampleParseS3() {
	bucket, prefix, err := backupstore.ParseS3("s3://backups/manticore/2026-12-01/")
	fmt.Println(bucket, prefix, err)
	_, _, err = backupstore.ParseS3("s3://Backups/x")
	fmt.Println(err)
	// Output:
	// backups manticore/2026-12-01 <nil>
	// dbctl: backupstore: parse location s3://Backups/x: invalid location: bad bucket name "Backups"
}

func ExampleOpen() {
	dir, err := os.MkdirTemp("", "backupstore-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	// "s3://bucket/prefix" opens an S3 store the same way once
	// github.com/dbctl/dbctl/backupstore/s3store is imported.
	st, err := backupstore.Open(ctx, dir, backupstore.Options{})
	if err != nil {
		log.Fatal(err)
	}
	res, err := st.Put(ctx, "data/t/t.meta", strings.NewReader("hello"), backupstore.PutOptions{Compress: true})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Size, res.SHA256[:16])
	rc, err := st.GetRange(ctx, "data/t/t.meta", 0, 4)
	if err != nil {
		log.Fatal(err)
	}
	magic, _ := io.ReadAll(rc)
	rc.Close()
	fmt.Printf("zstd magic: %x\n", magic)
	objs, _ := st.List(ctx, "data/")
	fmt.Println(objs[0].Key)
	dirs, _ := st.Dirs(ctx, "data")
	fmt.Println(dirs)
	if err := st.Delete(ctx, "data/t/t.meta"); err != nil {
		log.Fatal(err)
	}
	_, err = st.Stat(ctx, "data/t/t.meta")
	fmt.Println(errors.Is(err, backupstore.ErrNotFound))
	// Output:
	// 5 2cf24dba5fb0a30e
	// zstd magic: 28b52ffd
	// data/t/t.meta
	// [t]
	// true
}

func ExampleJoin() {
	fmt.Println(backupstore.Join("backups/", "/2026-12-01", "manifest.json"))
	// Output:
	// backups/2026-12-01/manifest.json
}

// Without the S3 store's package imported, an s3:// location is refused
// with the import to add; nothing of the AWS SDK is linked in.
func ExampleOpen_withoutS3Import() {
	_, err := backupstore.Open(context.Background(), "s3://backups/manticore", backupstore.Options{})
	fmt.Println(errors.Is(err, backupstore.ErrNotRegistered))
	fmt.Println(err)
	// Output:
	// true
	// dbctl: backupstore: open s3://backups/manticore: scheme not registered: no store for s3:// locations is linked into this program: add import _ "github.com/dbctl/dbctl/backupstore/s3store"
}

// A store package registers its scheme from its init function; Open then
// hands it the locations of that scheme.
func ExampleRegister() {
	backupstore.Register("example", func(ctx context.Context, location string, opts backupstore.Options) (backupstore.Store, error) {
		return backupstore.OpenLocal(filepath.Join(os.TempDir(), strings.TrimPrefix(location, "example://")))
	})
	st, err := backupstore.Open(context.Background(), "example://dbctl-register-example", backupstore.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	fmt.Println(filepath.Base(st.Location()), backupstore.IsRemote("example://x"))
	// Output:
	// dbctl-register-example true
}

func ExampleCheckKey() {
	fmt.Println(backupstore.CheckKey("data/t/t.0.spa"))
	fmt.Println(backupstore.CheckKey("data/../../etc/passwd"))
	// Output:
	// <nil>
	// bad key "data/../../etc/passwd"
}

// A Store implementation reads what it stores through a PutStream, which
// compresses and hashes in the same pass.
func ExampleNewPutStream() {
	ps, err := backupstore.NewPutStream("k", strings.NewReader("hello"), backupstore.PutOptions{Compress: true})
	if err != nil {
		log.Fatal(err)
	}
	stored, err := io.ReadAll(ps)
	if err != nil {
		ps.Abort(err)
		log.Fatal(err)
	}
	res, err := ps.Finish()
	fmt.Println(res.Size, res.SHA256[:16], res.Stored == int64(len(stored)), err)
	// Output:
	// 5 2cf24dba5fb0a30e true <nil>
}

// Sub gives the store of one backup under a catalog, Close releases a
// store (a folder holds nothing; an S3 store its connections).
func ExampleLocal_Sub() {
	dir, err := os.MkdirTemp("", "backupstore-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	catalog, err := backupstore.OpenLocal(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer catalog.Close()
	for _, name := range []string{"2026-12-01", "2026-12-02"} {
		if _, err := catalog.Put(ctx, name+"/manifest.json", strings.NewReader(`{"id":"`+name+`"}`), backupstore.PutOptions{NoOverwrite: true}); err != nil {
			log.Fatal(err)
		}
	}
	names, _ := catalog.Dirs(ctx, "")
	for _, name := range names {
		bk, err := catalog.Sub(name)
		if err != nil {
			log.Fatal(err)
		}
		rc, err := bk.Get(ctx, "manifest.json")
		if err != nil {
			log.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		bk.Close()
		fmt.Println(name, string(b))
	}
	// Output:
	// 2026-12-01 {"id":"2026-12-01"}
	// 2026-12-02 {"id":"2026-12-02"}
}

// Options.Using lends Open a store the caller opened and configured itself
// (for S3: s3store.New with its own aws.Config, or s3store.NewFromClient
// with its own *s3.Client): every location under it is served by it or a
// Sub of it, sharing one client; the caller closes it.
func ExampleOptions_using() {
	dir, err := os.MkdirTemp("", "backupstore-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	mine, err := backupstore.OpenLocal(dir) // or s3store.New(ctx, cfg, "s3://backups/manticore", ...)
	if err != nil {
		log.Fatal(err)
	}
	defer mine.Close()
	st, err := backupstore.Open(ctx, filepath.Join(dir, "2026-12-06"), backupstore.Options{Using: mine})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := st.Put(ctx, "manifest.json", strings.NewReader("{}"), backupstore.PutOptions{}); err != nil {
		log.Fatal(err)
	}
	st.Close() // does not close mine
	objs, _ := mine.List(ctx, "")
	fmt.Println(objs[0].Key)
	_, err = backupstore.Open(ctx, os.TempDir(), backupstore.Options{Using: mine})
	fmt.Println(errors.Is(err, backupstore.ErrInvalidLocation))
	// Output:
	// 2026-12-06/manifest.json
	// true
}
