// Package benchdata fills Manticore tables with deterministic pseudo-text
// for backup benchmarks: the shape of the peer measurement in
// ../shared/reference/peer-backup.md (title 4-11 words, body 80-169 words
// drawn from a Zipf(1.07) vocabulary of 60k pseudo-words, an int, a float and
// 1-5 MVA tags), loaded through SQL in 1000-row INSERTs and flushed into a
// few disk chunks per table. PeerRows rows make about 1.1 GB of table files,
// as the peer's 900,000 did.
package benchdata

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand"
	"strconv"
	"strings"
)

// PeerRows is the number of rows of the peer measurement (bench_a 400,000,
// bench_b 300,000, bench_c 200,000).
const PeerRows = 900000

// Table is one table to create and fill.
type Table struct {
	Name string
	// Rows is how many documents to load.
	Rows int
	// Chunks is how many disk chunks to end with (one FLUSH RAMCHUNK per
	// chunk).
	Chunks int
}

// Split divides rows over three tables in the peer's 4:3:2 proportions,
// with four disk chunks each.
func Split(rows int) []Table {
	return []Table{
		{Name: "bench_a", Rows: rows * 4 / 9, Chunks: 4},
		{Name: "bench_b", Rows: rows * 3 / 9, Chunks: 4},
		{Name: "bench_c", Rows: rows * 2 / 9, Chunks: 4},
	}
}

type words struct {
	vocab []string
	zipf  *rand.Zipf
	rnd   *rand.Rand
}

func newWords(seed int64) *words {
	rnd := rand.New(rand.NewSource(seed))
	vocab := make([]string, 60000)
	const letters = "abcdefghijklmnopqrstuvwxyz"
	for i := range vocab {
		n := 3 + rnd.Intn(8)
		b := make([]byte, n)
		for j := range b {
			b[j] = letters[rnd.Intn(len(letters))]
		}
		vocab[i] = string(b)
	}
	return &words{vocab: vocab, zipf: rand.NewZipf(rnd, 1.07, 1, uint64(len(vocab)-1)), rnd: rnd}
}

func (w *words) text(b *strings.Builder, n int) {
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(w.vocab[w.zipf.Uint64()])
	}
}

// Load creates the tables (dropping them first) and fills them.
func Load(ctx context.Context, db *sql.DB, tables []Table, seed int64) error {
	w := newWords(seed)
	for _, t := range tables {
		for _, q := range []string{
			"DROP TABLE IF EXISTS " + t.Name,
			// a RAM chunk large enough for one chunk's worth of rows: the
			// explicit FLUSH RAMCHUNKs make the chunks
			"CREATE TABLE " + t.Name + " (title text, body text, gid int, price float, tags multi) rt_mem_limit='2G'",
		} {
			if _, err := db.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
		}
		id := int64(1)
		chunks := max(t.Chunks, 1)
		for c := 0; c < chunks; c++ {
			// the chunk's share of the rows, the remainder in the last one
			end := int64(t.Rows/chunks*(c+1)) + 1
			if c == chunks-1 {
				end = int64(t.Rows) + 1
			}
			for id < end {
				stmt, next := w.insert(t.Name, id, int(min(1000, end-id)))
				id = next
				if _, err := db.ExecContext(ctx, stmt); err != nil {
					return fmt.Errorf("insert into %s: %w", t.Name, err)
				}
			}
			if _, err := db.ExecContext(ctx, "FLUSH RAMCHUNK "+t.Name); err != nil {
				return err
			}
		}
	}
	return nil
}

// insert builds one INSERT of rows documents and returns it with the next
// id.
func (w *words) insert(table string, id int64, rows int) (string, int64) {
	var b strings.Builder
	b.WriteString("INSERT INTO " + table + " (id, title, body, gid, price, tags) VALUES ")
	for r := 0; r < rows; r++ {
		if r > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(" + strconv.FormatInt(id, 10) + ",'")
		w.text(&b, 4+w.rnd.Intn(8))
		b.WriteString("','")
		w.text(&b, 80+w.rnd.Intn(90))
		b.WriteString("'," + strconv.Itoa(w.rnd.Intn(1000000)) + "," + strconv.FormatFloat(w.rnd.Float64()*1000, 'f', 2, 64) + ",(")
		for k, n := 0, 1+w.rnd.Intn(5); k < n; k++ {
			if k > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Itoa(1 + w.rnd.Intn(1000)))
		}
		b.WriteString("))")
		id++
	}
	return b.String(), id
}
