package dbctl

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
)

// Benchmarks compare each SDK call with the same statements done by hand
// with database/sql, on the same in-memory stub driver (go-sqlmock's
// expectation list grows with b.N, so it would measure itself). Run with
//
//	go test -run '^$' -bench . -benchmem

type stubAnswer struct {
	cols     []string
	rows     [][]string
	affected int64
}

type stubDriver struct{ answers map[string]stubAnswer }

func (d *stubDriver) Connect(context.Context) (driver.Conn, error) { return &stubConn{d}, nil }
func (d *stubDriver) Driver() driver.Driver                        { return nil }

type stubConn struct{ d *stubDriver }

func (c *stubConn) Prepare(string) (driver.Stmt, error) { return nil, fmt.Errorf("no prepare") }
func (c *stubConn) Close() error                        { return nil }
func (c *stubConn) Begin() (driver.Tx, error)           { return nil, fmt.Errorf("no tx") }

func (c *stubConn) answer(q string) (stubAnswer, error) {
	a, ok := c.d.answers[q]
	if !ok {
		return a, fmt.Errorf("stub: unexpected %q", q)
	}
	return a, nil
}

func (c *stubConn) QueryContext(_ context.Context, q string, _ []driver.NamedValue) (driver.Rows, error) {
	a, err := c.answer(q)
	if err != nil {
		return nil, err
	}
	return &stubRows{a: a}, nil
}

func (c *stubConn) ExecContext(_ context.Context, q string, _ []driver.NamedValue) (driver.Result, error) {
	a, err := c.answer(q)
	if err != nil {
		return nil, err
	}
	return driver.RowsAffected(a.affected), nil
}

type stubRows struct {
	a stubAnswer
	i int
}

func (r *stubRows) Columns() []string { return r.a.cols }
func (r *stubRows) Close() error      { return nil }
func (r *stubRows) Next(dest []driver.Value) error {
	if r.i >= len(r.a.rows) {
		return io.EOF
	}
	for j, v := range r.a.rows[r.i] {
		dest[j] = []byte(v)
	}
	r.i++
	return nil
}

func stubDB(b *testing.B) *sql.DB {
	status := stubAnswer{cols: statusCols, rows: goldStatus}
	d := &stubDriver{answers: map[string]stubAnswer{
		identityQuery:                              {cols: identityCols, rows: [][]string{{"sys", "root", "moadmin"}}},
		"select mo_ctl('dn', 'flush', 'gold.t')":   {cols: []string{"c"}, rows: [][]string{{moFlushOK}}},
		"select mo_ctl('dn', 'checkpoint', '')":    {cols: []string{"c"}, rows: [][]string{{moCkpOK}}},
		"select mo_ctl('dn', 'ping', '')":          {cols: []string{"c"}, rows: [][]string{{moPing}}},
		"FREEZE `gold_a`":                          {cols: freezeCols, rows: goldFiles(dataDir, "gold_a")},
		"UNFREEZE `gold_a`":                        {affected: 1},
		"SHOW LOCKS":                               {cols: locksCols, rows: [][]string{{"rt", "gold_a", "freeze", "Count: 2"}}},
		"SHOW TABLE `gold_a` STATUS LIKE 'locked'": {cols: statusCols, rows: [][]string{{"locked", "2"}}},
		"SHOW TABLE `gold_a` STATUS":               status,
		"FLUSH ATTRIBUTES":                         {cols: []string{"tag"}, rows: [][]string{{"2"}}},
		"FLUSH HOSTNAMES":                          {},
		"FLUSH RAMCHUNK `gold_a`":                  {},
		"OPTIMIZE TABLE `gold_b` OPTION sync=1":    {},
	}}
	db := sql.OpenDB(d)
	db.SetMaxIdleConns(4)
	b.Cleanup(func() { db.Close() })
	return db
}

func benchPair(b *testing.B, sdk func(*Client) error, hand func(*sql.DB) error) {
	db := stubDB(b)
	c := New(db, nil)
	b.Run("sdk", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if err := sdk(c); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("hand", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if err := hand(db); err != nil {
				b.Fatal(err)
			}
		}
	})
}

var bctx = context.Background()

// benchSink keeps the by-hand results alive, as the SDK's are.
var benchSink int

// handMoCtl is what a careful user writes by hand: scan the string, decode it.
func handMoCtl(db *sql.DB, stmt string) error {
	var raw string
	if err := db.QueryRowContext(bctx, stmt).Scan(&raw); err != nil {
		return err
	}
	var doc struct {
		Method string `json:"method"`
		Result []struct {
			ReturnStr string `json:"returnStr"`
		} `json:"result"`
	}
	if err := json.Unmarshal([]byte(raw), &doc); err != nil {
		return err
	}
	if len(doc.Result) == 0 || doc.Result[0].ReturnStr != "OK" {
		return fmt.Errorf("failed")
	}
	return nil
}

func BenchmarkMoCtlFlushTable(b *testing.B) {
	benchPair(b, func(c *Client) error {
		_, err := c.MoCtl().FlushTable(bctx, "gold", "t")
		return err
	}, func(db *sql.DB) error {
		return handMoCtl(db, "select mo_ctl('dn', 'flush', 'gold.t')")
	})
}

func BenchmarkMoCtlCheckpoint(b *testing.B) {
	benchPair(b, func(c *Client) error {
		_, err := c.MoCtl().IncrementalCheckpoint(bctx)
		return err
	}, func(db *sql.DB) error {
		return handMoCtl(db, "select mo_ctl('dn', 'checkpoint', '')")
	})
}

func BenchmarkMoCtlPing(b *testing.B) {
	benchPair(b, func(c *Client) error {
		_, err := c.MoCtl().Ping(bctx)
		return err
	}, func(db *sql.DB) error {
		var raw string
		if err := db.QueryRowContext(bctx, "select mo_ctl('dn', 'ping', '')").Scan(&raw); err != nil {
			return err
		}
		var doc struct {
			Result []TNShard `json:"result"`
		}
		return json.Unmarshal([]byte(raw), &doc)
	})
}

func BenchmarkManticoreFreeze(b *testing.B) {
	benchPair(b, func(c *Client) error {
		_, err := c.Manticore().Freeze(bctx, "gold_a")
		return err
	}, func(db *sql.DB) error {
		conn, err := db.Conn(bctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		rows, err := conn.QueryContext(bctx, "FREEZE `gold_a`")
		if err != nil {
			return err
		}
		var files []FrozenFile
		for rows.Next() {
			var f FrozenFile
			if err := rows.Scan(&f.File, &f.Normalized); err != nil {
				return err
			}
			f.Table = "gold_a"
			files = append(files, f)
		}
		benchSink = len(files)
		return rows.Close()
	})
}

func BenchmarkManticoreUnfreeze(b *testing.B) {
	benchPair(b, func(c *Client) error {
		return c.Manticore().Unfreeze(bctx, "gold_a")
	}, func(db *sql.DB) error {
		_, err := db.ExecContext(bctx, "UNFREEZE `gold_a`")
		return err
	})
}

func BenchmarkManticoreLocks(b *testing.B) {
	benchPair(b, func(c *Client) error {
		_, err := c.Manticore().Locks(bctx)
		return err
	}, func(db *sql.DB) error {
		rows, err := db.QueryContext(bctx, "SHOW LOCKS")
		if err != nil {
			return err
		}
		defer rows.Close()
		var locks []Lock
		for rows.Next() {
			var l Lock
			if err := rows.Scan(&l.Type, &l.Name, &l.LockType, &l.AdditionalInfo); err != nil {
				return err
			}
			l.Count, _ = strconv.Atoi(strings.TrimPrefix(l.AdditionalInfo, "Count: "))
			locks = append(locks, l)
		}
		benchSink = len(locks)
		return rows.Err()
	})
}

func BenchmarkManticoreTableStatus(b *testing.B) {
	benchPair(b, func(c *Client) error {
		_, err := c.Manticore().TableStatus(bctx, "gold_a")
		return err
	}, func(db *sql.DB) error {
		rows, err := db.QueryContext(bctx, "SHOW TABLE `gold_a` STATUS")
		if err != nil {
			return err
		}
		defer rows.Close()
		m := map[string]string{}
		for rows.Next() {
			var k, v string
			if err := rows.Scan(&k, &v); err != nil {
				return err
			}
			m[k] = v
		}
		return rows.Err()
	})
}

func BenchmarkManticoreFlushAttributes(b *testing.B) {
	benchPair(b, func(c *Client) error {
		_, err := c.Manticore().FlushAttributes(bctx)
		return err
	}, func(db *sql.DB) error {
		var tag int64
		return db.QueryRowContext(bctx, "FLUSH ATTRIBUTES").Scan(&tag)
	})
}

func BenchmarkManticoreFlushHostnames(b *testing.B) {
	benchPair(b, func(c *Client) error {
		_, err := c.Manticore().FlushHostnames(bctx)
		return err
	}, func(db *sql.DB) error {
		res, err := db.ExecContext(bctx, "FLUSH HOSTNAMES")
		if err != nil {
			return err
		}
		_, err = res.RowsAffected()
		return err
	})
}

func BenchmarkManticoreFlushRAMChunk(b *testing.B) {
	benchPair(b, func(c *Client) error {
		return c.Manticore().FlushRAMChunk(bctx, "gold_a")
	}, func(db *sql.DB) error {
		_, err := db.ExecContext(bctx, "FLUSH RAMCHUNK `gold_a`")
		return err
	})
}

// BenchmarkManticoreOptimize: the SDK sends SHOW LOCKS first (an OPTIMIZE
// of a frozen table is refused, not dropped by searchd), so it is two
// round trips against the hand-written one; gold_b is not frozen in the
// stub's SHOW LOCKS.
func BenchmarkManticoreOptimize(b *testing.B) {
	benchPair(b, func(c *Client) error {
		return c.Manticore().Optimize(bctx, "gold_b", OptimizeOptions{Sync: true})
	}, func(db *sql.DB) error {
		_, err := db.ExecContext(bctx, "OPTIMIZE TABLE `gold_b` OPTION sync=1")
		return err
	})
}

func BenchmarkManticoreWithFrozen(b *testing.B) {
	nop := func(context.Context, []FrozenFile) error { return nil }
	benchPair(b, func(c *Client) error {
		return c.Manticore().WithFrozen(bctx, []string{"gold_a"}, nop)
	}, func(db *sql.DB) error {
		conn, err := db.Conn(bctx)
		if err != nil {
			return err
		}
		rows, err := conn.QueryContext(bctx, "FREEZE `gold_a`")
		if err != nil {
			conn.Close()
			return err
		}
		for rows.Next() {
		}
		rows.Close()
		conn.Close()
		_, err = db.ExecContext(bctx, "UNFREEZE `gold_a`")
		return err
	})
}
