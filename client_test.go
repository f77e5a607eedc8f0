package dbctl

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Open never puts the DSN's password in its error, and does not mangle the
// parser's message when it holds none (issue 9 F).
func TestOpenErrorsHoldNoPassword(t *testing.T) {
	tests := []struct {
		dsn, password, want string
	}{
		{"root:s3cr3t/db", "s3cr3t", "malformed DSN (the parser's message is withheld"},
		{"root:s3cr3t@127.0.0.1:9306/", "s3cr3t", "default addr for network '127.0.0.1:9306' unknown"},
		{"root:s3cr3t@tcp(127.0.0.1:9306/", "s3cr3t", "network address not terminated"},
		{"root:p@ss@tcp(h:1)/?parseTime=maybe", "p@ss", "invalid bool value: maybe"},
		{"root:1@tcp(127.0.0.1:1)", "", "missing the slash"},
		{"root:s3cr/et@tcp(127.0.0.1:9306)", "s3cr", "malformed DSN (the parser's message is withheld"},
		{"root:zz9@tcp(127.0.0.1:9306/", "zz9", "network address not terminated"},
	}
	for _, tc := range tests {
		t.Run(tc.dsn, func(t *testing.T) {
			_, err := Open(tc.dsn, nil)
			require.ErrorIs(t, err, ErrInvalidArgument)
			assert.Contains(t, err.Error(), tc.want)
			if tc.password != "" {
				assert.NotContains(t, err.Error(), tc.password)
			}
		})
	}
}

// FuzzOpenWithholdsThePassword: whatever the DSN, no three characters of its
// password in a row (all of a shorter one) reach Open's error.
func FuzzOpenWithholdsThePassword(f *testing.F) {
	f.Add("root:s3cr/et@tcp(127.0.0.1:9306)")
	f.Add("root:pw/db")
	f.Add("u:p@ss@tcp(h:1)/?parseTime=maybe")
	f.Fuzz(func(t *testing.T, dsn string) {
		_, err := Open(dsn, nil)
		if err == nil {
			return
		}
		creds := dsn
		if i := strings.LastIndex(dsn, "@"); i >= 0 {
			creds = dsn[:i]
		}
		_, pw, ok := strings.Cut(creds, ":")
		if !ok || pw == "" {
			return
		}
		msg := strings.TrimPrefix(err.Error(), "dbctl: open: invalid argument: ")
		for _, fixed := range []string{"parse DSN: ", "DSN configuration: ", "malformed DSN (the parser's message is withheld: it may quote the credentials); want user:password@tcp(host:port)/"} {
			msg = strings.ReplaceAll(msg, fixed, "")
		}
		n := min(3, len(pw))
		for i := 0; i+n <= len(pw); i++ {
			if strings.Contains(msg, pw[i:i+n]) {
				t.Fatalf("%q of the password in %q", pw[i:i+n], err.Error())
			}
		}
	})
}
