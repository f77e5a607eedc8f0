package s3test

import (
	"bytes"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Goroutines is a snapshot of the goroutines alive at one moment.
type Goroutines map[string]bool

// SnapshotGoroutines records the goroutines alive now.
func SnapshotGoroutines() Goroutines {
	out := Goroutines{}
	for id := range stacks() {
		out[id] = true
	}
	return out
}

// stacks returns each goroutine's stack by its id ("goroutine 42").
func stacks() map[string]string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	out := map[string]string{}
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		head, _, _ := strings.Cut(string(g), " [")
		out[head] = string(g)
	}
	return out
}

// NoneLeft fails the test unless every goroutine started since before
// ended (the calling goroutine apart). Goroutines of a closed connection
// end asynchronously: it waits for them, polling, up to 10 seconds, and
// then names the ones left with their stacks.
func (before Goroutines) NoneLeft(t testing.TB) {
	t.Helper()
	var left []string
	for i := 0; i < 1000; i++ {
		left = left[:0]
		for id, st := range stacks() {
			if !before[id] && !strings.Contains(st, "s3test.Goroutines.NoneLeft") {
				left = append(left, st)
			}
		}
		if len(left) == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%d goroutine(s) left:\n\n%s", len(left), strings.Join(left, "\n\n"))
}
