package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Uncompressed, every file is hashed after the unfreeze, never while
// frozen, each once: a staged link as it is copied (through a mapping),
// a clone (here a stand-in that fails half-way, so a copy starts afresh)
// after it is made.
func TestBackupHashesKernelCopiesAfterUnfreeze(t *testing.T) {
	for _, failedClone := range []bool{false, true} {
		t.Run(fmt.Sprintf("failedClone=%v", failedClone), func(t *testing.T) {
			testBackupHashesKernelCopiesAfterUnfreeze(t, failedClone)
		})
	}
}

func testBackupHashesKernelCopiesAfterUnfreeze(t *testing.T, failedClone bool) {
	f := newBackupFixture(t)
	var hashed, hashedWhileFrozen atomic.Int64
	opts := CreateOptions{NoReflink: !failedClone, hooks: &backupHooks{beforeHash: func(string) error {
		if n, _ := f.srv.Locked("a"); n > 0 {
			hashedWhileFrozen.Add(1)
		}
		hashed.Add(1)
		return nil
	}}}
	if failedClone { // a clone that fails half-way: the copy starts afresh
		opts.hooks.clone = func(dst, _ *os.File) error {
			_, _ = dst.WriteString("half a clone")
			return syscall.EOPNOTSUPP
		}
	}
	dir := filepath.Join(t.TempDir(), "bk")
	man, err := Create(context.Background(), f.c.Manticore(), dir, opts)
	require.NoError(t, err)
	assert.Equal(t, int64(len(man.Files)), hashed.Load(), "every copy is hashed")
	assert.Zero(t, hashedWhileFrozen.Load(), "after the unfreeze")
	for _, mf := range man.Files {
		src, err := os.ReadFile(mf.Source)
		require.NoError(t, err)
		sum := sha256.Sum256(src)
		assert.Equal(t, hex.EncodeToString(sum[:]), mf.SHA256, mf.Path)
		assert.Equal(t, int64(len(src)), mf.Size, mf.Path)
	}
	_, err = Verify(context.Background(), dir, VerifyOptions{})
	require.NoError(t, err)
}

// Where the file system clones files, the copies are made inside the freeze
// and hashed after the unfreeze. ext4 here cannot clone, so a stand-in that
// copies in the kernel plays FICLONE; it records whether the tables were
// frozen when it ran, and the hashes must still come out right.
func TestBackupClonesThenHashesAfterUnfreeze(t *testing.T) {
	f := newBackupFixture(t)
	var clonedWhileFrozen, clones atomic.Int64
	opts := CreateOptions{NoStaging: true, hooks: &backupHooks{clone: func(dst, src *os.File) error {
		if n, _ := f.srv.Locked("a"); n > 0 {
			clonedWhileFrozen.Add(1)
		}
		clones.Add(1)
		_, err := io.Copy(dst, src)
		return err
	}}}
	dir := filepath.Join(t.TempDir(), "bk")
	man, err := Create(context.Background(), f.c.Manticore(), dir, opts)
	require.NoError(t, err)
	assert.Equal(t, int64(len(man.Files)-stateFilesOf(man)), clones.Load(), "every table file (the state files are read whole: statefile.go)")
	assert.Equal(t, clones.Load(), clonedWhileFrozen.Load(), "clones are made inside the freeze")
	_, err = Verify(context.Background(), dir, VerifyOptions{})
	require.NoError(t, err, "hashes computed after the unfreeze match the files")
	for _, mf := range man.Files {
		assert.Len(t, mf.SHA256, 64)
		assert.Equal(t, mf.Size, mf.StoredSize)
	}
}

// A compressed backup where files can be cloned clones them inside the
// freeze and compresses the clones after the unfreeze; where cloning fails
// it stops trying, and compresses inside the freeze, or with
// CompressAfterUnfreeze copies inside the freeze and compresses after. The
// state files are read into memory inside the freeze and compressed after
// it in every case (statefile.go).
func TestBackupCompressesAfterUnfreeze(t *testing.T) {
	for _, tc := range []struct {
		name                  string
		canClone, noReflink   bool
		afterUnfreeze         bool
		wantClones, wantLater func(files, states int) int
	}{
		{"clones", true, false, false, func(n, s int) int { return n - s }, func(n, _ int) int { return n }},
		{"no clones", false, false, false, func(int, int) int { return 1 }, func(_, s int) int { return s }},
		{"no clones, CompressAfterUnfreeze", false, false, true, func(int, int) int { return 1 }, func(n, _ int) int { return n }},
		{"NoReflink, CompressAfterUnfreeze", true, true, true, func(int, int) int { return 0 }, func(n, _ int) int { return n }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newBackupFixture(t)
			before := f.counters(t)
			var clones, compressedLater, compressedWhileFrozen atomic.Int64
			opts := CreateOptions{Compress: true, Concurrency: 1, NoReflink: tc.noReflink, CompressAfterUnfreeze: tc.afterUnfreeze, NoStaging: true,
				hooks: &backupHooks{clone: func(dst, src *os.File) error {
					clones.Add(1)
					if n, _ := f.srv.Locked("a"); n == 0 {
						t.Error("clone outside the freeze")
					}
					if !tc.canClone {
						_, _ = dst.WriteString("half a clone") // rewound before the copy
						return syscall.EOPNOTSUPP
					}
					_, err := io.Copy(dst, src)
					return err
				}, beforeHash: func(string) error {
					compressedLater.Add(1)
					if n, _ := f.srv.Locked("a"); n > 0 {
						compressedWhileFrozen.Add(1)
					}
					return nil
				}}}
			dir := filepath.Join(t.TempDir(), "bkz")
			man, err := Create(context.Background(), f.c.Manticore(), dir, opts)
			require.NoError(t, err)
			assert.Equal(t, before, f.counters(t))
			assert.Equal(t, int64(tc.wantClones(len(man.Files), stateFilesOf(man))), clones.Load(), "clones tried")
			assert.Equal(t, int64(tc.wantLater(len(man.Files), stateFilesOf(man))), compressedLater.Load(), "files compressed after the unfreeze")
			assert.Zero(t, compressedWhileFrozen.Load())
			for _, mf := range man.Files {
				src, err := os.ReadFile(mf.Source)
				require.NoError(t, err)
				sum := sha256.Sum256(src)
				assert.Equal(t, hex.EncodeToString(sum[:]), mf.SHA256, mf.Path)
				fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(mf.Path)+".zst"))
				require.NoError(t, err)
				assert.Equal(t, fi.Size(), mf.StoredSize, mf.Path)
				srcFi, err := os.Stat(mf.Source)
				require.NoError(t, err)
				assert.Equal(t, srcFi.Mode().Perm(), mf.Mode.Perm(), "the source's mode, not the staged copy's")
			}
			_ = filepath.WalkDir(dir, func(p string, _ fs.DirEntry, _ error) error {
				assert.False(t, strings.HasSuffix(p, stageSuffix), "staged copy left behind: %s", p)
				return nil
			})
			_, err = Verify(context.Background(), dir, VerifyOptions{})
			require.NoError(t, err)
		})
	}
}

// stateFilesOf counts the data_dir state files a backup holds (state/).
func stateFilesOf(man *Manifest) int {
	n := 0
	for _, mf := range man.Files {
		if strings.HasPrefix(mf.Path, "state/") {
			n++
		}
	}
	return n
}
