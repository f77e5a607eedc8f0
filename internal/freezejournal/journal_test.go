package freezejournal

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dbctl/dbctl/internal/crashpoint"
)

func TestMain(m *testing.M) {
	if _, err := crashpoint.InstallFromEnv(); err != nil {
		panic(err)
	}
	os.Exit(m.Run())
}

const server = "tcp(127.0.0.1:9306)"

func intent(tables ...string) Record {
	return Record{Server: server, ServerStart: time.Unix(1_700_000_000, 0).UTC(), Tables: tables,
		Before: map[string]int{"b": 1}, State: Intent, Op: "manticore with frozen " + strings.Join(tables, ", ")}
}

func open(t *testing.T) *Journal {
	t.Helper()
	j, err := Open(filepath.Join(t.TempDir(), "state", "dbctl"))
	require.NoError(t, err)
	return j
}

// files lists the folder's entries.
func files(t *testing.T, j *Journal) []string {
	t.Helper()
	names, err := j.Names()
	require.NoError(t, err)
	return names
}

func TestOpenMakesAPrivateFolder(t *testing.T) {
	j := open(t)
	fi, err := os.Stat(j.Dir())
	require.NoError(t, err)
	assert.True(t, fi.IsDir())
	assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm())

	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	_, err = Open(file)
	assert.Error(t, err, "a file is not a journal folder")
}

func TestDefaultDir(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", "/var/state")
	d, err := DefaultDir()
	require.NoError(t, err)
	assert.Equal(t, "/var/state/dbctl", d)

	t.Setenv("XDG_STATE_HOME", "relative/state") // ignored, as the XDG rules say
	t.Setenv("HOME", "/home/op")
	d, err = DefaultDir()
	require.NoError(t, err)
	assert.Equal(t, "/home/op/.local/state/dbctl", d)
}

// A held record is nobody's orphan, in this process or another; once let
// go it is, and only one scanner takes it.
func TestHeldRecordIsNoOrphan(t *testing.T) {
	j := open(t)
	e, err := j.Create(intent("a", "b"))
	require.NoError(t, err)
	assert.True(t, e.Held())
	assert.Equal(t, []string{recordName(e.Rec.ID)}, files(t, j))
	assert.Equal(t, os.Getpid(), e.Rec.PID)
	assert.False(t, e.Rec.Written.IsZero())

	got, err := j.Orphans(server)
	require.NoError(t, err)
	assert.Empty(t, got, "held by this process's entry (flock conflicts across open files)")

	e.Abandon()
	e.Abandon() // idempotent
	first, err := j.Orphans(server)
	require.NoError(t, err)
	require.Len(t, first, 1)
	assert.Equal(t, e.Rec, first[0].Rec)
	second, err := j.Orphans(server)
	require.NoError(t, err)
	assert.Empty(t, second, "taken by the first scanner")

	other, err := j.Orphans("tcp(10.0.0.1:9306)")
	require.NoError(t, err)
	assert.Empty(t, other, "another server's scan")

	require.NoError(t, first[0].Remove())
	assert.Empty(t, files(t, j))
	assert.Error(t, first[0].Remove(), "no longer held")
	assert.Error(t, first[0].Update(intent("a")), "no longer held")
}

func TestOtherServersRecordsAreLeftUnlocked(t *testing.T) {
	j := open(t)
	e, err := j.Create(intent("a"))
	require.NoError(t, err)
	e.Abandon()
	got, err := j.Orphans("tcp(other:9306)")
	require.NoError(t, err)
	assert.Empty(t, got)
	got, err = j.Orphans(server)
	require.NoError(t, err)
	require.Len(t, got, 1, "the other server's scan let it go")
	got[0].Abandon()
}

func TestUpdateKeepsTheRecordHeld(t *testing.T) {
	j := open(t)
	e, err := j.Create(intent("a", "b"))
	require.NoError(t, err)
	path := e.Path()
	r := e.Rec
	r.State, r.Frozen = Frozen, []string{"a", "b"}
	require.NoError(t, e.Update(r))
	assert.Equal(t, path, e.Path())
	assert.Equal(t, []string{filepath.Base(path)}, files(t, j), "no temporary file left")
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	onDisk, err := Parse(b)
	require.NoError(t, err)
	assert.Equal(t, Frozen, onDisk.State)
	assert.Equal(t, e.Rec, onDisk)

	got, err := j.Orphans(server)
	require.NoError(t, err)
	assert.Empty(t, got, "the new file was locked before it replaced the old one")
	require.NoError(t, e.Remove())
}

// Scanners running while records are updated and removed never take a
// held record: the lock is taken on the new file before the rename, and a
// scanner that locked a file the path no longer names skips it.
func TestScannersNeverTakeHeldRecords(t *testing.T) {
	j := open(t)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var taken []Record
	var mu sync.Mutex
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				got, _ := j.Orphans(server)
				for _, e := range got {
					mu.Lock()
					taken = append(taken, e.Rec)
					mu.Unlock()
					e.Abandon()
				}
			}
		}()
	}
	for i := 0; i < 200; i++ {
		e, err := j.Create(intent("a"))
		require.NoError(t, err)
		r := e.Rec
		r.State, r.Frozen = Frozen, []string{"a"}
		require.NoError(t, e.Update(r))
		r.State, r.ReleaseBefore = Releasing, map[string]int{"a": 1}
		require.NoError(t, e.Update(r))
		require.NoError(t, e.Remove())
	}
	close(stop)
	wg.Wait()
	assert.Empty(t, taken)
	assert.Empty(t, files(t, j))
}

func TestDeadTemporaryFilesAreRemoved(t *testing.T) {
	j := open(t)
	dead := filepath.Join(j.Dir(), tempPrefix+"dead")
	require.NoError(t, os.WriteFile(dead, []byte("{"), 0o600))
	live := filepath.Join(j.Dir(), tempPrefix+"live")
	f, err := os.OpenFile(live, os.O_RDWR|os.O_CREATE, 0o600)
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, lock(f))
	_, err = j.Orphans(server)
	require.NoError(t, err)
	assert.NoFileExists(t, dead)
	assert.FileExists(t, live, "its writer holds it")
}

func TestUnreadableRecordIsReportedAndKept(t *testing.T) {
	j := open(t)
	bad := filepath.Join(j.Dir(), recordName("1-2"))
	require.NoError(t, os.WriteFile(bad, []byte(`{"version":1}`), 0o600))
	got, err := j.Orphans(server)
	assert.Empty(t, got)
	require.Error(t, err)
	assert.Contains(t, err.Error(), bad)
	assert.FileExists(t, bad, "left for a person to look at")
}

func TestSamePath(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "r")
	require.NoError(t, os.WriteFile(p, []byte("old"), 0o600))
	f, err := os.Open(p)
	require.NoError(t, err)
	defer f.Close()
	assert.True(t, samePath(f, p))
	require.NoError(t, os.WriteFile(p+".new", []byte("new"), 0o600))
	require.NoError(t, os.Rename(p+".new", p))
	assert.False(t, samePath(f, p), "replaced")
	require.NoError(t, os.Remove(p))
	assert.False(t, samePath(f, p), "removed")
}

func TestParseRefusesWhatThisPackageDidNotWrite(t *testing.T) {
	good := `{"version":1,"id":"18a-0b","server":"tcp(h:1)","tables":["a"],"state":"intent"}`
	_, err := Parse([]byte(good))
	require.NoError(t, err)
	for name, in := range map[string]string{
		"not JSON":         `{`,
		"trailing data":    good + `{}`,
		"version":          strings.Replace(good, `"version":1`, `"version":2`, 1),
		"id with a slash":  strings.Replace(good, `18a-0b`, `../x`, 1),
		"no server":        strings.Replace(good, `"tcp(h:1)"`, `""`, 1),
		"no table":         strings.Replace(good, `["a"]`, `[]`, 1),
		"state":            strings.Replace(good, `intent`, `thawed`, 1),
		"frozen, no table": strings.Replace(good, `"intent"`, `"frozen"`, 1),
		"table with quote": strings.Replace(good, `["a"]`, "[\"a`b\"]", 1),
	} {
		_, err := Parse([]byte(in))
		assert.Error(t, err, name)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"version":1,"id":"18a-0b","server":"tcp(h:1)","tables":["a"],"state":"intent","before":{"a":1}}`))
	f.Add([]byte(`{"version":1,"id":"1","server":"s","tables":["a"],"state":"releasing","frozen":["a"],"release_before":{"a":2}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Parse(b)
		if err != nil {
			return
		}
		// a record that parses names a plain file and plain tables
		name := recordName(r.ID)
		require.Equal(t, name, filepath.Base(name))
		require.NotContains(t, name, string(filepath.Separator))
		for _, n := range append(r.Tables, r.Frozen...) {
			require.NotContains(t, n, "/")
			require.NotContains(t, n, "`")
		}
	})
}
