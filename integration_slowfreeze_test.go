package dbctl_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dbctl/dbctl"
	"github.com/dbctl/dbctl/internal/itest"
)

// A FREEZE slower than every timeout the client has (the release timeout,
// the caller's deadline): a moment after it lands, no table is left frozen
// by a call that did not hand the freeze to its caller, whatever the call
// returned. The embedded server's Delay makes the FREEZE slow; the test
// waits for the FREEZE to land through WaitReleases, never on a clock.
func TestIntegrationSlowFreeze(t *testing.T) {
	target := itest.NewManticoreTarget(t)
	target.NeedEmbedded(t)
	const slow = 600 * time.Millisecond // FREEZE on the server
	const releaseTimeout = 100 * time.Millisecond
	ops := []struct {
		name string
		run  func(ctx context.Context, c *dbctl.Client, table string) (handed bool, err error)
	}{
		{"Freeze", func(ctx context.Context, c *dbctl.Client, table string) (bool, error) {
			_, err := c.Manticore().Freeze(ctx, table)
			return err == nil, err
		}},
		{"WithFrozen", func(ctx context.Context, c *dbctl.Client, table string) (bool, error) {
			return false, c.Manticore().WithFrozen(ctx, []string{table}, func(context.Context, []dbctl.FrozenFile) error { return nil })
		}},
	}
	contexts := []struct {
		name string
		make func() (context.Context, context.CancelFunc)
		ends bool
	}{
		{"no deadline", func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }, false},
		{"deadline shorter than the FREEZE", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 50*time.Millisecond)
		}, true},
		{"cancelled while the FREEZE runs", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(50*time.Millisecond, cancel)
			return ctx, cancel
		}, true},
	}
	for _, op := range ops {
		for _, cc := range contexts {
			t.Run(op.name+"/"+cc.name, func(t *testing.T) {
				c := itest.OpenClient(t, target.DSN, dbctl.Options{ReleaseTimeout: releaseTimeout, StateDir: t.TempDir()})
				a, b := itest.RTTable(t, c), itest.RTTable(t, c)
				itest.ExecAll(t, c.DB(), "FREEZE "+a, "FREEZE "+b) // another holder
				target.Srv.Delay("^FREEZE", slow)
				defer target.Srv.Delay("^FREEZE", 0)
				ctx, cancel := cc.make()
				defer cancel()
				handed, err := op.run(ctx, c, a)
				if cc.ends {
					require.ErrorIs(t, err, ctx.Err())
					assert.Contains(t, err.Error(), "FREEZE still running on the server")
				} else {
					require.NoError(t, err, "the FREEZE is awaited, however slow")
				}
				released, err := c.WaitReleases(context.Background()) // until the FREEZE landed and was released
				require.NoError(t, err)
				want := 1 // the other holder's
				if handed {
					want = 2 // and the caller's, handed over by Freeze
				}
				assert.Equal(t, want, itest.Locked(t, c, a))
				assert.Equal(t, 1, itest.Locked(t, c, b))
				if cc.ends {
					assert.Equal(t, []string{a}, released)
				}
			})
		}
	}
}
