package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/dbctl/dbctl/backupstore"
)

// claimName is the object every writer of a backup's prefix in a store
// puts first, with a conditional write (PutOptions.NoOverwrite), and
// deletes last: Create and Upload to a store, Prune of a backup in a
// store, and the cleanup of a prefix whose writer is gone. A second writer
// meanwhile finds it and is refused (ErrExists) before it freezes or
// writes anything, instead of both writing the same keys. While a writer
// holds the claim it renews it every claimRenewEvery by writing its
// heartbeat object, claimName+"."+nonce.
//
// A claim whose writer is gone (killed, or failed without being able to
// delete it) is taken over by the next run that meets it (writerGone):
// it deletes the claim, puts its own, then removes what the dead writer
// left (removeLeftovers), so that a prefix is never refused for good.
const claimName = ".dbctl-writing"

// How claims live; variables for this package's tests.
var (
	// claimRenewEvery is how often a holder writes its heartbeat object.
	claimRenewEvery = time.Minute
	// claimStaleAfter is how long after the last sign of life (the
	// claim's or the heartbeat's modification time, by the store's
	// clock) a claim of another machine is taken for dead.
	claimStaleAfter = 15 * time.Minute
	// claimLeaseFor is how long after its last confirmation a holder may
	// still write: it stops writing well before another run could take
	// its claim for dead (claimStaleAfter), even with clocks a few
	// minutes apart.
	claimLeaseFor = 10 * time.Minute
)

// claimRecord is a claim's content: who holds the prefix and how to tell
// whether it still runs.
type claimRecord struct {
	// Op is what the holder does: "create", "upload", "prune", "cleanup".
	Op       string `json:"op"`
	BackupID string `json:"backup_id,omitempty"`
	UploadOf string `json:"upload_of,omitempty"`
	// Host, BootID and PIDNS name the machine, its boot and the PID
	// namespace of PID: a run on the same ones can ask the kernel whether
	// the holder still runs (writerGone).
	Host    string    `json:"host"`
	BootID  string    `json:"boot_id,omitempty"`
	PIDNS   string    `json:"pid_ns,omitempty"`
	PID     int       `json:"pid"`
	Started time.Time `json:"started"`
	// Nonce makes every claim unique bytes (a store takes an object with
	// the very bytes of a NoOverwrite Put for that Put's own) and names
	// the heartbeat object.
	Nonce string `json:"nonce"`
}

// heartbeatKey is the key of the holder's heartbeat object.
func (r *claimRecord) heartbeatKey() string { return claimName + "." + r.Nonce }

// liveClaims holds the nonces of the claims this process holds now: a
// claim of this very process whose nonce is not here belongs to a run that
// has ended.
var liveClaims sync.Map

// claim is a claim this run holds (or tried to put).
type claim struct {
	st   backupstore.Store
	rec  claimRecord
	data []byte

	mu        sync.Mutex
	confirmed time.Time // last time the claim was known to be ours
	lost      error     // set when the claim turned out to be another's
	beat      bool      // the heartbeat object was written (may exist)
	over      bool      // put after a dead writer's claim was deleted
	stop      chan struct{}
	done      chan struct{}
	ended     bool
}

// takeClaim claims st's prefix for op (rec's fields besides the
// identity), taking over a dead writer's claim (writerGone) and removing
// what it left. ErrExists when a live writer holds it. A claim whose Put
// could not be decided (its answer lost and the read-back failed) is
// deleted when it turns out to be this run's, and otherwise left to the
// next run, which finds it dead.
func takeClaim(ctx context.Context, op string, st backupstore.Store, rec claimRecord) (*claim, error) {
	me := thisMachine()
	rec.Host, rec.BootID, rec.PIDNS, rec.PID = me.host, me.boot, me.pidNS, me.pid
	if rec.Started.IsZero() {
		rec.Started = time.Now().UTC()
	}
	nonce, err := newBackupID()
	if err != nil {
		return nil, opErr(op, nil, "claim", err)
	}
	rec.Nonce = nonce
	data, err := json.Marshal(rec)
	if err != nil {
		return nil, opErr(op, nil, "claim", err)
	}
	c := &claim{st: st, rec: rec, data: append(data, '\n')}
	liveClaims.Store(nonce, true)
	defer func() {
		if p := recover(); p != nil {
			c.end() // whatever is left is a dead run's
			panic(p)
		}
	}()
	for attempt := 0; ; attempt++ {
		_, err := st.Put(ctx, claimName, bytes.NewReader(c.data), backupstore.PutOptions{NoOverwrite: true})
		if err == nil {
			break
		}
		if !errors.Is(err, backupstore.ErrExists) {
			c.abandon(ctx)
			return nil, opErr(op, nil, "claim "+st.Location(), err)
		}
		other, err := readClaim(ctx, st)
		if err != nil {
			c.abandon(ctx)
			return nil, opErr(op, nil, "read the claim of "+st.Location(), err)
		}
		if other != nil && !other.gone {
			c.abandon(ctx)
			return nil, opErr(op, ErrExists, other.describe(st.Location()), nil)
		}
		if attempt == 2 { // claims that keep coming back: another run is taking over too
			c.abandon(ctx)
			return nil, opErr(op, ErrExists, "another run is taking over the claim of "+st.Location(), nil)
		}
		if other != nil {
			if err := st.Delete(ctx, claimName); err != nil {
				c.abandon(ctx)
				return nil, opErr(op, nil, "delete the dead writer's claim of "+st.Location(), err)
			}
		}
		c.took()
	}
	c.begin()
	if c.tookOver() {
		if err := removeLeftovers(ctx, st, c.rec.Nonce); err != nil {
			// our claim stays, dead once this run ends: the next run
			// takes it over and removes the rest
			c.forget()
			return nil, opErr(op, nil, "remove what a dead writer left in "+st.Location(), err)
		}
	}
	return c, nil
}

// foundClaim is a claim read from a store.
type foundClaim struct {
	rec      *claimRecord // nil: unreadable bytes
	modified time.Time    // the later of the claim's and its heartbeat's
	gone     bool         // its writer is gone (writerGone)
}

// readClaim reads the claim of st and tells whether its writer is gone:
// nil when there is none.
func readClaim(ctx context.Context, st backupstore.Store) (*foundClaim, error) {
	rc, err := st.Get(ctx, claimName)
	if errors.Is(err, backupstore.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(io.LimitReader(rc, 1<<16))
	rc.Close()
	if err != nil {
		return nil, err
	}
	f := &foundClaim{}
	var rec claimRecord
	if json.Unmarshal(raw, &rec) == nil && rec.Nonce != "" {
		f.rec = &rec
	}
	me := thisMachine()
	if f.rec != nil && me.same(f.rec) {
		if f.rec.PID == me.pid {
			_, live := liveClaims.Load(f.rec.Nonce)
			f.gone = !live
			return f, nil
		}
		if !pidAlive(f.rec.PID) {
			f.gone = true
			return f, nil
		}
	}
	// Another machine (or a PID that runs, maybe reused): its signs of life.
	info, err := st.Stat(ctx, claimName)
	if errors.Is(err, backupstore.ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	f.modified = info.Modified
	if f.rec != nil {
		hb, err := st.Stat(ctx, f.rec.heartbeatKey())
		switch {
		case err == nil && hb.Modified.After(f.modified):
			f.modified = hb.Modified
		case err != nil && !errors.Is(err, backupstore.ErrNotFound):
			return nil, err
		}
	}
	f.gone = time.Since(f.modified) > claimStaleAfter
	return f, nil
}

// describe says who holds a live claim, for ErrExists.
func (f *foundClaim) describe(loc string) string {
	who := fmt.Sprintf("an unreadable %s, last changed %s", claimName, f.modified.UTC().Format(time.RFC3339))
	if r := f.rec; r != nil {
		who = r.Op
		if r.BackupID != "" {
			who += " of backup " + r.BackupID
		}
		who += fmt.Sprintf(" by pid %d on %s since %s", r.PID, r.Host, r.Started.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("another run holds %s (%s); a holder is taken for dead %s after its last sign of life, or, on this machine, as soon as its process is gone",
		loc, who, claimStaleAfter)
}

// machine identifies this process for claims.
type machine struct {
	host, boot, pidNS string
	pid               int
}

var thisMachine = sync.OnceValue(func() machine {
	host, _ := os.Hostname()
	boot, pidNS := bootAndPIDNamespace()
	return machine{host: host, boot: boot, pidNS: pidNS, pid: os.Getpid()}
})

// same reports whether rec was written on this machine, since its last
// boot, in this PID namespace: only then does its PID name a process the
// kernel here can be asked about.
func (m machine) same(rec *claimRecord) bool {
	return m.boot != "" && m.pidNS != "" && rec.Host == m.host && rec.BootID == m.boot && rec.PIDNS == m.pidNS
}
