package dbctl_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/dbctl/dbctl"
	"github.com/dbctl/dbctl/internal/itest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// One end-to-end test per fault of issue 9, each able to run against a real
// searchd on this machine (DBCTL_MANTICORE_DSN): backups read the files
// FREEZE lists, and IMPORT TABLE reads the backup, so both sides must see
// the same paths. Fault C (cancel during FREEZE) is in
// TestIntegrationFreezeFaults and needs the embedded server's delay.

// A: a warning stays on its connection (manticore-2.jsonl), so on a pool of
// one connection the warning of a FREEZE of a missing table is still there
// when that table, created meanwhile from another connection, is frozen.
// Freeze decides from the file list and succeeds.
func TestIntegrationFreezeAfterStaleWarning(t *testing.T) {
	target := itest.NewManticoreTarget(t)
	ctx := context.Background()
	c := itest.OpenClient(t, target.DSN)
	c.DB().SetMaxOpenConns(1)
	c.DB().SetMaxIdleConns(1)
	name := itest.UniqueName("dbctl_it_")
	other := itest.OpenClient(t, target.DSN)
	itest.DropTable(t, other, name)

	_, err := c.Manticore().Freeze(ctx, name)
	require.ErrorIs(t, err, dbctl.ErrTableNotFound)
	assert.Contains(t, err.Error(), "not frozen (missing, plain or distributed): "+name)

	itest.ExecAll(t, other.DB(), "CREATE TABLE "+name+" (title text)", "INSERT INTO "+name+" (id, title) VALUES (1, 'one')")
	files, err := c.Manticore().Freeze(ctx, name)
	require.NoError(t, err)
	var exts []string
	for _, f := range files {
		assert.Equal(t, name, f.Table)
		exts = append(exts, filepath.Ext(f.Normalized))
	}
	assert.Contains(t, exts, ".meta")
	assert.Contains(t, exts, ".settings")
	assert.Equal(t, 1, itest.Locked(t, other, name))
	require.NoError(t, c.Manticore().Unfreeze(ctx, name))
	assert.Equal(t, 0, itest.Locked(t, other, name))
}

// C, deterministically: searchd runs a FREEZE whose client has gone, so a
// FREEZE is never abandoned. When the caller's deadline passes while the
// FREEZE is held on the server, Freeze returns at once and a releaser
// unfreezes the table as soon as the FREEZE lands. When the connection is
// cut while searchd holds the FREEZE, the outcome is unknown to the
// caller, and the releaser undoes the FREEZE once it lands, never before
// (an UNFREEZE sent first would run first). A FREEZE slower than the
// release timeout is simply waited for.
func TestIntegrationFreezeNeverAbandoned(t *testing.T) {
	target := itest.NewManticoreTarget(t)
	target.NeedEmbedded(t)
	srv := target.Srv
	waitHeld := func() {
		t.Helper()
		for srv.Held() == 0 {
			time.Sleep(time.Millisecond)
		}
	}

	t.Run("caller deadline passes while FREEZE is held", func(t *testing.T) {
		c := itest.OpenClient(t, target.DSN)
		a := itest.RTTable(t, c)
		release := srv.Hold("^FREEZE")
		defer release()
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := c.Manticore().Freeze(ctx, a)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Contains(t, err.Error(), "FREEZE still running on the server: "+a+" are unfrozen as soon as it answers")
		assert.Equal(t, 1, srv.Held(), "Freeze returned while the FREEZE was still held on the server")
		release()
		released, err := c.WaitReleases(context.Background())
		require.NoError(t, err)
		assert.Equal(t, []string{a}, released)
		assert.Equal(t, 0, itest.Locked(t, c, a))
	})

	t.Run("connection cut while FREEZE is held: undone once it lands", func(t *testing.T) {
		c := itest.OpenClient(t, target.DSN, dbctl.Options{ReleaseTimeout: time.Minute})
		a := itest.RTTable(t, c)
		release := srv.Hold("^FREEZE")
		defer release()
		done := make(chan error)
		go func() { _, err := c.Manticore().Freeze(context.Background(), a); done <- err }()
		waitHeld()
		srv.DropConnections()
		err := <-done
		require.ErrorIs(t, err, dbctl.ErrFreezeOutcomeUnknown)
		assert.Contains(t, err.Error(), "the connection died with the FREEZE in flight")
		assert.Equal(t, 1, srv.Held(), "the FREEZE had not landed when Freeze returned")
		release()
		released, err := c.WaitReleases(context.Background())
		require.NoError(t, err)
		assert.Equal(t, []string{a}, released)
		assert.Equal(t, 0, itest.Locked(t, c, a))
	})

	t.Run("FREEZE slower than the release timeout: awaited", func(t *testing.T) {
		c := itest.OpenClient(t, target.DSN, dbctl.Options{ReleaseTimeout: 50 * time.Millisecond})
		a := itest.RTTable(t, c)
		release := srv.Hold("^FREEZE")
		defer release()
		done := make(chan error, 1)
		go func() { _, err := c.Manticore().Freeze(context.Background(), a); done <- err }()
		waitHeld()
		time.Sleep(200 * time.Millisecond) // four release timeouts
		select {
		case err := <-done:
			t.Fatalf("Freeze gave up on a FREEZE still running: %v", err)
		default:
		}
		release()
		require.NoError(t, <-done)
		assert.Equal(t, 1, itest.Locked(t, c, a), "the caller's freeze")
		require.NoError(t, c.Manticore().Unfreeze(context.Background(), a))
	})
}
