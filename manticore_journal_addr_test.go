package dbctl

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Options.ServerAddress in the form Open gives a DSN's address (the
// driver's default port added as ParseDSN adds it), so that records of a
// New client and of an Open client of the same server match.
func TestJournalAddressForms(t *testing.T) {
	for in, want := range map[string]string{
		"":                        "",
		"127.0.0.1:9306":          "tcp(127.0.0.1:9306)",
		" [::1]:9306 ":            "tcp([::1]:9306)",
		"127.0.0.1":               "tcp(127.0.0.1:3306)",
		"tcp(127.0.0.1:9306)":     "tcp(127.0.0.1:9306)",
		"tcp(127.0.0.1)":          "tcp(127.0.0.1:3306)",
		"unix(/run/searchd.sock)": "unix(/run/searchd.sock)",
	} {
		got, err := journalAddress(in)
		require.NoError(t, err, "%q", in)
		assert.Equal(t, want, got, "%q", in)
	}
	for _, in := range []string{"u:secret@tcp(127.0.0.1:9306)/", "tcp(127.0.0.1:9306)/db?x=1", "secret@127.0.0.1"} {
		_, err := journalAddress(in)
		require.Error(t, err, "%q", in)
		assert.NotContains(t, err.Error(), "secret", "the value is not repeated")
	}
}

// A ServerAddress that is not an address fails the first journaled freeze
// with ErrInvalidArgument before anything is sent (the mock expects no
// statement), and never writes the value into the journal.
func TestServerAddressNotAnAddressSendsNothing(t *testing.T) {
	c, _ := newMock(t, Options{StateDir: t.TempDir(), ServerAddress: "root:secret@tcp(127.0.0.1:9306)/"})
	err := c.Manticore().WithFrozen(context.Background(), []string{"t"}, func(context.Context, []FrozenFile) error {
		t.Fatal("callback must not run")
		return nil
	})
	require.ErrorIs(t, err, ErrInvalidArgument)
	assert.NotContains(t, err.Error(), "secret")
	_, err = c.Manticore().Freeze(context.Background(), "t")
	require.ErrorIs(t, err, ErrInvalidArgument)
}
