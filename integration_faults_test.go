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

// C, deterministically: a FREEZE held on the server past the caller's
// deadline is waited for, then released: the counter is 0 as soon as
// Freeze returns. And when the FREEZE's answer is lost (the connection is
// cut while searchd holds it, or it outlasts the release timeout), Freeze
// does not send an UNFREEZE that would run first: it watches the counters
// and undoes the FREEZE once it lands, or says the outcome is unknown.
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
		done := make(chan error)
		go func() { _, err := c.Manticore().Freeze(ctx, a); done <- err }()
		waitHeld()
		<-ctx.Done()
		release()
		require.ErrorIs(t, <-done, context.DeadlineExceeded)
		assert.Equal(t, 0, itest.Locked(t, c, a))
	})

	t.Run("connection cut while FREEZE is held: undone once it lands", func(t *testing.T) {
		c := itest.OpenClient(t, target.DSN, dbctl.WithReleaseTimeout(10*time.Second))
		a := itest.RTTable(t, c)
		release := srv.Hold("^FREEZE")
		defer release()
		done := make(chan error)
		go func() { _, err := c.Manticore().Freeze(context.Background(), a); done <- err }()
		waitHeld()
		srv.DropConnections()
		select {
		case err := <-done:
			t.Fatalf("Freeze returned before the FREEZE landed: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
		release()
		err := <-done
		require.Error(t, err)
		assert.Contains(t, err.Error(), "the FREEZE's answer was lost; it ran, and was undone for "+a)
		assert.Equal(t, 0, itest.Locked(t, c, a))
	})

	t.Run("FREEZE outlasts the release timeout: outcome unknown, tables named", func(t *testing.T) {
		c := itest.OpenClient(t, target.DSN, dbctl.WithReleaseTimeout(100*time.Millisecond))
		a := itest.RTTable(t, c)
		release := srv.Hold("^FREEZE")
		defer release()
		_, err := c.Manticore().Freeze(context.Background(), a)
		require.ErrorIs(t, err, dbctl.ErrFreezeOutcomeUnknown)
		assert.Contains(t, err.Error(), "these tables become frozen: "+a)
		release() // searchd runs it now: exactly what the error warned of
		for itest.Locked(t, c, a) != 1 {
			time.Sleep(time.Millisecond)
		}
		require.NoError(t, c.Manticore().Unfreeze(context.Background(), a))
	})
}
