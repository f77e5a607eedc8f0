//go:build unix

package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/dbctl/dbctl/backupstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Two claims of one prefix with the same fields (one process uploading
// one backup twice at once) are still two writers: the second is refused,
// although a store takes an object with the very bytes of a NoOverwrite
// Put for that Put's own.
func TestClaimsAreNeverTheSameBytes(t *testing.T) {
	ctx := context.Background()
	st, err := backupstore.OpenLocal(t.TempDir())
	require.NoError(t, err)
	who := func() claimRecord {
		return claimRecord{Op: "upload", UploadOf: "/backups/b1", BackupID: "id1"}
	}
	first := &uploadUndo{st: st}
	require.NoError(t, claimPrefix(ctx, "upload", st, first, who()))
	defer first.claim.forget()
	err = claimPrefix(ctx, "upload", st, &uploadUndo{st: st}, who())
	assert.ErrorIs(t, err, ErrExists)
}

// deadPID returns the PID of a process that has ended (and was reaped).
func deadPID(t *testing.T) int {
	cmd := exec.Command("true")
	require.NoError(t, cmd.Run())
	return cmd.Process.Pid
}

// writeClaim puts a claim with rec's fields into st, as another writer
// would, and dates the claim (and the heartbeat, when beat is not zero)
// in a folder store.
func writeClaim(t *testing.T, st backupstore.Store, rec claimRecord, modified, beat time.Time) {
	t.Helper()
	ctx := context.Background()
	data, err := json.Marshal(rec)
	require.NoError(t, err)
	_, err = st.Put(ctx, claimName, bytes.NewReader(data), backupstore.PutOptions{})
	require.NoError(t, err)
	if !beat.IsZero() {
		_, err = st.Put(ctx, rec.heartbeatKey(), bytes.NewReader(data), backupstore.PutOptions{})
		require.NoError(t, err)
	}
	if backupstore.IsRemote(st.Location()) {
		return
	}
	require.NoError(t, os.Chtimes(filepath.Join(st.Location(), claimName), modified, modified))
	if !beat.IsZero() {
		require.NoError(t, os.Chtimes(filepath.Join(st.Location(), rec.heartbeatKey()), beat, beat))
	}
}

// here is a claim record of this machine and PID namespace for pid.
func here(pid int, nonce string) claimRecord {
	me := thisMachine()
	return claimRecord{Op: "create", Host: me.host, BootID: me.boot, PIDNS: me.pidNS, PID: pid, Nonce: nonce, Started: time.Now()}
}

// How a claim's writer is found gone (readSign): on this machine by its
// process (and, in this process, by the claims it holds), elsewhere, and
// for a PID that runs, by the age of its last sign of life.
func TestClaimWriterGone(t *testing.T) {
	if thisMachine().boot == "" {
		t.Skip("no boot id here: every claim is judged by its age")
	}
	now := time.Now()
	old := now.Add(-2 * claimStaleAfter)
	liveClaims.Store("live-nonce", true)
	defer liveClaims.Delete("live-nonce")
	other := func(mod func(*claimRecord)) claimRecord {
		r := here(deadPID(t), "n1")
		mod(&r)
		return r
	}
	tests := []struct {
		name           string
		rec            *claimRecord // nil: unreadable bytes
		modified, beat time.Time
		gone           bool
	}{
		{"this process, held", ptr(here(os.Getpid(), "live-nonce")), old, time.Time{}, false},
		{"this process, ended", ptr(here(os.Getpid(), "ended-nonce")), now, time.Time{}, true},
		{"this machine, process gone", ptr(here(deadPID(t), "n1")), now, time.Time{}, true},
		{"this machine, process runs", ptr(here(os.Getppid(), "n1")), now, time.Time{}, false},
		{"this machine, PID runs, no sign of life (PID reused)", ptr(here(os.Getppid(), "n1")), old, time.Time{}, true},
		{"another host, fresh", ptr(other(func(r *claimRecord) { r.Host = "elsewhere" })), now, time.Time{}, false},
		{"another host, stale", ptr(other(func(r *claimRecord) { r.Host = "elsewhere" })), old, time.Time{}, true},
		{"another host, stale claim, fresh heartbeat", ptr(other(func(r *claimRecord) { r.Host = "elsewhere" })), old, now, false},
		{"another host, stale claim and heartbeat", ptr(other(func(r *claimRecord) { r.Host = "elsewhere" })), old, old, true},
		{"another boot of this host, process gone, fresh", ptr(other(func(r *claimRecord) { r.BootID = "before-reboot" })), now, time.Time{}, false},
		{"another PID namespace, process gone, fresh", ptr(other(func(r *claimRecord) { r.PIDNS = "pid:[1]" })), now, time.Time{}, false},
		{"unreadable, fresh", nil, now, time.Time{}, false},
		{"unreadable, stale", nil, old, time.Time{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, err := backupstore.OpenLocal(t.TempDir())
			require.NoError(t, err)
			if tc.rec == nil {
				_, err := st.Put(context.Background(), claimName, bytes.NewReader([]byte(`{"pid":1}`)), backupstore.PutOptions{})
				require.NoError(t, err)
				require.NoError(t, os.Chtimes(filepath.Join(st.Location(), claimName), tc.modified, tc.modified))
			} else {
				writeClaim(t, st, *tc.rec, tc.modified, tc.beat)
			}
			f, err := readSign(context.Background(), st, claimName)
			require.NoError(t, err)
			require.NotNil(t, f)
			assert.Equal(t, tc.gone, f.gone)
		})
	}
}

func ptr[T any](v T) *T { return &v }

// A live writer's claim refuses the next writer, naming it, and is left
// alone; a dead one's is taken over: what the dead writer wrote (files,
// manifest-less prefix, a folder store's temporary files, its heartbeat)
// goes, and nothing else (a user's file, a backup nested under the
// prefix). A finished backup whose writer died before dropping its claim
// loses only the claim and heartbeat.
func TestTakeClaim(t *testing.T) {
	ctx := context.Background()
	put := func(st backupstore.Store, keys ...string) {
		for _, k := range keys {
			_, err := st.Put(ctx, k, bytes.NewReader([]byte(k)), backupstore.PutOptions{})
			require.NoError(t, err)
		}
	}
	t.Run("live writer", func(t *testing.T) {
		st, err := backupstore.OpenLocal(t.TempDir())
		require.NoError(t, err)
		writeClaim(t, st, here(os.Getppid(), "n1"), time.Now(), time.Time{})
		_, err = takeClaim(ctx, "op", st, claimRecord{Op: "create"})
		require.ErrorIs(t, err, ErrExists)
		assert.Contains(t, err.Error(), "another run holds "+st.Location()+" (create by pid ")
		f, err := readSign(ctx, st, claimName)
		require.NoError(t, err)
		assert.Equal(t, os.Getppid(), f.rec.PID, "left alone")
	})
	t.Run("dead writer, unfinished", func(t *testing.T) {
		st, err := backupstore.OpenLocal(t.TempDir())
		require.NoError(t, err)
		dead := here(deadPID(t), "n1")
		writeClaim(t, st, dead, time.Now(), time.Now())
		put(st, "data/a/a.0.spd", "state/manticore.json", "config/manticore.conf", "notes.txt", "old/manifest.json", "old/data/a/a.meta")
		tmp := filepath.Join(st.Location(), "data", "a", ".a.meta.dbctl-tmp-123")
		require.NoError(t, os.WriteFile(tmp, []byte("x"), 0o600))
		c, err := takeClaim(ctx, "op", st, claimRecord{Op: "create"})
		require.NoError(t, err)
		assert.True(t, c.tookOver())
		assert.Equal(t, []string{claimName, c.rec.heartbeatKey(), "notes.txt", "old/data/a/a.meta", "old/manifest.json"}, listKeys(t, st, ""),
			"the takeover's sign stays until the claim is released")
		assert.NoFileExists(t, tmp)
		assert.NoDirExists(t, filepath.Join(st.Location(), "data"))
		require.NoError(t, c.release(ctx))
		assert.Equal(t, []string{"notes.txt", "old/data/a/a.meta", "old/manifest.json"}, listKeys(t, st, ""))
	})
	t.Run("dead writer, finished", func(t *testing.T) {
		st, err := backupstore.OpenLocal(t.TempDir())
		require.NoError(t, err)
		dead := here(deadPID(t), "n1")
		writeClaim(t, st, dead, time.Now(), time.Now())
		put(st, "data/a/a.0.spd", manifestName)
		c, err := takeClaim(ctx, "op", st, claimRecord{Op: "cleanup"})
		require.NoError(t, err)
		require.NoError(t, c.release(ctx))
		assert.Equal(t, []string{"data/a/a.0.spd", manifestName}, listKeys(t, st, ""))
	})
}

// The heartbeat renews a held claim; a claim another run took over is
// lost (no more writes, and release leaves that run's claim); a claim not
// confirmed for claimLeaseFor stops the writes.
func TestClaimHeartbeatAndLease(t *testing.T) {
	ctx := context.Background()
	st, err := backupstore.OpenLocal(t.TempDir())
	require.NoError(t, err)
	c, err := takeClaim(ctx, "op", st, claimRecord{Op: "create"})
	require.NoError(t, err)
	require.NoError(t, c.lease())
	c.renew()
	assert.Equal(t, []string{claimName, c.rec.heartbeatKey()}, listKeys(t, st, ""))

	c.mu.Lock()
	c.confirmed = time.Now().Add(-claimLeaseFor - time.Second)
	c.mu.Unlock()
	assert.ErrorContains(t, c.lease(), "was not confirmed for")
	c.renew()
	require.NoError(t, c.lease(), "renewed")

	other := here(os.Getpid(), "someone-else")
	writeClaim(t, st, other, time.Now(), time.Time{})
	c.renew()
	require.ErrorIs(t, c.lease(), errClaimLost)
	require.ErrorIs(t, c.check(ctx), errClaimLost)
	require.NoError(t, c.release(ctx))
	f, err := readSign(ctx, st, claimName)
	require.NoError(t, err)
	require.NotNil(t, f)
	assert.Equal(t, "someone-else", f.rec.Nonce, "the other run's claim is left")
	assert.Equal(t, []string{claimName}, listKeys(t, st, ""), "this run's heartbeat is gone")
}
