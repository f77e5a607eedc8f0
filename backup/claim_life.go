package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/dbctl/dbctl/backupstore"
)

// errClaimLost: the claim at the key is not this run's any more: another
// run took it for dead and took it over. This run then writes and deletes
// nothing more.
var errClaimLost = errors.New("the prefix's claim is no longer this run's (another run took it over after it saw no sign of life)")

// took records that the claim replaced a dead writer's.
func (c *claim) took() {
	c.mu.Lock()
	c.over = true
	c.mu.Unlock()
}

// tookOver reports whether the claim replaced a dead writer's.
func (c *claim) tookOver() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.over
}

// begin starts holding the claim: it is confirmed now, and the heartbeat
// renews it every claimRenewEvery until release or forget.
func (c *claim) begin() {
	c.mu.Lock()
	c.confirmed = time.Now()
	c.stop, c.done = make(chan struct{}), make(chan struct{})
	c.mu.Unlock()
	go c.heartbeat()
}

func (c *claim) heartbeat() {
	defer close(c.done)
	t := time.NewTicker(claimRenewEvery)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			c.renew()
		}
	}
}

// renew confirms the claim is still this run's and writes the heartbeat
// object, whose modification time is the sign of life other runs look
// at. The lease runs from before the confirmation.
func (c *claim) renew() {
	ctx, cancel := context.WithTimeout(context.Background(), claimRenewEvery)
	defer cancel()
	before := time.Now()
	if err := c.check(ctx); err != nil {
		return
	}
	if err := c.putSign(ctx); err != nil {
		return
	}
	c.mu.Lock()
	c.confirmed = before
	c.mu.Unlock()
}

// lease fails once the claim is lost, or when it was not confirmed for
// claimLeaseFor: a writer checks it before each write, so that it never
// writes over what a run that took its claim over writes (see
// claimLeaseFor). Nil-safe: no claim, no lease to keep.
func (c *claim) lease() error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lost != nil {
		return c.lost
	}
	if since := time.Since(c.confirmed); since > claimLeaseFor {
		return fmt.Errorf("the claim of %s was not confirmed for %s (renewals failing): stopping before another run may take it for dead",
			c.st.Location(), since.Round(time.Second))
	}
	return nil
}

// check reads the claim back: errClaimLost when it is not this run's.
// Nil-safe.
func (c *claim) check(ctx context.Context) error {
	if c == nil {
		return nil
	}
	ours, err := c.ours(ctx)
	if err != nil {
		return fmt.Errorf("read the claim of %s back: %w", c.st.Location(), err)
	}
	if !ours {
		c.mu.Lock()
		c.lost = errClaimLost
		c.mu.Unlock()
		return errClaimLost
	}
	return nil
}

// ours reports whether the claim at the key holds this run's bytes.
func (c *claim) ours(ctx context.Context) (bool, error) {
	rc, err := c.st.Get(ctx, claimName)
	if errors.Is(err, backupstore.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer rc.Close()
	got, err := io.ReadAll(io.LimitReader(rc, int64(len(c.data))+1))
	if err != nil {
		return false, err
	}
	return bytes.Equal(got, c.data), nil
}

// release deletes the heartbeat object and then the claim (unless it
// turned out to be another run's), and ends the claim in this process:
// the prefix is free. With a fresh deadline when ctx is done. A failure
// leaves the claim, dead from now on (forget). Nil-safe.
func (c *claim) release(ctx context.Context) error {
	if c == nil {
		return nil
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	beat := c.end()
	var err error
	if beat {
		err = c.st.Delete(cctx, c.rec.heartbeatKey())
	}
	c.mu.Lock()
	lost := c.lost
	c.mu.Unlock()
	if lost == errClaimLost {
		return nil // the claim there is another run's
	}
	if err == nil {
		err = c.st.Delete(cctx, claimName)
	}
	if err != nil {
		return fmt.Errorf("release the claim of %s (left for the next run, which finds it dead): %w", c.st.Location(), err)
	}
	return nil
}

// forget ends the claim in this process without touching the store: the
// claim left there is dead from now on, for the next run to take over.
// Nil-safe.
func (c *claim) forget() {
	if c != nil {
		c.end()
	}
}

// abandon ends a claim whose Put failed: when the claim at the key is this
// run's all the same (the Put landed, its answer lost), it is deleted;
// when that cannot be told, it is left, dead, for the next run. This
// run's sign (written for a takeover) stays: once this run has deleted a
// dead claim, it may be the only mark of that writer's leftovers, and as
// this run has ended it is a dead writer's sign, which the next holder of
// the claim clears (clearDead).
func (c *claim) abandon(ctx context.Context) {
	c.end()
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if ours, err := c.ours(cctx); err == nil && ours {
		_ = c.st.Delete(cctx, claimName)
	}
}

// end stops the heartbeat and drops the nonce from liveClaims (once), and
// reports whether a heartbeat object may exist.
func (c *claim) end() (beat bool) {
	c.mu.Lock()
	ended, stop, done := c.ended, c.stop, c.done
	c.ended = true
	c.mu.Unlock()
	if !ended {
		if stop != nil {
			close(stop)
			<-done
		}
		liveClaims.Delete(c.rec.Nonce)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.beat
}
