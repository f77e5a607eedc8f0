package dbctltest_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/dbctl/dbctl/dbctltest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// windowTime matches the times of SHOW RECOVERY_WINDOW values: snapshot
// timestamps ("2026-12-06 06:51:42.078256559 +0000 UTC") and PITR starts and
// ends ("2026-12-06 06:51:42.060480089").
var windowTime = regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?( [+-]\d{4} [A-Z]+)?`)

// TestGoldenRecoveryWindowValues replays matrixone-recovery-2.jsonl and
// compares every SHOW RECOVERY_WINDOW value with the capture's, times
// masked: the entries, their order and the wrong database-level answer
// (t1's row overwritten by later's list) must be the real server's. The
// replay of TestGoldenReplay compares these records by shape only (they
// are volatile).
func TestGoldenRecoveryWindowValues(t *testing.T) {
	records := readGolden(t, filepath.Join(goldenDir(t), "matrixone-recovery-2.jsonl"))
	s := dbctltest.NewMatrixOne(t)
	db, err := sql.Open("mysql", s.DSN())
	require.NoError(t, err)
	defer db.Close()
	c, err := db.Conn(context.Background())
	require.NoError(t, err)
	defer c.Close()
	compared := 0
	for i, r := range records {
		require.Equal(t, "root", r.Conn)
		if !strings.HasPrefix(r.Query, "show recovery_window") {
			_, err := c.ExecContext(context.Background(), r.Query)
			require.NoError(t, err, "record %d %s", i, r.Query)
			continue
		}
		rows, err := c.QueryContext(context.Background(), r.Query)
		require.NoError(t, err, r.Query)
		var got [][]string
		for rows.Next() {
			v := make([]string, 5)
			require.NoError(t, rows.Scan(&v[0], &v[1], &v[2], &v[3], &v[4]))
			got = append(got, v)
		}
		require.NoError(t, rows.Close())
		require.Len(t, got, len(r.Rows), "record %d %s", i, r.Query)
		for j, want := range r.Rows {
			for k := 0; k < 4; k++ {
				assert.Equal(t, *want[k], got[j][k], "record %d row %d col %d", i, j, k)
			}
			mask := func(s string) string { return windowTime.ReplaceAllString(s, "{time}") }
			assert.Equal(t, mask(*want[4]), mask(got[j][4]), "record %d %s: row %d (%s)", i, r.Query, j, *want[3])
			compared++
		}
	}
	assert.Equal(t, 4, compared)
}
