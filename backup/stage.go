package backup

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dbctl/dbctl"
	"github.com/dbctl/dbctl/internal/crashpoint"
)

// immutableSuffixes are the extensions of the disk-chunk files searchd
// writes once, when the chunk is made, and never changes in place: a merge
// (OPTIMIZE, auto-optimize) or a REPLACE writes new chunks and the old
// chunks' files are unlinked. A hard link made inside the freeze therefore
// keeps their bytes as they were at the freeze, even after searchd unlinks
// the file. Sources (repository manticoresoftware/manticoresearch):
// src/indexfiles.cpp g_dIndexFilesExts (the extension list);
// src/sphinxrt.cpp RtIndex_c::SaveDiskChunk / SaveDiskData (a new chunk's
// files are written under its new name) and the chunk merge of OPTIMIZE;
// src/sphinx.cpp CSphIndex_VLN::SaveAttributes, which rewrites in place
// .spa, .spb, .sphi and .spm (and the secondary index's meta), so those are
// NOT on the list. .meta, .ram and .settings are rewritten (RtIndex_c::
// SaveMeta, SaveRamChunk). Any file whose suffix is not on this list
// (.spa .spb .spm .sphi .spc .spidx .spjidx .spknn .spks .spk, .meta, .ram,
// .settings, wordforms/exceptions copies, ...) is treated as mutable and
// copied inside the freeze.
var immutableSuffixes = map[string]bool{
	".spd": true, ".spp": true, ".spi": true, ".spe": true, ".sph": true, ".spds": true, ".spt": true,
}

// isImmutable says whether path is a disk-chunk file ("<table>.<N>.<ext>")
// with an immutable suffix.
func isImmutable(path string) bool {
	base := filepath.Base(path)
	ext := filepath.Ext(base)
	if !immutableSuffixes[ext] {
		return false
	}
	chunk := filepath.Ext(strings.TrimSuffix(base, ext)) // ".<N>"
	if len(chunk) < 2 {
		return false
	}
	for _, c := range chunk[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// stageMemory bounds the bytes of mutable files a staged backup reads into
// memory inside the freeze (and writes out after the unfreeze): reading
// from the page cache is several times faster than writing new pages, so
// the freeze window stays short. Mutable files past the bound are copied to
// the backup inside the freeze. On the peer measurement's data the mutable
// files are 36.6 MB of 1,114 MB.
const stageMemory = 256 << 20

// Staging folders are named stagingPrefix+<backup ID> and hold a marker
// file that the running backup keeps locked (flock). A folder whose marker
// is not locked belongs to a run that was killed; the next backup that
// looks in the same place removes it, so its hard links stop pinning
// space.
const (
	stagingPrefix = ".dbctl-stage-"
	stagingMarker = "DBCTL-STAGING"
	partialInfix  = ".dbctl-partial-" // the temporary directory of a backup
)

// stagingDir is a staging folder owned by this run.
type stagingDir struct {
	path string
	lock *os.File
}

// createStaging makes the staging folder under parent and locks its
// marker before anything is linked into it (newMarked).
func createStaging(parent, id string, info map[string]any) (*stagingDir, error) {
	path := filepath.Join(parent, stagingPrefix+id)
	dir, f, err := newMarked("staging", func() (string, error) { return path, os.Mkdir(path, 0o700) }, info)
	if err != nil {
		return nil, err
	}
	return &stagingDir{path: dir, lock: f}, nil
}

// remove deletes the folder and its links (removeMarked); nil-safe,
// idempotent. After a failure the marker stays locked, so that a later
// call can try again; after a panic it is let go, and the folder left is
// the next run's to remove.
func (s *stagingDir) remove() (err error) {
	if s == nil || s.lock == nil {
		return nil
	}
	returned := false
	defer func() {
		if !returned || err == nil {
			s.lock.Close()
			s.lock = nil
		}
	}()
	err = removeMarked(s.path, "staging")
	returned = true
	return err
}

// cleanStaleStaging runs removeStaleStaging where this backup may stage
// or keep its temporary folder (tmpParent), before the freeze, and logs
// what it removed.
func (b *backupRun) cleanStaleStaging(ctx context.Context, tmpParent string) {
	dirs := []string{tmpParent}
	for _, p := range b.stagingPlaces(b.settingsDataDir()) {
		if p.dir != tmpParent {
			dirs = append(dirs, p.dir)
		}
	}
	for _, d := range dirs {
		removed, err := removeStaleStaging(d)
		for _, p := range removed {
			b.log().InfoContext(ctx, "dbctl: removed a staging folder left by a killed backup", "path", p)
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			b.log().WarnContext(ctx, "dbctl: could not clean up old staging folders", "dir", d, "error", err)
		}
	}
}

// settingsDataDir is the data_dir SHOW SETTINGS gave, "" when unknown.
func (b *backupRun) settingsDataDir() string {
	if b.settings != nil && filepath.IsAbs(b.settings.DataDir) {
		return filepath.Clean(b.settings.DataDir)
	}
	return ""
}

// stagingPlace is a folder a staging folder may be made in; must: the
// backup fails (dbctl.ErrInvalidArgument) when it cannot be.
type stagingPlace struct {
	dir  string
	must bool
}

// stagingPlaces lists, in order, where a staging folder is tried. A local
// backup: beside the target, else StagingDir (which must work). A backup
// to a store: StagingDir when set (else no staging: the operator chose the
// place), else beside the data_dir (in its parent folder), else the temp
// dir. Only a folder on the data_dir's file system can hold the links.
func (b *backupRun) stagingPlaces(dataDir string) []stagingPlace {
	if b.store == nil {
		out := []stagingPlace{{dir: filepath.Dir(b.target)}}
		if b.opts.StagingDir != "" {
			out = append(out, stagingPlace{dir: b.opts.StagingDir, must: true})
		}
		return out
	}
	if b.opts.StagingDir != "" {
		return []stagingPlace{{dir: b.opts.StagingDir}}
	}
	var out []stagingPlace
	if dataDir != "" {
		out = append(out, stagingPlace{dir: filepath.Dir(dataDir)})
	}
	return append(out, stagingPlace{dir: os.TempDir()})
}

// chooseStaging decides, once (before the freeze when SHOW SETTINGS gave
// the data_dir, else inside it), where immutable files are hard-linked: in the first of stagingPlaces that is on the data_dir's
// file system (same st_dev) and takes a hard link from the data_dir (a
// bind mount or protected_hardlinks may refuse it), else nowhere: every
// file is then copied inside the freeze (logged, and said in
// Manifest.Staging).
func (b *backupRun) chooseStaging(ctx context.Context, dataDir string) error {
	if b.man.Staging != "" {
		return nil // decided before the freeze (beforeFreeze)
	}
	b.setStaging(StagingCopiedInFreeze)
	if b.opts.NoStaging {
		return nil
	}
	dev := devOf
	if h := b.opts.hooks; h != nil && h.dev != nil {
		dev = h.dev
	}
	dd, err := dev(dataDir)
	if err != nil {
		b.log().InfoContext(ctx, "dbctl: backup copies inside the freeze", "reason", err)
		return nil
	}
	var reasons []error
	for _, place := range b.stagingPlaces(dataDir) {
		st, err := b.tryStaging(ctx, place.dir, dataDir, dd, dev)
		if err == nil {
			b.staging = st
			b.memBudget.Store(stageMemory)
			if h := b.opts.hooks; h != nil && h.stageMemory != 0 {
				b.memBudget.Store(h.stageMemory)
			}
			b.setStaging(StagingStaged)
			b.log().InfoContext(ctx, "dbctl: backup stages hard links", "dir", st.path)
			return nil
		}
		if place.must {
			return opErr(b.op, dbctl.ErrInvalidArgument, "staging dir "+place.dir, err)
		}
		reasons = append(reasons, fmt.Errorf("%s: %w", place.dir, err))
	}
	if b.opts.StagingDir == "" && b.store == nil {
		reasons = append(reasons, errors.New("the target is on another file system than the data_dir and no StagingDir is set"))
	}
	b.log().WarnContext(ctx, "dbctl: no staging folder possible: the backup copies every file inside the freeze",
		"tmp", b.tmp, "reason", errors.Join(reasons...))
	return nil
}

// tryStaging makes a staging folder in parent when parent is on the
// data_dir's file system (device dd) and a hard link from the data_dir
// into it works.
func (b *backupRun) tryStaging(ctx context.Context, parent, dataDir string, dd uint64, dev func(string) (uint64, error)) (*stagingDir, error) {
	if pd, err := dev(parent); err != nil {
		return nil, err
	} else if pd != dd {
		return nil, fmt.Errorf("not on the file system of the data_dir %s", dataDir)
	}
	st, err := createStaging(parent, b.man.ID, map[string]any{
		"backup_id": b.man.ID, "pid": os.Getpid(), "started": b.started.UTC().Format(time.RFC3339Nano),
		"data_dir": dataDir, "target": b.targetName(),
	})
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok { // also on a panic: the folder and its lock are not left behind
			_ = st.remove()
		}
	}()
	probe := filepath.Join(st.path, "probe")
	if err = crashpoint.Hit("backup.link probe"); err == nil {
		// manticore.json, which is missing for an instant whenever
		// searchd replaces it (statefile.go): waited for as readState does
		err = whilePresent(ctx, nil, func() error { return os.Link(filepath.Join(dataDir, "manticore.json"), probe) })
	}
	if err == nil {
		if err = crashpoint.Hit("backup.remove probe"); err == nil {
			err = os.Remove(probe)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("cannot hard-link the data_dir's files there: %w", err)
	}
	ok = true
	return st, nil
}

func (b *backupRun) setStaging(mode string) {
	b.man.Staging = mode
	b.stagingMode.Store(mode)
}

// link hard-links an immutable source into the staging folder (inside the
// freeze) and checks that the link is the inode recorded at the freeze.
// It reports false when the file system refused the link (the caller then
// copies the file).
func (b *backupRun) link(i int, j *backupJob) (bool, error) {
	staged := filepath.Join(b.staging.path, fmt.Sprintf("%d-%s", i, filepath.Base(j.src)))
	if err := crashpoint.Hit("backup.link staged"); err != nil {
		return false, err
	}
	if err := os.Link(j.src, staged); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, err
		}
		return false, nil
	}
	fi, err := os.Lstat(staged)
	if err != nil {
		return false, err
	}
	if err := sameIdentity(fi, &j.file); err != nil {
		return false, err
	}
	j.staged = staged
	return true, nil
}
