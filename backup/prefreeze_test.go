package backup

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMemArena(t *testing.T) {
	a := newMemArena(10)
	require.NotNil(t, a)
	x, y := a.take(4), a.take(6)
	assert.Len(t, x, 4)
	assert.Equal(t, 4, cap(x), "a buffer cannot grow into the next one")
	x[3], y[0] = 1, 2
	assert.Equal(t, byte(1), x[3])
	z := a.take(1) // the arena is used up: a fresh allocation
	assert.Len(t, z, 1)
	assert.Nil(t, newMemArena(0))
	var none *memArena
	assert.Len(t, none.take(3), 3, "nil arena: fresh memory")

	// concurrent takes never share bytes
	a = newMemArena(1000)
	var wg sync.WaitGroup
	bufs := make([][]byte, 20)
	for i := range bufs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bufs[i] = a.take(50)
			for k := range bufs[i] {
				bufs[i][k] = byte(i)
			}
		}()
	}
	wg.Wait()
	for i, b := range bufs {
		for _, c := range b {
			require.Equal(t, byte(i), c)
		}
	}
}

func TestMutableEstimate(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "t"), 0o755))
	for name, size := range map[string]int{"t.0.spd": 5000, "t.0.spa": 1000, "t.meta": 10} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "t", name), make([]byte, size), 0o644))
	}
	want := int64(1000 + 10 + 2*arenaPage)
	want += want/4 + 1<<20
	assert.Equal(t, want, mutableEstimate(dir, []string{"t", "missing"}, 1<<30), "immutable files and missing folders count nothing")
	assert.Equal(t, int64(100), mutableEstimate(dir, []string{"t"}, 100), "at most the limit")
	assert.Zero(t, mutableEstimate(dir, []string{"missing"}, 1<<30))
}

// NoSync: no file of the backup is fsynced, and the backup is whole.
// Synced: every file is fsynced (per-file mode), or the one syncfs runs
// (where the kernel's syncfs reports write errors: durable.go).
func TestBackupNoSync(t *testing.T) {
	f := newBackupFixture(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name            string
		noSync, perFile bool
	}{{"NoSync", true, false}, {"synced, per file", false, true}, {"synced", false, false}} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var synced []string
			h := &backupHooks{perFileSync: tc.perFile, beforeSync: func(p string) error {
				mu.Lock()
				defer mu.Unlock()
				synced = append(synced, p)
				return nil
			}}
			dir := filepath.Join(t.TempDir(), "bk")
			man, err := Create(ctx, f.c.Manticore(), dir, CreateOptions{NoSync: tc.noSync, hooks: h})
			require.NoError(t, err)
			assert.Equal(t, StagingStaged, man.Staging)
			switch {
			case tc.noSync:
				assert.Empty(t, synced)
			case tc.perFile || !syncFSReportsErrors():
				assert.Len(t, synced, len(man.Files))
			default:
				require.Len(t, synced, 1, "one syncfs, no fsync of a file")
				assert.Contains(t, filepath.Base(synced[0]), partialInfix, "the syncfs is of the temporary folder, before the rename")
			}
			_, err = Verify(ctx, dir, VerifyOptions{})
			require.NoError(t, err)
		})
	}
}
