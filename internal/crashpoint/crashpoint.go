// Package crashpoint names the steps of dbctl's state-changing operations
// where a process can fail (each SQL statement, each file operation, each
// store request), so that tests can fail there, or kill the process there,
// and then check what the next run finds.
//
// Production code calls Hit at every step:
//
//	if err := crashpoint.Hit("backup.rename-into-place"); err != nil {
//		return err
//	}
//
// Without a handler (every production build) Hit is one atomic load of a nil
// pointer. Tests install a handler with Set (in-process: record the steps,
// return ErrInjected at one of them) or from the environment with
// InstallFromEnv (a re-executed test binary, or a binary built with
// -tags dbctl_crashpoints, which installs it at start-up): see Spec.
//
// Step names are "<area>.<step>", lower case, with an optional subject after
// a space ("sql.send FREEZE", "store.put manifest.json"). They are part of
// the test matrix in the README: rename one only together with it.
package crashpoint

import (
	"errors"
	"strings"
	"sync/atomic"
)

// ErrInjected is the error Hit returns where a test asked for a failure.
var ErrInjected = errors.New("crashpoint: injected failure")

// Handler decides what happens at a step: nil goes on, an error fails the
// step; it may also kill or stop the process.
type Handler func(step string) error

var handler atomic.Pointer[Handler]

// Hit marks that the process reached step. It returns the handler's error,
// or nil when no handler is installed.
func Hit(step string) error {
	h := handler.Load()
	if h == nil {
		return nil
	}
	return (*h)(step)
}

// Set installs h (nil removes the handler) and returns a function that
// puts back the one it replaced.
func Set(h Handler) (restore func()) {
	var old *Handler
	if h == nil {
		old = handler.Swap(nil)
	} else {
		old = handler.Swap(&h)
	}
	return func() { handler.Store(old) }
}

// SQL names the step of a statement: its leading keywords in upper case
// (two for SHOW, FLUSH, IMPORT and SET, one otherwise), e.g. "FREEZE",
// "SHOW LOCKS", "FLUSH ATTRIBUTES". Names and values never appear.
func SQL(stmt string) string {
	f := strings.Fields(stmt)
	if len(f) == 0 {
		return ""
	}
	kw := strings.ToUpper(f[0])
	switch kw {
	case "SHOW", "FLUSH", "IMPORT", "SET":
		if len(f) > 1 {
			kw += " " + strings.ToUpper(f[1])
		}
	}
	return kw
}
