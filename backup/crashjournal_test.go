package backup_test

import (
	"context"
	"testing"

	"github.com/dbctl/dbctl"
	"github.com/stretchr/testify/require"
)

// waitReleases waits for the releases c still owes (a FREEZE that
// answered after its caller left), so that the counters read next are
// final.
func waitReleases(t *testing.T, c *dbctl.Client) {
	t.Helper()
	_, err := c.WaitReleases(context.Background())
	require.NoError(t, err)
}
