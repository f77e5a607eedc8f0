package dbctltest

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func testProc() textProc {
	return textProc{
		exceptions: [][2]string{{"AT&T", "att"}},
		stopwords:  map[string]bool{"the": true, "and": true},
		wordforms:  map[string]string{"walked": "walk", "walking": "walk"},
	}
}

func TestTextProcKeywords(t *testing.T) {
	tests := []struct {
		text string
		want []string
	}{
		{"walked the dog", []string{"walk", "dog"}},
		{"Walking AND Running", []string{"walk", "running"}},
		{"AT&T phones", []string{"att", "phones"}},
		{"at&t phones", []string{"at", "t", "phones"}}, // exceptions are case-sensitive
		{"xAT&T", []string{"xat", "t"}},                // whole words only
		{"the and", nil},
		{"", nil},
		{"Ärger über", []string{"ärger", "über"}},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, testProc().keywords(tc.text), tc.text)
	}
}

func TestFaultMatches(t *testing.T) {
	tests := []struct {
		sql, match string
		want       bool
	}{
		{"FREEZE t", "FREEZE", true},
		{"UNFREEZE t", "FREEZE", true},
		{"UNFREEZE t", "^FREEZE", false},
		{"  freeze t", "^FREEZE", true},
		{"FREEZE t", "^freeze t", true},
		{"SHOW LOCKS", "^FREEZE", false},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, matches(tc.sql, tc.match), "%q ~ %q", tc.sql, tc.match)
	}
}

// FuzzTextProcKeywords: no panic; no stopword and no wordforms source is
// ever a keyword; keywords are case-folded unless an exception made them.
func FuzzTextProcKeywords(f *testing.F) {
	for _, s := range []string{"walked the dog", "AT&T", "AT&T&AT&T", "ä\xffb", "THE Walking"} {
		f.Add(s)
	}
	tp := testProc()
	f.Fuzz(func(t *testing.T, text string) {
		for _, k := range tp.keywords(text) {
			if tp.stopwords[k] || tp.wordforms[k] != "" {
				t.Fatalf("%q: keyword %q should have been dropped or mapped", text, k)
			}
			if k != "att" && k != strings.ToLower(k) {
				t.Fatalf("%q: keyword %q not case-folded", text, k)
			}
		}
	})
}

func TestFaultHold(t *testing.T) {
	var f faults
	release := f.hold("^FREEZE")
	done := make(chan struct{})
	go func() {
		_ = f.before(context.Background(), "FREEZE t")
		close(done)
	}()
	assert.NoError(t, f.before(context.Background(), "UNFREEZE t"), "not held: returns at once")
	select {
	case <-done:
		t.Fatal("a held statement ran before its release")
	default:
	}
	release()
	release() // twice is fine
	<-done
	assert.Empty(t, f.holds)
}
