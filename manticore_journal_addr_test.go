package dbctl

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// Options.ServerAddress in the form Open gives a DSN's address, so that
// records of a New client and of an Open client of the same server match.
func TestJournalAddressForms(t *testing.T) {
	for in, want := range map[string]string{
		"":                        "",
		"127.0.0.1:9306":          "tcp(127.0.0.1:9306)",
		" [::1]:9306 ":            "tcp([::1]:9306)",
		"tcp(127.0.0.1:9306)":     "tcp(127.0.0.1:9306)",
		"unix(/run/searchd.sock)": "unix(/run/searchd.sock)",
	} {
		assert.Equal(t, want, journalAddress(in), "%q", in)
	}
}
