package s3store

import (
	"context"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dbctl/dbctl/backupstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// patternReader yields n bytes of a repeating pattern without holding
// them.
type patternReader struct{ n, off int64 }

func (p *patternReader) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	k := int64(len(b))
	if rest := p.n - p.off; k > rest {
		k = rest
	}
	for i := int64(0); i < k; i++ {
		b[i] = byte((p.off + i) * 7 / 5)
	}
	p.off += k
	return int(k), nil
}

// An upload's memory is its part buffers (PartSize x Concurrency), not
// the object's size: a 96 MiB stream in 5 MiB parts, 2 at a time, grows
// the heap by far less than the object.
func TestS3PutConstantMemory(t *testing.T) {
	loc, opts := testLocation(t)
	opts.Concurrency = 2
	ctx := context.Background()
	st, err := Open(ctx, loc, opts)
	require.NoError(t, err)
	t.Cleanup(func() { cleanup(t, loc, opts) })
	defer st.Close()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	const size = 96 << 20
	res, err := st.Put(ctx, "big", &patternReader{n: size}, backupstore.PutOptions{})
	close(done)
	wg.Wait()
	require.NoError(t, err)
	assert.Equal(t, int64(size), res.Size)
	grown := int64(peak.Load()) - int64(base)
	t.Logf("heap grew by %.1f MiB for a %d MiB upload", float64(grown)/(1<<20), size>>20)
	assert.Less(t, grown, int64(40<<20), "two 5 MiB part buffers and the client's own, not the object")
}
