package dbctl

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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
			full, err := m.Backup(ctx, base, BackupOptions{Compress: compress})
			require.NoError(t, err)
			assert.Nil(t, full.Base)

			// nothing changed: every file comes from the base (the
			// immutable ones by identity, the others by their bytes)
			inc1 := filepath.Join(parent, "inc1")
			man, err := m.Backup(ctx, inc1, BackupOptions{Compress: compress, Base: base})
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
			man2, err := m.Backup(ctx, inc2, BackupOptions{Compress: compress, Base: inc1})
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
			_, err = VerifyBackup(ctx, inc2)
			require.NoError(t, err)
			restored := t.TempDir()
			require.NoError(t, RestoreBackup(ctx, inc2, restored, RestoreOptions{}))
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
// is shared through the hard link and VerifyBackup of the new backup names
// the file; a base file of the wrong size is not reused at all.
func TestBackupIncrementalDamagedBase(t *testing.T) {
	f := newBackupFixture(t)
	ctx := context.Background()
	m := f.c.Manticore()
	parent := t.TempDir()
	base := filepath.Join(parent, "full")
	before := f.counters(t)
	_, err := m.Backup(ctx, base, BackupOptions{})
	require.NoError(t, err)
	flip := filepath.Join(base, "data", "a", "a.0.spd")
	b, err := os.ReadFile(flip)
	require.NoError(t, err)
	b[len(b)/2] ^= 0x01
	require.NoError(t, os.WriteFile(flip, b, 0o644))
	require.NoError(t, os.Truncate(filepath.Join(base, "data", "a", "a.0.spp"), 1))

	inc := filepath.Join(parent, "inc")
	man, err := m.Backup(ctx, inc, BackupOptions{Base: base})
	require.NoError(t, err)
	reused := fromBase(man)
	assert.True(t, reused["data/a/a.0.spd"], "same size: reused")
	assert.False(t, reused["data/a/a.0.spp"], "wrong size: read from the server")
	_, err = VerifyBackup(ctx, inc)
	require.ErrorIs(t, err, ErrBackupCorrupt)
	var fe *BackupFileError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "data/a/a.0.spd", fe.Path)
	assert.Contains(t, err.Error(), "1 of ", "only the shared file is bad")
	_, err = VerifyBackup(ctx, base)
	require.ErrorIs(t, err, ErrBackupCorrupt, "the base says so too")
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
	_, err := m.Backup(ctx, plain, BackupOptions{})
	require.NoError(t, err)
	man, err := m.Backup(ctx, filepath.Join(parent, "z"), BackupOptions{Compress: true, Base: plain})
	require.NoError(t, err)
	assert.Nil(t, man.Base)
	assert.Empty(t, fromBase(man))

	before := f.counters(t)
	_, err = m.Backup(ctx, filepath.Join(parent, "x"), BackupOptions{Base: filepath.Join(parent, "nope")})
	require.ErrorIs(t, err, ErrBackupInvalid)
	noPartialLeft(t, filepath.Join(parent, "x"))
	assert.Equal(t, before, f.counters(t))
	assert.False(t, errors.Is(err, ErrBackupExists))
}

// Mutable files are read at every freeze (searchd changes them in place)
// and linked from the base only when their bytes are the base's: after an
// UPDATE of one table only the files it changed are written. A base copy
// damaged without changing its size is still linked (its record matches
// the server's bytes) and VerifyBackup of the new backup names it.
func TestBackupIncrementalMutableFiles(t *testing.T) {
	f := newBackupFixture(t)
	ctx := context.Background()
	m := f.c.Manticore()
	parent := t.TempDir()
	base := filepath.Join(parent, "full")
	full, err := m.Backup(ctx, base, BackupOptions{})
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
	man, err := m.Backup(ctx, inc, BackupOptions{Base: base})
	require.NoError(t, err)
	var written []string
	for _, mf := range man.Files {
		if !mf.FromBase {
			written = append(written, mf.Path)
			assert.NotEqual(t, baseFiles[mf.Path].SHA256, mf.SHA256, "%s written: its bytes changed", mf.Path)
			continue
		}
		assert.True(t, sameInode(t, full.storedPath(base, baseFiles[mf.Path]), man.storedPath(inc, mf)), mf.Path)
	}
	assert.Contains(t, written, "data/a/a.0.spa", "the UPDATE rewrote chunk 0's attribute rows")
	for _, p := range written {
		assert.True(t, strings.HasPrefix(p, "data/a/"), "only the updated table's files are written, not %s", p)
	}
	_, err = VerifyBackup(ctx, inc)
	require.ErrorIs(t, err, ErrBackupCorrupt)
	var fe *BackupFileError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "data/b/b.0.spa", fe.Path, "shared damage is reported, never hidden")
}
