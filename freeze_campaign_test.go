package dbctl_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dbctl/dbctl"
	"github.com/dbctl/dbctl/internal/crashpoint"
	"github.com/dbctl/dbctl/internal/crashpoint/crashtest"
	"github.com/dbctl/dbctl/internal/itest"
)

// TestFreezeCrashCampaign: for every step that Freeze (in flight, then
// handed over) and WithFrozen (success, callback error, callback panic)
// pass (each SQL statement, each file operation of the journal), the
// operation fails there (injected error), panics there, and, separately, a
// child process running it is killed there (SIGKILL). Then the next
// WithFrozen of the same tables, with the same journal folder, runs, and
// the invariants are checked: inside it each table is frozen exactly once
// by it (plus the other holder's share), so nothing of the faulty run is
// left frozen; after it no table is frozen by us, the other holder's count
// is unchanged, and the journal folder is empty. The steps are recorded
// from a clean run, so a new step is covered without touching this test.
func TestFreezeCrashCampaign(t *testing.T) {
	if crashtest.IsChild() {
		t.Skip("parent only")
	}
	target := itest.NewManticoreTarget(t)
	ctx := context.Background()
	c := itest.OpenClient(t, target.DSN)
	a, b := itest.RTTable(t, c), itest.RTTable(t, c)
	itest.ExecAll(t, c.DB(), "FREEZE "+b) // another holder's freeze of b, all along
	tables := []string{a, b}
	counts := func() [2]int { return [2]int{itest.Locked(t, c, a), itest.Locked(t, c, b)} }
	base := counts()
	require.Equal(t, [2]int{0, 1}, base)

	// next is the run after the faulty one: it must find nothing of ours
	// frozen and leave nothing behind.
	next := func(t *testing.T, state string) {
		t.Helper()
		nc := itest.OpenClient(t, target.DSN, dbctl.Options{StateDir: state})
		err := nc.Manticore().WithFrozen(ctx, tables, func(context.Context, []dbctl.FrozenFile) error {
			assert.Equal(t, [2]int{base[0] + 1, base[1] + 1}, counts(), "frozen once by this run, nothing left of the faulty one")
			return nil
		})
		require.NoError(t, err)
		assert.Equal(t, base, counts(), "no table frozen by us; the other holder's count unchanged")
		assert.Empty(t, journalNames(t, state), "no journal record left")
	}

	for _, op := range freezeOps {
		t.Run(op.name, func(t *testing.T) {
			state := t.TempDir()
			oc := itest.OpenClient(t, target.DSN, dbctl.Options{StateDir: state, ReleaseTimeout: 300 * time.Millisecond})
			var handed bool
			steps := crashtest.Record(t, func() { handed, _ = runOp(ctx, op, oc, tables) })
			if handed {
				require.NoError(t, oc.Manticore().Unfreeze(ctx, tables...))
			}
			require.Equal(t, base, counts())
			require.NotEmpty(t, steps)
			for _, s := range steps {
				for _, act := range []crashpoint.Action{crashpoint.Fail, crashpoint.Panic} {
					t.Run(string(act)+"/"+s.String(), func(t *testing.T) {
						state := t.TempDir()
						fc := itest.OpenClient(t, target.DSN, dbctl.Options{StateDir: state, ReleaseTimeout: 300 * time.Millisecond})
						var undo func()
						if act == crashpoint.Fail {
							undo = crashtest.FailAt(t, s)
						} else {
							undo = crashtest.PanicAt(t, s)
						}
						// a fault the operation recovers from (a retried
						// UNFREEZE, a journal write after the release) may
						// leave it successful: the invariants are what count
						handed, _ := runOp(ctx, op, fc, tables)
						undo()
						if handed {
							// the caller got the freeze: it is the caller's to release
							require.NoError(t, fc.Manticore().Unfreeze(ctx, tables...))
						}
						_, _ = fc.WaitReleases(ctx)
						next(t, state)
					})
				}
				t.Run("kill/"+s.String(), func(t *testing.T) {
					state := t.TempDir()
					spec := s.Spec(crashpoint.Kill)
					res := childRun(t, target.DSN, state, op.name, &spec, tables)
					require.True(t, res.Killed, "the child was not killed at %s: %v\n%s", s, res.Err, res.Output)
					next(t, state)
				})
			}
		})
	}
}
