package dbctltest

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDocstoreRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 3, 2000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			var docs []mDoc
			for i := 0; i < n; i++ {
				docs = append(docs, mDoc{ID: int64(i + 1), Vals: map[string]string{
					"title": fmt.Sprintf("title %d ünïcode", i),
					"body":  strings.Repeat("lorem ipsum dolor ", 1+i%40),
					"gid":   fmt.Sprint(i * 7),
				}})
			}
			enc := encodeDocstore(docs)
			got, err := decodeDocstore(enc)
			require.NoError(t, err)
			assert.Equal(t, docs, got)
			if n == 2000 {
				raw := jsonLines(docs)
				assert.Less(t, len(enc), len(raw)/2, "blocks are compressed")
				nb := blocks(t, enc)
				assert.LessOrEqual(t, nb, len(raw)/docstoreBlockSize+1, "blocks of at least docstore_block_size")
				assert.GreaterOrEqual(t, nb, len(raw)/(2*docstoreBlockSize), "blocks of about docstore_block_size")
			}
		})
	}
}

// blocks counts the blocks of an encoded document store.
func blocks(t *testing.T, b []byte) int {
	b = b[len(docstoreMagic):]
	n := 0
	for len(b) > 0 {
		_, k := binary.Uvarint(b)
		require.Positive(t, k)
		b = b[k:]
		l, k := binary.Uvarint(b)
		require.Positive(t, k)
		b = b[k+int(l):]
		n++
	}
	return n
}

func TestDocstoreRejectsDamage(t *testing.T) {
	enc := encodeDocstore([]mDoc{{ID: 1, Vals: map[string]string{"title": strings.Repeat("x y z ", 100)}}})
	for name, b := range map[string][]byte{
		"empty":     nil,
		"old json":  []byte(`{"id":1,"vals":{}}` + "\n"),
		"truncated": enc[:len(enc)-3],
		"bad block": append(append([]byte{}, enc[:len(docstoreMagic)+4]...), 0xff, 0xff, 0xff),
		"long":      append(append([]byte{}, enc[:len(docstoreMagic)]...), 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := decodeDocstore(b)
			assert.Error(t, err)
		})
	}
}

func FuzzDecodeDocstore(f *testing.F) {
	f.Add(encodeDocstore([]mDoc{{ID: 1, Vals: map[string]string{"title": "hello world"}}}))
	f.Add(append([]byte{}, docstoreMagic...))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, b []byte) {
		docs, err := decodeDocstore(b)
		if err == nil {
			// what decodes re-encodes to the same documents
			again, err := decodeDocstore(encodeDocstore(docs))
			require.NoError(t, err)
			assert.Equal(t, len(docs), len(again))
		}
	})
}

// index is a decoded .spi/.spd/.spp: term -> row -> hits.
type index map[string]map[int][]uint32

func decodeIndex(t *testing.T, spi, spd, spp []byte) index {
	uv := func(b *[]byte) uint64 {
		v, n := binary.Uvarint(*b)
		require.Positive(t, n)
		*b = (*b)[n:]
		return v
	}
	out := index{}
	prev := ""
	for len(spi) > 0 {
		common, suffix := uv(&spi), uv(&spi)
		term := prev[:common] + string(spi[:suffix])
		spi = spi[suffix:]
		ndocs, off := uv(&spi), uv(&spi)
		assert.Greater(t, term, prev, "terms sorted")
		dl := spd[off:]
		row, hitOff := -1, 0
		out[term] = map[int][]uint32{}
		for i := 0; i < int(ndocs); i++ {
			row += int(uv(&dl))
			nhits := int(uv(&dl))
			if nhits == 1 {
				out[term][row] = []uint32{uint32(uv(&dl))}
				continue
			}
			hitOff += int(uv(&dl))
			hl := spp[hitOff:]
			hit := uint32(0)
			for j := 0; j < nhits; j++ {
				hit += uint32(uv(&hl))
				out[term][row] = append(out[term][row], hit)
			}
		}
		assert.Equal(t, uint64(0), uv(&dl), "doclist ends with 0")
		prev = term
	}
	return out
}

func TestBuildIndex(t *testing.T) {
	docs := []mDoc{
		{ID: 10, Vals: map[string]string{"title": "Hello, World", "body": "hello again; HELLO"}},
		{ID: 5, Vals: map[string]string{"title": "Ünïcode wörld 42", "body": ""}},
		{ID: 7, Vals: map[string]string{"title": "", "body": "world-42"}},
	}
	spi, spd, spp := buildIndex([]string{"title", "body"}, docs)
	got := decodeIndex(t, spi, spd, spp)
	body := uint32(1) << 24
	assert.Equal(t, index{
		"42":      {1: {3}, 2: {body | 2}},
		"again":   {0: {body | 2}},
		"hello":   {0: {1, body | 1, body | 3}},
		"world":   {0: {2}, 2: {body | 1}},
		"wörld":   {1: {2}},
		"ünïcode": {1: {1}},
	}, got)

	spi2, spd2, spp2 := buildIndex([]string{"title", "body"}, docs)
	assert.Equal(t, [][]byte{spi, spd, spp}, [][]byte{spi2, spd2, spp2}, "deterministic")
}

func TestForEachTerm(t *testing.T) {
	for in, want := range map[string][]string{
		"":                   nil,
		"  ,;":               nil,
		"one":                {"one"},
		"Two WORDS":          {"two", "words"},
		"a-b_c.d9 ÄÖ straße": {"a", "b", "c", "d9", "äö", "straße"},
	} {
		var got []string
		forEachTerm(in, func(s string) { got = append(got, s) })
		assert.Equal(t, want, got, in)
	}
}
