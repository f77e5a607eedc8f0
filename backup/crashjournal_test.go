package backup_test

import (
	"context"
	"testing"

	"github.com/dbctl/dbctl"
	"github.com/stretchr/testify/require"
)

// stateDirOptions are the client options that put the freeze journal of a
// campaign's runs in state, so that a run killed inside its freeze is
// repaired by the next one.
func stateDirOptions(state string) []dbctl.Option { return []dbctl.Option{dbctl.WithStateDir(state)} }

// waitReleases waits for the releases c still owes (a FREEZE that
// answered after its caller left), so that the counters read next are
// final.
func waitReleases(t *testing.T, c *dbctl.Client) {
	t.Helper()
	_, err := c.WaitReleases(context.Background())
	require.NoError(t, err)
}
