// Package crashtest runs dbctl's crash-point campaigns: record the steps an
// operation passes, then for each step fail the operation there (in
// process) or kill a child process there (the test binary re-executed), and
// check the invariants after the next run.
//
// A campaign test looks like this:
//
//	steps := crashtest.Record(t, func() { _ = op(ctx) })
//	for _, step := range steps {
//		t.Run(step.String(), func(t *testing.T) {
//			crashtest.FailAt(t, step) // op now fails at that step
//			_ = op(ctx)
//			checkInvariants(t)
//		})
//	}
//
// and for the kill half, the test re-executes itself with Child, and the
// child's branch of the test (Child's env set) runs op under the spec.
package crashtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dbctl/dbctl/internal/crashpoint"
)

// Step is one occurrence of a step: the N-th time (from 1) Name was reached.
type Step struct {
	Name string
	N    int
}

// String renders "name#n".
func (s Step) String() string { return fmt.Sprintf("%s#%d", s.Name, s.N) }

// Spec returns the spec that carries out act at s.
func (s Step) Spec(act crashpoint.Action) crashpoint.Spec {
	return crashpoint.Spec{Step: s.Name, N: s.N, Action: act}
}

// Record runs fn with a handler that only records, and returns the steps
// fn reached in order, each occurrence numbered. Steps reached by other
// goroutines meanwhile are recorded too: run campaigns without t.Parallel.
func Record(t testing.TB, fn func()) []Step {
	t.Helper()
	var mu sync.Mutex
	var names []string
	restore := crashpoint.Set(func(step string) error {
		mu.Lock()
		names = append(names, step)
		mu.Unlock()
		return nil
	})
	defer restore()
	fn()
	mu.Lock()
	defer mu.Unlock()
	return Number(names)
}

// Number numbers each occurrence of the names in order.
func Number(names []string) []Step {
	count := map[string]int{}
	out := make([]Step, 0, len(names))
	for _, n := range names {
		count[n]++
		out = append(out, Step{Name: n, N: count[n]})
	}
	return out
}

// Distinct keeps the first occurrence of each name and the last one when
// it is not the first, which is where a loop over files can fail first and
// last; keep every occurrence when a step's occurrences differ.
func Distinct(steps []Step) []Step {
	last := map[string]int{}
	for _, s := range steps {
		last[s.Name] = max(last[s.Name], s.N)
	}
	var out []Step
	for _, s := range steps {
		if s.N == 1 || s.N == last[s.Name] {
			out = append(out, s)
		}
	}
	return out
}

// FailAt makes the step's occurrence fail with crashpoint.ErrInjected until
// the test ends (or until the returned function is called).
func FailAt(t testing.TB, s Step) (restore func()) {
	t.Helper()
	return set(t, s.Spec(crashpoint.Fail))
}

// PanicAt makes the step's occurrence panic.
func PanicAt(t testing.TB, s Step) (restore func()) {
	t.Helper()
	return set(t, s.Spec(crashpoint.Panic))
}

func set(t testing.TB, spec crashpoint.Spec) func() {
	restore := crashpoint.Set(spec.Handler(nil))
	var once sync.Once
	undo := func() { once.Do(restore) }
	t.Cleanup(undo)
	return undo
}

// EnvChild is set in a child's environment; its value names the test the
// child runs.
const EnvChild = "DBCTL_CRASHTEST_CHILD"

// IsChild reports whether this process is a child started by Child.
func IsChild() bool { return os.Getenv(EnvChild) != "" }

// Result is how a child ended.
type Result struct {
	// Killed: the child was killed at the step (it reached it).
	Killed bool
	// Steps the child reached, in order (from EnvLog).
	Steps []Step
	// Output is the child's combined stdout and stderr.
	Output string
	// Err is the wait error when the child was not killed.
	Err error
}

// Child re-executes the test binary running only the test named test, with
// env added to the environment and the crash spec (nil: record only), and
// waits up to timeout for it. With a Kill spec the child kills itself at
// the step; with a Pause spec Child kills it (SIGKILL) once it stands there.
// The child's own branch of the test must call crashpoint.InstallFromEnv
// (the package's TestMain does) and run the operation.
func Child(t testing.TB, test string, spec *crashpoint.Spec, timeout time.Duration, env ...string) Result {
	t.Helper()
	dir := t.TempDir()
	logFile := filepath.Join(dir, "steps")
	ready := filepath.Join(dir, "ready")
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^"+test+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), EnvChild+"="+test, crashpoint.EnvLog+"="+logFile, crashpoint.EnvReady+"="+ready)
	if spec != nil {
		cmd.Env = append(cmd.Env, crashpoint.EnvSpec+"="+spec.String())
	}
	cmd.Env = append(cmd.Env, env...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("crashtest: start child: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var res Result
	if spec != nil && spec.Action == crashpoint.Pause {
		for {
			if _, err := os.Stat(ready); err == nil {
				_ = cmd.Process.Kill()
				res.Killed = true
				break
			}
			select {
			case err := <-done:
				res.Err = err
				res.Output = out.String()
				res.Steps = readSteps(logFile)
				return res
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
	res.Err = <-done
	res.Output = out.String()
	res.Steps = readSteps(logFile)
	if spec != nil && spec.Action == crashpoint.Kill {
		// A child that killed itself ends by SIGKILL.
		if ee, ok := res.Err.(*exec.ExitError); ok && !ee.Success() && killedBySignal(ee) {
			res.Killed = true
		}
	}
	if ctx.Err() != nil {
		t.Fatalf("crashtest: child %s did not end within %s; output:\n%s", test, timeout, res.Output)
	}
	return res
}

func readSteps(file string) []Step {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	lines = slices.DeleteFunc(lines, func(s string) bool { return s == "" })
	return Number(lines)
}

// IsolateStateDir points XDG_STATE_HOME, the default folder of dbctl's
// freeze journal (dbctl.Options.StateDir), at a new temporary folder for this
// test process and the processes it starts, so that tests never read or
// write the user's journal; a child started by Child keeps its parent's,
// so that the parent's next run finds what the killed child recorded. Call
// it from TestMain; the returned function removes the folder.
func IsolateStateDir() (cleanup func()) {
	if IsChild() && os.Getenv("XDG_STATE_HOME") != "" {
		return func() {}
	}
	state, err := os.MkdirTemp("", "dbctl-test-state-")
	if err != nil {
		panic(err)
	}
	if err := os.Setenv("XDG_STATE_HOME", state); err != nil {
		panic(err)
	}
	return func() { _ = os.RemoveAll(state) }
}
