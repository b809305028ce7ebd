package bench

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Progress reports a long preparation step ("preparing file") on a terminal. When w is a
// terminal it redraws one line with '\r' at most every Interval; otherwise it stays silent
// until Done, which prints one summary line. It is safe for concurrent use, and is an
// io.Writer counting the bytes written to it, so it can sit in an io.MultiWriter or
// io.TeeReader.
type Progress struct {
	// Interval is the least time between redraws on a terminal (default 100 ms).
	Interval time.Duration

	w     io.Writer
	label string
	total int64
	tty   bool

	mu       sync.Mutex
	n        int64
	start    time.Time
	last     time.Time
	width    int // runes in the last drawn line, to blank leftovers
	finished bool
}

// NewProgress starts a progress report labelled label towards total bytes (0 if unknown).
func NewProgress(w io.Writer, label string, total int64) *Progress {
	return &Progress{Interval: 100 * time.Millisecond, w: w, label: label, total: total,
		tty: IsTerminal(w), start: time.Now()}
}

// IsTerminal reports whether w is a file open on a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// Add counts n more bytes done.
func (p *Progress) Add(n int64) {
	p.mu.Lock()
	p.n += n
	p.redraw(false)
	p.mu.Unlock()
}

// Set sets the bytes done so far.
func (p *Progress) Set(n int64) {
	p.mu.Lock()
	p.n = n
	p.redraw(false)
	p.mu.Unlock()
}

// Write counts len(b) bytes done; it never fails.
func (p *Progress) Write(b []byte) (int, error) {
	p.Add(int64(len(b)))
	return len(b), nil
}

// Done ends the report with a final line (ending in '\n'). Later calls do nothing.
func (p *Progress) Done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.finished {
		return
	}
	p.finished = true
	el := time.Since(p.start)
	if !p.tty {
		fmt.Fprintf(p.w, "%s: %s in %s (%s)\n", p.label, FormatBytes(p.n),
			el.Round(time.Millisecond), rate(p.n, el))
		return
	}
	p.redraw(true)
	io.WriteString(p.w, "\n")
}

func (p *Progress) redraw(force bool) {
	if !p.tty || p.finished && !force {
		return
	}
	now := time.Now()
	if !force && !p.last.IsZero() && now.Sub(p.last) < p.Interval {
		return
	}
	p.last = now
	var line string
	el := now.Sub(p.start)
	if p.total > 0 {
		pct := min(100*float64(p.n)/float64(p.total), 100)
		line = fmt.Sprintf("%s: %3.0f%% %s / %s  %s", p.label, pct, FormatBytes(p.n),
			FormatBytes(p.total), rate(p.n, el))
	} else {
		line = fmt.Sprintf("%s: %s  %s", p.label, FormatBytes(p.n), rate(p.n, el))
	}
	pad := ""
	if w := len([]rune(line)); w < p.width {
		pad = strings.Repeat(" ", p.width-w)
	} else {
		p.width = w
	}
	io.WriteString(p.w, "\r"+line+pad)
}

func rate(n int64, d time.Duration) string {
	if d <= 0 {
		return "- MB/s"
	}
	return fmt.Sprintf("%.0f MB/s", float64(n)/1e6/d.Seconds())
}
