package backup

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A server whose data_dir (SHOW SETTINGS) has no manticore.json, beyond
// searchd's rename gap, is not one this machine can back up (not in RT
// mode, or not here): Create says so before it freezes or makes anything.
func TestCreateRefusesADataDirWithoutManticoreJSON(t *testing.T) {
	f := newBackupFixture(t)
	mj := filepath.Join(f.srv.DataDir(), "manticore.json")
	aside := mj + ".test-aside"
	require.NoError(t, os.Rename(mj, aside))
	f.srv.FailNext("^FREEZE", 1064, "injected: a FREEZE was sent")
	parent := t.TempDir()
	_, err := Create(t.Context(), f.c.Manticore(), filepath.Join(parent, "bk"), CreateOptions{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "has no manticore.json (is the server in RT mode, on this machine?)")
	assert.NotContains(t, err.Error(), "injected")
	_, err = f.c.DB().Exec("FREEZE a")
	require.ErrorContains(t, err, "injected", "no FREEZE was sent: the injected failure is still pending")
	entries, err := os.ReadDir(parent)
	require.NoError(t, err)
	assert.Empty(t, entries, "nothing made")

	require.NoError(t, os.Rename(aside, mj))
	_, err = Create(t.Context(), f.c.Manticore(), filepath.Join(parent, "bk"), CreateOptions{})
	require.NoError(t, err)
}
