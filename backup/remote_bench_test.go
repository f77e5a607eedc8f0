package backup

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dbctl/dbctl/backupstore"
	"github.com/dbctl/dbctl/internal/s3test"
)

// BenchmarkBackupS3 backs up the bench data (see BenchmarkBackup:
// DBCTL_BENCH_ROWS, default 50,000 documents, about 60 MB) to a local
// folder and to the S3 server of .ci/seaweedfs.sh in the same run. MB/s is
// of the original bytes; freeze-ms is the freeze window (the same for
// both: an S3 backup stages like a local one and uploads from the staging
// folder after the unfreeze);
// peak-heap-MB is the largest heap seen while the backup ran (an upload
// holds at most PartSize x Concurrency of part buffers).
//
//	. .ci/seaweedfs.sh && seaweedfs_start
//	go test -run '^$' -bench BackupS3 -benchtime 3x .
func BenchmarkBackupS3(b *testing.B) {
	srv := s3test.Require(b)
	c, names := benchServer(b)
	ctx := context.Background()
	m := c.Manticore()
	files, err := m.Freeze(ctx, names...)
	if err != nil {
		b.Fatal(err)
	}
	var total int64
	for _, f := range files {
		if fi, err := os.Stat(f.Normalized); err == nil {
			total += fi.Size()
		}
	}
	if err := m.Unfreeze(ctx, names...); err != nil {
		b.Fatal(err)
	}
	remote := backupstore.Options{Endpoint: srv.Endpoint}
	root := srv.Location(b)
	out := b.TempDir()
	for _, v := range []struct {
		name     string
		s3       bool
		compress bool
	}{{"folder", false, false}, {"s3", true, false}, {"folder-compress", false, true}, {"s3-compress", true, true}} {
		b.Run(v.name, func(b *testing.B) {
			b.SetBytes(total)
			b.ReportAllocs()
			var frozen float64
			var peak atomic.Uint64
			for i := 0; i < b.N; i++ {
				loc := filepath.Join(out, v.name+"-"+strconv.Itoa(i))
				if v.s3 {
					loc = root + "/" + v.name + "-" + strconv.Itoa(i)
				}
				stop := sampleHeap(&peak)
				man, err := Create(ctx, m, loc, CreateOptions{Compress: v.compress, Store: remote, StagingDir: out})
				stop()
				if err != nil {
					b.Fatal(err)
				}
				frozen += float64(man.FreezeWindow.Microseconds()) / 1000
				b.StopTimer()
				if v.s3 {
					st, err := backupstore.Open(ctx, root, remote)
					if err == nil {
						err = deletePrefix(ctx, st, v.name+"-"+strconv.Itoa(i))
						st.Close()
					}
					if err != nil {
						b.Fatal(err)
					}
				} else {
					_ = os.RemoveAll(loc)
				}
				b.StartTimer()
			}
			b.ReportMetric(frozen/float64(b.N), "freeze-ms")
			b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MB")
		})
	}
}

// sampleHeap records the largest HeapInuse until the returned func is
// called.
func sampleHeap(peak *atomic.Uint64) func() {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			for {
				p := peak.Load()
				if ms.HeapInuse <= p || peak.CompareAndSwap(p, ms.HeapInuse) {
					break
				}
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}
