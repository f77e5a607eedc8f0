package backup

import (
	"context"
	"os"
	"sync"

	"github.com/dbctl/dbctl/internal/crashpoint"
)

// fileSyncer fsyncs the files a restore wrote aside, on goroutines of its own,
// while the workers go on reading, hashing and writing the next files: a
// worker never waits for the disk, and the disk writes back while they
// work (an fsync starts the writeback of its file). The first failure
// cancels the restore; a panic in a sync step is kept and goes on in the
// caller's goroutine after every goroutine stopped.
type fileSyncer struct {
	ch       chan syncJob
	wg       sync.WaitGroup
	cancel   context.CancelCauseFunc
	mu       sync.Mutex
	err      error
	panicVal any
}

type syncJob struct {
	f   *os.File
	rel string // slash path under new/
}

// startFileSyncer starts n syncing goroutines; cancel stops the restore on a
// failure.
func startFileSyncer(n int, cancel context.CancelCauseFunc) *fileSyncer {
	s := &fileSyncer{ch: make(chan syncJob, 256), cancel: cancel}
	for i := 0; i < n; i++ {
		s.wg.Add(1)
		go s.loop()
	}
	return s
}

func (s *fileSyncer) loop() {
	defer s.wg.Done()
	for j := range s.ch {
		s.one(j)
	}
}

// one syncs and closes one file; after a failure it only closes.
func (s *fileSyncer) one(j syncJob) {
	defer j.f.Close()
	defer func() {
		if p := recover(); p != nil {
			s.fail(nil, p)
		}
	}()
	if s.failed() {
		return
	}
	err := crashpoint.Hit("restore.sync new/" + j.rel)
	if err == nil {
		err = restoreSyncFile(j.f)
	}
	if err == nil {
		err = j.f.Close()
	}
	if err != nil {
		s.fail(err, nil)
	}
}

func (s *fileSyncer) failed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err != nil || s.panicVal != nil
}

func (s *fileSyncer) fail(err error, p any) {
	s.mu.Lock()
	if s.err == nil && s.panicVal == nil {
		s.err, s.panicVal = err, p
	}
	s.mu.Unlock()
	if err == nil {
		err = errWorkerPanicked
	}
	s.cancel(err)
}

// add hands over f, written and closed for nothing else: the fileSyncer closes
// it.
func (s *fileSyncer) add(f *os.File, rel string) { s.ch <- syncJob{f: f, rel: rel} }

// wait stops taking files and waits until every file handed over is synced
// and closed; it returns the first failure.
func (s *fileSyncer) wait() (any, error) {
	close(s.ch)
	s.wg.Wait()
	return s.panicVal, s.err
}
