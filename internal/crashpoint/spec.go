package crashpoint

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Environment variables read by InstallFromEnv.
const (
	// EnvSpec holds a Spec: "STEP[#N]=ACTION".
	EnvSpec = "DBCTL_CRASHPOINT"
	// EnvReady names a file that a "pause" action creates once the process
	// stands at the step, so that the parent knows when to kill it.
	EnvReady = "DBCTL_CRASHPOINT_READY"
	// EnvLog names a file to which every step reached is appended, one line
	// each, so that the parent learns the steps of a child's run.
	EnvLog = "DBCTL_CRASHPOINT_LOG"
)

// Action is what happens when a Spec's step is reached.
type Action string

const (
	// Fail makes Hit return ErrInjected.
	Fail Action = "error"
	// Kill ends the process at once with SIGKILL (os.Process.Kill), as the
	// OOM killer or a power cut would: no deferred function runs.
	Kill Action = "kill"
	// Pause creates the EnvReady file and blocks the calling goroutine for
	// good, so that a parent can kill the process at exactly that step.
	Pause Action = "pause"
	// Panic panics with ErrInjected.
	Panic Action = "panic"
)

// Spec selects a step and what happens there: the N-th time (from 1) Step
// is reached, Action runs. Step matches a step name exactly, or its prefix
// when it ends in "*".
type Spec struct {
	Step   string
	N      int
	Action Action
}

// String renders the spec as ParseSpec reads it.
func (s Spec) String() string {
	return fmt.Sprintf("%s#%d=%s", s.Step, max(s.N, 1), s.Action)
}

// ParseSpec reads "STEP[#N]=ACTION".
func ParseSpec(v string) (Spec, error) {
	step, act, ok := strings.Cut(v, "=")
	if !ok || step == "" {
		return Spec{}, fmt.Errorf("crashpoint: spec %q: want STEP[#N]=ACTION", v)
	}
	s := Spec{Step: step, N: 1, Action: Action(act)}
	if i := strings.LastIndex(step, "#"); i >= 0 {
		n, err := strconv.Atoi(step[i+1:])
		if err != nil || n < 1 {
			return Spec{}, fmt.Errorf("crashpoint: spec %q: bad count", v)
		}
		s.Step, s.N = step[:i], n
	}
	switch s.Action {
	case Fail, Kill, Pause, Panic:
	default:
		return Spec{}, fmt.Errorf("crashpoint: spec %q: unknown action %q", v, act)
	}
	return s, nil
}

func (s Spec) matches(step string) bool {
	if p, ok := strings.CutSuffix(s.Step, "*"); ok {
		return strings.HasPrefix(step, p)
	}
	return step == s.Step
}

// Handler returns a handler that carries out s, passing every step to
// record first when record is not nil.
func (s Spec) Handler(record func(step string)) Handler {
	var mu sync.Mutex
	seen := 0
	return func(step string) error {
		if record != nil {
			record(step)
		}
		if !s.matches(step) {
			return nil
		}
		mu.Lock()
		seen++
		now := seen == max(s.N, 1)
		mu.Unlock()
		if !now {
			return nil
		}
		switch s.Action {
		case Fail:
			return fmt.Errorf("%w at %s", ErrInjected, step)
		case Panic:
			panic(fmt.Errorf("%w (panic) at %s", ErrInjected, step))
		case Kill:
			kill()
		case Pause:
			if f := os.Getenv(EnvReady); f != "" {
				_ = os.WriteFile(f, []byte(step+"\n"), 0o644)
			}
			for {
				time.Sleep(time.Hour)
			}
		}
		return nil
	}
}

// kill ends this process as SIGKILL would; it does not return.
func kill() {
	p, err := os.FindProcess(os.Getpid())
	if err == nil {
		_ = p.Kill()
	}
	// Kill of oneself does not return on Unix; elsewhere, make sure.
	os.Exit(137)
}

// InstallFromEnv installs the handler that EnvSpec and EnvLog describe, and
// reports whether there was one. Only tests and binaries built with
// -tags dbctl_crashpoints call it.
func InstallFromEnv() (bool, error) {
	spec, logFile := os.Getenv(EnvSpec), os.Getenv(EnvLog)
	if spec == "" && logFile == "" {
		return false, nil
	}
	var record func(string)
	if logFile != "" {
		f, err := os.OpenFile(logFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return false, err
		}
		var mu sync.Mutex
		record = func(step string) {
			mu.Lock()
			defer mu.Unlock()
			_, _ = f.WriteString(step + "\n")
		}
	}
	s := Spec{Step: "\x00none", N: 1, Action: Fail}
	if spec != "" {
		var err error
		if s, err = ParseSpec(spec); err != nil {
			return false, err
		}
	}
	Set(s.Handler(record))
	return true, nil
}
