package http1

import (
	"bytes"
	"strconv"
	"time"
)

// AppendETag appends the ETag uringd uses for a regular file: the strong validator
// `"<mtime>-<size>"` where mtime is the modification time in nanoseconds since the
// Unix epoch and size the length in bytes, both in lower-case hex (the mtime as an
// unsigned 64-bit value). Like nginx's validator it changes whenever the file is
// replaced or modified through the file system, and it is cheap: no hashing, no
// reading of the file. It appends at most 36 bytes and never allocates when dst has
// room for them.
func AppendETag(dst []byte, size int64, modtime time.Time) []byte {
	dst = append(dst, '"')
	dst = strconv.AppendUint(dst, uint64(modtime.UnixNano()), 16)
	dst = append(dst, '-')
	dst = strconv.AppendUint(dst, uint64(size), 16)
	return append(dst, '"')
}

// condResult is the three-way result of one precondition (RFC 9110 §13.1).
type condResult uint8

const (
	condNone  condResult = iota // header absent or not applicable
	condTrue                    // precondition holds
	condFalse                   // precondition fails
)

// scanETag returns the entity-tag at the start of s (after trimming whitespace) and
// the rest, or nil, nil if there is no syntactically valid one ("x" or W/"x").
func scanETag(s []byte) (etag, rest []byte) {
	s = trimSpaceTP(s)
	start := 0
	if len(s) >= 2 && s[0] == 'W' && s[1] == '/' {
		start = 2
	}
	if len(s)-start < 2 || s[start] != '"' {
		return nil, nil
	}
	for i := start + 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == 0x21 || c >= 0x23 && c <= 0x7e || c >= 0x80:
		case c == '"':
			return s[:i+1], s[i+1:]
		default:
			return nil, nil
		}
	}
	return nil, nil
}

// etagStrongMatch: both strong and identical (RFC 9110 §8.8.3.2).
func etagStrongMatch(a, b []byte) bool {
	return len(a) > 0 && a[0] == '"' && bytes.Equal(a, b)
}

// etagWeakMatch: identical after dropping any W/ prefix.
func etagWeakMatch(a, b []byte) bool {
	return bytes.Equal(trimWeak(a), trimWeak(b))
}

func trimWeak(e []byte) []byte {
	if len(e) >= 2 && e[0] == 'W' && e[1] == '/' {
		return e[2:]
	}
	return e
}

// trimSpaceTP trims ASCII whitespace like textproto.TrimString.
func trimSpaceTP(s []byte) []byte {
	for len(s) > 0 && isSpaceTP(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isSpaceTP(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

func isSpaceTP(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// matchList walks an If-Match / If-None-Match list. It returns condTrue when "*" or
// an entity-tag matching etag (strong or weak comparison) is found, condFalse when the
// list ends or turns malformed first, and condNone for an empty header.
func matchList(list, etag []byte, weak bool) condResult {
	if len(list) == 0 {
		return condNone
	}
	for {
		list = trimSpaceTP(list)
		if len(list) == 0 {
			return condFalse
		}
		if list[0] == ',' {
			list = list[1:]
			continue
		}
		if list[0] == '*' {
			return condTrue
		}
		e, rest := scanETag(list)
		if e == nil {
			return condFalse
		}
		if weak && etagWeakMatch(e, etag) || !weak && etagStrongMatch(e, etag) {
			return condTrue
		}
		list = rest
	}
}

func checkIfMatch(req *Request, etag []byte) condResult {
	return matchList(req.IfMatch, etag, false)
}

func checkIfNoneMatch(req *Request, etag []byte) condResult {
	switch matchList(req.IfNoneMatch, etag, true) {
	case condTrue:
		return condFalse
	case condFalse:
		return condTrue
	}
	return condNone
}

// isZeroTime: modification time unknown (zero or the Unix epoch), as in net/http.
func isZeroTime(t time.Time) bool {
	return t.IsZero() || t.Unix() == 0 && t.Nanosecond() == 0
}

// checkIfUnmodifiedSince compares at second granularity (Last-Modified has no more).
// An unparsable date is ignored.
func checkIfUnmodifiedSince(req *Request, modtime time.Time) condResult {
	if len(req.IfUnmodifiedSince) == 0 || isZeroTime(modtime) {
		return condNone
	}
	t, ok := parseHTTPDate(req.IfUnmodifiedSince)
	if !ok {
		return condNone
	}
	if modtime.Unix() <= t {
		return condTrue
	}
	return condFalse
}

// checkIfModifiedSince applies to GET and HEAD only; condFalse means "not modified".
func checkIfModifiedSince(req *Request, modtime time.Time) condResult {
	if req.Method != MethodGET && req.Method != MethodHEAD {
		return condNone
	}
	if len(req.IfModifiedSince) == 0 || isZeroTime(modtime) {
		return condNone
	}
	t, ok := parseHTTPDate(req.IfModifiedSince)
	if !ok {
		return condNone
	}
	if modtime.Unix() <= t {
		return condFalse
	}
	return condTrue
}

// checkIfRange: an entity-tag must match strongly; otherwise the value must be a date
// exactly equal (to the second) to the modification time. Anything else fails, so
// the Range is ignored and the whole representation is sent.
func checkIfRange(req *Request, etag []byte, modtime time.Time) condResult {
	if req.Method != MethodGET && req.Method != MethodHEAD {
		return condNone
	}
	if len(req.IfRange) == 0 {
		return condNone
	}
	if e, _ := scanETag(req.IfRange); e != nil {
		if etagStrongMatch(e, etag) {
			return condTrue
		}
		return condFalse
	}
	if modtime.IsZero() {
		return condFalse
	}
	t, ok := parseHTTPDate(req.IfRange)
	if ok && t == modtime.Unix() {
		return condTrue
	}
	return condFalse
}

// Decision is what Evaluate decided for a request on a file.
type Decision struct {
	// Status is 200, 206, 304, 412 or 416.
	Status int
	// Size is the size of the whole file.
	Size int64
	// Unsatisfied is set with 416 when no range overlapped the file: the response
	// carries "Content-Range: bytes */Size". A 416 for a syntactically invalid Range
	// has no Content-Range (as in net/http).
	Unsatisfied bool

	n        int
	ranges   [MaxRanges]Range
	boundary [BoundaryLen]byte
}

// Ranges returns the ranges to send for a 206 (one: a single part with Content-Range;
// several: multipart/byteranges), nil otherwise.
func (d *Decision) Ranges() []Range { return d.ranges[:d.n] }

// Multipart reports whether the response is multipart/byteranges.
func (d *Decision) Multipart() bool { return d.Status == 206 && d.n > 1 }

// Boundary returns the multipart boundary (see Evaluate), or nil if not multipart.
func (d *Decision) Boundary() []byte {
	if !d.Multipart() {
		return nil
	}
	return d.boundary[:]
}

// BodyLength returns the exact number of body bytes a GET response for d carries:
// Size for 200, the range length for a single-range 206, the whole multipart body for
// a multi-range 206 (ctype is the file's Content-Type, used in each part header), and
// 0 for 304. For 412 and 416 it returns 0: their small error body is in the Response.
func (d *Decision) BodyLength(ctype string) int64 {
	switch {
	case d.Status == 200:
		return d.Size
	case d.Status == 206 && d.n == 1:
		return d.ranges[0].Length
	case d.Status == 206:
		return MultipartLength(d.Ranges(), d.Size, ctype, d.boundary[:])
	}
	return 0
}

// Evaluate decides how to answer req for a file of the given size, modification time
// and ETag (from AppendETag; nil if none), exactly as net/http's serveContent does:
//
//  1. If-Match, or if absent If-Unmodified-Since: failure gives 412.
//  2. If-None-Match: a match gives 304 for GET/HEAD (412 otherwise); if absent,
//     If-Modified-Since (GET/HEAD only): not modified gives 304.
//  3. Range, unless If-Range fails (then the whole file is sent): see ParseRange.
//     A Range in a unit other than bytes is ignored (200, RFC 9110 §14.2; net/http
//     gives 416). A syntactically invalid Range gives 416 without Content-Range; a
//     Range with no overlapping range gives 416 with Content-Range "bytes */size",
//     except for an empty file which gets 200. If the ranges add up to more than the file (overlap
//     abuse), or there are more than MaxRanges of them, the whole file is sent (200).
//     One range gives a 206 with Content-Range, several a multipart/byteranges 206.
//
// Dates compare at second granularity; a zero or Unix-epoch modtime disables the
// date preconditions. For multipart responses the boundary is "uringd-" followed by
// 16 hex digits of an FNV-1a hash of the ETag, size and modtime: fixed for a given
// file version, so responses are reproducible (a file that itself contains that
// boundary line would confuse clients; this is accepted). Evaluate never allocates.
func Evaluate(req *Request, size int64, modtime time.Time, etag []byte) Decision {
	if size < 0 {
		size = 0
	}
	d := Decision{Size: size, Status: 200}

	ch := checkIfMatch(req, etag)
	if ch == condNone {
		ch = checkIfUnmodifiedSince(req, modtime)
	}
	if ch == condFalse {
		d.Status = 412
		return d
	}
	switch checkIfNoneMatch(req, etag) {
	case condFalse:
		if req.Method == MethodGET || req.Method == MethodHEAD {
			d.Status = 304
		} else {
			d.Status = 412
		}
		return d
	case condNone:
		if checkIfModifiedSince(req, modtime) == condFalse {
			d.Status = 304
			return d
		}
	}

	rng := req.Range
	if len(rng) == 0 || checkIfRange(req, etag, modtime) == condFalse {
		return d
	}
	n, err := ParseRange(rng, size, d.ranges[:])
	switch err {
	case nil:
	case ErrRangeUnsatisfiable:
		if size == 0 {
			return d // clients that always send Range get the empty file
		}
		d.Status, d.Unsatisfied = 416, true
		return d
	case ErrTooManyRanges:
		return d
	default:
		d.Status = 416
		return d
	}
	var sum int64
	for _, r := range d.ranges[:n] {
		sum += r.Length
		if sum > size {
			return d // more bytes than the file: overlap abuse, send it whole
		}
	}
	if n == 0 {
		return d
	}
	d.Status, d.n = 206, n
	if n > 1 {
		makeBoundary(&d.boundary, etag, size, modtime)
	}
	return d
}

// BoundaryLen is the length of multipart boundaries chosen by Evaluate.
const BoundaryLen = len("uringd-") + 16

func makeBoundary(dst *[BoundaryLen]byte, etag []byte, size int64, modtime time.Time) {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h := uint64(offset)
	for _, c := range etag {
		h = (h ^ uint64(c)) * prime
	}
	for _, v := range [2]uint64{uint64(size), uint64(modtime.UnixNano())} {
		for range 8 {
			h = (h ^ (v & 0xff)) * prime
			v >>= 8
		}
	}
	const hexDigits = "0123456789abcdef"
	n := copy(dst[:], "uringd-")
	for i := 15; i >= 0; i-- {
		dst[n+i] = hexDigits[h&15]
		h >>= 4
	}
}
