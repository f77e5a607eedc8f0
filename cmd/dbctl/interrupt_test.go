//go:build unix

package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// SIGINT during a backup: the tables are unfrozen, the partial output is
// removed, and the exit code is 1 with a clear message.
func TestInterruptedBackup(t *testing.T) {
	s := newServers(t)
	// the backup waits, with the tables frozen, on its FLUSH ATTRIBUTES
	s.mt.Delay("FLUSH ATTRIBUTES", 30*time.Second)
	parent := t.TempDir()
	target := filepath.Join(parent, "bk")
	cmd := exec.Command(binary, s.m("backup", "--dir", target)...)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	require.NoError(t, cmd.Start())
	deadline := time.Now().Add(20 * time.Second)
	for {
		if n, _ := s.mt.Locked("products"); n == 1 {
			break
		}
		require.True(t, time.Now().Before(deadline), "backup never froze the table")
		time.Sleep(10 * time.Millisecond)
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	err := cmd.Wait()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, 1, ee.ExitCode())
	assert.Contains(t, errb.String(), "interrupted")
	assert.Contains(t, errb.String(), "verified with SHOW LOCKS: no table is left frozen by this command")
	n, _ := s.mt.Locked("products")
	assert.Equal(t, 0, n, "unfrozen after the interrupt")
	n, _ = s.mt.Locked("alerts")
	assert.Equal(t, 0, n)
	entries, err := os.ReadDir(parent)
	require.NoError(t, err)
	assert.Empty(t, entries, "no partial or finished-looking backup left")
}

// SIGKILL while the staged links exist (the backup waits on the SHOW LOCKS
// of its release, after the links were made): the killed process leaves its
// staging folder, whose links pin the chunk files' bytes; the next backup
// that stages beside the same target removes it.
func TestKilledBackupsStagingRemovedByTheNext(t *testing.T) {
	s := newServers(t)
	// The CLI reads SHOW LOCKS before the backup (to verify the release
	// after an interrupt): delay SHOW LOCKS only once the backup holds the
	// freeze, on its FLUSH ATTRIBUTES.
	release := s.mt.Hold("^FLUSH ATTRIBUTES")
	parent := t.TempDir()
	cmd := exec.Command(binary, s.m("backup", "--dir", filepath.Join(parent, "bk"))...)
	require.NoError(t, cmd.Start())
	deadline := time.Now().Add(20 * time.Second)
	for n, _ := s.mt.Locked("products"); n != 1; n, _ = s.mt.Locked("products") {
		require.True(t, time.Now().Before(deadline), "the backup never froze")
		time.Sleep(10 * time.Millisecond)
	}
	s.mt.Delay("SHOW LOCKS", 30*time.Second)
	release()
	staging := ""
	for staging == "" {
		entries, _ := os.ReadDir(parent)
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".dbctl-stage-") {
				if links, _ := os.ReadDir(filepath.Join(parent, e.Name())); len(links) > 1 {
					staging = filepath.Join(parent, e.Name())
				}
			}
		}
		require.True(t, time.Now().Before(deadline), "the backup never staged")
		time.Sleep(10 * time.Millisecond)
	}
	// wait until every immutable chunk file is linked: the backup then
	// waits in its release
	var immutable int
	chunkFiles, err := filepath.Glob(filepath.Join(s.mt.DataDir(), "*", "*.[0-9]*.sp*"))
	require.NoError(t, err)
	for _, f := range chunkFiles {
		switch filepath.Ext(f) {
		case ".spd", ".spp", ".spi", ".spe", ".sph", ".spds", ".spt":
			immutable++
		}
	}
	require.Positive(t, immutable)
	for {
		links, _ := os.ReadDir(staging)
		if len(links)-1 == immutable { // and the marker
			break
		}
		require.True(t, time.Now().Before(deadline), "the backup never linked every chunk file")
		time.Sleep(10 * time.Millisecond)
	}
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	s.mt.Delay("SHOW LOCKS", 0)
	links, err := os.ReadDir(staging)
	require.NoError(t, err)
	require.Len(t, links, immutable+1, "the killed run left its links")
	var st syscall.Stat_t
	chunk := filepath.Join(s.mt.DataDir(), "products", "products.0.spd")
	require.NoError(t, syscall.Stat(chunk, &st))
	assert.Equal(t, uint64(2), uint64(st.Nlink), "a leftover link pins the chunk")

	// a killed process cannot unfreeze: the operator does
	r := dbctlRun(t, s.m("unfreeze", "products", "alerts")...)
	require.Equal(t, 0, r.code, r.stderr)
	r = dbctlRun(t, s.m("backup", "--dir", filepath.Join(parent, "bk2"))...)
	require.Equal(t, 0, r.code, r.stderr)
	_, err = os.Stat(staging)
	assert.True(t, os.IsNotExist(err), "the next backup removed the killed run's staging folder")
	entries, err := os.ReadDir(parent)
	require.NoError(t, err)
	for _, e := range entries {
		assert.NotContains(t, e.Name(), ".dbctl-", "the killed run's partial backup is removed too")
	}
	require.NoError(t, syscall.Stat(chunk, &st))
	assert.Equal(t, uint64(1), uint64(st.Nlink))
}

// SIGINT while the FREEZE itself is on its way (held on the server): the
// backup stops at once, but the FREEZE is not abandoned (searchd would run
// it after any UNFREEZE): the command waits for it, says so, releases what
// it froze, verifies, and exits with nothing frozen (issue 9 C, issue 16).
func TestInterruptDuringFreeze(t *testing.T) {
	s := newServers(t)
	release := s.mt.Hold("^FREEZE")
	defer release()
	target := filepath.Join(t.TempDir(), "bk")
	cmd := exec.Command(binary, s.m("backup", "--dir", target)...)
	errb := &syncBuffer{}
	cmd.Stderr = errb
	require.NoError(t, cmd.Start())
	deadline := time.Now().Add(20 * time.Second)
	for s.mt.Held() == 0 { // the FREEZE has reached the server and waits there
		require.True(t, time.Now().Before(deadline), "the backup never sent FREEZE")
		time.Sleep(time.Millisecond)
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	// the command says it waits for its FREEZE (it does not abandon it);
	// only then may the server run it
	for !strings.Contains(errb.String(), "waiting for a FREEZE still running on the server") {
		require.True(t, time.Now().Before(deadline), "the command did not wait for its FREEZE:\n%s", errb.String())
		time.Sleep(5 * time.Millisecond)
	}
	release()
	err := cmd.Wait()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, 1, ee.ExitCode(), errb.String())
	assert.Contains(t, errb.String(), "interrupted")
	assert.Contains(t, errb.String(), "the FREEZE answered after the command stopped; unfrozen again: alerts, products")
	assert.Contains(t, errb.String(), "verified with SHOW LOCKS: no table is left frozen by this command")
	for _, table := range []string{"products", "alerts"} {
		n, ok := s.mt.Locked(table)
		require.True(t, ok, table)
		assert.Equal(t, 0, n, table, "unfrozen when the command exits, not later")
	}
	assert.NoDirExists(t, target)
}

// syncBuffer is a bytes.Buffer a process writes while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
