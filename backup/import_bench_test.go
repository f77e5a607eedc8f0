package backup

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/dbctl/dbctl/backupstore"
	"github.com/dbctl/dbctl/internal/s3test"
)

// BenchmarkImport imports the largest table of the bench data (see
// BenchmarkBackup: DBCTL_BENCH_ROWS, default 50,000 documents; or
// DBCTL_BENCH_DATA) from a compressed backup in a folder (decompressed into
// the staging folder in the data_dir while it is hashed) and, with the S3
// server of .ci/seaweedfs.sh, from a compressed and a plain backup in S3
// (each object streamed once into the staging folder). MB/s is of the
// table's original bytes; each iteration's imported table is dropped
// outside the timer.
//
//	go test -run '^$' -bench Import -benchtime 5x ./backup/
func BenchmarkImport(b *testing.B) {
	c, names := benchServer(b)
	ctx := context.Background()
	m := c.Manticore()
	table := names[0]
	locs := map[string]string{}
	var size int64
	for _, compress := range []bool{true, false} {
		dir := filepath.Join(b.TempDir(), "bk")
		man, err := Create(ctx, m, dir, CreateOptions{Tables: []string{table}, Compress: compress, NoSync: true})
		if err != nil {
			b.Fatal(err)
		}
		size = 0
		for _, f := range man.Files {
			if f.Table == table {
				size += f.Size
			}
		}
		if compress {
			locs["folder-zstd"] = dir
		}
		if s3test.Available() {
			srv := s3test.Require(b)
			b.Setenv("AWS_ENDPOINT_URL", srv.Endpoint)
			loc := srv.Location(b)
			if err := Upload(ctx, dir, loc, UploadOptions{Store: backupstore.Options{Endpoint: srv.Endpoint}}); err != nil {
				b.Fatal(err)
			}
			name := "s3-plain"
			if compress {
				name = "s3-zstd"
			}
			locs[name] = loc
		}
	}
	n := 0
	for _, name := range []string{"folder-zstd", "s3-zstd", "s3-plain"} {
		loc, ok := locs[name]
		if !ok {
			continue
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(size)
			for i := 0; i < b.N; i++ {
				n++
				as := "bench_import_" + strconv.Itoa(n)
				if err := Import(ctx, m, loc, table, ImportOptions{As: as}); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if _, err := c.DB().Exec("DROP TABLE " + as); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}
