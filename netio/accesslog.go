package netio

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// AccessLogger receives one entry per response. Log is called from the event loops
// concurrently; the entry and its byte slices are only valid during the call.
type AccessLogger interface {
	Log(e *AccessEntry)
	Flush() error
}

// AccessEntry describes one response.
type AccessEntry struct {
	Time      time.Time // when the request head was complete
	Remote    []byte    // client IP address
	Method    []byte
	Target    []byte
	Proto     string // "HTTP/1.0" or "HTTP/1.1"
	Status    int
	Bytes     int64 // body bytes sent
	Referer   []byte
	UserAgent []byte
	Duration  time.Duration
}

// WriterLog formats access entries in the combined (Apache/nginx) or JSON format into a
// buffered writer, flushed at least once a second and by Flush. It suits writers that do no
// buffering of their own (stdout for `--access-log -`); for files, RecordLog with a
// logger.Logger writes through io_uring and never blocks a loop in write(2).
type WriterLog struct {
	mu      sync.Mutex
	w       *bufio.Writer
	json    bool
	buf     []byte
	lastFl  time.Time
	errSeen error
	lost    uint64 // entries not written since the first write error

	// OnError, if set before the first Log, is called once, with the first write error
	// (under WriterLog's lock: it must not call Log). Entries after it are counted as lost
	// and Flush reports them; a closed stdout costs no more writes (bufio keeps the error).
	OnError func(err error)
}

// RecordWriter takes whole records and batches them itself, as *logger.Logger does: each
// Write is one newline-terminated record, not retained after the call; Sync returns once
// every record written before it is in the file.
type RecordWriter interface {
	Write(record []byte) (int, error)
	Sync() error
}

// RecordLog formats each access entry in the calling loop, into a pooled buffer, and hands
// the line to a RecordWriter. With a *logger.Logger, that is one copy into the logger's
// batch buffer; the logger's writer writes the batches (through io_uring with its default
// engine) and counts anything it cannot write in its Stats. Log allocates nothing.
type RecordLog struct {
	w    RecordWriter
	json bool
	bufs sync.Pool // *[]byte formatting buffers
}

// NewRecordLog returns a RecordLog for format "combined" or "json".
func NewRecordLog(w RecordWriter, format string) (*RecordLog, error) {
	if err := checkFormat(format); err != nil {
		return nil, err
	}
	a := &RecordLog{w: w, json: format == "json"}
	a.bufs.New = func() any { b := make([]byte, 0, 512); return &b }
	return a, nil
}

// Log formats e and writes it as one record. A record the writer refuses (its queue full
// under a drop policy, or closed) is counted by the writer, not here.
func (a *RecordLog) Log(e *AccessEntry) {
	bp := a.bufs.Get().(*[]byte)
	if a.json {
		*bp = AppendJSONAccess((*bp)[:0], e)
	} else {
		*bp = AppendCombinedAccess((*bp)[:0], e)
	}
	a.w.Write(*bp)
	if cap(*bp) <= 64<<10 {
		a.bufs.Put(bp)
	}
}

// Flush returns once every entry logged so far is written (RecordWriter.Sync).
func (a *RecordLog) Flush() error { return a.w.Sync() }

func checkFormat(format string) error {
	switch format {
	case "", "combined", "json":
		return nil
	}
	return fmt.Errorf("netio: unknown access log format %q (combined, json)", format)
}

// NewWriterLog returns a WriterLog for format "combined" or "json".
func NewWriterLog(w io.Writer, format string) (*WriterLog, error) {
	if err := checkFormat(format); err != nil {
		return nil, err
	}
	return &WriterLog{w: bufio.NewWriterSize(w, 64<<10), json: format == "json"}, nil
}

// Log formats e and buffers it.
func (a *WriterLog) Log(e *AccessEntry) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.json {
		a.buf = AppendJSONAccess(a.buf[:0], e)
	} else {
		a.buf = AppendCombinedAccess(a.buf[:0], e)
	}
	if a.errSeen != nil {
		a.lost++
		return
	}
	if _, err := a.w.Write(a.buf); err != nil {
		a.fail(err)
		return
	}
	if e.Time.Sub(a.lastFl) > time.Second {
		a.lastFl = e.Time
		if err := a.w.Flush(); err != nil {
			a.fail(err)
		}
	}
}

// fail records the first write error. What was buffered is lost with it (bufio.Writer
// cannot tell how much of it was written), counted as one entry at least.
func (a *WriterLog) fail(err error) {
	a.errSeen = err
	a.lost++
	if a.OnError != nil {
		a.OnError(err)
	}
}

// Lost returns the entries lost so far and whether writing failed (after the first write
// error nothing more is written).
func (a *WriterLog) Lost() (lost uint64, failed bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.lost, a.errSeen != nil
}

// Flush writes out what is buffered and returns the first write error seen.
func (a *WriterLog) Flush() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.w.Flush(); err != nil && a.errSeen == nil {
		a.fail(err)
	}
	if a.errSeen != nil {
		return fmt.Errorf("%d entries or more lost after a write error: %w", a.lost, a.errSeen)
	}
	return nil
}

// AppendCombinedAccess appends e in the combined log format and a newline.
func AppendCombinedAccess(b []byte, e *AccessEntry) []byte {
	b = appendOrDash(b, e.Remote)
	b = append(b, " - - ["...)
	b = e.Time.AppendFormat(b, "02/Jan/2006:15:04:05 -0700")
	b = append(b, "] \""...)
	b = appendEscaped(b, e.Method, false)
	b = append(b, ' ')
	b = appendEscaped(b, e.Target, false)
	b = append(b, ' ')
	b = append(b, e.Proto...)
	b = append(b, "\" "...)
	b = strconv.AppendInt(b, int64(e.Status), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, e.Bytes, 10)
	b = append(b, " \""...)
	b = appendEscaped(b, orDash(e.Referer), false)
	b = append(b, "\" \""...)
	b = appendEscaped(b, orDash(e.UserAgent), false)
	return append(b, "\"\n"...)
}

// AppendJSONAccess appends e as one JSON object and a newline.
func AppendJSONAccess(b []byte, e *AccessEntry) []byte {
	b = append(b, `{"time":"`...)
	b = e.Time.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","remote":"`...)
	b = appendEscaped(b, e.Remote, true)
	b = append(b, `","method":"`...)
	b = appendEscaped(b, e.Method, true)
	b = append(b, `","target":"`...)
	b = appendEscaped(b, e.Target, true)
	b = append(b, `","proto":"`...)
	b = append(b, e.Proto...)
	b = append(b, `","status":`...)
	b = strconv.AppendInt(b, int64(e.Status), 10)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, e.Bytes, 10)
	b = append(b, `,"referer":"`...)
	b = appendEscaped(b, e.Referer, true)
	b = append(b, `","user_agent":"`...)
	b = appendEscaped(b, e.UserAgent, true)
	b = append(b, `","duration_us":`...)
	b = strconv.AppendInt(b, e.Duration.Microseconds(), 10)
	return append(b, "}\n"...)
}

var dash = []byte("-")

func orDash(b []byte) []byte {
	if len(b) == 0 {
		return dash
	}
	return b
}

func appendOrDash(b, v []byte) []byte { return append(b, orDash(v)...) }

// appendEscaped escapes quotes, backslashes, control bytes and invalid UTF-8 so a client
// cannot forge log lines.
func appendEscaped(b, s []byte, json bool) []byte {
	const hex = "0123456789abcdef"
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			b = append(b, c)
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRune(s[i:])
			if r != utf8.RuneError || size > 1 {
				b = append(b, s[i:i+size]...)
				i += size
				continue
			}
		}
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case json:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		default:
			b = append(b, '\\', 'x', hex[c>>4], hex[c&15])
		}
		i++
	}
	return b
}
