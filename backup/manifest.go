package backup

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/dbctl/dbctl"
)

// ManifestFormatVersion is the manifest.json format this package writes and
// reads.
const ManifestFormatVersion = 1

// manifestName is written last: a directory without it is not a finished
// backup.
const manifestName = "manifest.json"

// Manifest describes a finished backup; it is written to manifest.json
// last, after every file is on disk and synced.
type Manifest struct {
	// ReleasedOrphans are the freezes of dead dbctl runs that Create
	// released before its own FREEZE (see dbctl.Manticore.
	// ReleaseOrphanedFreezes): what Create returned, not written to
	// manifest.json.
	ReleasedOrphans []dbctl.OrphanedFreeze `json:"-"`

	FormatVersion int    `json:"format_version"`
	Tool          string `json:"tool"`
	// ID is a random 128-bit hex identifier made when the backup started.
	ID string `json:"id"`
	// Base names the earlier backup an incremental backup reused files
	// from (CreateOptions.Base); nil for a full backup.
	Base *ManifestBase `json:"base,omitempty"`
	// Staging says how the freeze window was spent: "staged" (immutable
	// files hard-linked into a staging folder, the others copied, then read
	// after the unfreeze) or "copied-inside-freeze" (every file copied
	// while frozen). Empty in manifests written before it existed.
	Staging string `json:"staging,omitempty"`
	// NoSync says the backup was written without fsync
	// (CreateOptions.NoSync). An incremental backup on it fsyncs the files
	// it links from it, unless it is NoSync itself.
	NoSync bool `json:"no_sync,omitempty"`
	// ServerVersion is the searchd version (SHOW STATUS LIKE 'version').
	ServerVersion string `json:"server_version"`
	// DataDir is the server's data_dir the files came from
	// (SHOW SETTINGS searchd.data_dir, else derived from the FREEZE paths).
	DataDir string `json:"data_dir"`
	// ConfigFile is searchd's config file (SHOW SETTINGS
	// configuration_file), kept as config/<name>; "" when the server did
	// not say.
	ConfigFile string    `json:"config_file,omitempty"`
	Started    time.Time `json:"started"`
	Finished   time.Time `json:"finished"`
	// FreezeWindow is how long the tables were frozen (FREEZE sent to
	// UNFREEZE answered).
	FreezeWindow time.Duration `json:"freeze_window_ns"`
	// Compression is "zstd" or "" (files stored as they are).
	Compression string `json:"compression,omitempty"`
	// CompressionLevel is the zstd level the backup's files were
	// compressed at ("fastest", "default", "better", "best": see
	// CompressionLevel); files linked from a base (FromBase) keep the
	// base's level. Empty in uncompressed backups and in manifests written
	// before levels existed, which used "fastest". Readers need not know
	// it: every level decompresses alike.
	CompressionLevel string `json:"compression_level,omitempty"`
	// Partial is true when only some of the server's tables were selected.
	Partial bool            `json:"partial"`
	Tables  []ManifestTable `json:"tables"`
	// Skipped lists the selected tables that were not backed up and why
	// (distributed and plain tables cannot be frozen).
	Skipped []SkippedTable `json:"skipped,omitempty"`
	Files   []ManifestFile `json:"files"`
}

// ManifestBase names the base of an incremental backup.
type ManifestBase struct {
	// ID is the base's Manifest.ID.
	ID string `json:"id"`
	// Location is where the base was read from (an absolute folder).
	Location string `json:"location"`
}

// Staging values of Manifest.Staging and Progress.Staging.
const (
	StagingStaged         = "staged"
	StagingCopiedInFreeze = "copied-inside-freeze"
)

// ManifestTable is one table in the backup.
type ManifestTable struct {
	Name string `json:"name"`
	Type string `json:"type"`
	// Files counts the table's entries in Manifest.Files.
	Files int `json:"files"`
	// Bytes is the size of the table's files (original bytes).
	Bytes int64 `json:"bytes"`
	// DirMode is the permission bits of the table's folder
	// (<data_dir>/<table>), given back by Restore; 0 in manifests written
	// before it was recorded, whose table folders Restore makes 0755.
	DirMode fs.FileMode `json:"dir_mode,omitempty"`
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
	// compressed copy): every file of the table's folder, also those not
	// named after it (wordforms_chunk0_0.txt); "state/<file>" for the
	// data_dir's state files; "config/<file>" for searchd's config file.
	Path string `json:"path"`
	// Table is the table the file belongs to; "" for state files.
	Table string `json:"table,omitempty"`
	// Size and SHA256 are of the original bytes, whether or not the copy is
	// compressed.
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// Mode is the original permission bits, restored by Restore.
	Mode fs.FileMode `json:"mode"`
	// StoredSize is the size of the file in the backup (compressed size for
	// compressed backups).
	StoredSize int64 `json:"stored_size"`
	// Source is the path the server listed (the "normalized" column of
	// FREEZE), for the record.
	Source string `json:"source,omitempty"`
	// Identity is the source's device, inode, size and mtime at the
	// freeze: an incremental backup reuses a base's immutable file only
	// when its source still has the same identity.
	Identity *FileIdentity `json:"identity,omitempty"`
	// FromBase says the bytes were linked (or reflinked, or copied) from
	// the base backup's file instead of written from the server's: an
	// immutable file whose source identity and mode matched the base's
	// record (not read at all), or a mutable one whose bytes read at this
	// freeze had the base's size, sha256 and mode, the base's copy still
	// holding them. Size and SHA256 are the base's record,
	// checked by Verify like any other.
	FromBase bool `json:"from_base,omitempty"`
}

// storedPath is where a manifest file lives on disk under dir.
func (m *Manifest) storedPath(dir string, f ManifestFile) string {
	p := filepath.Join(dir, filepath.FromSlash(f.Path))
	if m.Compression == "zstd" {
		p += ".zst"
	}
	return p
}

// readManifest reads and checks dir/manifest.json (see ReadManifest).
func readManifest(dir string) (*Manifest, error) {
	const op = "read backup manifest"
	b, err := os.ReadFile(filepath.Join(dir, manifestName))
	if err != nil {
		return nil, opErr(op, ErrInvalid, dir, err)
	}
	var m Manifest
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, opErr(op, ErrInvalid, "manifest.json does not decode", err)
	}
	if err := m.validate(); err != nil {
		return nil, opErr(op, ErrInvalid, err.Error(), nil)
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
	switch m.CompressionLevel {
	case "":
	case string(LevelFastest), string(LevelDefault), string(LevelBetter), string(LevelBest):
		if m.Compression == "" {
			return fmt.Errorf("compression_level %q without compression", m.CompressionLevel)
		}
	default:
		return fmt.Errorf("unknown compression_level %q", m.CompressionLevel)
	}
	tables := map[string]bool{}
	for _, t := range m.Tables {
		if err := dbctl.ValidateManticoreTable(t.Name); err != nil || t.Name != strings.ToLower(t.Name) {
			return fmt.Errorf("bad table name %q", t.Name)
		}
		if t.DirMode&^fs.ModePerm != 0 {
			return fmt.Errorf("table %q: dir_mode %#o has bits other than permissions", t.Name, uint32(t.DirMode))
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
		// A table's files are those of its folder, whatever their names
		// (manticore-2.jsonl "FREEZE cap_wf": wordforms_chunk0_0.txt);
		// a file under another table's folder is refused.
		if !tables[parts[1]] || f.Table != parts[1] {
			return fmt.Errorf("file %q does not belong to a table of the backup", p)
		}
	case (parts[0] == "state" || parts[0] == "config") && len(parts) == 2 && f.Table == "":
	default:
		return fmt.Errorf("unsafe path %q (want data/<table>/<file>, state/<file> or config/<file>)", p)
	}
	return nil
}
