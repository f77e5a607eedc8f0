package dbctl_test

import (
	"context"
	"testing"
	"time"

	"github.com/dbctl/dbctl"
	"github.com/dbctl/dbctl/internal/itest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Issue 18: a Manticore statement blocked by a freeze is applied after the
// UNFREEZE even when its client has gone (manticore.md §4.3), so the SDK
// never reports it as failed: the caller's context ending while it is in
// flight is ErrOutcomeUnknown. Runs unchanged against a real searchd
// (DBCTL_MANTICORE_DSN): there the caller's deadline ends the wait (a
// FLUSH RAMCHUNK on a frozen table waits until the UNFREEZE, with no
// server-side timeout); on the embedded server the test cancels once the
// server shows the statement blocked (dbctltest Blocked), with no timing.
func TestIntegrationFlushRAMChunkBlockedByFreeze(t *testing.T) {
	target := itest.NewManticoreTarget(t)
	c := itest.OpenClient(t, target.DSN)
	m := c.Manticore()
	name := itest.RTTable(t, c) // rows 1, 2 in a disk chunk, row 3 in RAM
	bg := context.Background()
	chunks := func() int {
		t.Helper()
		st, err := m.TableStatus(bg, name)
		require.NoError(t, err)
		return st.DiskChunks
	}
	before := chunks()
	_, err := m.Freeze(bg, name)
	require.NoError(t, err)
	frozen := true
	defer func() {
		if frozen {
			_ = m.Unfreeze(bg, name)
		}
	}()

	var ctx context.Context
	var cancel context.CancelFunc
	if target.Srv != nil {
		ctx, cancel = context.WithCancel(bg)
	} else {
		ctx, cancel = context.WithTimeout(bg, time.Second)
	}
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- m.FlushRAMChunk(ctx, name) }()
	if target.Srv != nil {
		for target.Srv.Blocked() == 0 { // the FLUSH waits on the freeze
			time.Sleep(time.Millisecond)
		}
		cancel()
	}
	err = <-done
	require.ErrorIs(t, err, dbctl.ErrOutcomeUnknown)
	require.ErrorIs(t, err, ctx.Err(), "wraps the caller's context error")
	assert.Contains(t, err.Error(), "applied when the table is unfrozen")
	assert.Equal(t, before, chunks(), "nothing flushed while frozen")

	require.NoError(t, m.Unfreeze(bg, name))
	frozen = false
	if target.Srv != nil {
		for target.Srv.Blocked() != 0 { // applied once it stops waiting
			time.Sleep(time.Millisecond)
		}
		assert.Equal(t, before+1, chunks(), "applied after the UNFREEZE, with its client gone")
	} else {
		// a real server applies it on its own schedule after the UNFREEZE
		require.Eventually(t, func() bool { return chunks() == before+1 }, 30*time.Second, 50*time.Millisecond,
			"the FLUSH RAMCHUNK is applied after the UNFREEZE, with its client gone")
	}
	var n int64
	require.NoError(t, c.DB().QueryRow("SELECT COUNT(*) FROM "+name).Scan(&n))
	assert.Equal(t, int64(3), n)
}

// Issue 18: searchd answers OK to an OPTIMIZE of a frozen table and drops
// it (the chunks never merge, also after the UNFREEZE), and refuses one
// with sync=1; Optimize refuses both before sending, with ErrTableFrozen,
// and never reports "queued" for a job that is dropped.
func TestIntegrationOptimizeFrozenTable(t *testing.T) {
	target := itest.NewManticoreTarget(t)
	c := itest.OpenClient(t, target.DSN)
	m := c.Manticore()
	bg := context.Background()
	name := itest.RTTable(t, c)
	itest.ExecAll(t, c.DB(), "FLUSH RAMCHUNK "+name) // a second disk chunk
	chunks := func() int {
		t.Helper()
		st, err := m.TableStatus(bg, name)
		require.NoError(t, err)
		return st.DiskChunks
	}
	require.Equal(t, 2, chunks())
	_, err := m.Freeze(bg, name)
	require.NoError(t, err)
	for _, opts := range []dbctl.OptimizeOptions{{Cutoff: 1}, {Cutoff: 1, Sync: true}, {}} {
		err := m.Optimize(bg, name, opts)
		require.ErrorIs(t, err, dbctl.ErrTableFrozen, "%+v", opts)
		assert.Contains(t, err.Error(), "not sent")
	}
	// what the check prevents: searchd takes the OPTIMIZE and drops it. The
	// cutoff makes it a job that would merge these 2 chunks: without one,
	// the default (2 x the CPU cores) leaves 2 chunks alone anyway.
	itest.ExecAll(t, c.DB(), "OPTIMIZE TABLE "+name+" OPTION cutoff=1")
	require.NoError(t, m.Unfreeze(bg, name))
	assert.Equal(t, 2, chunks(), "the OPTIMIZE sent while frozen was dropped")

	require.NoError(t, m.Optimize(bg, name, dbctl.OptimizeOptions{Cutoff: 1, Sync: true}))
	assert.Equal(t, 1, chunks(), "merged once unfrozen")
}
