package backupstore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
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
	// "s3://bucket/prefix" opens an S3 store the same way.
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
