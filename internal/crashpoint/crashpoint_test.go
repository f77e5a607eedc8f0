package crashpoint_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dbctl/dbctl/internal/crashpoint"
)

func TestHitWithoutHandler(t *testing.T) {
	require.NoError(t, crashpoint.Hit("any.step"))
}

func TestParseSpec(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want crashpoint.Spec
		bad  bool
	}{
		{in: "sql.send FREEZE=kill", want: crashpoint.Spec{Step: "sql.send FREEZE", N: 1, Action: crashpoint.Kill}},
		{in: "file.rename#3=error", want: crashpoint.Spec{Step: "file.rename", N: 3, Action: crashpoint.Fail}},
		{in: "store.*=pause", want: crashpoint.Spec{Step: "store.*", N: 1, Action: crashpoint.Pause}},
		{in: "x#0=error", bad: true},
		{in: "x#a=error", bad: true},
		{in: "x=explode", bad: true},
		{in: "=error", bad: true},
		{in: "noaction", bad: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := crashpoint.ParseSpec(tc.in)
			if tc.bad {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			again, err := crashpoint.ParseSpec(got.String())
			require.NoError(t, err)
			assert.Equal(t, got, again)
		})
	}
}

func TestSpecFailsAtTheNthOccurrence(t *testing.T) {
	var seen []string
	restore := crashpoint.Set(crashpoint.Spec{Step: "a.b", N: 2, Action: crashpoint.Fail}.Handler(func(s string) { seen = append(seen, s) }))
	defer restore()
	require.NoError(t, crashpoint.Hit("a.b"))
	require.NoError(t, crashpoint.Hit("a.c"))
	err := crashpoint.Hit("a.b")
	require.ErrorIs(t, err, crashpoint.ErrInjected)
	require.NoError(t, crashpoint.Hit("a.b"), "only the N-th occurrence fails")
	assert.Equal(t, []string{"a.b", "a.c", "a.b", "a.b"}, seen)
}

func TestSpecPrefix(t *testing.T) {
	restore := crashpoint.Set(crashpoint.Spec{Step: "store.*", N: 1, Action: crashpoint.Panic}.Handler(nil))
	defer restore()
	require.NoError(t, crashpoint.Hit("sql.send FREEZE"))
	defer func() {
		p := recover()
		err, _ := p.(error)
		require.True(t, errors.Is(err, crashpoint.ErrInjected), "%v", p)
	}()
	_ = crashpoint.Hit("store.put manifest.json")
	t.Fatal("no panic")
}

func TestSetRestores(t *testing.T) {
	outer := crashpoint.Set(func(string) error { return errors.New("outer") })
	inner := crashpoint.Set(nil)
	require.NoError(t, crashpoint.Hit("x"))
	inner()
	require.EqualError(t, crashpoint.Hit("x"), "outer")
	outer()
	require.NoError(t, crashpoint.Hit("x"))
}

func TestSQL(t *testing.T) {
	for in, want := range map[string]string{
		"FREEZE a, b":                    "FREEZE",
		"show locks":                     "SHOW LOCKS",
		"FLUSH ATTRIBUTES":               "FLUSH ATTRIBUTES",
		"IMPORT TABLE t FROM '/x'":       "IMPORT TABLE",
		"set time_zone = 'SYSTEM'":       "SET TIME_ZONE",
		"select mo_ctl('dn','flush','')": "SELECT",
		"  ":                             "",
	} {
		assert.Equal(t, want, crashpoint.SQL(in), in)
	}
}
