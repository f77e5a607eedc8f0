package backup

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/dbctl/dbctl"
	"github.com/dbctl/dbctl/internal/crashpoint/crashtest"
	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCompressionLevelNames(t *testing.T) {
	for _, tc := range []struct {
		in   CompressionLevel
		want zstd.EncoderLevel
	}{
		{"", zstd.SpeedDefault},
		{LevelFastest, zstd.SpeedFastest},
		{LevelDefault, zstd.SpeedDefault},
		{LevelBetter, zstd.SpeedBetterCompression},
		{LevelBest, zstd.SpeedBestCompression},
		{"Better", zstd.SpeedBetterCompression},
		{" fastest ", zstd.SpeedFastest},
		{"1", zstd.SpeedFastest},
		{"2", zstd.SpeedFastest},
		{"3", zstd.SpeedDefault},
		{"5", zstd.SpeedDefault},
		{"6", zstd.SpeedBetterCompression},
		{"9", zstd.SpeedBetterCompression},
		{"10", zstd.SpeedBestCompression},
		{"22", zstd.SpeedBestCompression},
	} {
		got, err := tc.in.encoderLevel()
		require.NoError(t, err, "%q", tc.in)
		assert.Equal(t, tc.want, got, "%q", tc.in)
	}
	for _, l := range []zstd.EncoderLevel{zstd.SpeedFastest, zstd.SpeedDefault, zstd.SpeedBetterCompression, zstd.SpeedBestCompression} {
		assert.Equal(t, l, zstd.EncoderLevelFromZstd(zstdNumber(l)), "the store's Put maps the number back to %s", l)
	}
	for _, bad := range []CompressionLevel{"0", "23", "-1", "fast", "zstd", "3.5", "1e1", "invalid"} {
		_, err := bad.encoderLevel()
		assert.ErrorContains(t, err, "want fastest, default, better, best or a zstd level 1 to 22", "%q", bad)
	}
}

// Each level is what the backup's files are written at (the bytes of a
// file compressed at "best" are fewer than at "fastest"), the manifest
// records it, and Verify, Restore and Import read every level.
func TestBackupCompressionLevels(t *testing.T) {
	f := newBackupFixture(t)
	ctx := context.Background()
	// a table worth compressing: repetitive text, so that the levels differ
	db := f.c.DB()
	_, err := db.Exec("CREATE TABLE txt(title text, body text)")
	require.NoError(t, err)
	for i := 0; i < 20; i++ {
		var vals []string
		for j := 0; j < 100; j++ {
			id := i*100 + j + 1
			vals = append(vals, fmt.Sprintf("(%d,'doc %d','%s')", id, id, strings.Repeat(fmt.Sprintf("word%d alpha beta gamma %d ", id%17, id%5), 8)))
		}
		_, err = db.Exec("INSERT INTO txt(id,title,body) VALUES " + strings.Join(vals, ","))
		require.NoError(t, err)
	}
	_, err = db.Exec("FLUSH RAMCHUNK txt")
	require.NoError(t, err)
	stored := map[string]int64{}
	for _, tc := range []struct {
		level CompressionLevel
		name  string
	}{
		{"", "default"},
		{LevelFastest, "fastest"},
		{LevelBetter, "better"},
		{"19", "best"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := rowCounts(t, db) // with the tables earlier runs imported
			dir := filepath.Join(t.TempDir(), "bk")
			man, err := Create(ctx, f.c.Manticore(), dir, CreateOptions{Compress: true, CompressLevel: tc.level})
			require.NoError(t, err)
			assert.Equal(t, "zstd", man.Compression)
			assert.Equal(t, tc.name, man.CompressionLevel)
			again, err := readManifest(dir)
			require.NoError(t, err)
			assert.Equal(t, tc.name, again.CompressionLevel)
			for _, mf := range man.Files {
				if mf.Table == "txt" {
					stored[tc.name] += mf.StoredSize
				}
			}
			_, err = Verify(ctx, dir, VerifyOptions{})
			require.NoError(t, err)
			restored := t.TempDir()
			require.NoError(t, Restore(ctx, dir, restored, RestoreOptions{}))
			assert.Equal(t, want, rowCountsOf(t, restored))
			as := "txt_" + tc.name
			require.NoError(t, Import(ctx, f.c.Manticore(), dir, "txt", ImportOptions{As: as}))
			var n string
			require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM "+as).Scan(&n))
			assert.Equal(t, "2000", n)
		})
	}
	assert.Less(t, stored["best"], stored["fastest"], "the level is applied: %v", stored)
	assert.LessOrEqual(t, stored["default"], stored["fastest"], "%v", stored)
}

// A level without Compress, or an unknown level, is refused before anything
// is sent or made.
func TestBackupCompressionLevelRefused(t *testing.T) {
	f := newBackupFixture(t)
	ctx := context.Background()
	parent := t.TempDir()
	for _, opts := range []CreateOptions{
		{CompressLevel: LevelBetter},
		{Compress: true, CompressLevel: "23"},
		{Compress: true, CompressLevel: "turbo"},
	} {
		var err error
		steps := crashtest.Record(t, func() {
			_, err = Create(ctx, f.c.Manticore(), filepath.Join(parent, "bk"), opts)
		})
		require.ErrorIs(t, err, dbctl.ErrInvalidArgument, "%+v", opts)
		assert.True(t, strings.HasPrefix(err.Error(), "dbctl: "), err.Error())
		assert.Empty(t, steps, "nothing sent, nothing made")
		entries, rerr := os.ReadDir(parent)
		require.NoError(t, rerr)
		assert.Empty(t, entries)
	}
}

// compression_level: old manifests (none) still read; an unknown level, or
// one without compression, is ErrInvalid.
func TestManifestCompressionLevel(t *testing.T) {
	f := newBackupFixture(t)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "bk")
	_, err := Create(ctx, f.c.Manticore(), dir, CreateOptions{Compress: true, CompressLevel: LevelFastest})
	require.NoError(t, err)
	good, err := os.ReadFile(filepath.Join(dir, manifestName))
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		edit func(m map[string]any)
		ok   bool
	}{
		{"written before levels existed", func(m map[string]any) { delete(m, "compression_level") }, true},
		{"unknown level", func(m map[string]any) { m["compression_level"] = "3" }, false},
		{"level without compression", func(m map[string]any) { delete(m, "compression") }, false},
	} {
		var m map[string]any
		require.NoError(t, json.Unmarshal(good, &m))
		tc.edit(m)
		b, err := json.Marshal(m)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, manifestName), b, 0o644))
		_, err = Verify(ctx, dir, VerifyOptions{})
		if tc.ok {
			assert.NoError(t, err, tc.name)
		} else {
			assert.ErrorIs(t, err, ErrInvalid, tc.name)
		}
	}
}

// sameBytes: a stored file (plain or zstd) is the same as the bytes at
// hand only when every byte and the length match.
func TestSameBytes(t *testing.T) {
	dir := t.TempDir()
	want := []byte(strings.Repeat("0123456789abcdef", 200000)) // 3.2 MB: several reads
	w := newFileWorker(new(atomic.Int64))
	defer w.close()
	put := func(name string, b []byte, compressed bool) string {
		p := filepath.Join(dir, name)
		if compressed {
			enc, err := zstd.NewWriter(nil)
			require.NoError(t, err)
			b = enc.EncodeAll(b, nil)
		}
		require.NoError(t, os.WriteFile(p, b, 0o644))
		return p
	}
	last := append([]byte(nil), want...)
	last[len(last)-1] ^= 1
	for _, compressed := range []bool{false, true} {
		for _, tc := range []struct {
			name string
			b    []byte
			same bool
		}{
			{"equal", want, true},
			{"shorter", want[:len(want)-1], false},
			{"longer", append(append([]byte(nil), want...), 'x'), false},
			{"last byte differs", last, false},
			{"empty", nil, false},
		} {
			p := put(fmt.Sprintf("%s-%v", tc.name, compressed), tc.b, compressed)
			got, err := w.sameBytes(context.Background(), p, compressed, want)
			require.NoError(t, err)
			assert.Equal(t, tc.same, got, "%s compressed=%v", tc.name, compressed)
		}
	}
	_, err := w.sameBytes(context.Background(), filepath.Join(dir, "missing"), false, want)
	assert.ErrorIs(t, err, os.ErrNotExist)
}

// An s3:// backup compresses at CompressLevel too (the files streamed from
// staging and memory are compressed by the store's Put): the manifest's
// level is the one the objects were written at.
func TestS3BackupCompressionLevel(t *testing.T) {
	srv := s3Env(t)
	f := newBackupFixture(t)
	addBigRow(t, f) // a large text file: the levels differ
	ctx := context.Background()
	root := srv.Location(t)
	stored := map[CompressionLevel]int64{}
	// better, not best: best is several times slower, which under the race
	// detector (it instruments the encoder) made this test take 30 s.
	for _, level := range []CompressionLevel{LevelFastest, LevelBetter} {
		loc := root + "/" + string(level)
		man, err := Create(ctx, f.c.Manticore(), loc, CreateOptions{Compress: true, CompressLevel: level, StagingDir: t.TempDir()})
		require.NoError(t, err)
		assert.Equal(t, string(level), man.CompressionLevel)
		for _, mf := range man.Files {
			stored[level] += mf.StoredSize
		}
		_, err = Verify(ctx, loc, VerifyOptions{})
		require.NoError(t, err)
	}
	assert.Less(t, stored[LevelBetter], stored[LevelFastest], "%v", stored)
}
