package crashtest_test

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dbctl/dbctl/internal/crashpoint"
	"github.com/dbctl/dbctl/internal/crashpoint/crashtest"
)

func TestMain(m *testing.M) {
	if _, err := crashpoint.InstallFromEnv(); err != nil {
		panic(err)
	}
	os.Exit(m.Run())
}

// op reaches three steps, the second twice.
func op() error {
	for _, s := range []string{"op.one", "op.two", "op.two", "op.three"} {
		if err := crashpoint.Hit(s); err != nil {
			return err
		}
	}
	return nil
}

func TestRecordAndFail(t *testing.T) {
	steps := crashtest.Record(t, func() { require.NoError(t, op()) })
	assert.Equal(t, []crashtest.Step{{"op.one", 1}, {"op.two", 1}, {"op.two", 2}, {"op.three", 1}}, steps)
	for _, s := range steps {
		t.Run(s.String(), func(t *testing.T) {
			restore := crashtest.FailAt(t, s)
			require.ErrorIs(t, op(), crashpoint.ErrInjected)
			restore()
			require.NoError(t, op())
		})
	}
}

func TestDistinct(t *testing.T) {
	steps := crashtest.Number([]string{"a", "b", "b", "b", "c"})
	assert.Equal(t, []crashtest.Step{{"a", 1}, {"b", 1}, {"b", 3}, {"c", 1}}, crashtest.Distinct(steps))
}

// TestChildOp is the child's side of TestChild.
func TestChildOp(t *testing.T) {
	if !crashtest.IsChild() {
		t.Skip("runs only as TestChild's child process")
	}
	_ = op()
}

func TestChild(t *testing.T) {
	if crashtest.IsChild() {
		t.Skip("child")
	}
	res := crashtest.Child(t, "TestChildOp", nil, time.Minute)
	require.NoError(t, res.Err, res.Output)
	assert.Len(t, res.Steps, 4)

	for _, act := range []crashpoint.Action{crashpoint.Kill, crashpoint.Pause} {
		t.Run(string(act), func(t *testing.T) {
			spec := crashtest.Step{Name: "op.two", N: 2}.Spec(act)
			res := crashtest.Child(t, "TestChildOp", &spec, time.Minute)
			assert.True(t, res.Killed, "%v\n%s", res.Err, res.Output)
			// the log holds every step up to the one it died at
			assert.Equal(t, []crashtest.Step{{"op.one", 1}, {"op.two", 1}, {"op.two", 2}}, res.Steps)
		})
	}
}
