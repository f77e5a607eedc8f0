package backup

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/dbctl/dbctl"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A Base that is not a local folder is refused before anything is frozen;
// listing a folder that does not exist is an error, not an empty list.
func TestBaseMustBeLocalAndListNeedsTheFolder(t *testing.T) {
	f := newBackupFixture(t)
	before := f.counters(t)
	_, err := Create(t.Context(), f.c.Manticore(), filepath.Join(t.TempDir(), "bk"), CreateOptions{Base: "s3://bucket/prefix/base"})
	require.ErrorIs(t, err, dbctl.ErrInvalidArgument)
	assert.Contains(t, err.Error(), "Base must be a local backup folder")
	assert.Equal(t, before, f.counters(t))

	_, err = List(t.Context(), filepath.Join(t.TempDir(), "typo"), ListOptions{})
	require.ErrorIs(t, err, os.ErrNotExist)
}

// A backup cannot take a name this package gives its own temporary folders:
// List and Prune would skip it, and a run killed between its rename and
// its marker's removal would leave a finished backup that the next run's
// cleanup deletes as a dead run's folder. Refused before anything is sent
// or made; other names with dots and dashes are fine.
func TestCreateAndUploadRefuseReservedNames(t *testing.T) {
	f := newBackupFixture(t)
	ctx := t.Context()
	parent := t.TempDir()
	good, err := Create(ctx, f.c.Manticore(), filepath.Join(parent, "bk.2026.12.06"), CreateOptions{})
	require.NoError(t, err)
	require.NotNil(t, good)
	for _, name := range []string{"dbctl-import-nightly", "y.dbctl-partial-2", ".x.dbctl-partial-1", ".dbctl-stage-z", ".dbctl-restore-1", ".dbctl-replaced-x"} {
		t.Run(name, func(t *testing.T) {
			before := f.counters(t)
			_, err := Create(ctx, f.c.Manticore(), filepath.Join(parent, name), CreateOptions{})
			require.ErrorIs(t, err, dbctl.ErrInvalidArgument)
			assert.Contains(t, err.Error(), "a name dbctl gives its own temporary folders")
			assert.Equal(t, before, f.counters(t), "nothing sent")
			err = Upload(ctx, filepath.Join(parent, "bk.2026.12.06"), filepath.Join(parent, name)+"/", UploadOptions{})
			require.ErrorIs(t, err, dbctl.ErrInvalidArgument)
			_, err = Create(ctx, f.c.Manticore(), "s3://bucket/backups/"+name, CreateOptions{})
			require.ErrorIs(t, err, dbctl.ErrInvalidArgument, "checked before the store is opened")
		})
	}
	for _, loc := range []string{filepath.Join(parent, "dbctl-import-7") + "/.", filepath.Join(parent, "dbctl-import-7", "x", "..") + "/", "s3://bucket/p/.dbctl-stage-1/.", "s3://bucket/p/y.dbctl-partial-2/x/.."} {
		_, err := Create(ctx, f.c.Manticore(), loc, CreateOptions{})
		require.ErrorIs(t, err, dbctl.ErrInvalidArgument, "%s: the name as it will be, cleaned", loc)
	}
	entries, err := os.ReadDir(parent)
	require.NoError(t, err)
	require.Len(t, entries, 1, "nothing made beside the one good backup")
	for _, name := range []string{".hidden", "dbctl-nightly", "import-2026", "bk.dbctl"} {
		assert.NoError(t, reservedLocation("op", filepath.Join(parent, name)), name)
		assert.NoError(t, reservedLocation("op", "s3://bucket/p/"+name+"/"), name)
	}
}
