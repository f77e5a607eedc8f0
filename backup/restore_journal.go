package backup

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dbctl/dbctl/internal/crashpoint"
)

// journal says how far a swap got. It is written aside, synced and renamed
// into place, so it is always whole: absent (the swap has not begun),
// "swapping" (entries may have moved: recovery puts the Old ones back) or
// "committed" (every New entry is in the data_dir: recovery removes old/,
// or renames it to Keep).
type journal struct {
	Version int       `json:"version"`
	State   string    `json:"state"`
	Backup  string    `json:"backup"`
	Started time.Time `json:"started"`
	PID     int       `json:"pid"`
	// Old are the data_dir's entries the swap moves into old/, New the
	// entries of new/ it moves into the data_dir.
	Old []string `json:"old"`
	New []string `json:"new"`
	// Keep is where old/ goes once committed (KeepReplaced); "" removes it.
	Keep string `json:"keep,omitempty"`
}

// writeJournal writes j as dir/journal.json: aside, synced, renamed, and
// the folder synced.
func writeJournal(dir string, j *journal) error { return writeJournalThen(dir, j, nil, nil) }

// writeJournalThen is writeJournal asking check (when not nil) right
// before the rename, which does not happen when it fails, and calling
// renamed once the journal is in place (before the folder is synced).
func writeJournalThen(dir string, j *journal, check func() error, renamed func()) error {
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, journalName+".tmp")
	step := func(s string) error { return crashpoint.Hit("restore.journal-" + s + " " + j.State) }
	if err := step("create"); err != nil {
		return err
	}
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	err = step("write")
	if err == nil {
		_, err = f.Write(append(b, '\n'))
	}
	if err == nil {
		err = step("sync")
	}
	if err == nil {
		err = restoreSyncFile(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && check != nil {
		err = check()
	}
	if err == nil {
		err = step("rename")
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, journalName))
	}
	if err != nil {
		return err
	}
	if renamed != nil {
		renamed()
	}
	return syncDirStep("restore-folder", dir)
}

// readJournal reads dir/journal.json; nil when there is none.
func readJournal(dir string) (*journal, error) {
	b, err := os.ReadFile(filepath.Join(dir, journalName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var j journal
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, journalName), err)
	}
	if j.Version != journalVersion || (j.State != stateSwapping && j.State != stateCommitted) {
		return nil, fmt.Errorf("%s: version %d, state %q: not a journal this package wrote", filepath.Join(dir, journalName), j.Version, j.State)
	}
	for _, n := range append(append([]string(nil), j.Old...), j.New...) {
		if n == "" || n == "." || n == ".." || strings.ContainsAny(n, "/\\\x00") {
			return nil, fmt.Errorf("%s: bad entry name %q", filepath.Join(dir, journalName), n)
		}
	}
	if j.Keep != "" && (filepath.Dir(j.Keep) != filepath.Dir(dir) || !strings.HasPrefix(filepath.Base(j.Keep), replacedPrefix)) {
		return nil, fmt.Errorf("%s: keep %q is not a folder of the data_dir", filepath.Join(dir, journalName), j.Keep)
	}
	return &j, nil
}
