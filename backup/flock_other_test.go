//go:build !unix

package backup

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/dbctl/dbctl"
	"github.com/dbctl/dbctl/internal/crashpoint/crashtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// On a system without flock Create refuses before it sends anything: the
// client's server is never dialled (nothing listens on port 1).
func TestCreateRefusedOnThisSystem(t *testing.T) {
	c, err := dbctl.Open("root@tcp(127.0.0.1:1)/", nil)
	require.NoError(t, err)
	defer c.Close()
	var steps []crashtest.Step
	steps = crashtest.Record(t, func() {
		_, err = Create(context.Background(), c.Manticore(), filepath.Join(t.TempDir(), "bk"), CreateOptions{})
	})
	require.ErrorIs(t, err, dbctl.ErrNotSupported)
	assert.Empty(t, steps)
}
