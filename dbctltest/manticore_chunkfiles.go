package dbctltest

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"unicode"
	"unicode/utf8"

	"github.com/klauspost/compress/s2"
)

// A disk chunk's bulky files are laid out as searchd lays them out, so that
// a backup of the emulator moves bytes of the same kind (sizes, entropy,
// compressibility) as a backup of a real server; ../shared/reference/
// peer-backup.md measured real tables: about half the bytes are the document
// store (.spds, LZ4 blocks), a third the doclists (.spd), the rest hitlists
// (.spp), the dictionary (.spi) and attributes. The encodings themselves are
// this package's own.

// docstoreBlockSize is searchd's default docstore_block_size (16k): the
// stored documents are compressed in blocks of about this many bytes.
const docstoreBlockSize = 16 << 10

var docstoreMagic = []byte("DBCTLSPDS1\n")

// encodeDocstore renders docs as JSON lines compressed in blocks (s2, an
// LZ4-class codec, as searchd's default docstore_compression=lz4): the magic,
// then per block uvarint(raw length), uvarint(compressed length), bytes.
func encodeDocstore(docs []mDoc) []byte {
	out := append([]byte(nil), docstoreMagic...)
	raw := jsonLines(docs)
	var hdr [2 * binary.MaxVarintLen64]byte
	for len(raw) > 0 {
		// cut after a whole line at or past the block size
		end := len(raw)
		if end > docstoreBlockSize {
			if i := bytes.IndexByte(raw[docstoreBlockSize:], '\n'); i >= 0 {
				end = docstoreBlockSize + i + 1
			}
		}
		comp := s2.Encode(nil, raw[:end])
		n := binary.PutUvarint(hdr[:], uint64(end))
		n += binary.PutUvarint(hdr[n:], uint64(len(comp)))
		out = append(out, hdr[:n]...)
		out = append(out, comp...)
		raw = raw[end:]
	}
	return out
}

// decodeDocstore reads what encodeDocstore wrote. Blocks end at line ends,
// so each is parsed on its own.
func decodeDocstore(b []byte) ([]mDoc, error) {
	if !bytes.HasPrefix(b, docstoreMagic) {
		return nil, errors.New("not a document store (bad magic)")
	}
	b = b[len(docstoreMagic):]
	var docs []mDoc
	var block []byte
	for len(b) > 0 {
		rawLen, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, errors.New("document store: bad block header")
		}
		b = b[n:]
		compLen, n := binary.Uvarint(b)
		if n <= 0 || compLen > uint64(len(b)-n) {
			return nil, errors.New("document store: bad block length")
		}
		comp := b[n : n+int(compLen)]
		if l, err := s2.DecodedLen(comp); err != nil || uint64(l) != rawLen {
			return nil, fmt.Errorf("document store: block of %d bytes, header says %d", l, rawLen)
		}
		var err error
		if block, err = s2.Decode(block[:cap(block)], comp); err != nil {
			return nil, fmt.Errorf("document store: %w", err)
		}
		more, err := readDocs(block)
		if err != nil {
			return nil, fmt.Errorf("document store: %w", err)
		}
		docs = append(docs, more...)
		b = b[n+int(compLen):]
	}
	return docs, nil
}

// occurrence is one hit of a term: which document, where.
type occurrence struct {
	term int32  // index in the order of first appearance
	doc  int32  // index in the chunk's docs
	hit  uint32 // field<<24 | position
}

// buildIndex builds the full-text index of docs over the text fields: the
// dictionary (.spi: sorted terms, prefix-compressed, with their doclist
// offsets), the doclists (.spd: per document uvarint deltas of row number,
// as searchd's doclists hold row ids, the hit count, then the hit itself
// when it is the only one, else the delta of its hitlist offset) and the hitlists (.spp: uvarint deltas of field<<24 |
// position). Terms are what searchd's default charset_table makes of the
// text: runs of letters and digits, case-folded.
func buildIndex(fields []string, docs []mDoc) (spi, spd, spp []byte) {
	ids := map[string]int32{}
	var names []string
	var occ []occurrence
	for di, d := range docs {
		for fi, f := range fields {
			pos := uint32(0)
			forEachTerm(d.Vals[f], func(term string) {
				pos++
				ti, ok := ids[term]
				if !ok {
					ti = int32(len(names))
					ids[term] = ti
					names = append(names, term)
				}
				occ = append(occ, occurrence{term: ti, doc: int32(di), hit: uint32(fi)<<24 | pos&0xffffff})
			})
		}
	}
	// a stable counting sort by term keeps each term's hits in document,
	// then field and position order
	start := make([]int, len(names)+1)
	for _, o := range occ {
		start[o.term+1]++
	}
	for i := 1; i < len(start); i++ {
		start[i] += start[i-1]
	}
	byTerm := make([]occurrence, len(occ))
	next := append([]int(nil), start[:len(names)]...)
	for _, o := range occ {
		byTerm[next[o.term]] = o
		next[o.term]++
	}
	order := make([]int32, len(names))
	for i := range order {
		order[i] = int32(i)
	}
	sort.Slice(order, func(i, j int) bool { return names[order[i]] < names[order[j]] })

	var tmp [binary.MaxVarintLen64]byte
	put := func(b []byte, v uint64) []byte { return append(b, tmp[:binary.PutUvarint(tmp[:], v)]...) }
	prev := ""
	for _, ti := range order {
		term, hits := names[ti], byTerm[start[ti]:start[ti+1]]
		common := 0
		for common < len(prev) && common < len(term) && prev[common] == term[common] {
			common++
		}
		ndocs := 0
		for i := range hits {
			if i == 0 || hits[i].doc != hits[i-1].doc {
				ndocs++
			}
		}
		spi = put(spi, uint64(common))
		spi = put(spi, uint64(len(term)-common))
		spi = append(spi, term[common:]...)
		spi = put(spi, uint64(ndocs))
		spi = put(spi, uint64(len(spd)))
		prevRow, prevOff := int32(-1), 0
		for i := 0; i < len(hits); {
			j := i
			for j < len(hits) && hits[j].doc == hits[i].doc {
				j++
			}
			row := hits[i].doc
			spd = put(spd, uint64(row-prevRow))
			spd = put(spd, uint64(j-i))
			prevRow = row
			if j-i == 1 {
				// a single hit is inlined in the doclist, as searchd does
				spd = put(spd, uint64(hits[i].hit))
				i = j
				continue
			}
			spd = put(spd, uint64(len(spp)-prevOff))
			prevOff = len(spp)
			prevHit := uint32(0)
			for _, h := range hits[i:j] {
				spp = put(spp, uint64(h.hit-prevHit))
				prevHit = h.hit
			}
			i = j
		}
		spd = append(spd, 0)
		prev = term
	}
	return spi, spd, spp
}

// forEachTerm calls fn for every run of letters and digits of s, lower-cased.
func forEachTerm(s string, fn func(string)) {
	start := -1
	ascii := true
	flush := func(end int) {
		if start < 0 {
			return
		}
		w := s[start:end]
		if ascii {
			w = lowerASCII(w)
		} else {
			w = string(bytes.ToLower([]byte(w)))
		}
		fn(w)
		start, ascii = -1, true
	}
	for i := 0; i < len(s); {
		r, size := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(s[i:])
		}
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if start < 0 {
				start = i
			}
			if size > 1 {
				ascii = false
			}
		} else {
			flush(i)
		}
		i += size
	}
	flush(len(s))
}

// lowerASCII avoids an allocation for the common already-lower-case word.
func lowerASCII(w string) string {
	for i := 0; i < len(w); i++ {
		if c := w[i]; c >= 'A' && c <= 'Z' {
			b := []byte(w)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return w
}

// saveChunk writes every file of one disk chunk, each once (see
// manticore_filerules.go): the document store (.spds) holds the documents,
// the full-text index (.spi, .spd, .spp) is built from their text fields,
// the other files hold data derived from them.
func (s *store) saveChunk(t *mTable, c *mChunk) error {
	var text []string
	for _, f := range t.Fields {
		if f.Type == "text" {
			text = append(text, f.Name)
		}
	}
	docstore := encodeDocstore(c.Docs)
	spi, spd, spp := buildIndex(text, c.Docs)
	sum := sha256.Sum256(docstore)
	for _, ext := range chunkExtsOf(t) {
		var data []byte
		switch ext {
		case "spa", "spb", "sphi", "spm":
			continue // saveChunkAttrs
		case "spds":
			data = docstore
		case "spi":
			data = spi
		case "spd":
			data = spd
		case "spp":
			data = spp
		case "sph":
			data, _ = json.Marshal(map[string]any{"chunk": c.ID, "docs": len(c.Docs), "schema": t.Fields})
		default:
			data = []byte(fmt.Sprintf("%s %x %d\n", ext, sum[:8], len(c.Docs)))
		}
		if err := writeTableFile(s.path(t.Name, strconv.Itoa(c.ID)+"."+ext), data); err != nil {
			return err
		}
	}
	return s.saveChunkAttrs(t, c)
}

// saveChunkAttrs writes the files of a disk chunk that UPDATE, DELETE and
// REPLACE change, in place (CSphIndex_VLN::SaveAttributes): the attributes
// (.spa, .spb), their histograms (.sphi) and the dead row map (.spm). The
// document store is never rewritten: a restart reads the attribute values
// from .spa and .spb.
func (s *store) saveChunkAttrs(t *mTable, c *mChunk) error {
	spa, spb := attrBlock(t, c, false), attrBlock(t, c, true)
	for _, ext := range []string{"spa", "spb", "sphi", "spm"} {
		var data []byte
		switch ext {
		case "spa":
			data = spa
		case "spb":
			if !t.hasBlob() {
				continue
			}
			data = spb
		case "sphi":
			data = histogram(spa, spb)
		case "spm":
			data, _ = json.Marshal(killedList(c))
		}
		if err := writeTableFile(s.path(t.Name, strconv.Itoa(c.ID)+"."+ext), data); err != nil {
			return err
		}
	}
	c.attrDirty = false
	return nil
}

func killedList(c *mChunk) []int64 {
	out := make([]int64, 0, len(c.Killed))
	for id := range c.Killed {
		out = append(out, id)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// attrBlock renders the attribute values of a chunk (blob attributes go to
// .spb, the others to .spa).
func attrBlock(t *mTable, c *mChunk, blob bool) []byte {
	var b bytes.Buffer
	for _, d := range c.Docs {
		fmt.Fprintf(&b, "%d", d.ID)
		for _, f := range t.Fields {
			if f.Type == "text" || f.blob() != blob {
				continue
			}
			fmt.Fprintf(&b, "\t%s=%s", f.Name, attrEscaper.Replace(d.Vals[f.Name]))
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func (s *store) removeChunk(t *mTable, c *mChunk) {
	for _, ext := range append(chunkExtsOf(t), "spb") {
		_ = os.Remove(s.path(t.Name, strconv.Itoa(c.ID)+"."+ext))
	}
}
