package backup

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/dbctl/dbctl/internal/crashpoint"
)

// progressInterval spaces the Progress calls (at most ~10 a second); a
// variable only so that a test may call Progress more often.
var progressInterval = 100 * time.Millisecond

// errProgressPanicked cancels a backup whose Progress callback panicked;
// the panic itself goes on in the caller's goroutine after the cleanup.
var errProgressPanicked = errors.New("dbctl: Progress callback panicked")

// reporter calls the user's Progress from one goroutine.
type reporter struct {
	fn       func(Progress)
	snap     func() Progress
	cancel   context.CancelCauseFunc
	stopOnce sync.Once
	stopCh   chan struct{}
	done     chan struct{}
	panicVal any
}

func startReporter(fn func(Progress), snap func() Progress, cancel context.CancelCauseFunc) *reporter {
	r := &reporter{fn: fn, snap: snap, cancel: cancel, stopCh: make(chan struct{}), done: make(chan struct{})}
	if fn == nil {
		close(r.done)
		return r
	}
	go r.loop()
	return r
}

func (r *reporter) loop() {
	defer close(r.done)
	defer func() {
		if p := recover(); p != nil {
			r.panicVal = p
			r.cancel(errProgressPanicked)
			// reached once the panic has cancelled the operation: the
			// restore campaign orders on it (its error is not used)
			_ = crashpoint.Hit("progress.panicked")
		}
	}()
	t := time.NewTicker(progressInterval)
	defer t.Stop()
	for {
		select {
		case <-r.stopCh:
			r.fn(r.snap())
			return
		case <-t.C:
			r.fn(r.snap())
		}
	}
}

// stop ends the reporting with one last call and returns the value of a
// panic in Progress, if there was one. It may be called more than once.
func (r *reporter) stop() any {
	r.stopOnce.Do(func() { close(r.stopCh) })
	<-r.done
	return r.panicVal
}
