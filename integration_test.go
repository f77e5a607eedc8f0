package dbctl_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/dbctl/dbctl"
	"github.com/dbctl/dbctl/dbctltest"
	"github.com/dbctl/dbctl/internal/itest"
	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// End-to-end tests: every operation through go-sql-driver/mysql against the
// embedded servers of dbctltest, or against real servers when
// DBCTL_MANTICORE_DSN / DBCTL_MATRIXONE_DSN are set (the MatrixOne DSN must
// be a sys/moadmin login). Fault-injection cases need the embedded servers
// and are skipped against real ones. Tables get unique names and are dropped
// afterwards, so a real server is left as it was.

func TestIntegrationManticoreOperations(t *testing.T) {
	target := itest.NewManticoreTarget(t)
	c := itest.OpenClient(t, target.DSN)
	ctx := context.Background()
	m := c.Manticore()
	require.NoError(t, c.Ping(ctx))
	a, b := itest.RTTable(t, c), itest.RTTable(t, c)

	files, err := m.Freeze(ctx, a, strings.ToUpper(b), a)
	require.NoError(t, err)
	perTable := map[string]int{}
	for _, f := range files {
		perTable[f.Table]++
		if target.Srv != nil {
			_, err := os.Stat(f.Normalized)
			assert.NoError(t, err, "listed file exists")
			assert.True(t, strings.HasPrefix(f.Normalized, target.Srv.DataDir()))
		}
	}
	assert.Equal(t, 2, len(perTable))
	assert.Greater(t, perTable[a], 3, "disk chunk files are listed")
	assert.Equal(t, 1, itest.Locked(t, c, a), "a repeated name freezes once")
	assert.Equal(t, 1, itest.Locked(t, c, b))

	locks, err := m.Locks(ctx)
	require.NoError(t, err)
	found := 0
	for _, l := range locks {
		if l.Name == a || l.Name == b {
			found++
			assert.Equal(t, "rt", l.Type)
			assert.Equal(t, "freeze", l.LockType)
			assert.Equal(t, 1, l.Count)
		}
	}
	assert.Equal(t, 2, found)

	st, err := m.TableStatus(ctx, a)
	require.NoError(t, err)
	assert.Equal(t, 1, st.Locked)
	assert.Equal(t, int64(3), st.IndexedDocuments)
	assert.Equal(t, 1, st.DiskChunks)
	assert.Equal(t, "rt", st.TableType)

	err = m.Optimize(ctx, a, dbctl.OptimizeOptions{Sync: true})
	assert.ErrorIs(t, err, dbctl.ErrTableFrozen)
	_, err = m.FlushAttributes(ctx)
	require.NoError(t, err, "never blocked by FREEZE")
	require.NoError(t, m.FlushTable(ctx, a), "not blocked by FREEZE")

	require.NoError(t, m.Unfreeze(ctx, a, b))
	assert.Equal(t, 0, itest.Locked(t, c, a))
	assert.Equal(t, 0, itest.Locked(t, c, b))

	tag1, err := m.FlushAttributes(ctx)
	require.NoError(t, err)
	itest.ExecAll(t, c.DB(), "UPDATE "+a+" SET gid=11 WHERE id=1")
	tag2, err := m.FlushAttributes(ctx)
	require.NoError(t, err)
	assert.Greater(t, tag2, tag1, "a disk-chunk update was saved")
	_, err = m.FlushHostnames(ctx)
	require.NoError(t, err)
	require.NoError(t, m.FlushRAMChunk(ctx, a))
	require.NoError(t, m.Optimize(ctx, a, dbctl.OptimizeOptions{Cutoff: 1, Sync: true}))
	st, err = m.TableStatus(ctx, a)
	require.NoError(t, err)
	assert.Equal(t, 1, st.DiskChunks, "merged down to the cutoff")

	tables, err := m.Tables(ctx)
	require.NoError(t, err)
	var names []string
	for _, tb := range tables {
		names = append(names, tb.Name)
	}
	assert.Contains(t, names, a)
	v, err := m.ServerVersion(ctx)
	require.NoError(t, err)
	assert.NotEmpty(t, v)
}

func TestIntegrationManticoreErrors(t *testing.T) {
	target := itest.NewManticoreTarget(t)
	c := itest.OpenClient(t, target.DSN)
	ctx := context.Background()
	m := c.Manticore()
	a := itest.RTTable(t, c)
	missing := itest.UniqueName("dbctl_missing_")

	// FREEZE of a missing table only warns on the server; the SDK reports it
	// and releases the table it did freeze.
	_, err := m.Freeze(ctx, a, missing)
	require.ErrorIs(t, err, dbctl.ErrTableNotFound)
	assert.Contains(t, err.Error(), missing)
	assert.Equal(t, 0, itest.Locked(t, c, a))

	err = m.Unfreeze(ctx, a, missing)
	require.ErrorIs(t, err, dbctl.ErrTableNotFound)
	assert.True(t, strings.HasSuffix(err.Error(), "no such RT or percolate table: "+missing), err.Error())

	_, err = m.TableStatus(ctx, missing)
	assert.ErrorIs(t, err, dbctl.ErrTableNotFound)
	var me *mysql.MySQLError
	require.ErrorAs(t, err, &me)
	assert.Equal(t, uint16(1064), me.Number)
	assert.ErrorIs(t, m.FlushRAMChunk(ctx, missing), dbctl.ErrTableNotFound)
	assert.ErrorIs(t, m.FlushTable(ctx, missing), dbctl.ErrTableNotFound)
	_, err = m.Freeze(ctx, "a; DROP TABLE "+a)
	assert.ErrorIs(t, err, dbctl.ErrInvalidIdentifier)
}

// A writer blocked by the freeze finishes after WithFrozen releases.
func TestIntegrationWithFrozenBlocksUpdateUntilRelease(t *testing.T) {
	target := itest.NewManticoreTarget(t)
	c := itest.OpenClient(t, target.DSN)
	ctx := context.Background()
	a := itest.RTTable(t, c)
	done := make(chan error, 1)
	err := c.Manticore().WithFrozen(ctx, []string{a}, func(ctx context.Context, files []dbctl.FrozenFile) error {
		go func() {
			_, err := c.DB().ExecContext(context.Background(), "UPDATE "+a+" SET gid=99 WHERE id=1")
			done <- err
		}()
		select {
		case err := <-done:
			return errors.Join(errors.New("UPDATE did not wait for the unfreeze"), err)
		case <-time.After(200 * time.Millisecond):
			return nil
		}
	})
	require.NoError(t, err)
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("UPDATE still blocked after WithFrozen returned")
	}
	assert.Equal(t, 0, itest.Locked(t, c, a))
}

// WithFrozen under every fault: afterwards every locked counter is back to
// its value from before, including a freeze someone else holds.
func TestIntegrationWithFrozenFaults(t *testing.T) {
	fnErr := errors.New("copy failed")
	tests := []struct {
		name     string
		embedded bool
		setup    func(s *dbctltest.Manticore)
		fn       func(ctx context.Context, s *dbctltest.Manticore, cancel func()) error
		wantErr  error
		panics   bool
	}{
		{name: "success", fn: func(context.Context, *dbctltest.Manticore, func()) error { return nil }},
		{name: "callback error", fn: func(context.Context, *dbctltest.Manticore, func()) error { return fnErr }, wantErr: fnErr},
		{name: "panic", fn: func(context.Context, *dbctltest.Manticore, func()) error { panic("boom") }, panics: true},
		{name: "context cancelled", fn: func(ctx context.Context, _ *dbctltest.Manticore, cancel func()) error {
			cancel()
			<-ctx.Done()
			return ctx.Err()
		}, wantErr: context.Canceled},
		{name: "UNFREEZE fails once", embedded: true,
			setup: func(s *dbctltest.Manticore) { s.FailNext("UNFREEZE", 1064, "injected failure") },
			fn:    func(context.Context, *dbctltest.Manticore, func()) error { return nil }},
		{name: "connections dropped mid-callback", embedded: true,
			fn: func(_ context.Context, s *dbctltest.Manticore, _ func()) error {
				s.DropConnections()
				return nil
			}},
		{name: "connections dropped and callback fails", embedded: true,
			fn: func(_ context.Context, s *dbctltest.Manticore, _ func()) error {
				s.DropConnections()
				return fnErr
			}, wantErr: fnErr},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			target := itest.NewManticoreTarget(t)
			if tc.embedded {
				target.NeedEmbedded(t)
			}
			c := itest.OpenClient(t, target.DSN)
			a, b := itest.RTTable(t, c), itest.RTTable(t, c)
			// someone else holds a freeze on b: it must survive
			itest.ExecAll(t, c.DB(), "FREEZE "+b)
			before := map[string]int{a: itest.Locked(t, c, a), b: itest.Locked(t, c, b)}
			if tc.setup != nil {
				tc.setup(target.Srv)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			run := func() error {
				return c.Manticore().WithFrozen(ctx, []string{a, b}, func(ctx context.Context, files []dbctl.FrozenFile) error {
					assert.Equal(t, before[a]+1, itest.Locked(t, c, a))
					assert.Equal(t, before[b]+1, itest.Locked(t, c, b))
					return tc.fn(ctx, target.Srv, cancel)
				})
			}
			if tc.panics {
				assert.PanicsWithValue(t, "boom", func() { _ = run() })
			} else if err := run(); tc.wantErr == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tc.wantErr)
			}
			assert.Equal(t, before[a], itest.Locked(t, c, a), "counter of %s back to its value", a)
			assert.Equal(t, before[b], itest.Locked(t, c, b), "the other holder's freeze of %s survives", b)
			itest.ExecAll(t, c.DB(), "UNFREEZE "+b)
		})
	}
}

// A FREEZE that fails on the server leaves nothing frozen.
func TestIntegrationFreezeFaults(t *testing.T) {
	target := itest.NewManticoreTarget(t)
	target.NeedEmbedded(t)
	c := itest.OpenClient(t, target.DSN)
	a := itest.RTTable(t, c)
	target.Srv.FailNext("FREEZE", 1064, "injected")
	_, err := c.Manticore().Freeze(context.Background(), a)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "injected")
	assert.Equal(t, 0, itest.Locked(t, c, a))

	// The deadline passes while FREEZE waits on the server: Freeze returns,
	// and does not abandon it (searchd runs it after any UNFREEZE): a
	// releaser waits for the answer and then releases (issue 9 C, 16).
	target.Srv.Delay("^FREEZE", 400*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = c.Manticore().Freeze(ctx, a)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	target.Srv.Delay("^FREEZE", 0)
	released, err := c.WaitReleases(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{a}, released)
	assert.Equal(t, 0, itest.Locked(t, c, a))
}
