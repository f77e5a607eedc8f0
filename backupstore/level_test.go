package backupstore

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// CompressLevel is the level the bytes are stored at: zstd's numbers, 0 the
// fastest as before; every level decompresses to the same bytes.
func TestPutCompressLevel(t *testing.T) {
	// text of the kind a table holds: words drawn from a skewed vocabulary
	rnd := rand.New(rand.NewPCG(1, 2))
	zipf := rand.NewZipf(rnd, 1.1, 1, 5000)
	var text strings.Builder
	for text.Len() < 4<<20 {
		fmt.Fprintf(&text, "w%x ", zipf.Uint64()*2654435761%1000003)
	}
	data := []byte(text.String())
	stored := map[int][]byte{}
	for _, level := range []int{0, 1, 3, 7, 19} {
		s, err := NewPutStream("k", bytes.NewReader(data), PutOptions{Compress: true, CompressLevel: level})
		require.NoError(t, err)
		out, err := io.ReadAll(s)
		require.NoError(t, err)
		res, err := s.Finish()
		require.NoError(t, err)
		assert.Equal(t, int64(len(data)), res.Size)
		assert.Equal(t, int64(len(out)), res.Stored)
		dec, err := zstd.NewReader(nil)
		require.NoError(t, err)
		back, err := dec.DecodeAll(out, nil)
		dec.Close()
		require.NoError(t, err)
		assert.True(t, bytes.Equal(data, back), "level %d decompresses to the bytes", level)
		stored[level] = out
	}
	assert.Equal(t, stored[0], stored[1], "0 is the fastest level")
	assert.Less(t, len(stored[19]), len(stored[1]), "the level is applied")
	assert.NotEqual(t, stored[1], stored[3], "3 is another level than 1")
	assert.NotEqual(t, stored[3], stored[7], "7 is another level than 3")
}
