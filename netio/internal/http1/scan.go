package http1

// HeadScanner finds the end of a request head incrementally, so that a head arriving
// in many small receives is examined O(n) times in total instead of being parsed from
// its first byte on every receive. Keep one per connection and call its Parse with the
// connection's unparsed bytes instead of calling Parse directly:
//
//	n, err := c.scan.Parse(c.in[c.inOff:], &c.req, limits)
//
// The slice must always start at the first byte of the head being received; the
// caller may move or grow its buffer between calls (the scanner keeps offsets from
// that first byte, not pointers), but must not drop or change bytes already passed.
// Parse resets the scanner whenever it returns anything but ErrNeedMore, so the next
// call starts on the next head. Call Reset when the bytes of an incomplete head are
// thrown away without a result (a new connection in a reused slot).
//
// While the head is incomplete the scanner applies the checks Parse applies to an
// incomplete head, so errors are answered as promptly as before: a bare CR or LF is
// ErrBadLineEnding, bytes beyond Limits.MaxHeaderBytes are ErrHeaderTooLarge, a method
// with a non-token byte is ErrBadRequestLine, a target beyond Limits.MaxTargetBytes is
// ErrTargetTooLong, and each line is checked as Parse checks it once its CRLF arrives.
// The Request is written to while scanning; it holds the parsed head only once Parse
// returns a result.
//
// The zero value is ready. A HeadScanner holds no reference to the bytes.
type HeadScanner struct {
	pos      int // bytes from the start of the head examined so far
	line     int // start of the line being scanned
	tlen     int // target bytes seen so far, while in the request line
	state    headState
	fields   bool       // past the request line
	fs       fieldState // what the field lines so far said, for the checks across lines
	examined int64      // bytes examined by Parse and the scanner since the zero value
}

type headState uint8

const (
	hsStart     headState = iota // nothing examined yet: try Parse on the whole buffer
	hsLead                       // empty lines before the request line
	hsLeadLF                     // CR of an empty leading line seen
	hsMethod                     // in the method
	hsTarget                     // in the request-target
	hsVersion                    // after the target, up to the CR
	hsLineLF                     // CR ending a non-empty line seen
	hsLineStart                  // start of a field line, or of the empty line ending the head
	hsField                      // in a field line
	hsEndLF                      // CR of the empty line ending the head seen
)

// Reset forgets the head scanned so far (the examined count is kept).
func (h *HeadScanner) Reset() { *h = HeadScanner{examined: h.examined} }

// Examined returns how many bytes Parse and the scanner have examined in total (for a
// call to the package-level Parse: the head it returned, else all the bytes it was
// given). Tests use it to check that a head fed one byte at a time costs O(n).
func (h *HeadScanner) Examined() int64 { return h.examined }

// Parse returns what the package-level Parse returns for buf, but runs Parse only once
// the head is complete (or on the first call, which is usually the only one): on
// later calls it resumes scanning where the previous call stopped.
func (h *HeadScanner) Parse(buf []byte, req *Request, lim Limits) (int, error) {
	if h.pos > len(buf) {
		h.Reset() // the caller's buffer no longer holds what was scanned: start over
	}
	if h.state == hsStart {
		// The common case: the whole head arrived in one receive. Parse it outright;
		// only if it is incomplete, scan it to remember how far it got.
		n, err := Parse(buf, req, lim)
		if n > 0 {
			h.examined += int64(n) // a complete head: Parse looked no further
		} else {
			h.examined += int64(len(buf))
		}
		if err != ErrNeedMore {
			h.Reset()
			return n, err
		}
		// Parse found no error in the lines so far: scan them again, with req and the
		// field state starting afresh, to remember where they end.
		*req = Request{scratch: req.scratch}
		h.state = hsLead
	}
	end, err := h.scan(buf, req, lim)
	if err == ErrNeedMore {
		return 0, err // scan has recorded how far it got
	}
	if err != nil {
		h.Reset()
		return 0, err
	}
	h.examined += int64(end)
	n, err := Parse(buf[:end], req, lim)
	h.Reset()
	return n, err
}

// scan advances over buf from h.pos. It returns the end of the head (just past its
// final CRLF) once found, ErrNeedMore if the head is incomplete, or an error.
func (h *HeadScanner) scan(buf []byte, req *Request, lim Limits) (int, error) {
	maxHdr := lim.maxHeader()
	win := buf
	if len(win) > maxHdr+1 {
		win = win[:maxHdr+1] // a head ending later is too large whatever it holds
	}
	start := h.pos
	i, st, tlen := start, h.state, h.tlen
	defer func() { h.examined += int64(i - start) }()
	for i < len(win) {
		c := win[i]
		switch st {
		case hsLead:
			switch c {
			case '\r':
				st = hsLeadLF
			case '\n':
				return 0, ErrBadLineEnding
			default:
				st, h.line = hsMethod, i
				continue // the method's first byte: look at it again
			}
		case hsLeadLF:
			if c != '\n' {
				return 0, ErrBadLineEnding
			}
			st = hsLead
		case hsMethod:
			switch {
			case isTchar(c):
			case c == ' ':
				st, tlen = hsTarget, 0
			case c == '\r':
				st = hsLineLF
			case c == '\n':
				return 0, ErrBadLineEnding
			default:
				return 0, ErrBadRequestLine
			}
		case hsTarget:
			switch c {
			case ' ':
				st = hsVersion
			case '\r':
				// Parse counts a CR that may end the line as target while the LF is
				// missing: so does the scanner, to refuse the same heads as soon.
				if tlen++; tlen > lim.maxTarget() {
					return 0, ErrTargetTooLong
				}
				st = hsLineLF
			case '\n':
				return 0, ErrBadLineEnding
			default:
				if tlen++; tlen > lim.maxTarget() {
					return 0, ErrTargetTooLong
				}
			}
		case hsVersion, hsField:
			for i < len(win) && win[i] != '\r' && win[i] != '\n' {
				i++
			}
			if i == len(win) {
				continue
			}
			if win[i] == '\n' {
				return 0, ErrBadLineEnding
			}
			st = hsLineLF
		case hsLineLF:
			if c != '\n' {
				return 0, ErrBadLineEnding
			}
			// A complete line: check it as Parse would, now rather than at the end.
			line := win[h.line : i-1]
			h.examined += int64(len(line))
			var err error
			if h.fields {
				err = parseField(line, req, &h.fs)
			} else {
				err = parseRequestLine(line, req, lim.maxTarget())
				h.fields = true
			}
			if err != nil {
				return 0, err
			}
			st, h.line = hsLineStart, i+1
		case hsLineStart:
			switch c {
			case '\r':
				st = hsEndLF
			case '\n':
				return 0, ErrBadLineEnding
			case ' ', '\t':
				return 0, ErrObsFold
			default:
				st = hsField
			}
		case hsEndLF:
			if c != '\n' {
				return 0, ErrBadLineEnding
			}
			i++
			return i, nil
		}
		i++
	}
	h.pos, h.state, h.tlen = i, st, tlen
	if len(buf) > maxHdr {
		return 0, ErrHeaderTooLarge
	}
	return 0, ErrNeedMore
}
