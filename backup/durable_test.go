package backup

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writebackRecorder replaces writebackRange for one test and records the
// ranges asked for, by path; each call first runs check.
func writebackRecorder(t *testing.T, check func(path string)) func() map[string][][2]int64 {
	var mu sync.Mutex
	seen := map[string][][2]int64{}
	old := writebackRange
	writebackRange = func(f *os.File, off, n int64) {
		check(f.Name())
		mu.Lock()
		seen[f.Name()] = append(seen[f.Name()], [2]int64{off, n})
		mu.Unlock()
		old(f, off, n)
	}
	t.Cleanup(func() { writebackRange = old })
	return func() map[string][][2]int64 {
		mu.Lock()
		defer mu.Unlock()
		out := map[string][][2]int64{}
		for k, v := range seen {
			out[k] = append([][2]int64(nil), v...)
		}
		return out
	}
}

// covers says whether ranges cover [0, size) exactly, without gaps or
// overlaps.
func covers(ranges [][2]int64, size int64) bool {
	sort.Slice(ranges, func(i, j int) bool { return ranges[i][0] < ranges[j][0] })
	var at int64
	for _, r := range ranges {
		if r[0] != at || r[1] <= 0 {
			return false
		}
		at += r[1]
	}
	return at == size
}

// A synced backup starts the writeback of every byte it writes as it
// writes it (copied by the kernel, written from memory, compressed; staged
// or copied inside the freeze), each byte once, never while the tables are
// frozen (a file written inside the freeze has its writeback started after
// the unfreeze); NoSync starts none.
func TestBackupStartsWritebackOfEveryByte(t *testing.T) {
	f := newBackupFixture(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		opts CreateOptions
	}{
		{"plain", CreateOptions{}},
		{"compressed", CreateOptions{Compress: true}},
		{"plain, copied inside the freeze", CreateOptions{NoStaging: true}},
		{"compressed inside the freeze", CreateOptions{Compress: true, NoStaging: true, NoReflink: true}},
		{"compressed, copied inside the freeze, compressed after", CreateOptions{Compress: true, NoStaging: true, CompressAfterUnfreeze: true}},
		{"plain, mutable files past the memory bound", CreateOptions{hooks: &backupHooks{stageMemory: 1}}},
		{"NoSync", CreateOptions{NoSync: true}},
		{"NoSync compressed", CreateOptions{NoSync: true, Compress: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seen := writebackRecorder(t, func(path string) {
				n, ok := f.srv.Locked("a")
				assert.True(t, ok)
				assert.Zero(t, n, "writeback of %s started while the tables are frozen", path)
			})
			dir := filepath.Join(t.TempDir(), "bk")
			man, err := Create(ctx, f.c.Manticore(), dir, tc.opts)
			require.NoError(t, err)
			got := seen()
			if tc.opts.NoSync {
				assert.Empty(t, got)
				return
			}
			// by the path in the backup (the temporary folder's name cut)
			byPath := map[string][][2]int64{}
			for p, r := range got {
				parts := strings.Split(filepath.ToSlash(p), "/")
				for i, part := range parts {
					if strings.Contains(part, partialInfix) {
						rel := strings.TrimSuffix(strings.Join(parts[i+1:], "/"), ".zst")
						byPath[rel] = append(byPath[rel], r...)
					}
				}
			}
			for _, mf := range man.Files {
				if mf.StoredSize == 0 {
					continue // nothing to write back
				}
				assert.True(t, covers(byPath[mf.Path], mf.StoredSize), "%s (%d bytes stored): writeback asked for %v", mf.Path, mf.StoredSize, byPath[mf.Path])
			}
		})
	}
}

// The one syncfs comes after manifest.json is written and before the
// rename into place: a backup found under its name is durable whole.
func TestBackupSyncFSBeforeTheRename(t *testing.T) {
	if !syncFSReportsErrors() {
		t.Skip("this kernel's syncfs does not report write errors: every file is fsynced")
	}
	f := newBackupFixture(t)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "bk")
	var calls int
	h := &backupHooks{beforeSync: func(p string) error {
		calls++
		_, err := os.Stat(filepath.Join(p, manifestName))
		assert.NoError(t, err, "manifest.json is written before the syncfs")
		_, err = os.Stat(dir)
		assert.ErrorIs(t, err, os.ErrNotExist, "the backup is not in place before the syncfs")
		return nil
	}}
	_, err := Create(ctx, f.c.Manticore(), dir, CreateOptions{hooks: h})
	require.NoError(t, err)
	assert.Equal(t, 1, calls)
}

func TestKernelAtLeast(t *testing.T) {
	for _, tc := range []struct {
		release string
		want    bool
	}{
		{"6.18.44-fc-v1252", true},
		{"5.8.0", true},
		{"5.8", true},
		{"5.10.0-28-amd64", true},
		{"5.7.19", false},
		{"4.19.0", false},
		{"5.8-rc1", true},
		{"", false},
		{"linux", false},
		{"x.9", false},
	} {
		assert.Equal(t, tc.want, kernelAtLeast(tc.release, 5, 8), tc.release)
	}
}
