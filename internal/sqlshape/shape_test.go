package sqlshape

import (
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReduce(t *testing.T) {
	tests := []struct{ sql, want string }{
		{"SHOW WARNINGS", "SHOW WARNINGS"},
		{"show warnings;", "SHOW WARNINGS"},
		{"FREEZE cap_rt", "FREEZE ?"},
		{"FREEZE cap_rt, cap_dist, cap_nope", "FREEZE ?"},
		{"FREEZE `gold_a`, `gold_b`", "FREEZE ?"},
		{"FREEZE t LIKE '%.meta'", "FREEZE ? LIKE ?"},
		{"UNFREEZE cap_nope, cap_rt", "UNFREEZE ?"},
		{"SHOW TABLE cap_pq STATUS LIKE 'locked'", "SHOW TABLE ? STATUS LIKE ?"},
		{"OPTIMIZE TABLE gold_a OPTION cutoff=1, sync=1", "OPTIMIZE TABLE ? OPTION CUTOFF = ? , SYNC = ?"},
		{"OPTIMIZE TABLE t OPTION sync=1", "OPTIMIZE TABLE ? OPTION SYNC = ?"},
		// repeated rows and column lists of any length reduce alike
		{"INSERT INTO cap_rt (id, title, gid) VALUES (1,'one',10),(2,'two',20)", "INSERT INTO ? (?) VALUES (?)"},
		{"INSERT INTO t(id,title) VALUES (1,'x')", "INSERT INTO ? (?) VALUES (?)"},
		{"insert into cap_db.cap_t values (1,'a1'),(2,'a2')", "INSERT INTO ? VALUES (?)"},
		{"INSERT INTO t (id, tags) VALUES (1, (1,2)), (2, (3))", "INSERT INTO ? (?) VALUES (? , (?))"},
		{"CREATE TABLE cap_rt (title text, gid int)", "CREATE TABLE ? (? ?)"},
		{"CREATE TABLE f1(title text, gid int, price float)", "CREATE TABLE ? (? ?)"},
		{"CREATE TABLE cap_pq (title text) type='percolate'", "CREATE TABLE ? (? ?) TYPE = ?"},
		{"CREATE TABLE IF NOT EXISTS t(a int)", "CREATE TABLE IF NOT EXISTS ? (? ?)"},
		{"create table shop.orders (id int, amount decimal(10,2))", "CREATE TABLE ? (? ? , ? ? (?))"},
		{"create table gold.t (a int, b varchar(20))", "CREATE TABLE ? (? ? , ? ? (?))"},
		// functions keep their names; qualified names are one identifier
		{"select mo_ctl('dn', 'flush', 'db1.t')", "SELECT MO_CTL (?)"},
		{"SELECT COUNT(*) FROM gold_a", "SELECT COUNT (*) FROM ?"},
		{"select * from db1.t where a > 1", "SELECT * FROM ? WHERE ? > ?"},
		{"SELECT id FROM t WHERE MATCH('walk')", "SELECT ? FROM ? WHERE MATCH (?)"},
		{"restore account acc1 {snapshot = cap_sn_db}", "RESTORE ACCOUNT ? { SNAPSHOT = ? }"},
		{"create pitr p for table db t range -1 'h'", "CREATE PITR ? FOR TABLE ? ? RANGE - ? ?"},
		{"create pitr p range 1.5 'h'", "CREATE PITR ? RANGE ? ?"},
		{"prepare s from @q", "PREPARE ? FROM @ ?"},
		{"/* hint */ SHOW LOCKS -- trailing\n", "SHOW LOCKS"},
		{"FREEZE `a``b`, 'c\\'d'", "FREEZE ?"},
		{"", ""},
		{"(((", "((()))"},
	}
	for _, tc := range tests {
		t.Run(tc.sql, func(t *testing.T) {
			assert.Equal(t, tc.want, Reduce(tc.sql))
		})
	}
}

// Different statements must not collapse into one shape.
func TestReduceKeepsDifferences(t *testing.T) {
	pairs := [][2]string{
		{"OPTIMIZE TABLE t", "OPTIMIZE TABLE t OPTION sync=1"},
		{"FLUSH TABLE t", "FLUSH RAMCHUNK t"},
		{"SHOW TABLE t STATUS", "SHOW TABLE t STATUS LIKE 'locked'"},
		{"OPTIMIZE TABLE t OPTION sync=1", "OPTIMIZE TABLE t OPTION cutoff=1"},
		{"SELECT a FROM t", "SELECT a, b FROM t"},
		{"DROP TABLE t", "DROP TABLE IF EXISTS t"},
	}
	for _, p := range pairs {
		assert.NotEqual(t, Reduce(p[0]), Reduce(p[1]), "%q vs %q", p[0], p[1])
	}
}

func TestRecord(t *testing.T) {
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			Record("testkind", "FREEZE a, b")
			Record("testkind", "FREEZE c")
		}()
	}
	wg.Wait()
	var got []Seen
	for _, s := range Recorded() {
		if s.Server == "testkind" {
			got = append(got, s)
		}
	}
	require.Len(t, got, 1)
	assert.Equal(t, "FREEZE ?", got[0].Shape)
	assert.Equal(t, 16, got[0].Count)
	assert.Equal(t, "testkind: FREEZE ?", got[0].Key())
}

func TestLog(t *testing.T) {
	path := t.TempDir() + "/shapes.log"
	t.Setenv(LogEnv, path)
	Record("logkind", "SHOW\tLOCKS")
	Record("logkind", "show locks")
	got, err := ReadLog(path)
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, Seen{Server: "logkind", Shape: "SHOW LOCKS", Example: "SHOW LOCKS", Count: 1}, got[0])
	none, err := ReadLog(path + ".missing")
	require.NoError(t, err)
	assert.Empty(t, none)
}

// FuzzReduce: Reduce never panics, is deterministic, never keeps a
// statement's quoted text, and a shape reduces to itself.
func FuzzReduce(f *testing.F) {
	for _, s := range []string{"FREEZE a, b", "INSERT INTO t (a) VALUES (1,'x'),(2,'y')", "select mo_ctl('dn','flush','a.b')",
		"SHOW TABLE `t` STATUS LIKE 'secret'", "/* c */ x -- y", "'unterminated", "((", "a.b.c, d.e", "1e+5 0x1f .5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		shape := Reduce(sql)
		if Reduce(sql) != shape {
			t.Fatalf("not deterministic: %q", sql)
		}
		if strings.Contains(sql, "'zz_secret_zz'") && strings.Contains(shape, "zz_secret_zz") {
			t.Fatalf("literal kept in shape %q", shape)
		}
		if again := Reduce(shape); again != shape && !strings.ContainsAny(shape, "'\"`") {
			// a shape is already reduced: reducing it again changes nothing
			// (unless the shape still holds a lone quote character)
			t.Fatalf("Reduce(%q) = %q, not a fixed point of %q", shape, again, sql)
		}
	})
}

// BenchmarkReduce: a 1,000-row INSERT, the kind the benchmarks load data
// with (the recorder reduces every statement an embedded server receives).
func BenchmarkReduce(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("INSERT INTO bench_a (id, title, price, tags) VALUES ")
	for i := 0; i < 1000; i++ {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString("(12345, 'a title of some forty characters here', 19.95, (1,2,3))")
	}
	sql := sb.String()
	b.SetBytes(int64(len(sql)))
	b.ReportAllocs()
	for b.Loop() {
		Reduce(sql)
	}
}
