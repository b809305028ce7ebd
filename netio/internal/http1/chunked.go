package http1

// ChunkedDecoder reads a chunked request body (RFC 9112 §7.1) incrementally, to discard
// it: feed it the bytes after the head as they arrive, across any number of receives.
// Chunk data is skipped without being looked at; the framing around it is checked
// byte by byte against the grammar:
//
//	chunked-body   = *chunk last-chunk trailer-section CRLF
//	chunk          = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
//	last-chunk     = 1*("0") [ chunk-ext ] CRLF
//	chunk-size     = 1*HEXDIG
//	chunk-ext      = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
//	chunk-ext-name = token
//	chunk-ext-val  = token / quoted-string
//	trailer-section = *( field-line CRLF )
//
// Extensions and trailer fields are parsed and dropped. Line ends are CRLF only, as in
// the head; a chunk-size that does not fit in 63 bits is malformed. The whole encoding
// as sent (sizes, extensions, data, line ends, trailers) is bounded by
// Limits.MaxBodyBytes, so neither long extensions nor endless trailers nor tiny chunks
// can keep a connection reading forever.
//
// The zero value decodes one body under DefaultMaxBodyBytes; Reset prepares it for the
// next body. It never allocates and holds no reference to the bytes it is fed.
type ChunkedDecoder struct {
	state chunkState
	size  int64 // chunk-size digits so far, then the data bytes left of the chunk
	read  int64 // bytes of the body consumed so far
	max   int64
	err   Error // sticky once set (not ErrNeedMore)
}

type chunkState uint8

const (
	chSizeFirst     chunkState = iota // first HEXDIG of a chunk-size
	chSize                            // further HEXDIGs
	chSizeBWS                         // BWS after the size: only ";" may follow
	chExtNameStart                    // after ";": BWS, then a token
	chExtName                         // in chunk-ext-name
	chExtNameBWS                      // BWS after a name: "=" or ";" may follow
	chExtValStart                     // after "=": BWS, then a token or a quoted-string
	chExtValToken                     // in a token value
	chExtQuoted                       // in a quoted-string
	chExtQuotedPair                   // after "\" in a quoted-string
	chExtQuotedEnd                    // after the closing DQUOTE
	chExtValBWS                       // after a value (and BWS): only ";" or CR may follow
	chSizeLF                          // CR ending the chunk-size line seen
	chData                            // chunk-data
	chDataCR                          // CRLF after the chunk-data
	chDataLF
	chTrailerStart // start of a trailer field line or of the final CRLF
	chTrailerName
	chTrailerValue
	chTrailerLF // CR ending a trailer field line seen
	chFinalLF   // CR of the final CRLF seen
	chDone
)

// Reset prepares d for a new body bounded by lim.MaxBodyBytes (default
// DefaultMaxBodyBytes).
func (d *ChunkedDecoder) Reset(lim Limits) {
	*d = ChunkedDecoder{max: lim.maxBody()}
}

// Consumed returns how many bytes of the body d has consumed so far.
func (d *ChunkedDecoder) Consumed() int64 { return d.read }

// Decode consumes body bytes from the start of p. It returns how many it consumed and
// whether the body (with its trailer section and final CRLF) is now complete; then
// p[n:] is the start of the next request. If the body is not complete, n == len(p)
// and Decode wants the bytes that follow. Errors are ErrBadChunk (400) for bad syntax
// and ErrBodyTooLarge (413) for a body over the limit, reported as soon as the bytes
// show it (a chunk-size that cannot fit is refused before its data arrives); once
// returned, the same error is returned by every later call. All errors close the
// connection: the framing of what follows is unknown.
func (d *ChunkedDecoder) Decode(p []byte) (n int, done bool, err error) {
	if d.err != 0 {
		return 0, false, d.err
	}
	if d.state == chDone {
		return 0, true, nil
	}
	if d.max == 0 {
		d.max = DefaultMaxBodyBytes
	}
	room := d.max - d.read
	q := p
	if int64(len(q)) > room {
		q = q[:room]
	}
	i := 0
	for i < len(q) && d.state != chDone {
		if d.state == chData {
			k := int64(len(q) - i)
			if k > d.size {
				k = d.size
			}
			i += int(k)
			d.size -= k
			if d.size == 0 {
				d.state = chDataCR
			}
			continue
		}
		if e := d.step(q[i]); e != 0 {
			d.read += int64(i)
			return d.fail(i, e)
		}
		i++
		if d.state == chSizeBWS || d.state == chSizeLF || d.state == chExtNameStart {
			// The size is complete: refuse data that cannot fit before it arrives. The
			// data is followed by its CRLF, or, for the last chunk, the final CRLF.
			if d.size > d.max-d.read-int64(i)-2 {
				d.read += int64(i)
				return d.fail(i, ErrBodyTooLarge)
			}
		}
	}
	d.read += int64(i)
	if d.state == chDone {
		return i, true, nil
	}
	if len(q) < len(p) {
		return d.fail(i, ErrBodyTooLarge)
	}
	return i, false, nil
}

func (d *ChunkedDecoder) fail(n int, e Error) (int, bool, error) {
	d.err = e
	return n, false, e
}

// step advances the line parts of the state machine by one byte.
func (d *ChunkedDecoder) step(c byte) Error {
	switch d.state {
	case chSizeFirst, chSize:
		if h, ok := unhex(c); ok {
			if d.size > (1<<63-1)>>4 {
				return ErrBadChunk // chunk-size overflow
			}
			d.size = d.size<<4 | int64(h)
			d.state = chSize
			return 0
		}
		if d.state == chSizeFirst {
			return ErrBadChunk
		}
		return d.afterToken(c, chSizeBWS)
	case chSizeBWS, chExtValBWS:
		switch c {
		case ' ', '\t':
		case ';':
			d.state = chExtNameStart
		default:
			return ErrBadChunk
		}
	case chExtNameStart:
		switch {
		case c == ' ' || c == '\t':
		case isTchar(c):
			d.state = chExtName
		default:
			return ErrBadChunk
		}
	case chExtName:
		if isTchar(c) {
			return 0
		}
		if c == '=' {
			d.state = chExtValStart
			return 0
		}
		return d.afterToken(c, chExtNameBWS)
	case chExtNameBWS:
		switch c {
		case ' ', '\t':
		case ';':
			d.state = chExtNameStart
		case '=':
			d.state = chExtValStart
		default:
			return ErrBadChunk
		}
	case chExtValStart:
		switch {
		case c == ' ' || c == '\t':
		case c == '"':
			d.state = chExtQuoted
		case isTchar(c):
			d.state = chExtValToken
		default:
			return ErrBadChunk
		}
	case chExtValToken:
		if isTchar(c) {
			return 0
		}
		return d.afterToken(c, chExtValBWS)
	case chExtQuoted:
		// qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
		switch {
		case c == '"':
			d.state = chExtQuotedEnd
		case c == '\\':
			d.state = chExtQuotedPair
		case c == '\t' || (c >= ' ' && c != 0x7f):
		default:
			return ErrBadChunk
		}
	case chExtQuotedEnd:
		return d.afterToken(c, chExtValBWS)
	case chExtQuotedPair:
		// quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
		if c != '\t' && (c < ' ' || c == 0x7f) {
			return ErrBadChunk
		}
		d.state = chExtQuoted
	case chSizeLF:
		if c != '\n' {
			return ErrBadChunk
		}
		if d.size == 0 {
			d.state = chTrailerStart
		} else {
			d.state = chData
		}
	case chDataCR:
		if c != '\r' {
			return ErrBadChunk
		}
		d.state = chDataLF
	case chDataLF:
		if c != '\n' {
			return ErrBadChunk
		}
		d.state, d.size = chSizeFirst, 0
	case chTrailerStart:
		switch {
		case c == '\r':
			d.state = chFinalLF
		case isTchar(c):
			d.state = chTrailerName
		default:
			return ErrBadChunk // empty name, obs-fold, bare LF, control byte
		}
	case chTrailerName:
		switch {
		case c == ':':
			d.state = chTrailerValue
		case !isTchar(c):
			return ErrBadChunk
		}
	case chTrailerValue:
		// field-value bytes: HTAB, SP, VCHAR, obs-text.
		switch {
		case c == '\r':
			d.state = chTrailerLF
		case c == '\t' || (c >= ' ' && c != 0x7f):
		default:
			return ErrBadChunk
		}
	case chTrailerLF:
		if c != '\n' {
			return ErrBadChunk
		}
		d.state = chTrailerStart
	case chFinalLF:
		if c != '\n' {
			return ErrBadChunk
		}
		d.state = chDone
	default:
		return ErrBadChunk
	}
	return 0
}

// afterToken handles the byte that ends a size, name or token value: BWS (then the
// state bws), ";" or the CR of the line end.
func (d *ChunkedDecoder) afterToken(c byte, bws chunkState) Error {
	switch c {
	case ' ', '\t':
		d.state = bws
	case ';':
		d.state = chExtNameStart
	case '\r':
		d.state = chSizeLF
	default:
		return ErrBadChunk
	}
	return 0
}
