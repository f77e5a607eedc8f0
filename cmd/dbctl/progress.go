package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/dbctl/dbctl/backup"
)

// progressPrinter shows backup.Progress on stderr: a bar redrawn in place
// when stderr is a terminal, plain lines at most once a second when it is
// not (logs, cron), nothing with --quiet or --json.
type progressPrinter struct {
	w     io.Writer
	label string
	tty   bool
	off   bool

	mu      sync.Mutex
	last    time.Time
	printed string // the last plain line, not repeated by done
	shown   bool
	final   backup.Progress
}

func (a *app) progress(label string) *progressPrinter {
	return &progressPrinter{w: a.stderr, label: label, tty: isTerminal(a.stderr), off: a.quiet || a.json}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func (p *progressPrinter) update(bp backup.Progress) {
	if p.off {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.final = bp
	if p.tty {
		fmt.Fprintf(p.w, "\r%s\033[K", p.line(bp, true))
		p.shown = true
		return
	}
	if time.Since(p.last) >= time.Second {
		p.last = time.Now()
		p.printed = p.line(bp, false)
		fmt.Fprintln(p.w, p.printed)
		p.shown = true
	}
}

// done ends the progress output (the final state, then a newline).
func (p *progressPrinter) done() {
	if p.off {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.shown && p.final.FilesTotal == 0 {
		return
	}
	if p.tty {
		fmt.Fprintf(p.w, "\r%s\033[K\n", p.line(p.final, true))
		return
	}
	if l := p.line(p.final, false); l != p.printed {
		fmt.Fprintln(p.w, l)
	}
}

func (p *progressPrinter) line(bp backup.Progress, bar bool) string {
	pct := 0.0
	if bp.BytesTotal > 0 {
		pct = 100 * float64(bp.Bytes) / float64(bp.BytesTotal)
		if pct > 100 {
			pct = 100
		}
	}
	rate := 0.0
	if s := bp.Elapsed.Seconds(); s > 0 {
		rate = float64(bp.Bytes) / s
	}
	eta := "-"
	if rate > 0 && bp.BytesTotal > bp.Bytes {
		eta = time.Duration(float64(bp.BytesTotal-bp.Bytes) / rate * float64(time.Second)).Round(100 * time.Millisecond).String()
	} else if bp.BytesTotal > 0 && bp.Bytes >= bp.BytesTotal {
		eta = "0s"
	}
	var b strings.Builder
	b.WriteString(p.label)
	if bp.Phase != p.label {
		fmt.Fprintf(&b, " (%s)", bp.Phase)
	}
	if bar {
		const width = 24
		n := int(pct / 100 * width)
		b.WriteString(" [" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + "]")
	}
	fmt.Fprintf(&b, " %5.1f%% %s/%s %d/%d files %s/s eta %s", pct, humanBytes(bp.Bytes), humanBytes(bp.BytesTotal),
		bp.Files, bp.FilesTotal, humanBytes(int64(rate)), eta)
	if bp.Frozen > 0 {
		fmt.Fprintf(&b, " frozen %s", bp.Frozen.Round(time.Millisecond))
	}
	if bp.Staging != "" {
		fmt.Fprintf(&b, " (%s)", bp.Staging)
	}
	return b.String()
}
