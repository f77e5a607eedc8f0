//go:build unix

package backup

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dbctl/dbctl/internal/crashpoint"
	"github.com/dbctl/dbctl/internal/crashpoint/crashtest"
	"github.com/dbctl/dbctl/internal/s3test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The crash-point campaign of Restore: for the steps of a successful
// Overwrite restore (every file created, written, synced; every folder
// made and synced; the journal written, synced, renamed; every entry moved
// out and in; old/ and the restore folder removed; the store's reads for
// an s3:// backup), recorded from a run, each step in turn fails (an
// error, a panic, and, before the commit, a panic in Progress) and,
// separately, kills a child process there. Then the next run's recovery
// must leave the data_dir exactly as it was (a step before the commit) or
// exactly the backup (after it), byte for byte, with no restore folder
// left; and a full Restore must then succeed.

// restoreCrashCase is one kind of backup the campaign restores.
type restoreCrashCase struct {
	name     string
	location string
	template string // the data_dir before: newer data than the backup
	old, new tree
}

const commitStep = "restore.journal-rename " + stateCommitted

func restoreCrashCases(t *testing.T) []restoreCrashCase {
	f := newBackupFixture(t)
	ctx := t.Context()
	root := t.TempDir()
	var cases []restoreCrashCase
	add := func(name, loc string) {
		template := filepath.Join(root, name+"-old")
		newerDataDir(t, loc, template)
		fresh := filepath.Join(root, name+"-new")
		require.NoError(t, Restore(ctx, loc, fresh, RestoreOptions{}))
		cases = append(cases, restoreCrashCase{name: name, location: loc, template: template,
			old: treeOf(t, template), new: treeOf(t, fresh)})
	}
	// every table, plain; two tables, compressed (a partial backup: its
	// manticore.json is rewritten); one table from S3, compressed
	for _, c := range []struct {
		name     string
		compress bool
		tables   []string
	}{{"folder", false, nil}, {"folder-zstd-partial", true, []string{"b", "pq"}}} {
		loc := filepath.Join(root, c.name)
		_, err := Create(ctx, f.c.Manticore(), loc, CreateOptions{Compress: c.compress, Tables: c.tables})
		require.NoError(t, err)
		add(c.name, loc)
	}
	if s3test.Available() {
		srv := s3Env(t)
		loc := srv.Location(t)
		_, err := Create(ctx, f.c.Manticore(), loc, CreateOptions{Compress: true, Tables: []string{"pq"}})
		require.NoError(t, err)
		add("s3-zstd-partial", loc)
	} else {
		t.Log("no S3 server: the s3:// case is not run (. .ci/seaweedfs.sh && seaweedfs_start)")
	}
	return cases
}

// campaign returns the steps to fail or kill at: every recorded step; with
// -short, of the steps of each file (restore.open, create, write, sync)
// only those of the first and the last file, as crashtest.Distinct keeps
// the first and last occurrence of a step. Each returned step keeps its
// index in steps.
func campaign(steps []crashtest.Step) map[int]crashtest.Step {
	out := map[int]crashtest.Step{}
	first, last := map[string]int{}, map[string]int{}
	for i, s := range steps {
		verb, subject, _ := strings.Cut(s.Name, " ")
		perFile := strings.HasPrefix(subject, "data/") || strings.HasPrefix(subject, "state/") || strings.HasPrefix(subject, "new/") && strings.Contains(subject, ".")
		if !testing.Short() || !perFile || verb == "restore.rewrite" {
			out[i] = s
			continue
		}
		if _, ok := first[verb]; !ok {
			first[verb] = i
		}
		last[verb] = i
	}
	for _, i := range first {
		out[i] = steps[i]
	}
	for _, i := range last {
		out[i] = steps[i]
	}
	return out
}

// afterCommit reports whether step i of steps comes after the commit.
func afterCommit(steps []crashtest.Step, i int) bool {
	for k := 0; k < i; k++ {
		if steps[k].Name == commitStep {
			return true
		}
	}
	return false
}

// checkRecovered runs the next run's recovery on dataDir, checks it holds
// exactly want with no restore folder left, then restores again.
func (c restoreCrashCase) checkRecovered(t *testing.T, dataDir string, post bool) {
	t.Helper()
	_, err := recoverRestores(dataDir, discardLogger())
	require.NoError(t, err, "recovery")
	want, what := c.old, "the data_dir before"
	if post {
		want, what = c.new, "the backup"
	}
	requireTree(t, want, dataDir, "after recovery: "+what)
	assert.Empty(t, restoreFolders(t, dataDir))
	require.NoError(t, Restore(t.Context(), c.location, dataDir, RestoreOptions{Overwrite: true}), "the next restore")
	requireTree(t, c.new, dataDir, "after the next restore")
}

func TestRestoreCrashPointsFail(t *testing.T) {
	if crashtest.IsChild() {
		t.Skip("child")
	}
	noSync(t)
	for _, c := range restoreCrashCases(t) {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			rec := filepath.Join(t.TempDir(), "data")
			copyTree(t, c.template, rec)
			steps := crashtest.Record(t, func() { require.NoError(t, Restore(ctx, c.location, rec, RestoreOptions{Overwrite: true})) })
			requireSteps(t, steps)
			t.Logf("%s: %d steps recorded, %d in this campaign", c.name, len(steps), len(campaign(steps)))
			for i, step := range steps {
				if _, ok := campaign(steps)[i]; !ok {
					continue
				}
				post := afterCommit(steps, i)
				for _, panics := range []bool{false, true} {
					t.Run(step.String()+map[bool]string{true: "/panic"}[panics], func(t *testing.T) {
						data := filepath.Join(t.TempDir(), "data")
						copyTree(t, c.template, data)
						var err error
						if panics {
							undo := crashtest.PanicAt(t, step)
							assert.Panics(t, func() { err = Restore(ctx, c.location, data, RestoreOptions{Overwrite: true}) })
							undo()
						} else {
							undo := crashtest.FailAt(t, step)
							err = Restore(ctx, c.location, data, RestoreOptions{Overwrite: true})
							undo()
							if post {
								require.NoError(t, err, "the swap was committed: the restore is done")
							} else {
								require.ErrorIs(t, err, crashpoint.ErrInjected)
							}
						}
						if !post {
							// undone in process, before the next run
							requireTree(t, c.old, data, "right after the failure")
						}
						c.checkRecovered(t, data, post)
					})
				}
			}
		})
	}
}

// A panic in Progress at any step before the commit: the data_dir is as it
// was. The step waits until Progress (called every 100 ms) has panicked.
func TestRestoreCrashPointsProgressPanic(t *testing.T) {
	if crashtest.IsChild() {
		t.Skip("child")
	}
	noSync(t)
	c := restoreCrashCases(t)[0]
	ctx := context.Background()
	progressInterval = time.Millisecond // a panic within a millisecond, not 100
	defer func() { progressInterval = 100 * time.Millisecond }()
	rec := filepath.Join(t.TempDir(), "data")
	copyTree(t, c.template, rec)
	steps := crashtest.Record(t, func() { require.NoError(t, Restore(ctx, c.location, rec, RestoreOptions{Overwrite: true})) })
	for i, step := range steps {
		if afterCommit(steps, i) || step.Name == commitStep {
			break
		}
		if _, ok := campaign(steps)[i]; !ok {
			continue
		}
		t.Run(step.String(), func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "data")
			copyTree(t, c.template, data)
			var armed atomic.Bool
			cancelled := make(chan struct{})
			var once sync.Once
			var mu sync.Mutex
			seen := 0
			defer crashpoint.Set(func(s string) error {
				if s == "progress.panicked" { // the panic has cancelled the restore
					once.Do(func() { close(cancelled) })
					return nil
				}
				if s != step.Name {
					return nil
				}
				mu.Lock()
				seen++
				now := seen == step.N
				mu.Unlock()
				if now {
					armed.Store(true)
					<-cancelled
				}
				return nil
			})()
			assert.PanicsWithValue(t, "progress boom", func() {
				_ = Restore(ctx, c.location, data, RestoreOptions{Overwrite: true, Progress: func(Progress) {
					if armed.Load() {
						panic("progress boom")
					}
				}})
			})
			requireTree(t, c.old, data, "after the panic")
			c.checkRecovered(t, data, false)
		})
	}
}

// TestRestoreCrashChild is the child's side of TestRestoreCrashPointsKill.
func TestRestoreCrashChild(t *testing.T) {
	if !crashtest.IsChild() {
		t.Skip("runs only as TestRestoreCrashPointsKill's child")
	}
	noSync(t)
	require.NoError(t, Restore(context.Background(), os.Getenv("DBCTL_TEST_BACKUP"), os.Getenv("DBCTL_TEST_DATA_DIR"), RestoreOptions{Overwrite: true}))
}

func TestRestoreCrashPointsKill(t *testing.T) {
	if crashtest.IsChild() {
		t.Skip("child")
	}
	noSync(t)
	for _, c := range restoreCrashCases(t) {
		t.Run(c.name, func(t *testing.T) {
			env := func(data string) []string {
				return []string{"DBCTL_TEST_BACKUP=" + c.location, "DBCTL_TEST_DATA_DIR=" + data}
			}
			rec := filepath.Join(t.TempDir(), "data")
			copyTree(t, c.template, rec)
			res := crashtest.Child(t, "TestRestoreCrashChild", nil, time.Minute, env(rec)...)
			require.NoError(t, res.Err, res.Output)
			requireTree(t, c.new, rec, "the recording run")
			steps := res.Steps
			requireSteps(t, steps)
			t.Logf("%s: %d steps recorded, %d in this campaign", c.name, len(steps), len(campaign(steps)))
			for i, step := range steps {
				if _, ok := campaign(steps)[i]; !ok {
					continue
				}
				t.Run(step.String(), func(t *testing.T) {
					data := filepath.Join(t.TempDir(), "data")
					copyTree(t, c.template, data)
					spec := step.Spec(crashpoint.Kill)
					res := crashtest.Child(t, "TestRestoreCrashChild", &spec, time.Minute, env(data)...)
					require.True(t, res.Killed, "%v\n%s", res.Err, res.Output)
					c.checkRecovered(t, data, afterCommit(steps, i))
				})
			}
		})
	}
}

// requireSteps checks that a run passed every kind of step the README's
// matrix names, so that a renamed step is noticed.
func requireSteps(t *testing.T, steps []crashtest.Step) {
	t.Helper()
	var names []string
	for _, s := range steps {
		names = append(names, s.Name)
	}
	all := "\n" + strings.Join(names, "\n")
	for _, want := range []string{"restore.mkdir restore-folder", "restore.create marker", "restore.mkdir new\n",
		"restore.mkdir new/", "restore.open ", "restore.create new/", "restore.write new/", "restore.sync new/",
		"restore.sync-dir new/", "restore.sync-dir new\n",
		"restore.journal-create " + stateSwapping, "restore.journal-write " + stateSwapping, "restore.journal-sync " + stateSwapping,
		"restore.journal-rename " + stateSwapping, "restore.sync-dir restore-folder", "restore.mkdir old", "restore.move-out ",
		"restore.sync-dir old", "restore.move-in ", "restore.sync-dir data_dir", commitStep,
		"restore.remove old", "restore.remove restore-folder"} {
		assert.Contains(t, all, "\n"+want)
	}
}

// noSync turns the restore's fsyncs off for a campaign (restoreNoSync).
func noSync(t *testing.T) {
	restoreNoSync = true
	t.Cleanup(func() { restoreNoSync = false })
}
