package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/dbctl/dbctl"
	"github.com/dbctl/dbctl/backupstore"

	"github.com/dbctl/dbctl/internal/crashpoint"
)

// baseBackup is the earlier backup an incremental backup reuses files of.
type baseBackup struct {
	dir   string
	man   *Manifest
	files map[string]ManifestFile // reusable records by manifest path
}

// readBase reads opts.Base before the freeze. A base compressed otherwise
// than this backup is not reused (its files would have to be recompressed:
// they are copied from the server instead), and neither is a file of it
// without a recorded identity or whose stored file is missing or of another
// size than its record (its bytes are read from the server instead).
// Immutable files are reused by identity (reuse), mutable ones by the
// bytes read at this freeze (linkMemory). An immutable base file changed
// without changing its size is reused as it is: Verify of the new
// backup then names it (the damage is shared, never hidden); a mutable one
// is re-read first and, changed, not reused.
func (b *backupRun) readBase(ctx context.Context) error {
	if b.opts.Base == "" {
		return nil
	}
	if backupstore.IsRemote(b.opts.Base) {
		return opErr(b.op, dbctl.ErrInvalidArgument, "Base must be a local backup folder, not "+quoteForMessage(b.opts.Base), nil)
	}
	dir, err := filepath.Abs(b.opts.Base)
	if err != nil {
		return opErr(b.op, dbctl.ErrInvalidArgument, "base", err)
	}
	man, err := readManifest(dir)
	if err != nil {
		return opErr(b.op, nil, "base "+dir, err)
	}
	if man.Compression != b.man.Compression {
		b.log().WarnContext(ctx, "dbctl: the base backup is compressed otherwise; no file of it is reused",
			"base", dir, "base_compression", man.Compression, "compression", b.man.Compression)
		return nil
	}
	base := &baseBackup{dir: dir, man: man, files: map[string]ManifestFile{}}
	for _, f := range man.Files {
		if f.Identity == nil {
			continue
		}
		if fi, err := os.Lstat(man.storedPath(dir, f)); err != nil || !fi.Mode().IsRegular() || fi.Size() != f.StoredSize {
			continue
		}
		base.files[f.Path] = f
	}
	b.base = base
	return nil
}

// reuse marks a planned job as coming from the base when its name matches
// a base record, its suffix is immutable and its source's identity at this
// freeze is the one the base recorded at its own: then the bytes are those
// the base holds, and its hash is reused.
func (b *backupRun) reuse(j *backupJob) {
	if b.base == nil || j.file.Identity == nil || !isImmutable(j.src) {
		return
	}
	bf, ok := b.base.files[j.file.Path]
	if !ok || *bf.Identity != *j.file.Identity || bf.Mode != j.file.Mode {
		return // a link cannot carry other permission bits
	}
	b.takeFromBase(j, bf)
}

// takeFromBase makes j a file of the base's record bf, with bf's sizes and
// hash: linked after the unfreeze (linkFromBase), or by linkMemory. Safe
// for concurrent use (linkMemory runs on the copy workers).
func (b *backupRun) takeFromBase(j *backupJob, bf ManifestFile) {
	j.fromBase = b.base.man.storedPath(b.base.dir, bf)
	j.file.Size, j.file.StoredSize, j.file.SHA256, j.file.Mode, j.file.FromBase = bf.Size, bf.StoredSize, bf.SHA256, bf.Mode, true
	b.baseOnce.Do(func() { b.man.Base = &ManifestBase{ID: b.base.man.ID, Location: b.base.dir} })
}

// linkMemory links a mutable file read into memory (its bytes' sha256 is
// sum) from the base when the base holds the same bytes under the same
// name: the base's record has their size, sha256 and mode, and its stored
// copy, re-read now, still holds them byte for byte. Identity is not enough for these
// files: searchd changes .spa, .spb, .spm and .sphi in place (through a
// shared mapping, whose writes need not move the mtime), so only the bytes
// read at this freeze tell; an UPDATE of one table thus writes only the
// files it changed. A damaged base copy is never linked in place of the
// good bytes at hand, and a base file removed meanwhile, or on another
// file system, only means the bytes are written instead (false).
func (b *backupRun) linkMemory(ctx context.Context, w *fileWorker, j *backupJob, sum, dst string) bool {
	if b.base == nil {
		return false
	}
	bf, ok := b.base.files[j.file.Path]
	if !ok || bf.Size != int64(len(j.mem)) || bf.SHA256 != sum || bf.Mode != j.file.Mode {
		return false
	}
	stored := b.base.man.storedPath(b.base.dir, bf)
	// the bytes at hand hash to the record (above), and the base's copy
	// holds the same bytes: compared, not hashed again (a memory compare
	// costs a fraction of a second sha256)
	if same, err := w.sameBytes(ctx, stored, b.opts.Compress, j.mem); err != nil || !same {
		return false
	}
	if crashpoint.Hit("backup.link base-memory") != nil || os.Link(stored, dst) != nil {
		return false // the bytes are written instead
	}
	b.takeFromBase(j, bf)
	j.linked, j.mem = true, nil
	return true
}

// linkFromBase puts the reused files in place, after the unfreeze: a hard
// link to the base's stored file (so removing the base breaks nothing),
// else a clone, else a copy (another file system).
func (b *backupRun) linkFromBase(ctx context.Context) error {
	ext := ""
	if b.opts.Compress {
		ext = ".zst"
	}
	return b.afterUnfreeze(ctx, "link", func(j *backupJob) bool { return j.fromBase != "" && !j.linked },
		func(ctx context.Context, w *fileWorker, j *backupJob) error {
			dst := j.dst + ext
			if err := crashpoint.Hit("backup.link base"); err != nil {
				return err
			}
			if err := os.Link(j.fromBase, dst); err == nil {
				j.linked = true
			} else if err := step("backup.copy base", func() error {
				_, err := w.copyFile(ctx, j.fromBase, dst, false, b.clone())
				return err
			}); err != nil {
				return fmt.Errorf("from base %s: %w", j.fromBase, err)
			}
			b.bytes.Add(j.file.Size)
			b.files.Add(1)
			return nil
		})
}

// sameBytes reports whether the stored file at path holds exactly want
// (decompressed first when compressed), reading it once through the
// worker's buffer and stopping at the first difference.
func (w *fileWorker) sameBytes(ctx context.Context, path string, compressed bool, want []byte) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	var r io.Reader = f
	if compressed {
		dec, err := w.decoder(f)
		if err != nil {
			return false, err
		}
		r = dec
	}
	for {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		n, err := r.Read(w.buf)
		if n > len(want) || !bytes.Equal(w.buf[:n], want[:n]) {
			return false, nil
		}
		want = want[n:]
		if errors.Is(err, io.EOF) {
			return len(want) == 0, nil
		}
		if err != nil {
			return false, err
		}
	}
}
