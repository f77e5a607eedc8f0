package backup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func fromBase(man *Manifest) map[string]bool {
	out := map[string]bool{}
	for _, mf := range man.Files {
		if mf.FromBase {
			out[mf.Path] = true
		}
	}
	return out
}

// An incremental backup links from its base the unchanged immutable files
// and the mutable files whose bytes at this freeze are the base's, writes
// the rest, and stays complete on its own: verified, restored, and still
// whole after the base is removed.
func TestBackupIncremental(t *testing.T) {
	for _, compress := range []bool{false, true} {
		t.Run(fmt.Sprintf("compress=%v", compress), func(t *testing.T) {
			f := newBackupFixture(t)
			f.twoChunks(t)
			ctx := context.Background()
			m := f.c.Manticore()
			parent := t.TempDir()
			base := filepath.Join(parent, "full")
			full, err := Create(ctx, m, base, CreateOptions{Compress: compress})
			require.NoError(t, err)
			assert.Nil(t, full.Base)

			// nothing changed: every file comes from the base (the
			// immutable ones by identity, the others by their bytes)
			inc1 := filepath.Join(parent, "inc1")
			man, err := Create(ctx, m, inc1, CreateOptions{Compress: compress, Base: base})
			require.NoError(t, err)
			require.NotNil(t, man.Base)
			assert.Equal(t, full.ID, man.Base.ID)
			assert.Equal(t, base, man.Base.Location)
			assert.NotEqual(t, full.ID, man.ID)
			reused := fromBase(man)
			assert.ElementsMatch(t, allFiles(full), keys(reused))
			fullFiles := map[string]ManifestFile{}
			for _, mf := range full.Files {
				fullFiles[mf.Path] = mf
			}
			for _, mf := range man.Files {
				if mf.FromBase {
					assert.Equal(t, fullFiles[mf.Path].SHA256, mf.SHA256, "hash reused")
					assert.True(t, sameInode(t, full.storedPath(base, fullFiles[mf.Path]), man.storedPath(inc1, mf)), "hard-linked from the base")
				}
			}

			// new data: FLUSH RAMCHUNK makes a new chunk (read from the
			// server), UPDATE changes attributes in place (written: their
			// bytes differ from the base's), the old chunks and a's old
			// attribute rows still come from the base
			for _, q := range []string{"INSERT INTO a(id,title,gid,price) VALUES (7,'seven',70,7.5)", "FLUSH RAMCHUNK a",
				"UPDATE b SET tag='changed' WHERE id=1", "FLUSH ATTRIBUTES"} {
				_, err := f.c.DB().Exec(q)
				require.NoError(t, err, q)
			}
			want := rowCounts(t, f.c.DB())
			inc2 := filepath.Join(parent, "inc2")
			man2, err := Create(ctx, m, inc2, CreateOptions{Compress: compress, Base: inc1})
			require.NoError(t, err)
			reused2 := fromBase(man2)
			assert.True(t, reused2["data/a/a.0.spd"] && reused2["data/b/b.0.spds"], "old chunks reused")
			assert.True(t, reused2["data/a/a.0.spa"] && reused2["state/manticore.json"], "unchanged mutable files reused")
			fresh := 0
			for _, mf := range man2.Files {
				if mf.Path == "data/a/a.2.spd" || mf.Path == "data/b/b.0.spb" || mf.Path == "data/a/a.meta" {
					assert.False(t, mf.FromBase, "%s read from the server", mf.Path)
					fresh++
				}
			}
			assert.Equal(t, 3, fresh)

			// the bases removed: the incremental backup is whole
			require.NoError(t, os.RemoveAll(base))
			require.NoError(t, os.RemoveAll(inc1))
			_, err = Verify(ctx, inc2, VerifyOptions{})
			require.NoError(t, err)
			restored := t.TempDir()
			require.NoError(t, Restore(ctx, inc2, restored, RestoreOptions{}))
			assert.Equal(t, want, rowCountsOf(t, restored))
		})
	}
}

func allFiles(man *Manifest) []string {
	var out []string
	for _, mf := range man.Files {
		out = append(out, mf.Path)
	}
	return out
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// A base file that no longer matches its manifest: damage of the same size
// is shared through the hard link and Verify of the new backup names
// the file; a base file of the wrong size is not reused at all.
func TestBackupIncrementalDamagedBase(t *testing.T) {
	f := newBackupFixture(t)
	ctx := context.Background()
	m := f.c.Manticore()
	parent := t.TempDir()
	base := filepath.Join(parent, "full")
	before := f.counters(t)
	_, err := Create(ctx, m, base, CreateOptions{})
	require.NoError(t, err)
	flip := filepath.Join(base, "data", "a", "a.0.spd")
	b, err := os.ReadFile(flip)
	require.NoError(t, err)
	b[len(b)/2] ^= 0x01
	require.NoError(t, os.WriteFile(flip, b, 0o644))
	require.NoError(t, os.Truncate(filepath.Join(base, "data", "a", "a.0.spp"), 1))

	inc := filepath.Join(parent, "inc")
	man, err := Create(ctx, m, inc, CreateOptions{Base: base})
	require.NoError(t, err)
	reused := fromBase(man)
	assert.True(t, reused["data/a/a.0.spd"], "same size: reused")
	assert.False(t, reused["data/a/a.0.spp"], "wrong size: read from the server")
	_, err = Verify(ctx, inc, VerifyOptions{})
	require.ErrorIs(t, err, ErrCorrupt)
	var fe *FileError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "data/a/a.0.spd", fe.Path)
	assert.Contains(t, err.Error(), "1 of ", "only the shared file is bad")
	_, err = Verify(ctx, base, VerifyOptions{})
	require.ErrorIs(t, err, ErrCorrupt, "the base says so too")
	assert.Equal(t, before, f.counters(t))
}

// A base compressed otherwise is not reused; a missing or invalid base is
// refused before anything is frozen.
func TestBackupIncrementalBaseMismatch(t *testing.T) {
	f := newBackupFixture(t)
	ctx := context.Background()
	m := f.c.Manticore()
	parent := t.TempDir()
	plain := filepath.Join(parent, "plain")
	_, err := Create(ctx, m, plain, CreateOptions{})
	require.NoError(t, err)
	man, err := Create(ctx, m, filepath.Join(parent, "z"), CreateOptions{Compress: true, Base: plain})
	require.NoError(t, err)
	assert.Nil(t, man.Base)
	assert.Empty(t, fromBase(man))

	before := f.counters(t)
	_, err = Create(ctx, m, filepath.Join(parent, "x"), CreateOptions{Base: filepath.Join(parent, "nope")})
	require.ErrorIs(t, err, ErrInvalid)
	noPartialLeft(t, filepath.Join(parent, "x"))
	assert.Equal(t, before, f.counters(t))
	assert.False(t, errors.Is(err, ErrExists))
}

// Mutable files are read at every freeze (searchd changes them in place)
// and linked from the base only when their bytes are the base's: after an
// UPDATE of one table only the files it changed are written. A base copy
// damaged without changing its size is not linked (it is re-read and no
// longer hashes to its record): the good bytes at hand are written, and the
// new backup verifies while the base's damage is still reported by its own
// Verify.
func TestBackupIncrementalMutableFiles(t *testing.T) {
	f := newBackupFixture(t)
	ctx := context.Background()
	m := f.c.Manticore()
	parent := t.TempDir()
	base := filepath.Join(parent, "full")
	full, err := Create(ctx, m, base, CreateOptions{})
	require.NoError(t, err)
	baseFiles := map[string]ManifestFile{}
	for _, mf := range full.Files {
		baseFiles[mf.Path] = mf
	}
	for _, q := range []string{"UPDATE a SET gid=77 WHERE id=1", "FLUSH ATTRIBUTES"} {
		_, err := f.c.DB().Exec(q)
		require.NoError(t, err, q)
	}
	flip := filepath.Join(base, "data", "b", "b.0.spa")
	data, err := os.ReadFile(flip)
	require.NoError(t, err)
	data[0] ^= 0x01
	require.NoError(t, os.WriteFile(flip, data, 0o644))

	inc := filepath.Join(parent, "inc")
	man, err := Create(ctx, m, inc, CreateOptions{Base: base})
	require.NoError(t, err)
	var written []string
	for _, mf := range man.Files {
		if !mf.FromBase {
			written = append(written, mf.Path)
			continue
		}
		assert.True(t, sameInode(t, full.storedPath(base, baseFiles[mf.Path]), man.storedPath(inc, mf)), mf.Path)
	}
	assert.Contains(t, written, "data/a/a.0.spa", "the UPDATE rewrote chunk 0's attribute rows")
	assert.Contains(t, written, "data/b/b.0.spa", "the damaged base copy is not linked")
	for _, p := range written {
		if p != "data/b/b.0.spa" {
			assert.True(t, strings.HasPrefix(p, "data/a/"), "only the updated table's files are written, not %s", p)
			assert.NotEqual(t, baseFiles[p].SHA256, fileOf(man, p).SHA256, "%s written: its bytes changed", p)
		}
	}
	_, err = Verify(ctx, inc, VerifyOptions{})
	require.NoError(t, err)
	_, err = Verify(ctx, base, VerifyOptions{})
	require.ErrorIs(t, err, ErrCorrupt, "the base's own damage is still reported")
}

func fileOf(man *Manifest, path string) ManifestFile {
	for _, mf := range man.Files {
		if mf.Path == path {
			return mf
		}
	}
	return ManifestFile{}
}

// The ways a mutable file is not linked, or linked safely: a base file
// removed while the backup runs (the bytes at hand are written), other
// permission bits (a link cannot carry them), only mutable files matching
// (several copy workers record the base at once: -race), and a NoSync base
// (the files linked from it are fsynced by the synced backup).
func TestBackupIncrementalMutableEdges(t *testing.T) {
	f := newBackupFixture(t)
	ctx := context.Background()
	m := f.c.Manticore()
	parent := t.TempDir()
	syncs := func() (*backupHooks, func() []string) {
		var mu sync.Mutex
		var paths []string
		return &backupHooks{beforeSync: func(p string) error {
				mu.Lock()
				defer mu.Unlock()
				paths = append(paths, p)
				return nil
			}}, func() []string {
				mu.Lock()
				defer mu.Unlock()
				return paths
			}
	}

	t.Run("base file removed while the backup runs", func(t *testing.T) {
		base := filepath.Join(parent, "b1")
		_, err := Create(ctx, m, base, CreateOptions{})
		require.NoError(t, err)
		var once sync.Once
		h := &backupHooks{beforeCopy: func(int, string) error {
			once.Do(func() { require.NoError(t, os.Remove(filepath.Join(base, "data", "b", "b.0.spa"))) })
			return nil
		}}
		inc := filepath.Join(parent, "i1")
		man, err := Create(ctx, m, inc, CreateOptions{Base: base, hooks: h})
		require.NoError(t, err)
		assert.False(t, fileOf(man, "data/b/b.0.spa").FromBase)
		_, err = Verify(ctx, inc, VerifyOptions{})
		require.NoError(t, err)
	})
	t.Run("other permission bits", func(t *testing.T) {
		base := filepath.Join(parent, "b2")
		_, err := Create(ctx, m, base, CreateOptions{})
		require.NoError(t, err)
		src := filepath.Join(f.srv.DataDir(), "b", "b.0.spb")
		require.NoError(t, os.Chmod(src, 0o640))
		t.Cleanup(func() { _ = os.Chmod(src, 0o644) })
		man, err := Create(ctx, m, filepath.Join(parent, "i2"), CreateOptions{Base: base})
		require.NoError(t, err)
		mf := fileOf(man, "data/b/b.0.spb")
		assert.False(t, mf.FromBase)
		assert.Equal(t, os.FileMode(0o640), mf.Mode)
	})
	t.Run("only mutable files match, many workers", func(t *testing.T) {
		base := filepath.Join(parent, "b3")
		_, err := Create(ctx, m, base, CreateOptions{Tables: []string{"pq"}})
		require.NoError(t, err)
		for i := 0; i < 3; i++ {
			man, err := Create(ctx, m, filepath.Join(parent, fmt.Sprintf("i3-%d", i)), CreateOptions{Tables: []string{"pq"}, Base: base, Concurrency: 8})
			require.NoError(t, err)
			require.NotNil(t, man.Base)
			assert.NotEmpty(t, fromBase(man))
		}
	})
	t.Run("a NoSync base", func(t *testing.T) {
		base := filepath.Join(parent, "b4")
		h, synced := syncs()
		bm, err := Create(ctx, m, base, CreateOptions{NoSync: true, hooks: h})
		require.NoError(t, err)
		assert.True(t, bm.NoSync)
		assert.Empty(t, synced())
		h, synced = syncs()
		h.perFileSync = true
		man, err := Create(ctx, m, filepath.Join(parent, "i4"), CreateOptions{Base: base, hooks: h})
		require.NoError(t, err)
		assert.False(t, man.NoSync)
		assert.NotEmpty(t, fromBase(man))
		assert.Len(t, synced(), len(man.Files), "every file, linked from the unsynced base or not, is fsynced")
		if syncFSReportsErrors() {
			// the one syncfs writes back every inode of the file system,
			// the base's linked ones with the rest
			h, synced = syncs()
			_, err = Create(ctx, m, filepath.Join(parent, "i4fs"), CreateOptions{Base: base, hooks: h})
			require.NoError(t, err)
			assert.Len(t, synced(), 1)
		}
	})
}
