package freezejournal

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dbctl/dbctl/internal/crashpoint"
	"github.com/dbctl/dbctl/internal/crashpoint/crashtest"
)

// lifecycle is a record's whole life as the freeze code lives it: written
// before the FREEZE, updated when it answered and before the UNFREEZE,
// removed after it. On error the record is let go, as the callers do.
func lifecycle(j *Journal) (err error) {
	e, err := j.Create(intent("a", "b"))
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			e.Abandon()
		}
	}()
	r := e.Rec
	r.State, r.Frozen = Frozen, []string{"a", "b"}
	if err := e.Update(r); err != nil {
		return err
	}
	r.State, r.ReleaseBefore = Releasing, map[string]int{"a": 1, "b": 2}
	if err := e.Update(r); err != nil {
		return err
	}
	return e.Remove()
}

// expectedState is the record a scan finds after the lifecycle stopped at
// steps[i]: the last state whose rename was done before it ("" for none).
// A failed Create takes back a record it renamed into place.
func expectedState(steps []crashtest.Step, i int, killed bool) State {
	var last State
	for _, s := range steps[:i] {
		if st, ok := strings.CutPrefix(s.Name, "journal.rename "); ok {
			last = State(st)
		}
	}
	if !killed && steps[i].Name == "journal.sync-dir intent" {
		return ""
	}
	return last
}

// checkAfter is what the next run finds: nothing but the expected record,
// intact, and no temporary file once it has scanned.
func checkAfter(t *testing.T, j *Journal, want State) {
	t.Helper()
	got, err := j.Orphans(server)
	require.NoError(t, err)
	if want == "" {
		assert.Empty(t, got)
	} else if assert.Len(t, got, 1) {
		assert.Equal(t, want, got[0].Rec.State)
		assert.Equal(t, []string{"a", "b"}, got[0].Rec.Tables)
	}
	for _, e := range got {
		require.NoError(t, e.Remove())
	}
	names, err := j.Names()
	require.NoError(t, err)
	assert.Empty(t, names, "nothing left after the next run removed the record")
}

func TestJournalCrashCampaign(t *testing.T) {
	if crashtest.IsChild() {
		t.Skip("parent only")
	}
	steps := crashtest.Record(t, func() { require.NoError(t, lifecycle(open(t))) })
	require.Len(t, steps, 16, "5 steps per write, 3 writes, and the remove: %v", steps)
	for i, s := range steps {
		t.Run("fail/"+s.String(), func(t *testing.T) {
			j := open(t)
			crashtest.FailAt(t, s)
			require.ErrorIs(t, lifecycle(j), crashpoint.ErrInjected)
			checkAfter(t, j, expectedState(steps, i, false))
		})
		t.Run("kill/"+s.String(), func(t *testing.T) {
			j := open(t)
			spec := s.Spec(crashpoint.Kill)
			res := crashtest.Child(t, "TestJournalCrashChild", &spec, time.Minute, "DBCTL_TEST_JOURNAL="+j.Dir())
			require.True(t, res.Killed, "%v\n%s", res.Err, res.Output)
			checkAfter(t, j, expectedState(steps, i, true))
		})
	}
}

// TestJournalCrashChild is the child of the kill half.
func TestJournalCrashChild(t *testing.T) {
	if !crashtest.IsChild() {
		t.Skip("runs only as TestJournalCrashCampaign's child process")
	}
	j, err := Open(os.Getenv("DBCTL_TEST_JOURNAL"))
	require.NoError(t, err)
	require.NoError(t, lifecycle(j))
}
