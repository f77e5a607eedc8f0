package dbctl_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dbctl/dbctl"
	"github.com/dbctl/dbctl/dbctltest"
	"github.com/dbctl/dbctl/internal/itest"
)

// The freeze journal end to end: a dbctl process killed while it holds a
// freeze leaves a record that the next run on this machine releases,
// exactly that share; a live process's freeze, a deliberate Freeze and
// another tool's freeze are never taken; a restarted searchd's records are
// dropped. Each case runs unchanged against a real searchd
// (DBCTL_MANTICORE_DSN) unless it needs the embedded server's faults.

// Two dbctl processes at once: neither releases the other's live freeze;
// once the first is killed, the second's next run releases exactly its
// share, and another holder's freeze stays.
func TestIntegrationJournalKilledHolderReleasedNextRun(t *testing.T) {
	target := itest.NewManticoreTarget(t)
	ctx := context.Background()
	c := itest.OpenClient(t, target.DSN)
	a, b := itest.RTTable(t, c), itest.RTTable(t, c)
	itest.ExecAll(t, c.DB(), "FREEZE "+b) // another tool's freeze
	state := t.TempDir()
	kill := holdingChild(t, target.DSN, state, a, b)
	assert.Equal(t, 1, itest.Locked(t, c, a))
	assert.Equal(t, 2, itest.Locked(t, c, b))

	me := itest.OpenClient(t, target.DSN, dbctl.Options{StateDir: state})
	orphans, err := me.Manticore().OrphanedFreezes(ctx)
	require.NoError(t, err)
	assert.Empty(t, orphans, "the holder is alive")
	err = me.Manticore().WithFrozen(ctx, []string{a, b}, func(context.Context, []dbctl.FrozenFile) error {
		assert.Equal(t, 2, itest.Locked(t, c, a), "the live holder's freeze and ours")
		assert.Equal(t, 3, itest.Locked(t, c, b))
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, 1, itest.Locked(t, c, a), "the live holder's freeze stays")
	require.Len(t, journalNames(t, state), 1, "the live holder's record")

	kill()
	orphans, err = me.Manticore().OrphanedFreezes(ctx)
	require.NoError(t, err)
	require.Len(t, orphans, 1)
	o := orphans[0]
	assert.Equal(t, "frozen", o.State)
	assert.Equal(t, []string{a, b}, o.Release)
	assert.False(t, o.Done, "listed only")
	assert.NotZero(t, o.PID)
	assert.Equal(t, 1, itest.Locked(t, c, a), "listing changes nothing")

	orphans, err = me.Manticore().ReleaseOrphanedFreezes(ctx)
	require.NoError(t, err)
	require.Len(t, orphans, 1)
	assert.True(t, orphans[0].Done)
	assert.Equal(t, []string{a, b}, orphans[0].Release)
	assert.Equal(t, 0, itest.Locked(t, c, a))
	assert.Equal(t, 1, itest.Locked(t, c, b), "the other tool's freeze stays")
	assert.Empty(t, journalNames(t, state))

	orphans, err = me.Manticore().ReleaseOrphanedFreezes(ctx)
	require.NoError(t, err)
	assert.Empty(t, orphans, "released once, never twice")
	assert.Equal(t, 1, itest.Locked(t, c, b))
}

// A deliberate Freeze is its caller's: its record is removed when Freeze
// returns, so a process that exits holding it is not taken for a dead run
// of WithFrozen.
func TestIntegrationJournalDeliberateFreezeIsNoOrphan(t *testing.T) {
	target := itest.NewManticoreTarget(t)
	ctx := context.Background()
	c := itest.OpenClient(t, target.DSN)
	a := itest.RTTable(t, c)
	state := t.TempDir()
	res := runChild(t, target.DSN, state, "Freeze", a)
	require.NoError(t, res)
	assert.Equal(t, 1, itest.Locked(t, c, a), "frozen on purpose by a process that has ended")
	assert.Empty(t, journalNames(t, state))
	me := itest.OpenClient(t, target.DSN, dbctl.Options{StateDir: state})
	orphans, err := me.Manticore().ReleaseOrphanedFreezes(ctx)
	require.NoError(t, err)
	assert.Empty(t, orphans)
	assert.Equal(t, 1, itest.Locked(t, c, a))
}

// A FREEZE sent, whose connection died before it ran: the caller learns
// the outcome is unknown; the releaser watches the counters for the
// release timeout and gives up; when the FREEZE lands later, the next run
// releases exactly it.
func TestIntegrationJournalLostFreezeReleasedNextRun(t *testing.T) {
	target := itest.NewManticoreTarget(t)
	target.NeedEmbedded(t)
	ctx := context.Background()
	state := t.TempDir()
	c := itest.OpenClient(t, target.DSN, dbctl.Options{StateDir: state, ReleaseTimeout: 100 * time.Millisecond})
	a := itest.RTTable(t, c)
	itest.ExecAll(t, c.DB(), "FREEZE "+a) // another holder
	release := target.Srv.Hold("^FREEZE")
	defer release()
	done := make(chan error)
	go func() { _, err := c.Manticore().Freeze(ctx, a); done <- err }()
	for target.Srv.Held() == 0 {
		time.Sleep(time.Millisecond)
	}
	target.Srv.DropConnections()
	require.ErrorIs(t, <-done, dbctl.ErrFreezeOutcomeUnknown)
	released, err := c.WaitReleases(ctx)
	require.ErrorIs(t, err, dbctl.ErrFreezeOutcomeUnknown, "no counter rose within the release timeout")
	assert.Empty(t, released)
	require.Len(t, journalNames(t, state), 1, "the record is left for the next run")

	release() // searchd runs it now
	for itest.Locked(t, c, a) != 2 {
		time.Sleep(time.Millisecond)
	}
	next := itest.OpenClient(t, target.DSN, dbctl.Options{StateDir: state})
	orphans, err := next.Manticore().ReleaseOrphanedFreezes(ctx)
	require.NoError(t, err)
	require.Len(t, orphans, 1)
	assert.Equal(t, "intent", orphans[0].State)
	assert.Equal(t, []string{a}, orphans[0].Release)
	assert.Equal(t, 1, itest.Locked(t, c, a), "the other holder's freeze stays")
	assert.Empty(t, journalNames(t, state))
}

// A record written, whose FREEZE was never sent (the process died first):
// no counter rose, so nothing is released and the record is dropped.
func TestIntegrationJournalFreezeNeverSent(t *testing.T) {
	target := itest.NewManticoreTarget(t)
	ctx := context.Background()
	c := itest.OpenClient(t, target.DSN)
	a := itest.RTTable(t, c)
	itest.ExecAll(t, c.DB(), "FREEZE "+a)
	state := t.TempDir()
	killAt(t, target.DSN, state, "WithFrozen/success", "sql.send FREEZE", a)
	require.Len(t, journalNames(t, state), 1)
	me := itest.OpenClient(t, target.DSN, dbctl.Options{StateDir: state})
	orphans, err := me.Manticore().ReleaseOrphanedFreezes(ctx)
	require.NoError(t, err)
	require.Len(t, orphans, 1)
	assert.Empty(t, orphans[0].Release)
	assert.Contains(t, orphans[0].Reason, "never landed")
	assert.True(t, orphans[0].Done)
	assert.Equal(t, 1, itest.Locked(t, c, a), "the other holder's freeze stays")
	assert.Empty(t, journalNames(t, state))
}

// A searchd restarted since the record: its freezes ended with it, and the
// counter now is someone else's.
func TestIntegrationJournalRestartedServerRecordDropped(t *testing.T) {
	if os.Getenv("DBCTL_MANTICORE_DSN") != "" {
		t.Skip("restarts the server: embedded only")
	}
	ctx := context.Background()
	dir := t.TempDir()
	// a searchd that has run an hour, so that its restart moves the start
	// time a client reads (now minus uptime)
	s1, err := dbctltest.StartManticore(dbctltest.WithDataDir(dir), dbctltest.WithStartedAt(time.Now().Add(-time.Hour)))
	require.NoError(t, err)
	c1 := itest.OpenClient(t, s1.DSN())
	itest.ExecAll(t, c1.DB(), "CREATE TABLE t (title text)")
	state := t.TempDir()
	kill := holdingChild(t, s1.DSN(), state, "t")
	kill()
	addr := s1.Addr()
	require.NoError(t, s1.Close())

	s2 := dbctltest.NewManticore(t, dbctltest.WithDataDir(dir), dbctltest.WithAddr(addr))
	c2 := itest.OpenClient(t, s2.DSN(), dbctl.Options{StateDir: state})
	itest.ExecAll(t, c2.DB(), "FREEZE t") // after the restart: someone else's
	orphans, err := c2.Manticore().ReleaseOrphanedFreezes(ctx)
	require.NoError(t, err)
	require.Len(t, orphans, 1)
	assert.Empty(t, orphans[0].Release)
	assert.Contains(t, orphans[0].Reason, "searchd restarted since")
	assert.Equal(t, 1, itest.Locked(t, c2, "t"), "the freeze taken after the restart stays")
	assert.Empty(t, journalNames(t, state))
}

// A journal folder that cannot be made fails the freeze before anything is
// sent, with ErrStateDir saying how to move it.
func TestIntegrationJournalUnusableFolder(t *testing.T) {
	target := itest.NewManticoreTarget(t)
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	c := itest.OpenClient(t, target.DSN, dbctl.Options{StateDir: filepath.Join(file, "dbctl")})
	a := itest.RTTable(t, c)
	_, err := c.Manticore().Freeze(ctx, a)
	require.ErrorIs(t, err, dbctl.ErrStateDir)
	assert.Contains(t, err.Error(), "move it with Options.StateDir (CLI: --state-dir) or XDG_STATE_HOME")
	err = c.Manticore().WithFrozen(ctx, []string{a}, func(context.Context, []dbctl.FrozenFile) error {
		t.Fatal("called without a freeze")
		return nil
	})
	require.ErrorIs(t, err, dbctl.ErrStateDir)
	assert.Equal(t, 0, itest.Locked(t, c, a), "nothing was frozen")
	_, err = c.Manticore().OrphanedFreezes(ctx)
	require.ErrorIs(t, err, dbctl.ErrStateDir)
}

// runChild runs op in a child dbctl process to its end.
func runChild(t *testing.T, dsn, state, op string, tables ...string) error {
	t.Helper()
	res := childRun(t, dsn, state, op, nil, tables)
	if res.Err != nil {
		t.Logf("child output:\n%s", res.Output)
	}
	return res.Err
}
