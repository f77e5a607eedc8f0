package backup

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/dbctl/dbctl"
	"github.com/klauspost/compress/zstd"
)

// CompressionLevel is the zstd level of a compressed backup
// (CreateOptions.CompressLevel): one of the names below, or a zstd level
// number "1" to "22" as zstd's command line takes it, mapped to the
// encoder's four levels as github.com/klauspost/compress/zstd's
// EncoderLevelFromZstd does (1-2 fastest, 3-5 default, 6-9 better, 10-22
// best). Manifest.CompressionLevel records the name of the level used.
// Every level is read back by the same decoder: Verify, Restore and Import
// take any.
type CompressionLevel string

// Compression levels. Measured on bench/gendata's 1.2 GB (the kind of
// files of a real data_dir; README "Benchmarks"), as a ratio of the size
// zstd -3 makes of the same files one by one: fastest 1.074, default
// 1.018, better 0.995.
const (
	// LevelFastest is zstd's fastest level (about zstd -1): the level of
	// every compressed backup before levels existed.
	LevelFastest CompressionLevel = "fastest"
	// LevelDefault (about zstd -3, the size manticore-backup --compress
	// makes) is the level of Compress without CompressLevel.
	LevelDefault CompressionLevel = "default"
	// LevelBetter is "about zstd level 7-8 with ~ 2x-3x the default CPU
	// usage" (the encoder's documentation).
	LevelBetter CompressionLevel = "better"
	// LevelBest is the encoder's strongest level, several times slower
	// again: for backups kept long.
	LevelBest CompressionLevel = "best"
)

// encoderLevel is the encoder level of l ("" is LevelDefault), or an error
// naming what is accepted.
func (l CompressionLevel) encoderLevel() (zstd.EncoderLevel, error) {
	s := strings.ToLower(strings.TrimSpace(string(l)))
	if s == "" {
		return zstd.SpeedDefault, nil
	}
	if ok, lvl := zstd.EncoderLevelFromString(s); ok {
		return lvl, nil
	}
	if n, err := strconv.Atoi(s); err == nil && n >= 1 && n <= 22 {
		return zstd.EncoderLevelFromZstd(n), nil
	}
	return 0, fmt.Errorf("compression level %q: want fastest, default, better, best or a zstd level 1 to 22", string(l))
}

// compressionLevel checks CreateOptions' compression before anything is
// sent: the encoder level to use (0 without Compress), or
// dbctl.ErrInvalidArgument for an unknown level or a level without
// Compress.
func compressionLevel(op string, opts CreateOptions) (zstd.EncoderLevel, error) {
	if !opts.Compress {
		if opts.CompressLevel != "" {
			return 0, opErr(op, dbctl.ErrInvalidArgument, "CompressLevel "+quoteForMessage(string(opts.CompressLevel))+" needs Compress", nil)
		}
		return 0, nil
	}
	lvl, err := opts.CompressLevel.encoderLevel()
	if err != nil {
		return 0, opErr(op, dbctl.ErrInvalidArgument, err.Error(), nil)
	}
	return lvl, nil
}

// zstdNumber is the zstd command-line level that maps to l
// (backupstore.PutOptions.CompressLevel): 1, 3, 7 or 11; 0 for none.
func zstdNumber(l zstd.EncoderLevel) int {
	switch l {
	case zstd.SpeedFastest:
		return 1
	case zstd.SpeedDefault:
		return 3
	case zstd.SpeedBetterCompression:
		return 7
	case zstd.SpeedBestCompression:
		return 11
	}
	return 0
}

// encoder returns the worker's zstd encoder at w.level, writing to out
// (one frame per file, on this goroutine).
func (w *fileWorker) encoder(out io.Writer) (*zstd.Encoder, error) {
	level := w.level
	if level == 0 {
		level = zstd.SpeedFastest // not set by a backup: the level before levels existed
	}
	if w.enc != nil && w.encLevel == level {
		w.enc.Reset(out)
		return w.enc, nil
	}
	enc, err := zstd.NewWriter(out, zstd.WithEncoderLevel(level), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return nil, err
	}
	w.enc, w.encLevel = enc, level
	return enc, nil
}

// decoder returns the worker's zstd decoder reading in. A zstd frame says
// all the decoder needs (window size, raw or compressed blocks): it reads
// every level.
func (w *fileWorker) decoder(in io.Reader) (*zstd.Decoder, error) {
	if w.dec == nil {
		dec, err := zstd.NewReader(in, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
		if err != nil {
			return nil, err
		}
		w.dec = dec
		return dec, nil
	}
	return w.dec, w.dec.Reset(in)
}
