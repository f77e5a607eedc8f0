package backup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dbctl/dbctl"
	"github.com/dbctl/dbctl/backupstore"
	"github.com/dbctl/dbctl/internal/crashpoint"
	"github.com/dbctl/dbctl/internal/crashpoint/crashtest"
	"github.com/dbctl/dbctl/internal/s3test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// importVariant is one kind of Import the campaign covers: a backup
// compressed or not, in a folder whose path has a dot or not, or in S3.
type importVariant struct {
	name     string
	folder   string
	compress bool
	remote   bool // at an s3:// location (folder unused)
}

var importVariants = []importVariant{
	{"compressed-dated", "bk.2026.12.06", true, false}, // decompressed into a staging folder
	{"plain-dated", "bk.2026.12.07", false, false},     // a symbolic link in a staging folder
	{"plain", "bk", false, false},                      // read in place: no staging
	{"s3-compressed", "", true, true},                  // each object streamed into a staging folder, decompressed
	{"s3-plain", "", false, true},                      // each object streamed into a staging folder
}

// The crash-point campaign of Import (issue 17: all or nothing), for each
// variant: at every step a successful import reaches (SHOW SETTINGS, the
// staging folder, each file decompressed, IMPORT TABLE, the removal, ...),
// fail there, panic there, and kill a child process there; then the next
// import of the same table runs. Invariants: after the interrupted run the
// table is either absent or whole (4 rows), and present only when IMPORT
// TABLE was sent (searchd copies the files and adds the table, or removes
// what it copied: src/searchdconfig.cpp CopyIndexFiles, whose scope-exit
// unlinks the copies on failure, and AddExistingIndexConfigless, whose
// ScopedCleanup_c removes a table it could not load or save); after the
// next run the table holds the backup's 4 rows, no staging folder is left
// in the data_dir or beside the backup (a killed or interrupted run's is
// removed by the next one), and the backup still verifies (in S3: with
// the same objects). Without SHOW SETTINGS's answer the import stages
// beside the backup instead (from S3: in the temporary folder, which the
// campaign makes its own). The s3:// variants need the S3 server of
// .ci/seaweedfs.sh and are skipped without it (run under CI).
func TestImportCrashCampaign(t *testing.T) {
	if crashtest.IsChild() {
		importChild(t)
		return
	}
	f := newBackupFixture(t)
	for _, v := range importVariants {
		t.Run(v.name, func(t *testing.T) {
			if v.remote && !s3test.Available() {
				t.Skip("no S3 server (. .ci/seaweedfs.sh && seaweedfs_start)")
			}
			importCampaign(t, f, v)
		})
	}
}

func importCampaign(t *testing.T, f *backupFixture, v importVariant) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), v.folder)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // where an S3 import stages without the data_dir; children inherit it
	var keys []string
	if v.remote {
		dir = s3Env(t).Location(t) // AWS_ENDPOINT_URL for the default options, children included
	}
	_, err := Create(ctx, f.c.Manticore(), dir, CreateOptions{Tables: []string{"a"}, Compress: v.compress})
	require.NoError(t, err)
	if v.remote {
		keys = storeKeys(t, dir, backupstore.Options{})
		t.Cleanup(func() {
			if st, err := backupstore.Open(ctx, dir, backupstore.Options{}); err == nil {
				_ = st.Delete(ctx, keys...)
				_ = st.Close()
			}
		})
	}
	n := 0
	next := func() string { n++; return fmt.Sprintf("a_%s_%d", strings.ReplaceAll(v.name, "-", "_"), n) }

	steps := crashtest.Record(t, func() { require.NoError(t, Import(ctx, f.c.Manticore(), dir, "a", ImportOptions{As: next()})) })
	sendAt := -1 // the index of the step that sends IMPORT TABLE
	var names []string
	for i, s := range steps {
		names = append(names, s.String())
		if s.Name == "sql.send IMPORT TABLE" && sendAt < 0 {
			sendAt = i
		}
	}
	require.GreaterOrEqual(t, sendAt, 0, "%v", names)
	want := []string{"sql.send IMPORT TABLE#1", "sql.answer IMPORT TABLE#1"}
	staged := v.compress || v.remote || strings.Contains(dir, ".")
	if staged {
		want = append(want, "sql.send SHOW SETTINGS#1", "import.stage-create#1", "import.stage-remove#1",
			"backup.remove import-stage#1", "backup.remove import-stage-marker#1")
	}
	switch {
	case v.compress || v.remote:
		want = append(want, "import.stage-mkdir a#1", "import.stage-open data/a/a.meta#1", "import.stage-write a.meta#1", "import.stage-own#1")
	case staged:
		want = append(want, "import.stage-link#1")
	}
	if v.remote {
		key := "data/a/a.meta"
		if v.compress {
			key += ".zst"
		}
		want = append(want, "store.get manifest.json#1", "store.get "+key+"#1")
	}
	for _, w := range want {
		require.Contains(t, names, w)
	}
	rows := func(as string) (string, bool) {
		var c string
		err := f.c.DB().QueryRow("SELECT COUNT(*) FROM " + as).Scan(&c)
		return c, err == nil
	}
	// check runs after the interrupted run (done: it returned nil).
	check := func(t *testing.T, as string, at int, done bool) {
		t.Helper()
		if c, ok := rows(as); ok {
			assert.Equal(t, "4", c, "a table imported whole")
			if !done {
				assert.Greater(t, at, sendAt, "a table only when IMPORT TABLE was sent")
			}
		} else {
			assert.False(t, done, "an import that returned nil made the table")
		}
		err := Import(ctx, f.c.Manticore(), dir, "a", ImportOptions{As: as}) // the next run
		if err != nil {
			require.ErrorIs(t, err, dbctl.ErrTableExists, "only a table the interrupted run created is in the way")
		}
		c, ok := rows(as)
		require.True(t, ok)
		assert.Equal(t, "4", c)
		assert.Empty(t, stagingLeftovers(t, f.srv.DataDir()), "no staging folder left in the data_dir")
		entries, err := os.ReadDir(tmp)
		require.NoError(t, err)
		var left []string // (the test's own temporary folders are there too)
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), importStagePrefix) || strings.Contains(e.Name(), ".dbctl-") {
				left = append(left, e.Name())
			}
		}
		assert.Empty(t, left, "no staging or download folder in the temporary folder")
		if v.remote {
			assert.Equal(t, keys, storeKeys(t, dir, backupstore.Options{}), "the store holds the backup's objects, no other")
		} else {
			assert.Empty(t, stagingLeftovers(t, filepath.Dir(dir)), "nor beside the backup")
		}
		_, err = Verify(ctx, dir, VerifyOptions{})
		assert.NoError(t, err, "the backup is as it was")
	}
	for at, step := range steps {
		if !slices.Contains(crashtest.Distinct(steps), step) {
			continue
		}
		t.Run("fail "+step.String(), func(t *testing.T) {
			as := next()
			restore := crashtest.FailAt(t, step)
			err := Import(ctx, f.c.Manticore(), dir, "a", ImportOptions{As: as})
			restore()
			switch step.Name {
			case "import.stage-remove", "backup.remove import-stage", "backup.remove import-stage-marker":
				require.NoError(t, err, "the import is done; the folder goes next time")
			case "sql.send SHOW SETTINGS", "sql.answer SHOW SETTINGS":
				require.NoError(t, err, "without the data_dir it stages beside the backup")
			case "backup.lock import-stage":
				require.NoError(t, err, "the next place is tried: beside the backup")
			case "sql.answer IMPORT TABLE":
				require.ErrorIs(t, err, dbctl.ErrOutcomeUnknown)
			default:
				require.ErrorIs(t, err, crashpoint.ErrInjected)
				assert.NotErrorIs(t, err, dbctl.ErrOutcomeUnknown, "failed before IMPORT TABLE was sent")
			}
			check(t, as, at, err == nil)
		})
		t.Run("panic "+step.String(), func(t *testing.T) {
			as := next()
			restore := crashtest.PanicAt(t, step)
			func() {
				defer func() { _ = recover() }()
				_ = Import(ctx, f.c.Manticore(), dir, "a", ImportOptions{As: as})
			}()
			restore()
			check(t, as, at, false)
		})
		t.Run("kill "+step.String(), func(t *testing.T) {
			as := next()
			spec := step.Spec(crashpoint.Kill)
			res := crashtest.Child(t, "TestImportCrashCampaign", &spec, time.Minute,
				"DBCTL_CRASH_DSN="+f.srv.DSN(), "DBCTL_CRASH_DIR="+dir, "DBCTL_CRASH_AS="+as)
			require.True(t, res.Killed, "the child reached %s:\n%s", step, res.Output)
			check(t, as, at, false)
		})
	}
}

// importChild is the child's side of the kill half: one import, killed at
// the step of its crash spec.
func importChild(t *testing.T) {
	c, err := dbctl.Open(os.Getenv("DBCTL_CRASH_DSN"), nil)
	require.NoError(t, err)
	defer c.Close()
	err = Import(context.Background(), c.Manticore(), os.Getenv("DBCTL_CRASH_DIR"), "a", ImportOptions{As: os.Getenv("DBCTL_CRASH_AS")})
	if err != nil && !errors.Is(err, crashpoint.ErrInjected) {
		t.Log(err)
	}
}

func stagingLeftovers(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), importStagePrefix) {
			out = append(out, e.Name())
		}
	}
	return out
}
