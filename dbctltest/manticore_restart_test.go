package dbctltest_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dbctl/dbctl/dbctltest"
)

// The freeze counter lives in the server, not in a connection: a FREEZE
// sent on a connection that is then closed still counts on every other
// connection (manticore.md §0: "the counter lives in the server"; §4.3).
// It lives in memory only: after a restart on the same data_dir it is 0
// (manticore.md §4.4, "Restart with a frozen table": SHOW LOCKS empty,
// locked 0), and SHOW STATUS uptime restarts at 0 (src/searchd.cpp
// BuildStatus).
func TestManticoreCountersSurviveConnectionsNotRestarts(t *testing.T) {
	dir := t.TempDir()
	s1, err := dbctltest.StartManticore(dbctltest.WithDataDir(dir), dbctltest.WithStartedAt(time.Now().Add(-time.Hour)))
	require.NoError(t, err)
	addr := s1.Addr()
	db1 := openDB(t, s1.DSN())
	mustExec(t, db1, "CREATE TABLE t(title text)", "INSERT INTO t(id,title) VALUES (1,'one')", "FREEZE t")
	require.NoError(t, db1.Close())

	db2 := openDB(t, s1.DSN())
	assert.Equal(t, [][]string{{"rt", "t", "freeze", "Count: 1"}}, queryStrings(t, db2, "SHOW LOCKS"))
	uptime := queryStrings(t, db2, "SHOW STATUS LIKE 'uptime'")
	require.Len(t, uptime, 1)
	assert.Equal(t, "uptime", uptime[0][0])
	n, err := strconv.Atoi(uptime[0][1])
	require.NoError(t, err)
	assert.GreaterOrEqual(t, n, 3600, "WithStartedAt: a server that has run an hour")
	require.NoError(t, s1.Close())

	// the same data_dir and address, as after a restart of searchd
	s2 := dbctltest.NewManticore(t, dbctltest.WithDataDir(dir), dbctltest.WithAddr(addr))
	db3 := openDB(t, s2.DSN())
	assert.Empty(t, queryStrings(t, db3, "SHOW LOCKS"), "the freeze ended with the server")
	assert.Equal(t, [][]string{{"locked", "0"}}, queryStrings(t, db3, "SHOW TABLE t STATUS LIKE 'locked'"))
	assert.Equal(t, [][]string{{"1"}}, queryStrings(t, db3, "SELECT COUNT(*) FROM t"))
	uptime = queryStrings(t, db3, "SHOW STATUS LIKE 'uptime'")
	n, err = strconv.Atoi(uptime[0][1])
	require.NoError(t, err)
	assert.Less(t, n, 3600, "uptime restarted")
}
