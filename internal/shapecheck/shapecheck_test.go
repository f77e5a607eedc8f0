package shapecheck

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/dbctl/dbctl/internal/sqlshape"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func write(t *testing.T, path, body string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(body), 0o644))
}

func seen(server, sql string) sqlshape.Seen {
	return sqlshape.Seen{Server: server, Shape: sqlshape.Reduce(sql), Example: sql, Count: 1}
}

func TestCompareWith(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "manticore-2.jsonl"), `{"conn":"main","query":"FREEZE cap_rt, cap_dist"}
{"conn":"main","query":"IMPORT TABLE x FROM '{fixtures}/imp/x'"}

`)
	write(t, filepath.Join(dir, "matrixone.jsonl"), `{"conn":"root","query":"select mo_ctl('dn', 'flush', 'gold.t')"}`+"\n")
	list := filepath.Join(dir, "unverified.txt")
	write(t, list, "# comment\nmanticore: SELECT * FROM ?   # tests only\n\nmanticore: DESCRIBE t\n")

	r, err := CompareWith([]sqlshape.Seen{
		seen("manticore", "FREEZE `a`"),                         // captured
		seen("manticore", "IMPORT TABLE y FROM '/backup/y/y'"),  // captured (placeholder expanded)
		seen("matrixone", "select mo_ctl('dn','flush','db.t')"), // captured
		seen("manticore", "select mo_ctl('dn','flush','db.t')"), // captured for the other server only
		seen("manticore", "SELECT * FROM t"),                    // listed
		seen("manticore", "OPTIMIZE TABLE t OPTION cutoff=3"),   // neither
	}, dir, list)
	require.NoError(t, err)
	keys := func(ss []sqlshape.Seen) []string {
		var out []string
		for _, s := range ss {
			out = append(out, s.Key())
		}
		return out
	}
	assert.Equal(t, []string{"manticore: FREEZE ?", "manticore: IMPORT TABLE ? FROM ?", "matrixone: SELECT MO_CTL (?)"}, keys(r.Captured))
	assert.Equal(t, []string{"manticore: SELECT * FROM ?"}, keys(r.Unverified))
	assert.Equal(t, []string{"manticore: SELECT MO_CTL (?)", "manticore: OPTIMIZE TABLE ? OPTION CUTOFF = ?"}, keys(r.Uncovered))
	assert.Equal(t, []string{"manticore: DESCRIBE ?"}, r.Unused)

	var out bytes.Buffer
	r.Print(&out, false)
	assert.Contains(t, out.String(), "6 statement shapes received, 3 covered by a capture, 1 listed as unverified, 2 uncovered")
	assert.Contains(t, out.String(), "NO CAPTURE manticore: OPTIMIZE TABLE ? OPTION CUTOFF = ?\n      e.g. OPTIMIZE TABLE t OPTION cutoff=3")
}

func TestCompareWithErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := CompareWith(nil, dir, filepath.Join(dir, "none.txt"))
	assert.ErrorContains(t, err, "no *.jsonl")
	write(t, filepath.Join(dir, "m.jsonl"), "{not json\n")
	_, err = CompareWith(nil, dir, filepath.Join(dir, "none.txt"))
	assert.ErrorContains(t, err, "m.jsonl")
	write(t, filepath.Join(dir, "m.jsonl"), `{"query":"SHOW LOCKS"}`+"\n")
	_, err = CompareWith(nil, dir, filepath.Join(dir, "none.txt"))
	assert.Error(t, err, "the list must exist")
	write(t, filepath.Join(dir, "u.txt"), "SHOW LOCKS\n")
	_, err = CompareWith(nil, dir, filepath.Join(dir, "u.txt"))
	assert.ErrorContains(t, err, `is not "server: shape"`)
}

// The project's own list parses, and every line of it is a reduced shape
// (so that a typo cannot silently allow nothing).
func TestUnverifiedListIsWellFormed(t *testing.T) {
	root, err := moduleRoot()
	require.NoError(t, err)
	listed, err := ReadUnverified(filepath.Join(root, UnverifiedFile))
	require.NoError(t, err)
	assert.NotEmpty(t, listed)
	dir, err := GoldenDir()
	if err != nil {
		t.Skip(err)
	}
	captured, err := CapturedShapes(dir)
	require.NoError(t, err)
	for k := range listed {
		assert.False(t, captured[k], "%s is listed as unverified but a capture has it: remove it from the list", k)
	}
}

func TestReceivedMergesTheLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shapes.log")
	t.Setenv(sqlshape.LogEnv, path)
	write(t, path, "childkind\tSHOW LOCKS\tshow locks\nchildkind\tSHOW LOCKS\tSHOW LOCKS\n")
	var got []sqlshape.Seen
	for _, s := range Received() {
		if s.Server == "childkind" {
			got = append(got, s)
		}
	}
	assert.Equal(t, []sqlshape.Seen{{Server: "childkind", Shape: "SHOW LOCKS", Example: "show locks", Count: 2}}, got)
}
