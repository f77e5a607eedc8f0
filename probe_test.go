package dbctl

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dbctl/dbctl/dbctltest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Probes never hold a lock across I/O (issue 16): callers share one query
// in flight and each leaves on its own context.

// guard bounds a wait that must end for the test to mean anything; it is
// not a measure of speed.
const guard = 30 * time.Second

func TestSharedProbeCallersLeaveOnTheirOwnContext(t *testing.T) {
	var p sharedProbe[string]
	var runs atomic.Int32
	started, unblock := make(chan struct{}), make(chan struct{})
	run := func(ctx context.Context) (string, error) {
		if runs.Add(1) == 1 {
			close(started)
		}
		select {
		case <-unblock:
			return "sys", nil
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	patient := make(chan string, 1)
	go func() {
		v, err := p.get(context.Background(), run)
		assert.NoError(t, err)
		patient <- v
	}()
	<-started
	hurried, cancel := context.WithCancel(context.Background())
	left := make(chan error, 1)
	go func() {
		_, err := p.get(hurried, run)
		left <- err
	}()
	cancel()
	select {
	case err := <-left:
		assert.ErrorIs(t, err, context.Canceled)
	case <-time.After(guard):
		t.Fatal("the caller whose context ended waited for the probe")
	}
	select {
	case <-patient:
		t.Fatal("the patient caller returned before the probe answered")
	default:
	}
	close(unblock)
	assert.Equal(t, "sys", <-patient)
	v, err := p.get(context.Background(), run)
	require.NoError(t, err)
	assert.Equal(t, "sys", v)
	assert.Equal(t, int32(1), runs.Load(), "one query for all callers, then the cached answer")
}

func TestSharedProbeIsCancelledWhenNobodyWaitsAndFailuresAreNotCached(t *testing.T) {
	var p sharedProbe[string]
	cancelled := make(chan struct{})
	started := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-started
		cancel()
	}()
	_, err := p.get(ctx, func(rctx context.Context) (string, error) {
		close(started)
		<-rctx.Done() // cancelled once its only caller has left
		close(cancelled)
		return "", rctx.Err()
	})
	assert.ErrorIs(t, err, context.Canceled)
	select {
	case <-cancelled:
	case <-time.After(guard):
		t.Fatal("the probe went on with nobody waiting")
	}

	boom := errors.New("connection refused")
	_, err = p.get(context.Background(), func(context.Context) (string, error) { return "", boom })
	assert.ErrorIs(t, err, boom)
	v, err := p.get(context.Background(), func(context.Context) (string, error) { return "acc1", nil })
	require.NoError(t, err, "a failure is not cached: the next caller asks again")
	assert.Equal(t, "acc1", v)
}

// statementCounter is a slog.Handler that counts the statements a Client
// sends, by text.
type statementCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (h *statementCounter) Enabled(context.Context, slog.Level) bool { return true }
func (h *statementCounter) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *statementCounter) WithGroup(string) slog.Handler            { return h }
func (h *statementCounter) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "sql" {
			h.mu.Lock()
			h.n[a.Value.String()]++
			h.mu.Unlock()
		}
		return true
	})
	return nil
}

func (h *statementCounter) count(stmt string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n[stmt]
}

// A FlushTable with a 200 ms deadline returns its deadline error while the
// sys-account probe it needs is still held on the server, and a caller
// without a deadline still gets its flush once the probe answers. Before,
// the first caller held a mutex across the probe's round trip and every
// other caller queued behind it.
func TestIdentityProbeLetsEachCallerLeaveOnItsOwnDeadline(t *testing.T) {
	s := dbctltest.NewMatrixOne(t)
	h := &statementCounter{n: map[string]int{}}
	c := openClient(t, s.DSN(), Options{Logger: slog.New(h)})
	mustExecAll(t, c.DB(), "create database d", "create table d.t (id int)")
	release := s.Hold("current_account_name()")
	defer release()

	patient := make(chan error, 1)
	go func() {
		_, err := c.MoCtl().FlushTable(context.Background(), "d", "t")
		patient <- err
	}()
	for s.Held() == 0 {
		time.Sleep(time.Millisecond)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	hurried := make(chan error, 1)
	go func() {
		_, err := c.MoCtl().FlushTable(ctx, "d", "t")
		hurried <- err
	}()
	select {
	case err := <-hurried:
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, 1, s.Held(), "it returned while the probe was still held on the server")
	case <-time.After(guard):
		t.Fatal("the caller with a deadline waited for the held probe")
	}
	select {
	case err := <-patient:
		t.Fatalf("the caller without a deadline returned before the probe answered: %v", err)
	default:
	}
	release()
	require.NoError(t, <-patient)
	assert.Equal(t, 1, h.count(identityQuery), "one probe for both callers")
	assert.Equal(t, 1, h.count(moCtlStatement("dn", "flush", "d.t")), "only the patient caller flushed")
}
