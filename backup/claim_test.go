package backup

import (
	"context"
	"testing"

	"github.com/dbctl/dbctl/backupstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Two claims of one prefix with the same fields (one process uploading
// one backup twice at once) are still two writers: the second is refused,
// although a store takes an object with the very bytes of a NoOverwrite
// Put for that Put's own.
func TestClaimsAreNeverTheSameBytes(t *testing.T) {
	ctx := context.Background()
	st, err := backupstore.OpenLocal(t.TempDir())
	require.NoError(t, err)
	who := func() map[string]any {
		return map[string]any{"upload_of": "/backups/b1", "backup_id": "id1", "pid": 42}
	}
	require.NoError(t, claimPrefix(ctx, "upload", st, &uploadUndo{st: st}, who()))
	err = claimPrefix(ctx, "upload", st, &uploadUndo{st: st}, who())
	assert.ErrorIs(t, err, ErrExists)
}
