package mysqlwire

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// echoHandler is a tiny server for protocol tests: user "u" with password
// "pw" (or user "open" with none), and a few fixed statements.
type echoHandler struct {
	mu      sync.Mutex
	queries []Query
	dbs     []string
	release chan struct{}
}

func (h *echoHandler) NewSession(info ConnInfo) (Session, error) {
	switch {
	case info.User == "u" && info.CheckNativePassword("pw"):
	case info.User == "open" && info.CheckNativePassword(""):
	default:
		return nil, Errorf(1045, "28000", "Access denied for user '%s'", info.User)
	}
	return &echoSession{h: h}, nil
}

type echoSession struct{ h *echoHandler }

func (s *echoSession) InitDB(db string) error {
	if db == "nosuchdb" {
		return Errorf(1046, "42000", "no such database %s", db)
	}
	s.h.mu.Lock()
	s.h.dbs = append(s.h.dbs, db)
	s.h.mu.Unlock()
	return nil
}

func (s *echoSession) Close() {}

func (s *echoSession) Query(ctx context.Context, q Query) (*Result, error) {
	s.h.mu.Lock()
	s.h.queries = append(s.h.queries, q)
	s.h.mu.Unlock()
	switch {
	case q.SQL == "types":
		return &Result{
			Columns: []Column{
				{Name: "s", Type: TypeString},
				{Name: "vs", Type: TypeVarString, Length: 0xffffffff},
				{Name: "txt", Type: TypeBlob},
				{Name: "u", Type: TypeLong, Flags: FlagUnsigned},
				{Name: "big", Type: TypeLongLong},
				{Name: "dec", Type: TypeNewDecimal},
				{Name: "f", Type: TypeFloat},
			},
			Rows: [][]Value{
				{V("a"), V("{\n}\n"), V("t"), V("4294967295"), V("-5000000000"), V("1000"), V("1.5")},
				{Null, Null, Null, Null, Null, Null, Null},
			},
			Warnings: 1,
		}, nil
	case q.SQL == "ok":
		return &Result{AffectedRows: 5}, nil
	case q.SQL == "eob":
		return nil, &Error{Code: 0, State: "00000", Message: "ExpectedEOB"}
	case q.SQL == "block":
		select {
		case <-s.h.release:
		case <-ctx.Done():
		}
		return &Result{}, nil
	case strings.HasPrefix(q.SQL, "echo "):
		return &Result{Columns: []Column{{Name: "v", Type: TypeVarString}}, Rows: [][]Value{{V(strings.TrimPrefix(q.SQL, "echo "))}}}, nil
	}
	return nil, Errorf(1064, "42000", "P02: syntax error, unexpected identifier near '%s'", q.SQL)
}

func startEcho(t *testing.T) (*Server, *echoHandler) {
	h := &echoHandler{release: make(chan struct{})}
	s, err := Listen("127.0.0.1:0", Config{ServerVersion: "8.0.30-test", Handler: h})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s, h
}

func open(t *testing.T, dsn string) *sql.DB {
	db, err := sql.Open("mysql", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

func TestAuthentication(t *testing.T) {
	s, _ := startEcho(t)
	ctx := context.Background()
	require.NoError(t, open(t, fmt.Sprintf("u:pw@tcp(%s)/", s.Addr())).PingContext(ctx))
	require.NoError(t, open(t, fmt.Sprintf("open@tcp(%s)/", s.Addr())).PingContext(ctx))
	err := open(t, fmt.Sprintf("u:wrong@tcp(%s)/", s.Addr())).PingContext(ctx)
	var me *mysql.MySQLError
	require.ErrorAs(t, err, &me)
	assert.Equal(t, uint16(1045), me.Number)
	err = open(t, fmt.Sprintf("open:x@tcp(%s)/", s.Addr())).PingContext(ctx)
	require.ErrorAs(t, err, &me)
	err = open(t, fmt.Sprintf("u:pw@tcp(%s)/nosuchdb", s.Addr())).PingContext(ctx)
	require.ErrorAs(t, err, &me)
	assert.Equal(t, uint16(1046), me.Number)
}

func TestTextAndBinaryResults(t *testing.T) {
	s, h := startEcho(t)
	for _, interpolate := range []bool{false, true} {
		t.Run(fmt.Sprintf("interpolateParams=%v", interpolate), func(t *testing.T) {
			db := open(t, fmt.Sprintf("u:pw@tcp(%s)/mydb?interpolateParams=%v", s.Addr(), interpolate))
			ctx := context.Background()
			rows, err := db.QueryContext(ctx, "types")
			require.NoError(t, err)
			cts, err := rows.ColumnTypes()
			require.NoError(t, err)
			var names, types []string
			for _, ct := range cts {
				names = append(names, ct.Name())
				types = append(types, ct.DatabaseTypeName())
				nullable, ok := ct.Nullable()
				assert.True(t, ok && nullable)
			}
			assert.Equal(t, []string{"s", "vs", "txt", "u", "big", "dec", "f"}, names)
			assert.Equal(t, []string{"CHAR", "VARCHAR", "TEXT", "UNSIGNED INT", "BIGINT", "DECIMAL", "FLOAT"}, types)
			var got [][]sql.NullString
			for rows.Next() {
				row := make([]sql.NullString, 7)
				dest := make([]any, 7)
				for i := range row {
					dest[i] = &row[i]
				}
				require.NoError(t, rows.Scan(dest...))
				got = append(got, row)
			}
			require.NoError(t, rows.Err())
			require.Len(t, got, 2)
			assert.Equal(t, "{\n}\n", got[0][1].String)
			assert.Equal(t, "4294967295", got[0][3].String)
			assert.Equal(t, "-5000000000", got[0][4].String)
			assert.False(t, got[1][0].Valid)

			res, err := db.ExecContext(ctx, "ok")
			require.NoError(t, err)
			n, _ := res.RowsAffected()
			assert.Equal(t, int64(5), n)

			err = db.QueryRowContext(ctx, "eob").Scan(new(string))
			var me *mysql.MySQLError
			require.ErrorAs(t, err, &me)
			assert.Equal(t, uint16(0), me.Number)
			assert.Equal(t, "00000", string(me.SQLState[:]))
			assert.Equal(t, "ExpectedEOB", me.Message)

			// Parameters: prepared and substituted server-side, or
			// interpolated by the driver; the handler sees the same text.
			var v string
			require.NoError(t, db.QueryRowContext(ctx, "echo ?|?|?|?|?", "it's", int64(-7), 2.5, nil, uint64(1<<63)).Scan(&v))
			assert.Equal(t, `'it\'s'|-7|2.5|NULL|9223372036854775808`, v)
			// prepared statements return binary rows of every type
			row := make([]any, 7)
			for i := range row {
				row[i] = new(sql.NullString)
			}
			require.NoError(t, db.QueryRowContext(ctx, "types", []any{}...).Scan(row...))
			require.NoError(t, db.QueryRowContext(ctx, "echo ?", "x").Scan(&v))
		})
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var prepared int
	for _, q := range h.queries {
		if q.Prepared {
			prepared++
			assert.Equal(t, "echo ?|?|?|?|?", q.Template)
			assert.Equal(t, `echo 'it\'s'|-7|2.5|NULL|9223372036854775808`, q.SQL)
			break
		}
	}
	assert.Equal(t, 1, prepared)
	assert.Contains(t, h.dbs, "mydb")
}

func TestBinaryRowsOfEveryType(t *testing.T) {
	s, _ := startEcho(t)
	db := open(t, fmt.Sprintf("u:pw@tcp(%s)/", s.Addr()))
	// an argument forces COM_STMT_PREPARE/EXECUTE and binary rows
	stmt, err := db.Prepare("types")
	require.NoError(t, err)
	defer stmt.Close()
	rows, err := stmt.Query()
	require.NoError(t, err)
	defer rows.Close()
	require.True(t, rows.Next())
	var s1, vs, txt sql.NullString
	var u, big sql.NullInt64
	var dec sql.NullString
	var f sql.NullFloat64
	require.NoError(t, rows.Scan(&s1, &vs, &txt, &u, &big, &dec, &f))
	assert.Equal(t, int64(4294967295), u.Int64)
	assert.Equal(t, int64(-5000000000), big.Int64)
	assert.Equal(t, 1.5, f.Float64)
	assert.Equal(t, "1000", dec.String)
	require.True(t, rows.Next())
	require.NoError(t, rows.Scan(&s1, &vs, &txt, &u, &big, &dec, &f))
	assert.False(t, u.Valid || s1.Valid || f.Valid)
}

func TestDropConnectionsAndClose(t *testing.T) {
	s, h := startEcho(t)
	db := open(t, fmt.Sprintf("u:pw@tcp(%s)/", s.Addr()))
	db.SetMaxIdleConns(1)
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	require.NoError(t, conn.PingContext(ctx))
	assert.Equal(t, 1, s.OpenConnections())
	s.DropConnections()
	err = conn.PingContext(ctx)
	assert.Error(t, err)
	conn.Close()
	// the pool dials again
	require.NoError(t, db.PingContext(ctx))

	// a blocked statement ends when the server closes
	done := make(chan error, 1)
	go func() {
		_, err := db.ExecContext(ctx, "block")
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	require.NoError(t, s.Close())
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("blocked statement outlived the server")
	}
	assert.Equal(t, 0, s.OpenConnections())
	close(h.release)
}

func TestPlaceholders(t *testing.T) {
	assert.Equal(t, 2, countPlaceholders(`select ?, '?', "?", `+"`?`"+`, 'a\'?', ?`))
	assert.Equal(t, "a 1 b '?' 2", substitute("a ? b '?' ?", []string{"1", "2"}))
	assert.Equal(t, `'a\\b\'c'`, QuoteLiteral(`a\b'c`))
}

func TestUnknownCommandAndGarbage(t *testing.T) {
	s, _ := startEcho(t)
	db := open(t, fmt.Sprintf("u:pw@tcp(%s)/", s.Addr()))
	err := db.QueryRow("nonsense").Scan(new(string))
	var me *mysql.MySQLError
	require.True(t, errors.As(err, &me))
	assert.Equal(t, uint16(1064), me.Number)
	assert.Equal(t, "42000", string(me.SQLState[:]))
}
