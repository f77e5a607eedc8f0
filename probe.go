package dbctl

import (
	"context"
	"sync"
)

// sharedProbe caches the answer of a query that every caller of a Client
// needs once (the session's identity). It never holds its lock across I/O:
// the first caller starts the query in a goroutine and every caller,
// the first included, waits for it on its own context. A caller whose
// context ends leaves at once with that context's error; the query goes on
// for the others and is cancelled only when no caller waits any more. A
// failed query is not cached: the next caller starts a new one.
type sharedProbe[T any] struct {
	mu     sync.Mutex
	val    T
	ok     bool
	flight *probeCall[T]
}

// probeCall is one query in flight.
type probeCall[T any] struct {
	done    chan struct{} // closed when val and err are set
	val     T
	err     error
	waiters int
	cancel  context.CancelFunc
}

// get returns the cached value, or joins (or starts) the query run and
// waits for it until ctx ends. run gets a context that keeps ctx's values
// but not its cancellation; it is cancelled when the last waiter leaves.
func (p *sharedProbe[T]) get(ctx context.Context, run func(context.Context) (T, error)) (T, error) {
	p.mu.Lock()
	if p.ok {
		v := p.val
		p.mu.Unlock()
		return v, nil
	}
	call := p.flight
	if call == nil {
		rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		call = &probeCall[T]{done: make(chan struct{}), cancel: cancel}
		p.flight = call
		go p.run(rctx, call, run)
	}
	call.waiters++
	p.mu.Unlock()

	select {
	case <-call.done:
		return call.val, call.err
	case <-ctx.Done():
		p.mu.Lock()
		call.waiters--
		if call.waiters == 0 && p.flight == call {
			// nobody waits: stop the query, and let the next caller start
			// afresh rather than join a cancelled one
			p.flight = nil
			call.cancel()
		}
		p.mu.Unlock()
		var zero T
		return zero, ctx.Err()
	}
}

func (p *sharedProbe[T]) run(ctx context.Context, call *probeCall[T], run func(context.Context) (T, error)) {
	v, err := run(ctx)
	p.mu.Lock()
	call.val, call.err = v, err
	if err == nil {
		p.val, p.ok = v, true
	}
	if p.flight == call {
		p.flight = nil
	}
	p.mu.Unlock()
	call.cancel()
	close(call.done)
}

// set replaces the cached value (an explicit re-ask).
func (p *sharedProbe[T]) set(v T) {
	p.mu.Lock()
	p.val, p.ok = v, true
	p.mu.Unlock()
}
