package dbctl

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/dbctl/dbctl/internal/freezejournal"
)

// serverStartTolerance is how far apart two readings of searchd's start
// time (now minus SHOW STATUS uptime, whole seconds: src/searchd.cpp
// BuildStatus, "uptime" = time(nullptr) - m_uStarted) may be and still
// name the same instance: the truncation to seconds, the round trips, and
// a small step of either clock.
const serverStartTolerance = 3 * time.Second

// journalServer is the journal's name for the server of cfg: network and
// address, as a DSN writes them.
func journalServer(cfg *mysql.Config) string {
	return cfg.Net + "(" + cfg.Addr + ")"
}

// journalAddress is Options.ServerAddress in journalServer's form, so that
// a New client's records and an Open client's name a server alike: a bare
// "host:port" is TCP, as in a DSN, and the driver's default port is added
// where none is given (as ParseDSN does for Open); "net(addr)" is read the
// same way; "" stays "". Anything else, a DSN above all (its password would
// be written into the journal), is an error that does not repeat the value.
func journalAddress(a string) (string, error) {
	a = strings.TrimSpace(a)
	if a == "" {
		return "", nil
	}
	if strings.ContainsAny(a, "@/?") && !strings.HasPrefix(a, "unix(") {
		return "", errors.New(`Options.ServerAddress must be the server's address alone ("127.0.0.1:9306", "unix(/run/searchd.sock)"), not a DSN`)
	}
	if !strings.HasSuffix(a, ")") {
		a = "tcp(" + a + ")"
	}
	cfg, err := mysql.ParseDSN("u@" + a + "/")
	if err != nil || cfg.Addr == "" {
		return "", errors.New(`Options.ServerAddress is not an address the driver reads ("127.0.0.1:9306", "tcp(127.0.0.1:9306)", "unix(/run/searchd.sock)")`)
	}
	return journalServer(cfg), nil
}

// journal returns the Client's freeze journal, or nil when it keeps none
// (a Client made with New). A folder that cannot be made is ErrStateDir;
// a system without flock is ErrNotSupported.
func (c *Client) journal(op string) (*freezejournal.Journal, error) {
	if c.opts.serverAddressErr != nil && c.fz.server == "" {
		return nil, opErr(op, ErrInvalidArgument, "", c.opts.serverAddressErr)
	}
	if c.fz.server == "" {
		return nil, nil
	}
	dir := c.opts.stateDir
	if dir == "" {
		d, err := freezejournal.DefaultDir()
		if err != nil {
			return nil, opErr(op, ErrStateDir, "no folder for the freeze journal: set XDG_STATE_HOME or HOME, or set Options.StateDir (CLI: --state-dir)", err)
		}
		dir = d
	}
	j, err := freezejournal.Open(dir)
	switch {
	case errors.Is(err, freezejournal.ErrUnsupported):
		return nil, opErr(op, ErrNotSupported, "no freeze journal on this system (it needs flock)", nil)
	case err != nil:
		return nil, opErr(op, ErrStateDir, stateDirHint(dir), err)
	}
	return j, nil
}

func stateDirHint(dir string) string {
	return "freeze journal folder " + dir + " is not usable; move it with Options.StateDir (CLI: --state-dir) or XDG_STATE_HOME"
}

// serverStart returns when searchd started: now minus SHOW STATUS uptime
// (manticore.md §4.8: "SHOW STATUS LIKE 'uptime'", columns Counter and
// Value).
func (m *Manticore) serverStart(ctx context.Context, q querier) (time.Time, error) {
	t, err := m.c.query(ctx, q, "SHOW STATUS LIKE 'uptime'")
	if err != nil {
		return time.Time{}, err
	}
	now := time.Now()
	vars, err := parseVariables(t)
	if err != nil {
		return time.Time{}, err
	}
	v, ok := vars["uptime"]
	if !ok {
		return time.Time{}, fmt.Errorf("%w: SHOW STATUS has no uptime row", ErrUnexpectedResult)
	}
	secs, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: uptime is not a number of seconds: %s", ErrUnexpectedResult, quoteForMessage(v))
	}
	return now.Add(-time.Duration(secs) * time.Second).UTC().Truncate(time.Second), nil
}

// freezeBook is a Client's freeze bookkeeping.
type freezeBook struct {
	// server names the server in journal records; "" for a Client made
	// with New (no journal).
	server string
	// life ends when Close gives up waiting: what still waits for the
	// server is cut then.
	life context.Context
	stop context.CancelFunc

	mu       sync.Mutex
	pending  map[*releaser]struct{}
	finished []*releaser // done, not yet reported by WaitReleases
}

func (b *freezeBook) init() {
	b.life, b.stop = context.WithCancel(context.Background())
	b.pending = map[*releaser]struct{}{}
}

// releaser is a goroutine that finishes a freeze after its caller left: it
// waits for the FREEZE's answer (or watches the counters after the
// connection died) and unfreezes exactly what the FREEZE froze.
type releaser struct {
	tables   []string
	done     chan struct{}
	released []string
	err      error
}

// spawn starts job as a releaser of tables.
func (b *freezeBook) spawn(tables []string, job func() ([]string, error)) {
	r := &releaser{tables: tables, done: make(chan struct{})}
	b.mu.Lock()
	b.pending[r] = struct{}{}
	b.mu.Unlock()
	go func() {
		released, err := job()
		b.mu.Lock()
		r.released, r.err = released, err
		delete(b.pending, r)
		b.finished = append(b.finished, r)
		b.mu.Unlock()
		close(r.done)
	}()
}

// detached returns a context for cleanup after the caller's ctx may have
// ended: ctx's values without its cancellation, bounded by the release
// timeout, and cut when Close gives up waiting.
func (c *Client) detached(ctx context.Context) (context.Context, context.CancelFunc) {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opts.releaseTimeout)
	stop := context.AfterFunc(c.fz.life, cancel)
	return dctx, func() { stop(); cancel() }
}

// WaitReleases waits until every release this Client still owes has
// finished, or ctx ends. A release is owed when a Freeze, WithFrozen or
// Backup returned while its FREEZE was still running on the server (ctx
// ended first: the FREEZE's answer is always awaited, and the tables it
// froze are then unfrozen), or after its connection died with the FREEZE
// in flight (ErrFreezeOutcomeUnknown: the counters are watched for the
// release timeout).
//
// It returns the tables those releases unfroze since the last call, one
// entry per UNFREEZE, and an error naming every release that failed or,
// when ctx ended first, that is still waiting (and wrapping ctx's error).
// A program that exits without calling it or Close leaves such a FREEZE
// to the next run (its journal record; see Options.StateDir).
func (c *Client) WaitReleases(ctx context.Context) ([]string, error) {
	b := &c.fz
	var werr error
	for {
		b.mu.Lock()
		var next *releaser
		var waiting []string
		for r := range b.pending {
			next = r
			waiting = append(waiting, r.tables...)
		}
		b.mu.Unlock()
		if next == nil {
			break
		}
		select {
		case <-next.done:
			continue
		case <-ctx.Done():
			werr = opErr("wait for releases", nil, "still waiting for the FREEZE of "+strings.Join(waiting, ", ")+
				" to answer; its journal record is kept for the next run", ctx.Err())
		}
		break
	}
	b.mu.Lock()
	done := b.finished
	b.finished = nil
	b.mu.Unlock()
	var released []string
	var errs []error
	for _, r := range done {
		released = append(released, r.released...)
		if r.err != nil {
			errs = append(errs, r.err)
		}
	}
	return released, errors.Join(append(errs, werr)...)
}

// closeReleasers waits for the pending releases, at most the release
// timeout, then cuts the rest and waits for them to stop.
func (c *Client) closeReleasers() error {
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.releaseTimeout)
	_, err := c.WaitReleases(ctx)
	cancel()
	c.fz.stop()
	if err != nil {
		// cut: each stops at once (its FREEZE, watch or UNFREEZE fails)
		_, _ = c.WaitReleases(context.Background())
	}
	return err
}
