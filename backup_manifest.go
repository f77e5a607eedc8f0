package dbctl

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// ManifestFormatVersion is the manifest.json format this package writes and
// reads.
const ManifestFormatVersion = 1

// manifestName is written last: a directory without it is not a finished
// backup.
const manifestName = "manifest.json"

// Sentinels of the backup workflow (see also ErrTableNotFound, ErrNoTables).
var (
	// ErrBackupExists: the target of Backup already exists; backups are never
	// overwritten.
	ErrBackupExists = errors.New("dbctl: backup already exists")
	// ErrBackupInvalid: the backup's manifest is missing, unreadable, of an
	// unknown format, or names a path outside the backup.
	ErrBackupInvalid = errors.New("dbctl: invalid backup")
	// ErrBackupCorrupt: a file of the backup is missing, truncated, or does
	// not have the checksum the manifest records. The error joins one
	// *BackupFileError per bad file.
	ErrBackupCorrupt = errors.New("dbctl: corrupt backup")
	// ErrDataDirNotEmpty: RestoreBackup refuses a data_dir with files in it
	// unless RestoreOptions.Overwrite is set.
	ErrDataDirNotEmpty = errors.New("dbctl: data_dir is not empty")
)

// Manifest describes a finished backup; it is written to manifest.json
// last, after every file is on disk and synced.
type Manifest struct {
	FormatVersion int    `json:"format_version"`
	Tool          string `json:"tool"`
	// ServerVersion is the searchd version (SHOW STATUS LIKE 'version').
	ServerVersion string `json:"server_version"`
	// DataDir is the server's data_dir the files came from.
	DataDir  string    `json:"data_dir"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// FreezeWindow is how long the tables were frozen (FREEZE sent to
	// UNFREEZE answered).
	FreezeWindow time.Duration `json:"freeze_window_ns"`
	// Compression is "zstd" or "" (files stored as they are).
	Compression string `json:"compression,omitempty"`
	// Partial is true when only some of the server's tables were selected.
	Partial bool            `json:"partial"`
	Tables  []ManifestTable `json:"tables"`
	// Skipped lists the selected tables that were not backed up and why
	// (distributed and plain tables cannot be frozen).
	Skipped []SkippedTable `json:"skipped,omitempty"`
	Files   []ManifestFile `json:"files"`
	// ID is a random 128-bit hex id made when the backup starts.
	ID string `json:"id"`
	// Base is the backup an incremental one reused files from.
	Base *ManifestBase `json:"base,omitempty"`
	// Staging is how the freeze window was spent: "staged" or
	// "copied-inside-freeze".
	Staging string `json:"staging,omitempty"`
}

// ManifestBase names the base backup of an incremental one.
type ManifestBase struct {
	ID       string `json:"id"`
	Location string `json:"location"`
}

// FileIdentity identifies a source file at the freeze.
type FileIdentity struct {
	Dev, Ino uint64
	Size     int64
	MtimeNs  int64
}

// ManifestTable is one table in the backup.
type ManifestTable struct {
	Name string `json:"name"`
	Type string `json:"type"`
	// Files counts the table's entries in Manifest.Files.
	Files int `json:"files"`
	// Bytes is the size of the table's files (original bytes).
	Bytes int64 `json:"bytes"`
}

// SkippedTable is a selected table that was not backed up.
type SkippedTable struct {
	Name   string `json:"name"`
	Type   string `json:"type"`
	Reason string `json:"reason"`
}

// ManifestFile is one file in the backup.
type ManifestFile struct {
	// Path is the file's place in the backup, slash-separated and relative:
	// "data/<table>/<file>" for table files (without the ".zst" of a
	// compressed copy), "state/<file>" for the data_dir's state files.
	Path string `json:"path"`
	// Table is the table the file belongs to; "" for state files.
	Table string `json:"table,omitempty"`
	// Size and SHA256 are of the original bytes, whether or not the copy is
	// compressed.
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// Mode is the original permission bits, restored by RestoreBackup.
	Mode fs.FileMode `json:"mode"`
	// StoredSize is the size of the file in the backup (compressed size for
	// compressed backups).
	StoredSize int64 `json:"stored_size"`
	// Source is the path the server listed (the "normalized" column of
	// FREEZE), for the record.
	Source string `json:"source,omitempty"`
	// FromBase: the bytes were taken from the base backup.
	FromBase bool `json:"from_base,omitempty"`
	// Identity is the source file's identity at the freeze.
	Identity *FileIdentity `json:"identity,omitempty"`
}

// storedPath is where a manifest file lives on disk under dir.
func (m *Manifest) storedPath(dir string, f ManifestFile) string {
	p := filepath.Join(dir, filepath.FromSlash(f.Path))
	if m.Compression == "zstd" {
		p += ".zst"
	}
	return p
}

// BackupFileError reports one bad file of a backup.
type BackupFileError struct {
	// Path is the file's manifest path.
	Path string
	// Problem says what is wrong: "missing", "truncated", "too long",
	// "checksum mismatch", "unreadable".
	Problem string
	Err     error
}

// Error implements error.
func (e *BackupFileError) Error() string {
	s := "dbctl: backup file " + e.Path + ": " + e.Problem
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying error, if any.
func (e *BackupFileError) Unwrap() error { return e.Err }

// ReadManifest reads and checks dir/manifest.json: known format, every path
// relative and inside the backup, table files under their table's
// directory. It does not read the files (VerifyBackup does).
func ReadManifest(dir string) (*Manifest, error) {
	const op = "read backup manifest"
	b, err := os.ReadFile(filepath.Join(dir, manifestName))
	if err != nil {
		return nil, opErr(op, ErrBackupInvalid, dir, err)
	}
	var m Manifest
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, opErr(op, ErrBackupInvalid, "manifest.json does not decode", err)
	}
	if err := m.validate(); err != nil {
		return nil, opErr(op, ErrBackupInvalid, err.Error(), nil)
	}
	return &m, nil
}

// validate rejects manifests that could make a restore write or read
// outside its directories.
func (m *Manifest) validate() error {
	if m.FormatVersion != ManifestFormatVersion {
		return fmt.Errorf("format_version %d, this package reads %d", m.FormatVersion, ManifestFormatVersion)
	}
	if m.Compression != "" && m.Compression != "zstd" {
		return fmt.Errorf("unknown compression %q", m.Compression)
	}
	tables := map[string]bool{}
	for _, t := range m.Tables {
		if err := ValidateManticoreTable(t.Name); err != nil || t.Name != strings.ToLower(t.Name) {
			return fmt.Errorf("bad table name %q", t.Name)
		}
		tables[t.Name] = true
	}
	seen := map[string]bool{}
	for _, f := range m.Files {
		if err := checkManifestPath(f, tables); err != nil {
			return err
		}
		if seen[f.Path] {
			return fmt.Errorf("file %q listed twice", f.Path)
		}
		seen[f.Path] = true
		if f.Size < 0 || len(f.SHA256) != 64 || strings.Trim(f.SHA256, "0123456789abcdef") != "" {
			return fmt.Errorf("file %q: bad size or sha256", f.Path)
		}
	}
	return nil
}

func checkManifestPath(f ManifestFile, tables map[string]bool) error {
	p := f.Path
	if p == "" || strings.ContainsAny(p, "\\\x00") || path.IsAbs(p) || path.Clean(p) != p || strings.HasPrefix(p, "../") || p == ".." {
		return fmt.Errorf("unsafe path %q", p)
	}
	parts := strings.Split(p, "/")
	for _, part := range parts {
		if part == ".." || part == "." || part == "" {
			return fmt.Errorf("unsafe path %q", p)
		}
	}
	switch {
	case parts[0] == "data" && len(parts) == 3:
		if !tables[parts[1]] || f.Table != parts[1] {
			return fmt.Errorf("file %q does not belong to a table of the backup", p)
		}
		if prefix, _, _ := strings.Cut(parts[2], "."); prefix != parts[1] {
			return fmt.Errorf("file %q is not named after its table", p)
		}
	case parts[0] == "state" && len(parts) == 2 && f.Table == "":
	default:
		return fmt.Errorf("unsafe path %q (want data/<table>/<file> or state/<file>)", p)
	}
	return nil
}
