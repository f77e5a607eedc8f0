package backup_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dbctl/dbctl"
	"github.com/dbctl/dbctl/backup"
	"github.com/dbctl/dbctl/internal/crashpoint"
	"github.com/dbctl/dbctl/internal/crashpoint/crashtest"
	"github.com/dbctl/dbctl/internal/itest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// createVariant is one kind of local Create the campaign covers, and the
// file steps of its own that its record must hold (besides those every
// Create reaches: createSteps).
type createVariant struct {
	name    string
	opts    backup.CreateOptions
	base    bool // incremental, on the campaign's first backup
	perFile bool // an fsync of every file and folder instead of the one syncfs (backup/durable.go)
	steps   []string
}

var staged = []string{"backup.mkdir staging", "backup.marker staging", "backup.lock staging", "backup.link probe", "backup.remove probe",
	"backup.read mutable", "backup.remove staging", "backup.remove staging-marker"}

var createVariants = []createVariant{
	{name: "staged", opts: backup.CreateOptions{Concurrency: 2},
		steps: append([]string{"backup.link staged", "backup.copy staged", "backup.remove staged", "backup.write memory"}, staged...)},
	{name: "staged-per-file-sync", opts: backup.PerFileSync(backup.CreateOptions{Concurrency: 2}), perFile: true,
		steps: append([]string{"backup.link staged", "backup.copy staged", "backup.remove staged", "backup.write memory"}, staged...)},
	{name: "staged-compressed", opts: backup.CreateOptions{Concurrency: 2, Compress: true},
		steps: append([]string{"backup.link staged", "backup.copy staged", "backup.remove staged", "backup.write memory"}, staged...)},
	// nothing changed since the base: every file linked from it
	{name: "staged-incremental", opts: backup.CreateOptions{Concurrency: 2}, base: true,
		steps: append([]string{"backup.link base", "backup.link base-memory"}, staged...)},
	{name: "no-staging", opts: backup.CreateOptions{Concurrency: 2, NoStaging: true},
		steps: []string{"backup.copy freeze"}},
	{name: "no-staging-per-file-sync", opts: backup.PerFileSync(backup.CreateOptions{Concurrency: 2, NoStaging: true}), perFile: true,
		steps: []string{"backup.copy freeze"}},
	{name: "no-staging-compressed", opts: backup.CreateOptions{Concurrency: 2, NoStaging: true, Compress: true, CompressAfterUnfreeze: true},
		steps: []string{"backup.copy stage", "backup.compress", "backup.remove stage"}},
}

// durableSteps are the steps that make a variant's backup durable: one
// syncfs where this kernel's syncfs reports write errors
// (backup/durable.go), else an fsync of every file written and of every
// folder and the manifest.
func durableSteps(v createVariant) []string {
	if v.perFile || !backup.SyncFSReportsErrors() {
		steps := []string{"backup.sync folder", "backup.sync manifest", "backup.sync temp"}
		if !v.base { // an incremental one with nothing changed links every file from its synced base
			steps = append(steps, "backup.sync file")
		}
		return steps
	}
	return []string{"backup.sync fs"}
}

// createSteps are the steps every local Create reaches.
var createSteps = []string{"sql.send SHOW TABLES", "sql.send SHOW SETTINGS", "sql.send FREEZE", "sql.send FLUSH ATTRIBUTES",
	"sql.send UNFREEZE", "journal.create intent", "journal.create frozen", "journal.remove", "backup.mkdir temp",
	"backup.marker temp", "backup.lock temp", "backup.mkdir folders", "backup.read state", "backup.write manifest",
	"backup.chown", "backup.rename temp", "backup.sync parent", "backup.remove marker"}

// createAbsorbed are the steps whose failure a Create survives by design
// (it succeeds, and its backup verifies), and why. A failure anywhere
// else must fail the Create.
var createAbsorbed = map[string]string{
	"backup.mkdir staging":    "no staging folder: every file is copied inside the freeze",
	"backup.marker staging":   "no staging folder: every file is copied inside the freeze",
	"backup.lock staging":     "no staging folder: every file is copied inside the freeze",
	"backup.link probe":       "no staging folder: every file is copied inside the freeze",
	"backup.remove probe":     "no staging folder: every file is copied inside the freeze",
	"backup.link base-memory": "the bytes read at the freeze are written instead of linked from the base",
	"backup.remove marker":    "the backup is complete and in place; the stray marker file is logged",
	"sql.answer UNFREEZE":     "the UNFREEZE ran: SHOW LOCKS tells the release so",
	"sql.send UNFREEZE":       "the release sends the UNFREEZE again",
	"sql.send SHOW LOCKS":     "the release's counters are only a guide: the UNFREEZE is sent anyway",
	"sql.answer SHOW LOCKS":   "the release's counters are only a guide: the UNFREEZE is sent anyway",
	// the freeze journal's record of the release, and its removal: the
	// UNFREEZE is sent all the same, and a record left is the next run's
	// to drop (its counters show the UNFREEZE landed)
	"journal.create releasing":   "the release goes on; the record is the next run's to drop",
	"journal.write releasing":    "the release goes on; the record is the next run's to drop",
	"journal.sync releasing":     "the release goes on; the record is the next run's to drop",
	"journal.rename releasing":   "the release goes on; the record is the next run's to drop",
	"journal.sync-dir releasing": "the release goes on; the record is the next run's to drop",
	"journal.remove":             "the UNFREEZE landed; the record is the next run's to drop",
}

// The crash-point campaign of a local Create (issue 16, issue 17), for
// each variant: record the steps of a successful run (SQL statements and
// file steps), then for every recorded step (the first and the last
// occurrence of each: crashtest.Distinct) fail there, panic there (on the
// caller's goroutine directly, on a copy worker through Progress), and,
// separately, kill a child process there (this test binary re-executed);
// then run the next Create to the same parent folder. Invariants: the next
// Create succeeds; every table's freeze count is what it was before (the
// other holder's FREEZE of one table stays, nothing else is frozen);
// the parent holds only complete backups that verify and List shows
// exactly those: no staging, temporary or partial folder is left.
//
// It runs unchanged against a real searchd on this machine
// (DBCTL_MANTICORE_DSN, campaignTarget): a backup reads the files FREEZE
// lists. Where the backups' folder is not on the data_dir's file system
// nothing stages, and only the steps every Create reaches are required.
func TestIntegrationCreateCrashCampaign(t *testing.T) {
	if crashtest.IsChild() {
		createCrashChild(t)
		return
	}
	target, newParent := campaignTarget(t)
	c := itest.OpenClient(t, target.DSN)
	tables := campaignTables(t, c)
	itest.ExecAll(t, c.DB(), "FREEZE "+tables[1]) // another holder's freeze, which must stay
	t.Cleanup(func() { _, _ = c.DB().Exec("UNFREEZE " + tables[1]) })
	before := freezeCounts(t, c, tables)
	state := newParent() // the freeze journal: on the fast file system too
	for _, v := range createVariants {
		t.Run(v.name, func(t *testing.T) {
			createCampaign(t, c, target.DSN, state, newParent(), tables, before, v)
		})
	}
}

func createCampaign(t *testing.T, c *dbctl.Client, dsn, state, parent string, tables []string, before map[string]int, v createVariant) {
	ctx := context.Background()
	opts := v.opts
	opts.Tables = tables
	// The first backup: the incremental runs' base. Its FREEZE saves the
	// RAM rows to <table>.ram, not to a new disk chunk (manticore.md §5.4,
	// as every later FREEZE does), so every run lists the same files.
	_, err := backup.Create(ctx, campaignClient(t, dsn, state).Manticore(), filepath.Join(parent, "base"), opts)
	require.NoError(t, err)
	if v.base {
		opts.Base = filepath.Join(parent, "base")
	}
	rc := campaignClient(t, dsn, state)
	var man *backup.Manifest
	steps := crashtest.Record(t, func() {
		man, err = backup.Create(ctx, rc.Manticore(), filepath.Join(parent, "recorded"), opts)
	})
	require.NoError(t, err)
	requireSteps(t, steps, createSteps...)
	requireSteps(t, steps, durableSteps(v)...)
	if man.Staging == backup.StagingStaged || v.opts.NoStaging {
		requireSteps(t, steps, v.steps...)
	} else {
		// a real searchd whose data_dir is on another file system than
		// the temporary folder: every file is copied inside the freeze
		t.Logf("no staging here (%s): the variant's own steps are not required", man.Staging)
	}
	env := []string{envCrashDSN + "=" + dsn, envCrashTables + "=" + strings.Join(tables, ","), envCrashVariant + "=" + v.name,
		envCrashBase + "=" + opts.Base, envCrashState + "=" + state}
	n := 0
	var panics [2]int // direct, through Progress
	defer func() {
		if !t.Failed() {
			assert.Positive(t, panics[0], "panics on the caller's goroutine")
			assert.Positive(t, panics[1], "panics through Progress")
		}
	}()
	for _, step := range crashtest.Distinct(steps) {
		for _, mode := range []string{"fail", "panic", "kill"} {
			n++
			dir := filepath.Join(parent, fmt.Sprintf("%s-%d", mode, n))
			t.Run(mode+" "+step.String(), func(t *testing.T) {
				t.Cleanup(func() { repair(t, c, tables, before, parent, "base", "recorded") })
				oc := campaignClient(t, dsn, state)
				switch mode {
				case "fail":
					restore := crashtest.FailAt(t, step)
					man, err := backup.Create(ctx, oc.Manticore(), dir, opts)
					restore()
					if err == nil {
						require.Contains(t, createAbsorbed, step.Name, "a failure at %s was not reported", step)
						require.NotNil(t, man)
					} else {
						require.ErrorIs(t, err, crashpoint.ErrInjected)
						assert.True(t, strings.HasPrefix(err.Error(), "dbctl: manticore backup "), err.Error())
						require.NoDirExists(t, dir, "a failed Create leaves nothing named like its backup")
					}
				case "panic":
					p := newPanicAt(step)
					po := opts
					po.Progress = p.progress
					panicked, viaProgress := p.run(t, func() { _, _ = backup.Create(ctx, oc.Manticore(), dir, po) })
					require.True(t, panicked, "the panic goes on in the caller's goroutine")
					if viaProgress {
						panics[1]++
						require.NoDirExists(t, dir, "the last report comes before the rename")
					} else {
						panics[0]++
					}
				case "kill":
					spec := step.Spec(crashpoint.Kill)
					res := crashtest.Child(t, "TestIntegrationCreateCrashCampaign", &spec, 2*time.Minute, append(env, envCrashTarget+"="+dir)...)
					require.True(t, res.Killed, "the child reached %s:\n%s", step, res.Output)
				}
				waitReleases(t, oc)
				kept := []string{"base", "recorded", "next"}
				if _, err := os.Stat(dir); err == nil {
					kept = append(kept, filepath.Base(dir)) // a complete backup: checked below
				}
				next := filepath.Join(parent, "next")
				_, err := backup.Create(ctx, campaignClient(t, dsn, state).Manticore(), next, opts)
				require.NoError(t, err, "the next backup")
				assert.Equal(t, before, freezeCounts(t, c, tables), "nothing frozen but the other holder's share")
				onlyCompleteBackups(t, parent, kept...)
			})
		}
	}
}

// requireSteps checks that the recorded steps include each name.
func requireSteps(t *testing.T, steps []crashtest.Step, names ...string) {
	t.Helper()
	seen := map[string]bool{}
	for _, s := range steps {
		seen[s.Name] = true
	}
	for _, n := range names {
		require.True(t, seen[n], "no step %s among %v", n, steps)
	}
}

// createCrashChild is the child's side of the kill half: one Create of the
// variant, killed at the step of its crash spec.
func createCrashChild(t *testing.T) {
	var v createVariant
	for _, x := range createVariants {
		if x.name == os.Getenv(envCrashVariant) {
			v = x
		}
	}
	require.NotEmpty(t, v.name, "no variant %q", os.Getenv(envCrashVariant))
	opts := v.opts
	opts.Tables = strings.Split(os.Getenv(envCrashTables), ",")
	opts.Base = os.Getenv(envCrashBase)
	copts := campaignOptions(os.Getenv(envCrashState))
	c, err := dbctl.Open(os.Getenv(envCrashDSN), &copts)
	require.NoError(t, err)
	defer c.Close()
	_, err = backup.Create(context.Background(), c.Manticore(), os.Getenv(envCrashTarget), opts)
	t.Logf("Create returned (the step was not reached): %v", err)
}
