package dbctltest

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Which statement writes which file of a table, and how: the emulator
// follows searchd's rules so that a backup test that races the server (a
// hard link of an immutable file, an in-place write behind a copy, a merge
// that unlinks old chunks) means what it would on a real server. Sources
// (repository manticoresoftware/manticoresearch):
//
//   - src/indexfiles.cpp, g_dIndexFilesExts: the per-chunk extensions
//     (.sph .spa .spb .spc .spi .spd .spp .spk .spe .spm .spt .sphi .spds
//     .spl .settings .spidx .spjidx .spknn .spks).
//   - src/sphinxrt.cpp, RtIndex_c::SaveDiskChunk / SaveDiskData: a RAM
//     chunk (FLUSH RAMCHUNK, rt_mem_limit) becomes a NEW disk chunk; its
//     files are written once under the new chunk's name. Merges (OPTIMIZE,
//     auto-optimize) and REPLACE/DELETE never rewrite a chunk's text index
//     or document store: a merge writes a new chunk and unlinks the old
//     chunks' files.
//   - src/sphinx.cpp, CSphIndex_VLN::SaveAttributes (run by FLUSH
//     ATTRIBUTES, by FREEZE, and periodically): flushes the mmapped
//     attribute rows (.spa, m_tAttr.Flush), the histograms (.sphi,
//     m_pHistograms->Save), the blob attributes (.spb, m_tBlobAttrs.Flush)
//     and the dead row map (.spm, m_tDeadRowMap.Flush, set by DELETE and
//     REPLACE) in place.
//   - src/sphinxrt.cpp, RtIndex_c::SaveMeta and RtIndex_c::SaveRamChunk:
//     .meta and .ram are written whole under a temporary name and renamed
//     over the old file (as RtIndex_t::SaveMeta in older sources writes
//     "<path>.meta.new" and renames it); .settings is rewritten whole too.

// fileWrite is how searchd writes one kind of file.
type fileWrite int

const (
	// writtenOnce: created with its disk chunk, never written again.
	writtenOnce fileWrite = iota
	// inPlace: rewritten in place (the same inode), by SaveAttributes.
	inPlace
	// replaced: written whole under a new name, then renamed over the old
	// file (a new inode).
	replaced
)

// fileRules maps a file's extension to how it is written. The emulator
// writes no other kind.
var fileRules = map[string]fileWrite{
	"sph": writtenOnce, "spi": writtenOnce, "spd": writtenOnce, "spp": writtenOnce,
	"spe": writtenOnce, "spt": writtenOnce, "spds": writtenOnce,
	"spa": inPlace, "spb": inPlace, "spm": inPlace, "sphi": inPlace,
	"meta": replaced, "ram": replaced, "settings": replaced,
}

// errRewriteImmutable is what a test sees when the emulator itself would
// break searchd's rules.
var errRewriteImmutable = errors.New("dbctltest: a chunk file searchd writes once already exists")

// writeTableFile writes a table file by its rule.
func writeTableFile(path string, data []byte) error {
	ext := strings.TrimPrefix(filepath.Ext(path), ".")
	rule, ok := fileRules[ext]
	if !ok {
		return fmt.Errorf("dbctltest: no write rule for %s", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	switch rule {
	case writtenOnce:
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%w: %s", errRewriteImmutable, path)
		}
		if err != nil {
			return err
		}
		return writeAndClose(f, data)
	case inPlace:
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
		if err != nil {
			return err
		}
		if err := f.Truncate(int64(len(data))); err != nil {
			f.Close()
			return err
		}
		return writeAndClose(f, data)
	default:
		tmp := path + ".new"
		f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return err
		}
		if err := writeAndClose(f, data); err != nil {
			_ = os.Remove(tmp)
			return err
		}
		// keep the permission bits the old file had (a test may set them)
		if fi, err := os.Stat(path); err == nil {
			_ = os.Chmod(tmp, fi.Mode().Perm())
		}
		return os.Rename(tmp, path)
	}
}

func writeAndClose(f *os.File, data []byte) error {
	_, err := f.WriteAt(data, 0)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// The attribute files (.spa, .spb) hold, per document, "id\tname=value..."
// with tab, newline and backslash escaped; a restart reads the current
// attribute values back from them (the document store keeps the values the
// chunk was written with, as searchd's does).
var attrEscaper = strings.NewReplacer(`\`, `\\`, "\t", `\t`, "\n", `\n`)

var attrUnescaper = strings.NewReplacer(`\\`, `\`, `\t`, "\t", `\n`, "\n")

// histogram is the emulated .sphi of a chunk: derived from its attribute
// blocks, so it changes whenever they do (as searchd's histograms are
// updated with the attributes).
func histogram(spa, spb []byte) []byte {
	sum := sha256.Sum256(append(append([]byte(nil), spa...), spb...))
	return []byte(fmt.Sprintf("sphi %x\n", sum[:8]))
}

// readAttrBlock applies the values of an attribute file to docs.
func readAttrBlock(b []byte, docs []mDoc) error {
	pos := make(map[int64]int, len(docs))
	for i := range docs {
		pos[docs[i].ID] = i
	}
	for _, line := range bytes.Split(b, []byte{'\n'}) {
		if len(line) == 0 {
			continue
		}
		parts := strings.Split(string(line), "\t")
		id, err := strconv.ParseInt(parts[0], 10, 64)
		if err != nil {
			return fmt.Errorf("attribute row %q: %w", line, err)
		}
		i, ok := pos[id]
		if !ok {
			return fmt.Errorf("attribute row for unknown document %d", id)
		}
		for _, kv := range parts[1:] {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return fmt.Errorf("attribute row %q: no '='", line)
			}
			if docs[i].Vals == nil {
				docs[i].Vals = map[string]string{}
			}
			docs[i].Vals[k] = attrUnescaper.Replace(v)
		}
	}
	return nil
}
