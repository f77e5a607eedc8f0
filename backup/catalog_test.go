package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/dbctl/dbctl"
	"github.com/dbctl/dbctl/backupstore"
	"github.com/dbctl/dbctl/internal/s3test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// catalogLocations are a folder and, with the S3 server, a prefix.
func catalogLocations(t *testing.T) []string {
	locs := []string{filepath.Join(t.TempDir(), "backups")}
	if s3test.Available() {
		locs = append(locs, s3Env(t).Location(t))
	}
	return locs
}

var day0 = time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC)

// putBackup writes a backup named name under st: one state file and a
// manifest with the given id and base, started on day d.
func putBackup(t *testing.T, st backupstore.Store, name, id, base string, d int) {
	ctx := context.Background()
	data := []byte(`{"indexes":{}}`)
	res, err := st.Put(ctx, name+"/state/manticore.json", bytes.NewReader(data), backupstore.PutOptions{})
	require.NoError(t, err)
	man := Manifest{FormatVersion: ManifestFormatVersion, Tool: "dbctl", ID: id,
		Started: day0.AddDate(0, 0, d), Finished: day0.AddDate(0, 0, d).Add(time.Minute), FreezeWindow: 40 * time.Millisecond,
		Tables: []ManifestTable{}, Files: []ManifestFile{{Path: "state/manticore.json", Size: res.Size, StoredSize: res.Stored, SHA256: res.SHA256, Mode: 0o644}}}
	if base != "" {
		man.Base = &ManifestBase{ID: base, Location: "elsewhere"}
	}
	b, err := json.Marshal(man)
	require.NoError(t, err)
	_, err = st.Put(ctx, name+"/manifest.json", bytes.NewReader(b), backupstore.PutOptions{})
	require.NoError(t, err)
}

func names(infos []Info) []string {
	out := []string{}
	for _, in := range infos {
		out = append(out, in.Name)
	}
	return out
}

func TestPruneKeepsBasesOfKeptIncrementals(t *testing.T) {
	ctx := context.Background()
	for _, loc := range catalogLocations(t) {
		t.Run(filepath.Base(loc), func(t *testing.T) {
			st, err := backupstore.Open(ctx, loc, backupstore.Options{})
			require.NoError(t, err)
			// full-1 <- inc-2 <- inc-4 (chain); full-3 alone; full-5 newest
			putBackup(t, st, "full-1", "id1", "", 1)
			putBackup(t, st, "inc-2", "id2", "id1", 2)
			putBackup(t, st, "full-3", "id3", "", 3)
			putBackup(t, st, "inc-4", "id4", "id2", 4)
			putBackup(t, st, "full-5", "id5", "", 5)
			_, err = st.Put(ctx, "broken/manifest.json", bytes.NewReader([]byte("{")), backupstore.PutOptions{})
			require.NoError(t, err)
			_, err = st.Put(ctx, "unfinished/data/t/t.meta", bytes.NewReader([]byte("x")), backupstore.PutOptions{})
			require.NoError(t, err)

			list, err := List(ctx, loc, ListOptions{})
			require.NoError(t, err)
			assert.Equal(t, []string{"broken", "full-1", "inc-2", "full-3", "inc-4", "full-5"}, names(list))
			assert.NotEmpty(t, list[0].Problem)
			assert.True(t, list[2].Incremental)
			assert.Equal(t, "id1", list[2].Base.ID)
			assert.Equal(t, 40*time.Millisecond, list[1].FreezeWindow)
			assert.Equal(t, int64(14), list[1].Bytes)

			tests := []struct {
				opts PruneOptions
				want []string
			}{
				{PruneOptions{KeepLast: 1}, []string{"full-1", "inc-2", "full-3", "inc-4"}},
				{PruneOptions{KeepLast: 2}, []string{"full-3"}},                // inc-4 keeps inc-2 keeps full-1
				{PruneOptions{KeepLast: 3}, []string{}},                        // full-3 kept too
				{PruneOptions{KeepWithin: 36 * time.Hour}, []string{"full-3"}}, // 36h before day 5 + 1h: inc-4, full-5
				{PruneOptions{KeepWithin: 12 * time.Hour}, []string{"full-1", "inc-2", "full-3", "inc-4"}},
				{PruneOptions{KeepLast: 1, KeepWithin: 36 * time.Hour}, []string{"full-3"}},
			}
			for _, tc := range tests {
				tc.opts.DryRun = true
				tc.opts.now = func() time.Time { return day0.AddDate(0, 0, 5).Add(time.Hour) }
				got, err := Prune(ctx, loc, tc.opts)
				require.NoError(t, err)
				assert.Equal(t, tc.want, names(got), "%+v", tc.opts)
			}
			_, err = Prune(ctx, loc, PruneOptions{})
			assert.ErrorIs(t, err, dbctl.ErrInvalidArgument)
			_, err = Prune(ctx, loc, PruneOptions{KeepLast: -1, KeepWithin: time.Hour})
			assert.ErrorIs(t, err, dbctl.ErrInvalidArgument)

			got, err := Prune(ctx, loc, PruneOptions{KeepLast: 2})
			require.NoError(t, err)
			assert.Equal(t, []string{"full-3"}, names(got))
			list, err = List(ctx, loc, ListOptions{})
			require.NoError(t, err)
			assert.Equal(t, []string{"broken", "full-1", "inc-2", "inc-4", "full-5"}, names(list))
			objs, err := st.List(ctx, "full-3/")
			require.NoError(t, err)
			assert.Empty(t, objs, "every object of a pruned backup deleted")
			objs, err = st.List(ctx, "unfinished/")
			require.NoError(t, err)
			assert.Len(t, objs, 1, "a folder without a manifest is not touched")
			cleanupStore(t, st)
		})
	}
}

func cleanupStore(t *testing.T, st backupstore.Store) {
	objs, err := st.List(context.Background(), "")
	require.NoError(t, err)
	var keys []string
	for _, o := range objs {
		keys = append(keys, o.Key)
	}
	if len(keys) > 0 {
		require.NoError(t, st.Delete(context.Background(), keys...))
	}
}
