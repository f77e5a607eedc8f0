package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dbctl/dbctl"
)

// immutable says whether a path is a disk-chunk file searchd never changes
// in place (dbctl's immutableSuffixes, backup/stage.go).
func immutable(path string) bool {
	switch filepath.Ext(path) {
	case ".spd", ".spp", ".spi", ".spe", ".sph", ".spds", ".spt":
		return true
	}
	return false
}

// mutableFloor is the least a consistent backup's freeze window can be:
// FREEZE, read the files searchd changes in place (every file but the
// immutable disk-chunk ones, which a hard link keeps) into memory touched
// before the FREEZE, on one goroutine per CPU, UNFREEZE. It is the freeze
// window of a staged backup without the hard links and the bookkeeping.
func mutableFloor(ctx context.Context, m *dbctl.Manticore, names []string, paths []string) (result, error) {
	var mutable []string
	var size int64
	for _, p := range paths {
		if immutable(p) {
			continue
		}
		if fi, err := os.Stat(p); err == nil {
			mutable = append(mutable, p)
			size += fi.Size() + 4096
		}
	}
	arena := make([]byte, size+size/4+1<<20)
	for i := 0; i < len(arena); i += 4096 {
		arena[i] = 1
	}
	start := time.Now()
	if _, err := m.Freeze(ctx, names...); err != nil {
		return result{}, err
	}
	var mu sync.Mutex
	var off int
	next := make(chan string)
	var wg sync.WaitGroup
	var total atomic.Int64
	for w := 0; w < runtime.NumCPU(); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range next {
				f, err := os.Open(p)
				if err != nil {
					continue
				}
				fi, _ := f.Stat()
				n := int(fi.Size()) + 1
				mu.Lock()
				var buf []byte
				if off+n <= len(arena) {
					buf, off = arena[off:off+n:off+n], off+n
				} else {
					buf = make([]byte, n)
				}
				mu.Unlock()
				k, _ := io.ReadFull(f, buf)
				total.Add(int64(k))
				f.Close()
			}
		}()
	}
	for _, p := range mutable {
		next <- p
	}
	close(next)
	wg.Wait()
	if err := m.Unfreeze(ctx, names...); err != nil {
		return result{}, err
	}
	d := time.Since(start)
	return result{wall: d, frozen: d, bytes: total.Load()}, nil
}
