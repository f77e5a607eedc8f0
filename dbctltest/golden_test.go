package dbctltest_test

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/dbctl/dbctl/dbctltest"
	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The golden files are captures from real servers through go-sql-driver
// (see ../shared/reference/golden/README.md). Every record is replayed
// against the embedded servers and must match: column names and types,
// nullability, row values (shape only for records marked volatile), rows
// affected, and error number, SQLSTATE and message.

type goldenColumn struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Nullable *bool  `json:"nullable"`
}

type goldenError struct {
	Number   uint16 `json:"number"`
	SQLState string `json:"sqlstate"`
	Message  string `json:"message"`
}

type goldenRecord struct {
	Conn     string          `json:"conn"`
	Query    string          `json:"query"`
	Note     string          `json:"note"`
	Volatile bool            `json:"volatile"`
	Columns  []goldenColumn  `json:"columns"`
	Rows     [][]*string     `json:"rows"`
	Affected *int64          `json:"affected"`
	Error    *goldenError    `json:"error"`
	Raw      json.RawMessage `json:"-"`
}

// goldenDir finds the golden captures: $DBCTL_GOLDEN_DIR, or
// shared/reference/golden beside the checkout (searched upwards).
func goldenDir(t *testing.T) string {
	if d := os.Getenv("DBCTL_GOLDEN_DIR"); d != "" {
		return d
	}
	wd, err := os.Getwd()
	require.NoError(t, err)
	for dir := wd; ; dir = filepath.Dir(dir) {
		for _, cand := range []string{filepath.Join(dir, "shared", "reference", "golden"), filepath.Join(dir, "..", "shared", "reference", "golden")} {
			if fi, err := os.Stat(cand); err == nil && fi.IsDir() {
				return cand
			}
		}
		if filepath.Dir(dir) == dir {
			break
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("golden captures not found: set DBCTL_GOLDEN_DIR or keep shared/ beside the checkout")
	}
	t.Skip("golden captures not found (set DBCTL_GOLDEN_DIR)")
	return ""
}

func readGolden(t *testing.T, path string) []goldenRecord {
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var out []goldenRecord
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var r goldenRecord
		require.NoError(t, json.Unmarshal([]byte(line), &r), line)
		r.Raw = json.RawMessage(line)
		out = append(out, r)
	}
	require.NoError(t, sc.Err())
	return out
}

func TestGoldenReplay(t *testing.T) {
	dir := goldenDir(t)
	files, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "no *.jsonl in %s", dir)
	total := 0
	for _, path := range files {
		name := filepath.Base(path)
		records := readGolden(t, path)
		total += len(records)
		t.Run(name, func(t *testing.T) {
			switch {
			case strings.HasPrefix(name, "manticore"):
				s := dbctltest.NewManticore(t)
				fixtures := goldenFixtures(t)
				replay(t, records, func(string) string { return s.DSN() }, map[string]string{
					"{data_dir}": s.DataDir(), "{server_root}": s.ServerRoot(), "{fixtures}": fixtures},
					copyFrozenForImport(t, s.DataDir(), fixtures))
			case strings.HasPrefix(name, "matrixone"):
				s := dbctltest.NewMatrixOne(t)
				if name == "matrixone-recovery.jsonl" {
					setupGoldenRecovery(t, s)
				} else {
					setupGoldenMatrixOne(t, s)
				}
				replay(t, records, func(conn string) string { return matrixOneDSN(s, conn) }, nil)
			default:
				t.Fatalf("golden file %s: unknown server (want manticore*.jsonl or matrixone*.jsonl)", name)
			}
		})
	}
	t.Logf("replayed %d golden records from %d files", total, len(files))
}

// goldenFixtures is the {fixtures} folder of golden/README.md
// (manticore-2.jsonl): wf.txt, sw.txt and ex.txt. Its path has no dot
// (t.TempDir's would have the subtest's ".jsonl"): manticore-3.jsonl
// imports from {fixtures}/plain/..., which searchd refuses when any folder
// of the path has a dot.
func goldenFixtures(t *testing.T) string {
	dir, err := os.MkdirTemp("", "dbctl-golden-fixtures-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NotContains(t, dir, ".", "the temporary folder's path has a dot: set TMPDIR to a dot-free folder")
	for name, body := range map[string]string{
		"wf.txt": "walked > walk\nwalking > walk\n",
		"sw.txt": "the\nand\n",
		"ex.txt": "AT&T => att\n",
	} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
	}
	return dir
}

// setupGoldenMatrixOne creates what golden/README.md lists: account acc1
// (admin/111) with database db1 and table t, and sys user u1 (role public).
func setupGoldenMatrixOne(t *testing.T, s *dbctltest.MatrixOne) {
	require.NoError(t, s.CreateAccount("acc1", "admin", "111"))
	require.NoError(t, s.CreateUser("sys", "u1", "111", "public"))
	db, err := sql.Open("mysql", s.DSNFor("acc1", "admin", "111"))
	require.NoError(t, err)
	defer db.Close()
	for _, q := range []string{"create database db1", "create table db1.t (a int)"} {
		_, err := db.Exec(q)
		require.NoError(t, err, q)
	}
}

// setupGoldenRecovery creates what the recovery capture ran against
// (golden/README.md): account acc1 (admin/111) and sys user u1 (role
// public). The captured server's state outside the script shows in SHOW
// RECOVERY_WINDOW: sys had one more user table, acc_gold.t (record 244
// lists it), and acc1 had no table besides the script's cap_db.cap_t
// (records 247 and 307 list only that one), so acc1 gets no db1 here.
func setupGoldenRecovery(t *testing.T, s *dbctltest.MatrixOne) {
	require.NoError(t, s.CreateAccount("acc1", "admin", "111"))
	require.NoError(t, s.CreateUser("sys", "u1", "111", "public"))
	db, err := sql.Open("mysql", s.DSN())
	require.NoError(t, err)
	defer db.Close()
	for _, q := range []string{"create database acc_gold", "create table acc_gold.t (a int)"} {
		_, err := db.Exec(q)
		require.NoError(t, err, q)
	}
}

// captureTime matches the run-time timestamps of the recovery capture
// (2026-11-30/12-01) in error messages ("... is less than the pitr valid
// time 2026-11-30 23:38:34"): they are compared by shape. Fixed times of
// the script ("2000-01-01 00:00:00", the wrapped "1829-11-23 00:50:52")
// are compared exactly.
var captureTime = regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d`)

// maskRunTimes replaces, in got, the timestamps at the places where want
// has a capture-time one, when both are timestamps.
func maskRunTimes(want, got string) (string, string) {
	wl := captureTime.FindAllStringIndex(want, -1)
	gl := captureTime.FindAllStringIndex(got, -1)
	if len(wl) == 0 || len(wl) != len(gl) {
		return want, got
	}
	var w, g strings.Builder
	wp, gp := 0, 0
	for i := range wl {
		ws, gs := want[wl[i][0]:wl[i][1]], got[gl[i][0]:gl[i][1]]
		w.WriteString(want[wp:wl[i][0]])
		g.WriteString(got[gp:gl[i][0]])
		if strings.HasPrefix(ws, "2026-11-30") || strings.HasPrefix(ws, "2026-12-01") {
			ws, gs = "{time}", "{time}"
		}
		w.WriteString(ws)
		g.WriteString(gs)
		wp, gp = wl[i][1], gl[i][1]
	}
	w.WriteString(want[wp:])
	g.WriteString(got[gp:])
	return w.String(), g.String()
}

// matrixOneDSN maps the capture's connection names: root is sys root,
// an account name logs in as that account's admin, anything else is a
// user of sys; every password is 111.
func matrixOneDSN(s *dbctltest.MatrixOne, conn string) string {
	switch {
	case strings.HasPrefix(conn, "capacc"): // the recovery capture's cap_acc sessions
		return s.DSNFor("cap_acc", "admin", "111")
	case conn == "root" || conn == "dump":
		return s.DSNFor("sys", conn, "111")
	case s.HasAccount(conn):
		return s.DSNFor(conn, "admin", "111")
	}
	return s.DSNFor("sys", conn, "111")
}

// copyFrozenForImport is the harness step of manticore-3.jsonl
// (golden/README.md): after "FREEZE cap_imp" it copies the frozen table's
// files ({data_dir}/cap_imp/cap_imp.*) into {fixtures}/plain/cap_imp/,
// {fixtures}/dot.ted/cap_imp/ and {fixtures}/.hidden/cap_imp/, from which
// the capture's IMPORT TABLE statements read. Other records pass.
func copyFrozenForImport(t *testing.T, dataDir, fixtures string) func(goldenRecord) {
	return func(r goldenRecord) {
		if r.Query != "FREEZE cap_imp" {
			return
		}
		files, err := filepath.Glob(filepath.Join(dataDir, "cap_imp", "cap_imp.*"))
		require.NoError(t, err)
		require.NotEmpty(t, files)
		for _, folder := range []string{"plain", "dot.ted", ".hidden"} {
			dst := filepath.Join(fixtures, folder, "cap_imp")
			require.NoError(t, os.MkdirAll(dst, 0o755))
			for _, f := range files {
				b, err := os.ReadFile(f)
				require.NoError(t, err)
				require.NoError(t, os.WriteFile(filepath.Join(dst, filepath.Base(f)), b, 0o644))
			}
		}
	}
}

// replay runs the records in order and compares every answer; after, if
// given, runs after each record (a harness step of the capture).
func replay(t *testing.T, records []goldenRecord, dsnFor func(string) string, subst map[string]string, after ...func(goldenRecord)) {
	ctx := context.Background()
	// Connections open at the start, in the order the capture uses them; one
	// that cannot log in yet (an account the capture itself creates, the
	// recovery capture's cap_acc) opens on first use.
	conns := map[string]*sql.Conn{}
	open := func(name string) (*sql.Conn, error) {
		db, err := sql.Open("mysql", dsnFor(name))
		require.NoError(t, err)
		t.Cleanup(func() { db.Close() })
		c, err := db.Conn(ctx)
		if err != nil {
			return nil, err
		}
		t.Cleanup(func() { c.Close() })
		conns[name] = c
		return c, nil
	}
	tried := map[string]bool{}
	for _, r := range records {
		if !tried[r.Conn] {
			tried[r.Conn] = true
			_, _ = open(r.Conn)
		}
	}
	connFor := func(name string) *sql.Conn {
		if c := conns[name]; c != nil {
			return c
		}
		c, err := open(name)
		require.NoError(t, err, "connect %s", name)
		return c
	}
	expand := func(s string) string {
		for k, v := range subst {
			s = strings.ReplaceAll(s, k, v)
		}
		return s
	}
	for i, r := range records {
		replayOne(t, ctx, i, r, connFor, expand)
		for _, f := range after {
			f(r)
		}
	}
}

func replayOne(t *testing.T, ctx context.Context, i int, r goldenRecord, connFor func(string) *sql.Conn, expand func(string) string) {
	r.Query = expand(r.Query) // placeholders are in queries too (golden/README.md)
	label := r.Conn + "> " + r.Query
	c := connFor(r.Conn)
	if r.Affected != nil {
		res, err := c.ExecContext(ctx, r.Query)
		require.NoError(t, err, label)
		n, err := res.RowsAffected()
		require.NoError(t, err)
		assert.Equal(t, *r.Affected, n, "record %d %s: rows affected", i, label)
		return
	}
	rows, err := c.QueryContext(ctx, r.Query)
	if r.Error != nil {
		var me *mysql.MySQLError
		if assert.True(t, errors.As(err, &me), "record %d %s: want error %+v, got %v", i, label, r.Error, err) {
			assert.Equal(t, r.Error.Number, me.Number, "record %d %s: number", i, label)
			assert.Equal(t, r.Error.SQLState, string(me.SQLState[:]), "record %d %s: sqlstate", i, label)
			want, got := maskRunTimes(expand(r.Error.Message), me.Message)
			assert.Equal(t, want, got, "record %d %s: message", i, label)
		}
		if rows != nil {
			rows.Close()
		}
		return
	}
	if !assert.NoError(t, err, "record %d %s", i, label) {
		return
	}
	cts, err := rows.ColumnTypes()
	require.NoError(t, err)
	var got [][]*string
	for rows.Next() {
		vals := make([]sql.NullString, len(cts))
		dest := make([]any, len(cts))
		for j := range vals {
			dest[j] = &vals[j]
		}
		require.NoError(t, rows.Scan(dest...), label)
		row := make([]*string, len(vals))
		for j, v := range vals {
			if v.Valid {
				s := v.String
				row[j] = &s
			}
		}
		got = append(got, row)
	}
	require.NoError(t, rows.Err(), label)
	rows.Close()
	require.Len(t, cts, len(r.Columns), "record %d %s: columns", i, label)
	for j, want := range r.Columns {
		assert.Equal(t, want.Name, cts[j].Name(), "record %d %s: column %d name", i, label, j)
		assert.Equal(t, want.Type, cts[j].DatabaseTypeName(), "record %d %s: column %q type", i, label, want.Name)
		if want.Nullable != nil {
			n, ok := cts[j].Nullable()
			assert.True(t, ok, "record %d: nullable known", i)
			assert.Equal(t, *want.Nullable, n, "record %d %s: column %q nullable", i, label, want.Name)
		}
	}
	if !assert.Len(t, got, len(r.Rows), "record %d %s: row count", i, label) {
		return
	}
	for j := range r.Rows {
		assert.Len(t, got[j], len(r.Rows[j]), "record %d %s: row %d width", i, label, j)
		if r.Volatile {
			continue
		}
		for k, want := range r.Rows[j] {
			if want == nil {
				assert.Nil(t, got[j][k], "record %d %s: row %d col %d", i, label, j, k)
				continue
			}
			if assert.NotNil(t, got[j][k], "record %d %s: row %d col %d is NULL", i, label, j, k) {
				assert.Equal(t, expand(*want), *got[j][k], "record %d %s: row %d col %d", i, label, j, k)
			}
		}
	}
}
