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
