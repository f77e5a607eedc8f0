package backup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dbctl/dbctl"
	"github.com/dbctl/dbctl/internal/crashpoint"
	"github.com/dbctl/dbctl/internal/crashpoint/crashtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The crash-point campaign of Import from a compressed backup in a
// dated folder (it stages: SHOW SETTINGS, the staging folder, each file
// decompressed, IMPORT TABLE, the removal): at every step it reaches, fail
// there, panic there, and kill a child process there; then the next import
// of the same table runs. Invariants after the next run: the table holds
// the backup's 4 rows, and no staging folder is left in the data_dir (a
// killed or interrupted run's is removed by the next one). Without SHOW
// SETTINGS's answer it stages beside the backup instead.
func TestImportCrashCampaign(t *testing.T) {
	if crashtest.IsChild() {
		importChild(t)
		return
	}
	f := newBackupFixture(t)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "bk.2026.12.06")
	_, err := Create(ctx, f.c.Manticore(), dir, CreateOptions{Tables: []string{"a"}, Compress: true})
	require.NoError(t, err)
	n := 0
	next := func() string { n++; return fmt.Sprintf("a_crash_%d", n) }

	steps := crashtest.Record(t, func() { require.NoError(t, Import(ctx, f.c.Manticore(), dir, "a", ImportOptions{As: next()})) })
	var names []string
	for _, s := range steps {
		names = append(names, s.String())
	}
	for _, want := range []string{"sql.send SHOW SETTINGS#1", "import.stage-create#1", "import.stage-write a.meta#1", "sql.send IMPORT TABLE#1", "sql.answer IMPORT TABLE#1", "import.stage-remove#1"} {
		require.Contains(t, names, want)
	}
	check := func(t *testing.T, as string) {
		t.Helper()
		err := Import(ctx, f.c.Manticore(), dir, "a", ImportOptions{As: as}) // the next run
		if err != nil {
			require.ErrorIs(t, err, dbctl.ErrTableExists, "only a table the interrupted run created is in the way")
		}
		var rows string
		require.NoError(t, f.c.DB().QueryRow("SELECT COUNT(*) FROM "+as).Scan(&rows))
		assert.Equal(t, "4", rows)
		assert.Empty(t, stagingLeftovers(t, f.srv.DataDir()), "no staging folder left in the data_dir")
		assert.Empty(t, stagingLeftovers(t, filepath.Dir(dir)), "nor beside the backup")
	}
	for _, step := range steps {
		t.Run("fail "+step.String(), func(t *testing.T) {
			as := next()
			restore := crashtest.FailAt(t, step)
			err := Import(ctx, f.c.Manticore(), dir, "a", ImportOptions{As: as})
			restore()
			switch step.Name {
			case "import.stage-remove": // the import is done; the folder goes next time
				require.NoError(t, err)
			case "sql.send SHOW SETTINGS", "sql.answer SHOW SETTINGS":
				require.NoError(t, err, "without the data_dir it stages beside the backup")
			case "sql.answer IMPORT TABLE":
				require.ErrorIs(t, err, dbctl.ErrOutcomeUnknown)
			default:
				require.ErrorIs(t, err, crashpoint.ErrInjected)
				assert.NotErrorIs(t, err, dbctl.ErrOutcomeUnknown, "failed before IMPORT TABLE was sent")
			}
			check(t, as)
		})
		t.Run("panic "+step.String(), func(t *testing.T) {
			as := next()
			restore := crashtest.PanicAt(t, step)
			func() {
				defer func() { _ = recover() }()
				_ = Import(ctx, f.c.Manticore(), dir, "a", ImportOptions{As: as})
			}()
			restore()
			check(t, as)
		})
		t.Run("kill "+step.String(), func(t *testing.T) {
			as := next()
			spec := step.Spec(crashpoint.Kill)
			res := crashtest.Child(t, "TestImportCrashCampaign", &spec, time.Minute,
				"DBCTL_CRASH_DSN="+f.srv.DSN(), "DBCTL_CRASH_DIR="+dir, "DBCTL_CRASH_AS="+as)
			require.True(t, res.Killed, "the child reached %s:\n%s", step, res.Output)
			check(t, as)
		})
	}
}

// importChild is the child's side of the kill half: one import, killed at
// the step of its crash spec.
func importChild(t *testing.T) {
	c, err := dbctl.Open(os.Getenv("DBCTL_CRASH_DSN"))
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
