package dbctltest

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/dbctl/dbctl/internal/mysqlwire"
)

// faults is the fault injection both servers share.
type faults struct {
	mu     sync.Mutex
	state  string // SQLSTATE of injected errors: the server's usual one
	fails  []injectedFail
	delays []injectedDelay
	holds  []injectedHold
	// held counts the statements waiting on a hold now
	held int
}

type injectedHold struct {
	match string
	ch    chan struct{} // closed by release
}

type injectedFail struct {
	match string
	err   *mysqlwire.Error
}

type injectedDelay struct {
	match string
	d     time.Duration
}

// matches reports whether sql contains match (case-insensitive); a match
// starting with "^" must start the statement (leading spaces ignored), so
// that "^FREEZE" does not also match "UNFREEZE".
func matches(sql, match string) bool {
	if rest, ok := strings.CutPrefix(match, "^"); ok {
		return strings.HasPrefix(strings.ToLower(strings.TrimSpace(sql)), strings.ToLower(rest))
	}
	return strings.Contains(strings.ToLower(sql), strings.ToLower(match))
}

func (f *faults) failNext(match string, number uint16, message string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fails = append(f.fails, injectedFail{match: match, err: &mysqlwire.Error{Code: number, State: f.state, Message: message}})
}

func (f *faults) delay(match string, d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	kept := f.delays[:0]
	for _, x := range f.delays {
		if x.match != match {
			kept = append(kept, x)
		}
	}
	f.delays = kept
	if d > 0 {
		f.delays = append(f.delays, injectedDelay{match: match, d: d})
	}
}

// waiting is how many statements wait on a hold now.
func (f *faults) waiting() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.held
}

// hold makes matching statements wait until release is called; release
// may be called more than once.
func (f *faults) hold(match string) (release func()) {
	h := injectedHold{match: match, ch: make(chan struct{})}
	f.mu.Lock()
	f.holds = append(f.holds, h)
	f.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			f.mu.Lock()
			for i, x := range f.holds {
				if x.ch == h.ch {
					f.holds = append(f.holds[:i], f.holds[i+1:]...)
					break
				}
			}
			f.mu.Unlock()
			close(h.ch)
		})
	}
}

// before runs ahead of every statement: it sleeps for a matching delay and
// returns the first matching injected failure (used once). The sleep ends
// early only when the server closes (ctx): a client that closes its
// connection meanwhile does not cut it, and the statement then runs, as
// searchd completes a statement whose client has gone (manticore.md §4:
// "a killed mysql client's / a Go context-cancelled UPDATE was still applied
// after UNFREEZE"; the same for FREEZE is issue 9 §2.C, seen on 29.2.2).
func (f *faults) before(ctx context.Context, sql string) error {
	f.mu.Lock()
	var wait time.Duration
	for _, x := range f.delays {
		if matches(sql, x.match) {
			wait += x.d
		}
	}
	var held []chan struct{}
	for _, x := range f.holds {
		if matches(sql, x.match) {
			held = append(held, x.ch)
		}
	}
	var err *mysqlwire.Error
	for i, x := range f.fails {
		if matches(sql, x.match) {
			err = x.err
			f.fails = append(f.fails[:i], f.fails[i+1:]...)
			break
		}
	}
	f.mu.Unlock()
	if wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	if len(held) > 0 {
		f.mu.Lock()
		f.held++
		f.mu.Unlock()
		for _, ch := range held {
			select {
			case <-ch:
			case <-ctx.Done():
			}
		}
		f.mu.Lock()
		f.held--
		f.mu.Unlock()
	}
	if err != nil {
		return err
	}
	return nil
}
