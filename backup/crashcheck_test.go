package backup_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dbctl/dbctl"
	"github.com/dbctl/dbctl/backup"
	"github.com/dbctl/dbctl/dbctltest"
	"github.com/dbctl/dbctl/internal/crashpoint"
	"github.com/dbctl/dbctl/internal/crashpoint/crashtest"
	"github.com/dbctl/dbctl/internal/itest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// What the crash campaigns of Create and Import share: the tables they
// back up, the freeze counters they compare, the check that a folder holds
// only complete backups, and the in-process panic at a step.

// Environment of a campaign's child process (crashtest.Child): which
// server, which tables, which operation and its arguments, and the freeze
// journal's folder.
const (
	envCrashDSN     = "DBCTL_CRASH_DSN"
	envCrashTables  = "DBCTL_CRASH_TABLES"
	envCrashVariant = "DBCTL_CRASH_VARIANT"
	envCrashTarget  = "DBCTL_CRASH_TARGET"
	envCrashBase    = "DBCTL_CRASH_BASE"
	envCrashAs      = "DBCTL_CRASH_AS"
	envCrashState   = "DBCTL_CRASH_STATE"
)

// campaignTarget returns the Manticore a campaign runs against and a
// function that makes a new folder (for backups, or the freeze journal). The embedded server's
// data_dir and the backups are in /dev/shm where it is a tmpfs (a
// campaign makes hundreds of backups, and an fsync costs nothing there),
// else in the temporary folder: on one file system, so backups stage.
// Against a real searchd (DBCTL_MANTICORE_DSN; on this machine, as root or
// as the data_dir's owner: a backup reads the files FREEZE lists) the
// folders are temporary folders (t.TempDir); whether a backup stages there
// depends on their file system. The Create campaign took 36 s here with
// them on an ext4 disk instead of /dev/shm.
func campaignTarget(t *testing.T) (itest.ManticoreTarget, func() string) {
	if os.Getenv("DBCTL_MANTICORE_DSN") != "" {
		return itest.NewManticoreTarget(t), func() string { return t.TempDir() }
	}
	root := ""
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if dir, err := os.MkdirTemp("/dev/shm", "dbctl-crash-"); err == nil {
			root = dir
			t.Cleanup(func() { _ = os.RemoveAll(dir) })
		}
	}
	if root == "" {
		root = t.TempDir()
	}
	srv := dbctltest.NewManticore(t, dbctltest.WithDataDir(filepath.Join(root, "data")))
	return itest.ManticoreTarget{DSN: srv.DSN(), Srv: srv}, func() string {
		dir, err := os.MkdirTemp(root, "run")
		require.NoError(t, err)
		return dir
	}
}

// campaignTables creates, on the target, an RT table with rows in a disk
// chunk and in RAM, an RT table with a string attribute, and a percolate
// table, each with a unique name, dropped when the test ends.
func campaignTables(t *testing.T, c *dbctl.Client) []string {
	rt, str, pq := itest.UniqueName("dbctl_cr_"), itest.UniqueName("dbctl_cr_"), itest.UniqueName("dbctl_cr_")
	for _, n := range []string{rt, str, pq} {
		itest.DropTable(t, c, n)
	}
	itest.ExecAll(t, c.DB(),
		"CREATE TABLE "+rt+"(title text, gid int, price float)",
		"INSERT INTO "+rt+"(id,title,gid,price) VALUES (1,'one',10,1.5),(2,'two',20,2.5),(3,'three',30,3.5)",
		"FLUSH RAMCHUNK "+rt,
		"INSERT INTO "+rt+"(id,title,gid,price) VALUES (4,'four',40,4.5)",
		"CREATE TABLE "+str+"(title text, tag string attribute)",
		"INSERT INTO "+str+"(id,title,tag) VALUES (1,'alpha','x'),(2,'beta','y')",
		"FLUSH RAMCHUNK "+str,
		"CREATE TABLE "+pq+"(title text) type='percolate'",
		"INSERT INTO "+pq+"(query) VALUES ('hello')")
	return []string{rt, str, pq}
}

// freezeCounts returns SHOW LOCKS's freeze count of each table (0 when
// the table is not listed).
func freezeCounts(t *testing.T, c *dbctl.Client, tables []string) map[string]int {
	t.Helper()
	locks, err := c.Manticore().Locks(context.Background())
	require.NoError(t, err)
	out := map[string]int{}
	for _, n := range tables {
		out[n] = 0
	}
	for _, l := range locks {
		if _, ok := out[l.Name]; ok && l.LockType == "freeze" {
			out[l.Name] = l.Count
		}
	}
	return out
}

// campaignClient opens a client of its own for one run, as a new process
// would have (its probes not yet made), closed when the test ends.
func campaignClient(t *testing.T, dsn, state string) *dbctl.Client {
	return itest.OpenClient(t, dsn, campaignOptions(state))
}

// campaignOptions are the options of a campaign's clients: a short release
// timeout (a FREEZE whose answer was lost is watched for that long), and
// the freeze journal in state.
func campaignOptions(state string) dbctl.Options {
	return dbctl.Options{StateDir: state, ReleaseTimeout: 300 * time.Millisecond}
}

// onlyCompleteBackups checks that every entry of parent is a folder whose
// name is in allowed, holding a backup that verifies, and that List shows
// exactly those, none with a problem: no temporary, partial or staging
// folder is left, and nothing looks like a backup that is not one.
func onlyCompleteBackups(t *testing.T, parent string, allowed ...string) {
	t.Helper()
	ctx := context.Background()
	entries, err := os.ReadDir(parent)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		assert.True(t, e.IsDir(), "%s is not a folder", e.Name())
		assert.NotContains(t, e.Name(), ".dbctl-", "leftover %s", e.Name())
		assert.Contains(t, allowed, e.Name(), "unexpected %s", e.Name())
		names = append(names, e.Name())
		_, err := backup.Verify(ctx, filepath.Join(parent, e.Name()), backup.VerifyOptions{})
		assert.NoError(t, err, "%s does not verify", e.Name())
	}
	list, err := backup.List(ctx, parent, backup.ListOptions{})
	require.NoError(t, err)
	var listed []string
	for _, i := range list {
		assert.Empty(t, i.Problem, i.Name)
		listed = append(listed, i.Name)
	}
	sort.Strings(listed)
	assert.Equal(t, names, listed, "List shows exactly the complete backups")
}

// repair puts things back as they were before a campaign's run, so that
// one failed check does not fail the runs after it: each table unfrozen
// down to its count in before, and every entry of parent but keep
// removed.
func repair(t *testing.T, c *dbctl.Client, tables []string, before map[string]int, parent string, keep ...string) {
	for n, k := range freezeCounts(t, c, tables) {
		for ; k > before[n]; k-- {
			_, _ = c.DB().Exec("UNFREEZE " + n)
		}
	}
	entries, _ := os.ReadDir(parent)
	for _, e := range entries {
		if !slices.Contains(keep, e.Name()) {
			_ = os.RemoveAll(filepath.Join(parent, e.Name()))
		}
	}
}

// goid returns the id of the calling goroutine.
func goid() string {
	buf := make([]byte, 64)
	f := strings.Fields(string(buf[:runtime.Stack(buf, false)]))
	return f[1]
}

// panicAt makes op panic at the step: directly when the step is reached on
// op's own goroutine; on another goroutine (a copy worker) through
// op's Progress callback, which the returned progress function is: the
// step waits until Progress has panicked, as a caller's Progress could at
// that moment. run runs op and reports whether it panicked, and whether
// the panic was through Progress.
type panicAt struct {
	step     crashtest.Step
	caller   string
	seen     int
	mu       sync.Mutex
	armed    chan struct{}
	panicked chan struct{}
	returned chan struct{}
	armOnce  sync.Once
}

func newPanicAt(step crashtest.Step) *panicAt {
	return &panicAt{step: step, armed: make(chan struct{}), panicked: make(chan struct{}), returned: make(chan struct{})}
}

func (p *panicAt) handler(step string) error {
	if step != p.step.Name {
		return nil
	}
	p.mu.Lock()
	p.seen++
	now := p.seen == p.step.N
	p.mu.Unlock()
	if !now {
		return nil
	}
	if goid() == p.caller {
		panic(crashpoint.ErrInjected)
	}
	p.armOnce.Do(func() { close(p.armed) })
	select {
	case <-p.panicked:
	case <-p.returned: // Progress is no longer called: nothing to panic
	}
	return nil
}

func (p *panicAt) progress(backup.Progress) {
	select {
	case <-p.armed:
		select {
		case <-p.panicked:
		default:
			close(p.panicked)
		}
		panic(crashpoint.ErrInjected)
	default:
	}
}

// run calls op with the handler installed; it reports whether op panicked
// and whether Progress had panicked.
func (p *panicAt) run(t *testing.T, op func()) (panicked, viaProgress bool) {
	p.caller = goid()
	restore := crashpoint.Set(p.handler)
	defer restore()
	func() {
		defer func() {
			if r := recover(); r != nil {
				panicked = true
			}
		}()
		op()
	}()
	close(p.returned)
	select {
	case <-p.panicked:
		viaProgress = true
	default:
	}
	return panicked, viaProgress
}
