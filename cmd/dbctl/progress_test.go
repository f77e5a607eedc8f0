package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/dbctl/dbctl/backup"
	"github.com/stretchr/testify/assert"
)

func TestProgressPrinter(t *testing.T) {
	half := backup.Progress{Phase: "copy", Files: 3, FilesTotal: 6, Bytes: 512 << 20, BytesTotal: 1 << 30,
		Elapsed: time.Second, Frozen: 800 * time.Millisecond}
	full := half
	full.Phase, full.Files, full.Bytes, full.Elapsed = "manifest", 6, 1<<30, 2*time.Second

	var tty bytes.Buffer
	p := &progressPrinter{w: &tty, label: "backup", tty: true}
	p.update(half)
	p.update(full)
	p.done()
	out := tty.String()
	assert.Equal(t, 3, strings.Count(out, "\r"), "a terminal gets one line redrawn in place")
	assert.True(t, strings.HasSuffix(out, "\n"))
	assert.Contains(t, out, "backup (copy) [############............]  50.0% 512.0 MiB/1.0 GiB 3/6 files 512.0 MiB/s eta 1s frozen 800ms")
	assert.Contains(t, out, "100.0%")

	var plain bytes.Buffer
	p = &progressPrinter{w: &plain, label: "backup"}
	p.update(half)
	p.update(half) // within a second: not printed again
	p.done()       // the final state equals the last line: not repeated
	assert.Equal(t, 1, strings.Count(plain.String(), "\n"))
	assert.NotContains(t, plain.String(), "\r")
	assert.NotContains(t, plain.String(), "[#")

	var quiet bytes.Buffer
	p = &progressPrinter{w: &quiet, label: "backup", off: true}
	p.update(half)
	p.done()
	assert.Empty(t, quiet.String())
}
