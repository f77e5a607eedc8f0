//go:build unix

package backup_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dbctl/dbctl/backup"
	"github.com/dbctl/dbctl/internal/crashpoint"
	"github.com/dbctl/dbctl/internal/crashpoint/crashtest"
	"github.com/dbctl/dbctl/internal/itest"
)

// A Create killed right after its FREEZE answered leaves its tables frozen
// (its share: one count each); the next Create with the same state folder
// releases exactly that share before its own FREEZE and returns it in
// Manifest.ReleasedOrphans, while another holder's freeze stays.
func TestCreateReportsReleasedOrphans(t *testing.T) {
	if crashtest.IsChild() {
		createCrashChild(t)
		return
	}
	target, newParent := campaignTarget(t)
	c := itest.OpenClient(t, target.DSN)
	tables := campaignTables(t, c)
	itest.ExecAll(t, c.DB(), "FREEZE "+tables[1]) // another holder's
	t.Cleanup(func() { _, _ = c.DB().Exec("UNFREEZE " + tables[1]) })
	before := freezeCounts(t, c, tables)
	state, parent := newParent(), newParent()

	spec := crashpoint.Spec{Step: "sql.answer FREEZE", N: 1, Action: crashpoint.Kill}
	env := []string{envCrashDSN + "=" + target.DSN, envCrashTables + "=" + strings.Join(tables, ","),
		envCrashVariant + "=" + createVariants[0].name, envCrashState + "=" + state,
		envCrashTarget + "=" + filepath.Join(parent, "killed")}
	res := crashtest.Child(t, "TestCreateReportsReleasedOrphans", &spec, 2*time.Minute, env...)
	require.True(t, res.Killed, "the child reached the step:\n%s", res.Output)
	held := freezeCounts(t, c, tables)
	for _, n := range tables {
		require.Equal(t, before[n]+1, held[n], "the killed run's share of %s", n)
	}

	opts := createVariants[0].opts
	opts.Tables = tables
	man, err := backup.Create(context.Background(), campaignClient(t, target.DSN, state).Manticore(), filepath.Join(parent, "next"), opts)
	require.NoError(t, err)
	require.Len(t, man.ReleasedOrphans, 1, "one dead run's record")
	o := man.ReleasedOrphans[0]
	assert.True(t, o.Done)
	assert.ElementsMatch(t, tables, o.Release, "exactly the killed run's tables, once each")
	assert.Equal(t, before, freezeCounts(t, c, tables), "the other holder's freeze stays")

	again, err := backup.Create(context.Background(), campaignClient(t, target.DSN, state).Manticore(), filepath.Join(parent, "again"), opts)
	require.NoError(t, err)
	assert.Empty(t, again.ReleasedOrphans, "released once, never again")
}
