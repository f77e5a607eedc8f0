package dbctl_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dbctl/dbctl"
	"github.com/dbctl/dbctl/internal/crashpoint"
	"github.com/dbctl/dbctl/internal/crashpoint/crashtest"
	"github.com/dbctl/dbctl/internal/freezejournal"
)

// Environment of TestFreezeChild, the other dbctl process of the journal
// tests and the crash campaign: which server, which journal folder, which
// tables, which operation, and (op "hold") the file that says it holds its
// freeze.
const (
	envDSN    = "DBCTL_TEST_DSN"
	envState  = "DBCTL_TEST_STATE_DIR"
	envTables = "DBCTL_TEST_TABLES"
	envOp     = "DBCTL_TEST_OP"
	envReady  = "DBCTL_TEST_READY"
	// envNew makes the child's Client with New over its own *sql.DB, with
	// this value as Options.ServerAddress ("-": none).
	envNew = "DBCTL_TEST_NEW_ADDRESS"
)

// freezeOp is an operation of the crash campaign. handed says that the
// caller now owns a freeze of the tables (a Freeze that returned files).
type freezeOp struct {
	name string
	run  func(ctx context.Context, c *dbctl.Client, tables []string) (handed bool, err error)
}

var errCallback = errors.New("copy failed")

var freezeOps = []freezeOp{
	{"Freeze", func(ctx context.Context, c *dbctl.Client, tables []string) (bool, error) {
		files, err := c.Manticore().Freeze(ctx, tables...)
		return err == nil && len(files) > 0, err
	}},
	{"WithFrozen/success", func(ctx context.Context, c *dbctl.Client, tables []string) (bool, error) {
		return false, c.Manticore().WithFrozen(ctx, tables, func(context.Context, []dbctl.FrozenFile) error { return nil })
	}},
	{"WithFrozen/callback-error", func(ctx context.Context, c *dbctl.Client, tables []string) (bool, error) {
		return false, c.Manticore().WithFrozen(ctx, tables, func(context.Context, []dbctl.FrozenFile) error { return errCallback })
	}},
	{"WithFrozen/callback-panic", func(ctx context.Context, c *dbctl.Client, tables []string) (bool, error) {
		return false, c.Manticore().WithFrozen(ctx, tables, func(context.Context, []dbctl.FrozenFile) error { panic("copy panicked") })
	}},
}

// runOp runs op, turning a panic into an error.
func runOp(ctx context.Context, op freezeOp, c *dbctl.Client, tables []string) (handed bool, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return op.run(ctx, c, tables)
}

// TestFreezeChild is the other process: it runs the operation named by
// DBCTL_TEST_OP, and is killed at a crash point or by the parent. Op "hold"
// is a WithFrozen that creates DBCTL_TEST_READY inside its callback and
// waits there for good; op "Freeze" ends the process with the freeze held
// on purpose.
func TestFreezeChild(t *testing.T) {
	if !crashtest.IsChild() || os.Getenv(envOp) == "" {
		t.Skip("runs only as the child process of the freeze journal tests")
	}
	ctx := context.Background()
	opts := &dbctl.Options{StateDir: os.Getenv(envState), ReleaseTimeout: 300 * time.Millisecond}
	var c *dbctl.Client
	if addr, ok := os.LookupEnv(envNew); ok {
		db, err := sql.Open("mysql", os.Getenv(envDSN))
		require.NoError(t, err)
		opts.ServerAddress = strings.TrimPrefix(addr, "-")
		c = dbctl.New(db, opts)
	} else {
		var err error
		c, err = dbctl.Open(os.Getenv(envDSN), opts)
		require.NoError(t, err)
	}
	tables := strings.Split(os.Getenv(envTables), ",")
	if os.Getenv(envOp) == "hold" {
		err := c.Manticore().WithFrozen(ctx, tables, func(context.Context, []dbctl.FrozenFile) error {
			require.NoError(t, os.WriteFile(os.Getenv(envReady), nil, 0o644))
			select {}
		})
		t.Fatalf("WithFrozen returned: %v", err)
	}
	for _, op := range freezeOps {
		if op.name == os.Getenv(envOp) {
			_, err := runOp(ctx, op, c, tables)
			t.Logf("%s: %v", op.name, err)
			return
		}
	}
	t.Fatalf("no op %q", os.Getenv(envOp))
}

func childEnv(dsn, state string, tables []string, op string) []string {
	return []string{envDSN + "=" + dsn, envState + "=" + state, envTables + "=" + strings.Join(tables, ","), envOp + "=" + op}
}

// holdingChild starts a dbctl process that holds a WithFrozen freeze of
// tables (recorded in the journal at state), and returns once it holds it;
// kill ends it with SIGKILL.
func holdingChild(t *testing.T, dsn, state string, tables ...string) (kill func()) {
	t.Helper()
	return holdingChildEnv(t, nil, dsn, state, tables...)
}

// holdingChildEnv is holdingChild with env added to the child's.
func holdingChildEnv(t *testing.T, env []string, dsn, state string, tables ...string) (kill func()) {
	t.Helper()
	ready := filepath.Join(t.TempDir(), "ready")
	cmd := exec.Command(os.Args[0], "-test.run=^TestFreezeChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashtest.EnvChild+"=TestFreezeChild", envReady+"="+ready)
	cmd.Env = append(cmd.Env, env...)
	cmd.Env = append(cmd.Env, childEnv(dsn, state, tables, "hold")...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	killed := false
	kill = func() {
		if !killed {
			killed = true
			_ = cmd.Process.Kill()
			<-done
		}
	}
	t.Cleanup(kill)
	deadline := time.Now().Add(time.Minute)
	for {
		if _, err := os.Stat(ready); err == nil {
			return kill
		}
		select {
		case err := <-done:
			killed = true
			t.Fatalf("the holding process ended: %v\n%s", err, out.String())
		case <-time.After(5 * time.Millisecond):
		}
		require.True(t, time.Now().Before(deadline), "the holding process never froze:\n%s", out.String())
	}
}

// journalNames lists what the journal folder at state holds (records and
// temporary files).
func journalNames(t *testing.T, state string) []string {
	t.Helper()
	j, err := freezejournal.Open(state)
	require.NoError(t, err)
	names, err := j.Names()
	require.NoError(t, err)
	return names
}

// childRun runs op in a child process (TestFreezeChild) under spec (nil:
// to its end).
func childRun(t *testing.T, dsn, state, op string, spec *crashpoint.Spec, tables []string) crashtest.Result {
	t.Helper()
	return crashtest.Child(t, "TestFreezeChild", spec, time.Minute, childEnv(dsn, state, tables, op)...)
}

// killAt runs op in a child process killed (SIGKILL) at the first time it
// reaches step.
func killAt(t *testing.T, dsn, state, op, step string, tables ...string) {
	t.Helper()
	spec := crashpoint.Spec{Step: step, N: 1, Action: crashpoint.Kill}
	res := childRun(t, dsn, state, op, &spec, tables)
	require.True(t, res.Killed, "the child was not killed at %s: %v\n%s", step, res.Err, res.Output)
}
