// Package freezejournal keeps, on this machine, a record of every Manticore
// freeze that a dbctl run means to release itself, so that the next run can
// release it when the run that froze died first (SIGKILL, the OOM killer, a
// lost machine).
//
// One file per freeze in the journal folder (DefaultDir, or a folder the
// caller names), named freeze-<id>.json. A record is written aside and
// renamed into place after an fsync (a crash leaves the old record or the
// new one, never a mix), and the process that wrote it keeps it locked with
// flock(2) LOCK_EX for as long as the freeze is its own: the lock dies with
// the process, so a record nobody holds is an orphan. Orphans takes the lock
// of each record it returns, so two scanners never handle the same orphan.
//
// The journal does not talk to the server: what to do with an orphan is
// decided by the caller from the record (Record.State, the counters) and
// from the server's counters now.
package freezejournal

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// State is where a freeze stood when its record was last written.
type State string

const (
	// Intent: written before the FREEZE is sent. Whether the FREEZE ran is
	// told by the counters: above Record.Before, it landed.
	Intent State = "intent"
	// Frozen: the FREEZE answered; Record.Frozen lists the tables it froze
	// (those its file list named).
	Frozen State = "frozen"
	// Releasing: written before the UNFREEZE of Record.Frozen is sent, with
	// the counters read just before it (Record.ReleaseBefore): a counter
	// below that value says the UNFREEZE landed.
	Releasing State = "releasing"
)

// version is the record format written by this package.
const version = 1

// Record is one freeze as the journal keeps it.
type Record struct {
	Version int    `json:"version"`
	ID      string `json:"id"`
	// Server is the server's address as the client's DSN gave it, e.g.
	// "tcp(127.0.0.1:9306)"; never a user name or password.
	Server string `json:"server"`
	// ServerStart is when searchd started (the time of the record minus
	// SHOW STATUS uptime): a searchd that restarted since has another.
	ServerStart time.Time `json:"server_start"`
	// Tables are the tables the FREEZE names, lower case.
	Tables []string `json:"tables"`
	// Before holds the freeze counters read just before the FREEZE (SHOW
	// LOCKS; a table missing there had 0); nil when they could not be read.
	Before map[string]int `json:"before"`
	State  State          `json:"state"`
	// Frozen are the tables the FREEZE froze (Frozen), or whose UNFREEZE
	// is being sent (Releasing).
	Frozen []string `json:"frozen,omitempty"`
	// ReleaseBefore holds the counters read just before the UNFREEZE
	// (Releasing).
	ReleaseBefore map[string]int `json:"release_before,omitempty"`
	// Op names the operation that froze, e.g. "manticore with frozen a, b".
	Op string `json:"op"`
	// PID and Host are those of the process that wrote the record.
	PID  int    `json:"pid"`
	Host string `json:"host"`
	// Written is when the record was first written (just before the
	// FREEZE was sent).
	Written time.Time `json:"written"`
}

// Parse reads a record file and checks its shape: a record this package
// did not write (or a damaged one) is an error naming what is wrong, never
// a guess.
func Parse(b []byte) (Record, error) {
	var r Record
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(&r); err != nil {
		return Record{}, fmt.Errorf("freezejournal: record is not JSON: %w", err)
	}
	if dec.More() {
		return Record{}, errors.New("freezejournal: record has data after its JSON object")
	}
	if err := r.check(); err != nil {
		return Record{}, err
	}
	return r, nil
}

func (r *Record) check() error {
	switch {
	case r.Version != version:
		return fmt.Errorf("freezejournal: record version %d, want %d", r.Version, version)
	case !validID(r.ID):
		return fmt.Errorf("freezejournal: record id %q is not of this package", r.ID)
	case r.Server == "":
		return errors.New("freezejournal: record names no server")
	case len(r.Tables) == 0:
		return errors.New("freezejournal: record names no table")
	}
	switch r.State {
	case Intent:
	case Frozen, Releasing:
		if len(r.Frozen) == 0 {
			return fmt.Errorf("freezejournal: %s record names no frozen table", r.State)
		}
	default:
		return fmt.Errorf("freezejournal: unknown record state %q", r.State)
	}
	for _, n := range append(append([]string(nil), r.Tables...), r.Frozen...) {
		if n == "" || strings.ContainsAny(n, "`/\x00") {
			return fmt.Errorf("freezejournal: record names table %q", n)
		}
	}
	return nil
}

// validID accepts the ids newID makes: digits, lower-case hex and '-',
// so that an id is always a plain file name.
func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c == '-') {
			return false
		}
	}
	return true
}

const (
	recordPrefix = "freeze-"
	recordSuffix = ".json"
	tempPrefix   = ".tmp-"
)

func recordName(id string) string { return recordPrefix + id + recordSuffix }
