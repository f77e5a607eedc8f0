package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"

	"github.com/dbctl/dbctl/backupstore"
)

// maxManifestSize bounds what is read of a remote manifest.json.
const maxManifestSize = 64 << 20

// ReadOptions configure ReadManifest.
type ReadOptions struct {
	// Store configures an s3:// location (see backupstore.Options); the
	// zero value reads the environment.
	Store backupstore.Options
}

// ReadManifest reads and checks the manifest.json of the backup at
// location, a folder or an "s3://bucket/prefix" (fetched): known format,
// every path relative and inside the backup, table files under their
// table's directory. It does not read the files (Verify does). Errors:
// ErrInvalid for a missing or bad manifest.
func ReadManifest(ctx context.Context, location string, opts ReadOptions) (*Manifest, error) {
	if !backupstore.IsRemote(location) {
		return readManifest(location)
	}
	st, err := backupstore.Open(ctx, location, opts.Store)
	if err != nil {
		return nil, opErr("read backup manifest", nil, "", err)
	}
	defer st.Close()
	man, _, err := readStoreManifest(ctx, st)
	return man, err
}

// readStoreManifest fetches and checks manifest.json of st, returning it
// and its bytes.
func readStoreManifest(ctx context.Context, st backupstore.Store) (*Manifest, []byte, error) {
	const op = "read backup manifest"
	rc, err := st.Get(ctx, manifestName)
	if err != nil {
		kind := error(nil)
		if errors.Is(err, backupstore.ErrNotFound) {
			kind = ErrInvalid
		}
		return nil, nil, opErr(op, kind, st.Location(), err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxManifestSize))
	if err != nil {
		return nil, nil, opErr(op, nil, st.Location(), err)
	}
	man, err := decodeManifest(b)
	if err != nil {
		return nil, nil, opErr(op, ErrInvalid, err.Error(), nil)
	}
	return man, b, nil
}

// decodeManifest decodes and checks manifest bytes as ReadManifest does.
func decodeManifest(b []byte) (*Manifest, error) {
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("manifest.json does not decode: %w", err)
	}
	if err := m.validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// verifyRemote is Verify for an object store: every object is
// streamed once (decompressed on the way for a compressed backup) and its
// size and sha256 compared with the manifest; each bad one is reported
// (ErrCorrupt joining one *FileError per object).
func verifyRemote(ctx context.Context, location string, opts VerifyOptions) (*Manifest, error) {
	op := "verify backup " + location
	st, err := backupstore.Open(ctx, location, opts.Store)
	if err != nil {
		return nil, opErr(op, nil, "", err)
	}
	defer st.Close()
	man, _, err := readStoreManifest(ctx, st)
	if err != nil {
		return nil, err
	}
	conc := opts.Concurrency
	if conc <= 0 {
		conc = runtime.NumCPU()
	}
	tr := newTracker("verify", man.Files)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	rep := startReporter(opts.Progress, tr.snapshot, cancel)
	bad := make([]error, len(man.Files))
	err = runWorkers(ctx, len(man.Files), conc, &tr.bytes, func(ctx context.Context, w *fileWorker, i int) error {
		var fatal error
		bad[i], fatal = checkObject(ctx, w, st, man, man.Files[i])
		tr.files.Add(1)
		if fatal != nil {
			return fatal
		}
		return ctx.Err()
	})
	if p := rep.stop(); p != nil {
		panic(p)
	}
	if err != nil {
		return man, opErr(op, nil, "", err)
	}
	var errs []error
	for _, e := range bad {
		if e != nil {
			errs = append(errs, e)
		}
	}
	if len(errs) > 0 {
		return man, opErr(op, ErrCorrupt, fmt.Sprintf("%d of %d files bad", len(errs), len(man.Files)), errors.Join(errs...))
	}
	return man, nil
}

// checkObject streams one object and compares it with the manifest: a bad
// object is a *FileError; a store that cannot be reached or refuses
// the credentials is fatal (not reported as a bad file per object).
func checkObject(ctx context.Context, w *fileWorker, st backupstore.Store, man *Manifest, f ManifestFile) (bad, fatal error) {
	rc, err := st.Get(ctx, man.storedKey(f))
	switch {
	case errors.Is(err, backupstore.ErrNotFound):
		return &FileError{Path: f.Path, Problem: "missing"}, nil
	case storeDown(err):
		return nil, err
	case err != nil:
		return &FileError{Path: f.Path, Problem: "unreadable", Err: err}, nil
	}
	defer rc.Close()
	n, sum, err := w.hashReader(ctx, rc, man.Compression == "zstd", nil)
	switch {
	case ctx.Err() != nil:
		return nil, nil
	case storeDown(err):
		return nil, err
	case err != nil:
		return &FileError{Path: f.Path, Problem: "unreadable", Err: err}, nil
	case n < f.Size:
		return &FileError{Path: f.Path, Problem: fmt.Sprintf("truncated: %d of %d bytes", n, f.Size)}, nil
	case n > f.Size:
		return &FileError{Path: f.Path, Problem: fmt.Sprintf("too long: %d bytes, want %d", n, f.Size)}, nil
	case sum != f.SHA256:
		return &FileError{Path: f.Path, Problem: "checksum mismatch: sha256 " + sum + ", want " + f.SHA256}, nil
	}
	return nil, nil
}

// storeDown reports whether err means the store cannot be used at all
// (network, a 5xx or throttling answer, credentials, bucket) rather than
// that one object is bad: such a failure is never ErrCorrupt.
func storeDown(err error) bool {
	return errors.Is(err, backupstore.ErrNetwork) || errors.Is(err, backupstore.ErrUnavailable) ||
		errors.Is(err, backupstore.ErrAccessDenied) || errors.Is(err, backupstore.ErrBucketNotFound)
}
