package backupstore

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// PutStream turns the reader given to Put into the bytes to store,
// hashing the original bytes in the same pass: as they are read (plain),
// before they are compressed (Compress, zstd), or by decompressing the
// stored bytes on the side (Compressed). Every Store's Put reads through
// one, so that stores compress and hash alike; callers of Put never need
// it. Read it to io.EOF, then call Finish; on any failure call Abort.
type PutStream struct {
	r      io.Reader // the bytes to store
	sum    hash.Hash
	size   counter // original bytes
	stored counter // stored bytes
	done   chan error
	pw     *io.PipeWriter // Compressed: feeds the decoder
	pr     *io.PipeReader // Compress: the encoder's output
}

type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

func newSource(r io.Reader, opts PutOptions) (*PutStream, error) {
	s := &PutStream{sum: sha256.New()}
	switch {
	case opts.Compress && opts.Compressed:
		return nil, errors.New("options Compress and Compressed are exclusive")
	case opts.Compress:
		pr, pw := io.Pipe()
		level := zstd.EncoderLevelFromZstd(opts.CompressLevel)
		enc, err := getEncoder(pw, level)
		if err != nil {
			return nil, err
		}
		s.pr, s.done = pr, make(chan error, 1)
		go func() {
			_, err := io.Copy(enc, io.TeeReader(r, io.MultiWriter(s.sum, &s.size)))
			if cerr := enc.Close(); err == nil {
				err = cerr
			}
			if err == nil {
				encoders[level].Put(enc)
			}
			_ = pw.CloseWithError(err) // nil: the reader sees EOF
			s.done <- err
		}()
		s.r = io.TeeReader(pr, &s.stored)
	case opts.Compressed:
		pr, pw := io.Pipe()
		dec, err := getDecoder(pr)
		if err != nil {
			return nil, err
		}
		s.pw, s.done = pw, make(chan error, 1)
		go func() {
			_, err := io.Copy(io.MultiWriter(s.sum, &s.size), dec)
			if err == nil {
				decoders.Put(dec)
			} else {
				dec.Close()
			}
			if err != nil {
				err = &Error{Op: "decompress", Kind: ErrCorrupt, Err: err}
				_ = pr.CloseWithError(err)
			}
			s.done <- err
		}()
		s.r = io.TeeReader(r, io.MultiWriter(&s.stored, pw))
	default:
		s.r = io.TeeReader(r, io.MultiWriter(s.sum, &s.size, &s.stored))
	}
	return s, nil
}

// Read reads the bytes to store.
func (s *PutStream) Read(p []byte) (int, error) { return s.r.Read(p) }

// Finish is called once Read returned io.EOF: it waits for the encoder or
// decoder and returns the size and sha256 of the original bytes and the
// number of bytes stored. A Compressed stream that is not zstd fails with
// ErrCorrupt.
func (s *PutStream) Finish() (PutResult, error) {
	if s.pw != nil {
		_ = s.pw.Close()
	}
	if s.done != nil {
		err := <-s.done
		s.done = nil
		if err != nil {
			return PutResult{}, err
		}
	}
	return PutResult{Size: s.size.n, SHA256: hex.EncodeToString(s.sum.Sum(nil)), Stored: s.stored.n}, nil
}

// NewPutStream starts the stream of a Put of key: ErrInvalidOptions (an
// *Error of op "put") for Compress with Compressed.
func NewPutStream(key string, r io.Reader, opts PutOptions) (*PutStream, error) {
	src, err := newSource(r, opts)
	if err != nil {
		return nil, &Error{Op: "put", Key: key, Kind: ErrInvalidOptions, Err: err}
	}
	return src, nil
}

// failed is deferred by a Put with its named error: after a failure it
// stops the source and makes *errp the Put's error, of the kind classify
// tells.
func (s *PutStream) failed(errp *error, key string, classify func(error) error) {
	if *errp != nil {
		s.Abort(*errp)
		*errp = wrap("put", key, classify(*errp), *errp)
	}
}

// Abort stops the encoder or decoder after a failure (cause is what their
// goroutine sees) and waits for it. It may be called after Finish.
func (s *PutStream) Abort(cause error) {
	if cause == nil {
		cause = errors.New("aborted")
	}
	if s.pw != nil {
		_ = s.pw.CloseWithError(cause)
	}
	if s.pr != nil {
		_ = s.pr.CloseWithError(cause)
	}
	if s.done != nil {
		<-s.done
		s.done = nil
	}
}

// decoders keeps zstd decoders between Puts: each holds megabytes of
// buffers that a backup's many files would otherwise allocate again.
var decoders sync.Pool

func getDecoder(r io.Reader) (*zstd.Decoder, error) {
	if d, ok := decoders.Get().(*zstd.Decoder); ok {
		if err := d.Reset(r); err == nil {
			return d, nil
		}
		d.Close()
	}
	return zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
}

// encoders keeps zstd encoders between Puts, for the same reason, one pool
// per level.
var encoders [zstd.SpeedBestCompression + 1]sync.Pool

func getEncoder(w io.Writer, level zstd.EncoderLevel) (*zstd.Encoder, error) {
	if e, ok := encoders[level].Get().(*zstd.Encoder); ok {
		e.Reset(w)
		return e, nil
	}
	return zstd.NewWriter(w, zstd.WithEncoderLevel(level), zstd.WithEncoderConcurrency(1), zstd.WithLowerEncoderMem(true))
}
