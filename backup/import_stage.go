package backup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/dbctl/dbctl"
	"github.com/dbctl/dbctl/internal/crashpoint"
)

// searchd takes everything from the first dot of an IMPORT TABLE path on as
// the file extension (src/sphinxutils.cpp GetExtension, used by
// src/searchdconfig.cpp CopyIndexFiles): a path with a dot in any folder
// name makes it write to <data_dir>/<new>/<new>.<rest of the path>, which
// fails (golden/manticore-3.jsonl). So Import gives searchd a path
// without dots: the backup's own folder when its path has none and it is
// not compressed, else a staging folder.

// importStagePrefix names a staging folder. The name has no dot, and it has
// a hyphen, which no Manticore table name may have, so in the data_dir it
// can never be taken for (or clash with) a table's folder.
const importStagePrefix = "dbctl-import-"

// importStage is where searchd reads a table from.
type importStage struct {
	prefix string   // the path given to IMPORT TABLE: <folder>/<table>
	dir    string   // the staging folder; "" when the backup is read in place
	lock   *os.File // its marker, locked while this process uses it
}

// release ends the use of the staging folder. keep leaves the folder (its
// marker unlocked) for an import searchd may still be running: the next
// import staging in the same place removes it (removeStaleStaging). A
// failed removal is returned for the log: the import itself is done.
func (s *importStage) release(keep bool) error {
	if s.dir == "" || s.lock == nil {
		return nil
	}
	lock := s.lock
	s.lock = nil
	defer lock.Close() // also on a panic: a folder left behind is then the next import's to remove
	if keep {
		return nil
	}
	if err := crashpoint.Hit("import.stage-remove"); err != nil {
		return err
	}
	// marker last: killed meanwhile, the folder is still the next import's
	// to remove (removeMarked)
	return removeMarked(s.dir, "import-stage")
}

// stageImport returns what searchd reads table src of the backup from
// (files: that table's files, already verified when from.inPlace): the
// backup's data/<src>/<src> when it is read in place and that path has no
// dot; else a new staging folder "dbctl-import-<random>"
// (importStageParents says where) holding <src>/, which is
//   - for an uncompressed backup in a folder, a symbolic link to the
//     backup's data/<src> (nothing is copied; where links cannot be made,
//     a checked copy);
//   - for a compressed one, and for any backup in a store, the table's
//     files written by stageFiles: each read once (decompressed when
//     compressed) and checked against the manifest's size and sha256 as
//     it is written.
//
// The staging folder holds the staging marker, locked while this process
// uses it, so that a folder left by a killed import is removed by the next
// import staging in the same place. Folders are 0755 and files 0644, given
// to the owner of the data_dir (or, when that is unknown, of the backup's
// folder) when dbctl runs as root: searchd, running as its own user, reads
// them. On any error the staging folder is removed.
func stageImport(ctx context.Context, m *dbctl.Manticore, op string, from *importSource, src string, files []ManifestFile) (*importStage, error) {
	if prefix := filepath.Join(from.abs, "data", src, src); from.inPlace() && !strings.Contains(prefix, ".") {
		return &importStage{prefix: prefix}, nil
	}
	parents, dataDir := importStageParents(ctx, m, from.abs)
	st, err := newImportStage(parents, from.location)
	if err != nil {
		return nil, opErr(op, nil, "staging folder", err)
	}
	ok := false
	defer func() {
		if !ok {
			_ = st.release(false)
		}
	}()
	folder := filepath.Join(st.dir, src)
	st.prefix = filepath.Join(folder, src)
	linked := false
	if from.inPlace() {
		if err := crashpoint.Hit("import.stage-link"); err != nil {
			return nil, opErr(op, nil, "staging folder", err)
		}
		linked = os.Symlink(filepath.Join(from.abs, "data", src), folder) == nil
	}
	if !linked {
		if err := crashpoint.Hit("import.stage-mkdir " + src); err != nil {
			return nil, opErr(op, nil, "staging folder", err)
		}
		if err := os.Mkdir(folder, 0o755); err != nil {
			return nil, opErr(op, nil, "staging folder", err)
		}
		if err := stageFiles(ctx, op, from, folder, files); err != nil {
			return nil, err
		}
	}
	ownerPath := dataDir
	if ownerPath == "" {
		ownerPath = from.abs
	}
	if ownerPath != "" {
		if err := crashpoint.Hit("import.stage-own"); err != nil {
			return nil, opErr(op, nil, "staging folder", err)
		}
		own, err := ownerOf(ownerPath)
		if err == nil {
			err = giveTreeTo(own, st.dir)
		}
		if err != nil {
			return nil, opErr(op, nil, "give the staging folder to the owner of "+ownerPath, err)
		}
	}
	ok = true
	return st, nil
}

// importStageParents lists, in order, the folders a staging folder may be
// made in, all without a dot in their path: the server's data_dir (SHOW
// SETTINGS) when it is a folder on this machine, so that the decompressed
// copy is on the file system the import copies it to (and where the table
// will need the space anyway); the folder that holds the backup; the
// temporary folder (os.TempDir). dataDir is the data_dir when it is on this
// machine, else "".
func importStageParents(ctx context.Context, m *dbctl.Manticore, abs string) (parents []string, dataDir string) {
	if s, err := m.Settings(ctx); err == nil && filepath.IsAbs(s.DataDir) {
		if fi, err := os.Stat(s.DataDir); err == nil && fi.IsDir() {
			dataDir = filepath.Clean(s.DataDir)
		}
	}
	for _, p := range []string{dataDir, filepath.Dir(abs), os.TempDir()} {
		if p != "" && filepath.IsAbs(p) && !strings.Contains(p, ".") {
			parents = append(parents, filepath.Clean(p))
		}
	}
	return parents, dataDir
}

// newImportStage makes the staging folder in the first of parents where it
// can, after removing the staging folders that killed runs left there.
func newImportStage(parents []string, abs string) (*importStage, error) {
	if len(parents) == 0 {
		return nil, fmt.Errorf("%w: no folder without a dot in its path to stage the import in (the data_dir, the backup's parent and the temporary folder all have one; set TMPDIR)", dbctl.ErrInvalidArgument)
	}
	var errs []error
	for _, parent := range parents {
		_, _ = removeStaleStaging(parent) // best effort: a leftover only costs space
		if err := crashpoint.Hit("import.stage-create"); err != nil {
			return nil, err
		}
		dir, err := os.MkdirTemp(parent, importStagePrefix)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		lock, err := lockMarkerAs(dir, "import-stage", map[string]any{"import_of": abs, "pid": os.Getpid()})
		if err == nil {
			err = os.Chmod(dir, 0o755)
		}
		if err != nil {
			if lock != nil {
				lock.Close()
			}
			_ = os.RemoveAll(dir)
			errs = append(errs, err)
			continue
		}
		return &importStage{dir: dir, lock: lock}, nil
	}
	return nil, errors.Join(errs...)
}
