package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
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
// delete it) is taken over by the next run that meets it (readSign tells;
// takeClaim takes over): it deletes the claim, puts its own, then removes
// what the dead writer left (removeLeftovers), so that a prefix is never
// refused for good.
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
	// the holder still runs (readSign).
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
// identity), taking over a dead writer's claim and removing what dead
// writers left. ErrExists when a live writer holds it. A claim whose Put
// could not be decided (its answer lost and the read-back failed) is
// deleted when it turns out to be this run's, and otherwise left to the
// next run, which finds it dead.
//
// The takeover of a dead claim is three steps: this run's record is put
// at its heartbeat key (a sign of a writer, which the next run finds should
// this one die before it holds the claim), the dead claim is deleted, and
// this run's claim put (conditionally: of two runs taking over at once,
// one wins, the other is refused). Signs (heartbeat objects) of writers
// other than the claim's holder are the marks of such takeovers, or of
// writers whose claim was taken over: once this run holds the claim and
// all those writers are gone, it removes their leftovers
// (removeLeftovers).
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
		other, err := readSign(ctx, st, claimName)
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
		if other == nil {
			continue // released meanwhile
		}
		if err := c.putSign(ctx); err != nil {
			c.abandon(ctx)
			return nil, opErr(op, nil, "claim "+st.Location(), err)
		}
		if err := st.Delete(ctx, claimName); err != nil {
			c.abandon(ctx)
			return nil, opErr(op, nil, "delete the dead writer's claim of "+st.Location(), err)
		}
		c.took()
	}
	c.begin()
	if err := c.clearDead(ctx); err != nil {
		// our claim stays, dead once this run ends: the next run takes
		// it over and removes the rest
		c.forget()
		return nil, opErr(op, nil, "remove what a dead writer left in "+st.Location(), err)
	}
	return c, nil
}

// putSign writes this run's record at its heartbeat key.
func (c *claim) putSign(ctx context.Context) error {
	c.mu.Lock()
	c.beat = true
	c.mu.Unlock()
	_, err := c.st.Put(ctx, c.rec.heartbeatKey(), bytes.NewReader(c.data), backupstore.PutOptions{})
	return err
}

// clearDead, once this run holds the claim, removes what dead writers
// left: everything removeLeftovers removes when it took over a dead claim
// or found signs of other writers, all of them gone; else (a fresh
// prefix, or a live writer's sign: one that lost a race for the claim
// and backs off) only a folder's temporary files of killed Puts.
func (c *claim) clearDead(ctx context.Context) error {
	signs, err := signKeys(ctx, c.st)
	if err != nil {
		return err
	}
	dead := c.tookOver()
	for _, k := range signs {
		if k == c.rec.heartbeatKey() {
			continue
		}
		f, err := readSign(ctx, c.st, k)
		if err != nil {
			return err
		}
		if f != nil && !f.gone {
			return removeTempFiles(c.st)
		}
		dead = dead || f != nil
	}
	if !dead {
		return removeTempFiles(c.st)
	}
	return removeLeftovers(ctx, c.st, c.rec.Nonce)
}

// signKeys returns the keys of the heartbeat objects (signs of writers)
// in st: for a folder, from its top level only.
func signKeys(ctx context.Context, st backupstore.Store) ([]string, error) {
	keys, err := writerKeys(ctx, st)
	out := keys[:0]
	for _, k := range keys {
		if k != claimName {
			out = append(out, k)
		}
	}
	return out, err
}

// writerKeys returns the keys of the claim and heartbeat objects in st
// (one listing request; for a folder, its top level read).
func writerKeys(ctx context.Context, st backupstore.Store) ([]string, error) {
	var keys []string
	if loc := st.Location(); !backupstore.IsRemote(loc) {
		entries, err := os.ReadDir(loc)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		for _, e := range entries {
			if n := e.Name(); (n == claimName || strings.HasPrefix(n, claimName+".")) && !strings.Contains(n, tempInfix) && e.Type().IsRegular() {
				keys = append(keys, n)
			}
		}
		return keys, nil
	}
	objs, err := st.List(ctx, claimName)
	if err != nil {
		return nil, err
	}
	for _, o := range objs {
		if o.Key == claimName || strings.HasPrefix(o.Key, claimName+".") {
			keys = append(keys, o.Key)
		}
	}
	return keys, nil
}

// foundClaim is a claim (or a heartbeat object, which holds its writer's
// claim record) read from a store.
type foundClaim struct {
	rec      *claimRecord // nil: unreadable bytes
	modified time.Time    // its last sign of life (see readSign)
	gone     bool         // its writer is gone
}

// readSign reads the claim or heartbeat object at key and tells whether
// its writer is gone: nil when there is none. A record of this machine
// (same host, boot id and PID namespace) is judged by its process: gone
// when no process has its PID, or, for this process, when its nonce is
// not one of the claims this process holds (liveClaims). Any other (an
// unreadable one, another machine's, or one whose PID runs, maybe reused)
// by its age: gone when its last sign of life (the object's modification
// time, for a claim the later of it and its heartbeat's) is older than
// claimStaleAfter.
func readSign(ctx context.Context, st backupstore.Store, key string) (*foundClaim, error) {
	rc, err := st.Get(ctx, key)
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
	info, err := st.Stat(ctx, key)
	if errors.Is(err, backupstore.ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	f.modified = info.Modified
	if f.rec != nil && key == claimName {
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
