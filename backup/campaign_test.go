package backup

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dbctl/dbctl/backupstore"
	"github.com/dbctl/dbctl/backupstore/s3store"
	"github.com/dbctl/dbctl/internal/crashpoint"
	"github.com/dbctl/dbctl/internal/crashpoint/crashtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A crash-point campaign (internal/crashpoint): the steps a successful
// run of an operation passes are recorded; then, for every one of them,
// the operation fails there (an error), panics there (when the step is
// reached on the caller's goroutine: a panic in a worker goroutine ends
// the process, which the kill covers), and, separately, a child process
// running it is killed there (SIGKILL). After each, the next run's
// invariants are checked. A step added to the code is covered without
// changing the campaign.

// campaignEnv is what an operation needs, as strings: a child gets it in
// its environment (DBCTL_CAMPAIGN_ENV, JSON).
type campaignEnv map[string]string

// campaignOps are the operations under campaign, by name, as functions
// of their env only, so that a child (TestCampaignChild) runs the very
// same code; registered by the campaign tests' init functions.
var campaignOps = map[string]func(ctx context.Context, e campaignEnv) error{}

// opCampaign is how one operation's campaign prepares a run and checks what
// the next run finds.
type opCampaign struct {
	// op names the operation (campaignOps).
	op string
	// setup makes a fresh state for one run and returns its env.
	setup func(t *testing.T) campaignEnv
	// next runs what comes next and checks the invariants; how tells how
	// the run ended ("" for the recorded successful run, "error", "panic",
	// "kill"), step where, err what it returned.
	next func(t *testing.T, e campaignEnv, how string, step crashtest.Step, err error)
	// recorded, when set, sees the recorded steps before the runs.
	recorded func(t *testing.T, steps []recordedStep)
	// only, when set, selects the steps to run at (a variant that passes
	// the steps of another one, and some of its own).
	only func(s recordedStep) bool
}

const (
	envCampaign    = "DBCTL_CAMPAIGN"
	envCampaignEnv = "DBCTL_CAMPAIGN_ENV"
)

// TestCampaignChild is the child's side of every kill campaign: it runs
// the named campaign's operation with the env it was given.
func TestCampaignChild(t *testing.T) {
	if !crashtest.IsChild() || os.Getenv(envCampaign) == "" {
		t.Skip("runs only as a crash campaign's child")
	}
	op, ok := campaignOps[os.Getenv(envCampaign)]
	require.True(t, ok, os.Getenv(envCampaign))
	var e campaignEnv
	require.NoError(t, json.Unmarshal([]byte(os.Getenv(envCampaignEnv)), &e))
	require.NoError(t, op(context.Background(), e))
}

// recordedStep is a step of the recorded run and whether it was reached
// on the caller's goroutine.
type recordedStep struct {
	crashtest.Step
	caller bool
}

// recordSteps runs fn and returns the steps it passed.
func recordSteps(t *testing.T, fn func()) []recordedStep {
	t.Helper()
	me := goroutineID()
	var mu sync.Mutex
	var names []string
	var onCaller []bool
	restore := crashpoint.Set(func(step string) error {
		mu.Lock()
		names = append(names, step)
		onCaller = append(onCaller, goroutineID() == me)
		mu.Unlock()
		return nil
	})
	fn()
	restore()
	for i, n := range names {
		names[i] = nonceFree(n)
	}
	var out []recordedStep
	for i, s := range crashtest.Number(names) {
		out = append(out, recordedStep{Step: s, caller: onCaller[i]})
	}
	return out
}

// nonceFree turns a step whose subject ends in a run's random nonce (a
// heartbeat object, ".dbctl-writing.<hex>") into a pattern of all such
// steps (crashpoint.Spec: a name ending in "*" matches by prefix), so that
// the steps of two runs compare.
func nonceFree(step string) string {
	if i := strings.Index(step, claimName+"."); i >= 0 {
		return step[:i+len(claimName)+1] + "*"
	}
	return step
}

// firstAndLastOfKind keeps, of each kind of step (stepKind), the first
// and the last, in their order.
func firstAndLastOfKind(steps []recordedStep) []recordedStep {
	first, last := map[string]int{}, map[string]int{}
	for i, s := range steps {
		k := stepKind(s.Name)
		if _, ok := first[k]; !ok {
			first[k] = i
		}
		last[k] = i
	}
	var out []recordedStep
	for i, s := range steps {
		if k := stepKind(s.Name); first[k] == i || last[k] == i {
			out = append(out, s)
		}
	}
	return out
}

// stepKind is a step's name without its subject ("store.put-object").
func stepKind(name string) string {
	kind, _, _ := strings.Cut(name, " ")
	return kind
}

func goroutineID() string {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	f := strings.Fields(string(buf))
	if len(f) < 2 {
		return ""
	}
	return f[1]
}

// runCampaign records the steps of a successful run of c's operation and
// runs it failing, panicking and killed at each; it returns the steps.
// With the race detector on, which makes every run several times slower
// and adds nothing per step beyond a few runs of each kind, it runs at
// the first and last step of each kind only (firstAndLastOfKind); CI runs
// every step in its run without it (the README's test command).
func runCampaign(t *testing.T, c opCampaign) []recordedStep {
	ctx := context.Background()
	op := campaignOps[c.op]
	require.NotNil(t, op, c.op)
	e := c.setup(t)
	steps := recordSteps(t, func() { require.NoError(t, op(ctx, e)) })
	require.NotEmpty(t, steps)
	if c.recorded != nil {
		c.recorded(t, steps)
	}
	c.next(t, e, "", crashtest.Step{}, nil)
	runAt := steps
	if raceEnabled {
		runAt = firstAndLastOfKind(steps)
	}
	run := 0
	for _, s := range runAt {
		if c.only == nil || c.only(s) {
			run++
		}
	}
	t.Logf("%s: %d steps recorded, %d under the campaign", t.Name(), len(steps), run)
	for _, s := range runAt {
		if c.only != nil && !c.only(s) {
			continue
		}
		t.Run(s.String(), func(t *testing.T) {
			t.Run("error", func(t *testing.T) {
				e := c.setup(t)
				restore := crashtest.FailAt(t, s.Step)
				err := op(ctx, e)
				restore()
				c.next(t, e, "error", s.Step, err)
			})
			if s.caller {
				t.Run("panic", func(t *testing.T) {
					e := c.setup(t)
					restore := crashtest.PanicAt(t, s.Step)
					var err error
					func() {
						defer func() {
							if p := recover(); p != nil {
								err = fmt.Errorf("panicked: %v", p)
							}
						}()
						err = op(ctx, e)
					}()
					restore()
					c.next(t, e, "panic", s.Step, err)
				})
			}
			t.Run("kill", func(t *testing.T) {
				e := c.setup(t)
				raw, err := json.Marshal(e)
				require.NoError(t, err)
				spec := s.Spec(crashpoint.Kill)
				res := crashtest.Child(t, "TestCampaignChild", &spec, 2*time.Minute, envCampaign+"="+c.op, envCampaignEnv+"="+string(raw))
				require.True(t, res.Killed, "the child reached %s: %v\n%s", s, res.Err, res.Output)
				c.next(t, e, "kill", s.Step, nil)
			})
		})
	}
	return steps
}

// storeKeys lists the keys under location (through a store of its own).
func storeKeys(t *testing.T, location string, opts backupstore.Options) []string {
	t.Helper()
	st, err := backupstore.Open(context.Background(), location, opts)
	require.NoError(t, err)
	defer st.Close()
	return listKeys(t, st, "")
}

// expectOnly checks that root holds exactly the listed backups' files,
// manifests and nothing else (no claim, heartbeat or partial object), and
// that each listed backup verifies; with a store, also that no
// unfinished multipart upload is left.
func expectOnly(t *testing.T, root string, opts backupstore.Options, list []Info) {
	t.Helper()
	ctx := context.Background()
	want := []string{}
	for _, b := range list {
		man, err := Verify(ctx, b.Location, VerifyOptions{Store: opts})
		require.NoError(t, err, "a listed backup verifies: %s", b.Location)
		want = append(want, b.Name+"/"+manifestName)
		for _, f := range man.Files {
			want = append(want, b.Name+"/"+man.storedKey(f))
		}
	}
	sort.Strings(want)
	assert.Equal(t, want, storeKeys(t, root, opts), "nothing but the listed backups")
	if backupstore.IsRemote(root) {
		st, err := backupstore.Open(ctx, root, opts)
		require.NoError(t, err)
		defer st.Close()
		ups, err := st.(*s3store.Store).MultipartUploads(ctx)
		require.NoError(t, err)
		assert.Empty(t, ups, "no unfinished multipart upload")
	}
}
