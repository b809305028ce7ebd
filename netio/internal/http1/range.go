package http1

import "strconv"

// MaxRanges caps the number of ranges Evaluate serves in one response. A Range header
// with more satisfiable ranges is ignored and the whole file is sent with 200 (net/http
// has no cap; it only ignores ranges whose lengths add up to more than the file).
const MaxRanges = 16

// Range is a byte range of a file: Length bytes from offset Start.
type Range struct {
	Start, Length int64
}

// End is the offset of the last byte (inclusive), as in Content-Range.
func (r Range) End() int64 { return r.Start + r.Length - 1 }

// RangeError is the error type of ParseRange.
type RangeError uint8

// ParseRange errors. ErrRangeInvalid and ErrRangeUnsatisfiable are answered 416
// (only the latter with "Content-Range: bytes */size"); see Evaluate.
const (
	ErrRangeInvalid       RangeError = iota + 1 // syntactically invalid Range
	ErrRangeUnsatisfiable                       // no range overlaps the file
	ErrTooManyRanges                            // more ranges than len(out)
)

func (e RangeError) Error() string {
	switch e {
	case ErrRangeInvalid:
		return "http1: invalid range"
	case ErrRangeUnsatisfiable:
		return "http1: invalid range: failed to overlap"
	case ErrTooManyRanges:
		return "http1: too many ranges"
	}
	return "http1: range error"
}

// ParseRange parses a Range header value for a file of the given size into out and
// returns how many ranges it stored. It follows net/http's parseRange:
//
//   - "" means no Range: 0, nil.
//   - The value is a unit (a token), "=", and a set. A unit other than "bytes" (matched
//     case-insensitively, per RFC 9110; net/http is case-sensitive) is one this server
//     does not understand, and RFC 9110 §14.2 says to ignore the Range: 0, nil, as for
//     no Range (net/http answers 416). No "=", or a unit that is not a token:
//     ErrRangeInvalid. Elements of the set are comma-separated; empty elements and
//     whitespace around elements and numbers are ignored.
//   - "a-b" is clamped to the file end; "a-" runs to the end; "-n" is the last n bytes
//     (the whole file if n >= size).
//   - An element starting at or beyond size does not overlap and is skipped (its end
//     is not even parsed, as in net/http). So are "-0" and any suffix range of an empty
//     file, which net/http turns into zero-length ranges ("bytes 10-9/10"); RFC 9110
//     calls them unsatisfiable.
//   - Anything else (no '-', non-digits, signs, b < a, overflow) makes the whole value
//     ErrRangeInvalid. net/http also accepts a leading '+' (strconv.ParseInt); this
//     parser accepts digits only.
//   - If elements were skipped and none stored: ErrRangeUnsatisfiable.
//   - More ranges than len(out): ErrTooManyRanges, with out filled.
//
// Every stored range lies within [0, size) and has Length >= 1. Ranges are returned in
// request order, not merged. ParseRange never allocates.
func ParseRange(header []byte, size int64, out []Range) (n int, err error) {
	if len(header) == 0 {
		return 0, nil
	}
	unit, s, ok := cutByteOK(header, '=')
	if !ok || !isToken(unit) {
		return 0, ErrRangeInvalid
	}
	if !eqFold(unit, "bytes") {
		return 0, nil // an unknown unit: ignored, the whole file is sent
	}
	noOverlap, tooMany := false, false
	for len(s) > 0 {
		var ra []byte
		ra, s = cutByte(s, ',')
		ra = trimSpaceTP(ra)
		if len(ra) == 0 {
			continue
		}
		start, end, ok := cutByteOK(ra, '-')
		if !ok {
			return 0, ErrRangeInvalid
		}
		start, end = trimSpaceTP(start), trimSpaceTP(end)
		var r Range
		if len(start) == 0 {
			// Suffix range: the last n bytes.
			k, ok := parseDigits(end)
			if !ok {
				return 0, ErrRangeInvalid
			}
			if k == 0 || size == 0 {
				noOverlap = true
				continue
			}
			k = min(k, size)
			r = Range{Start: size - k, Length: k}
		} else {
			a, ok := parseDigits(start)
			if !ok {
				return 0, ErrRangeInvalid
			}
			if a >= size {
				noOverlap = true
				continue
			}
			r.Start = a
			if len(end) == 0 {
				r.Length = size - a
			} else {
				b, ok := parseDigits(end)
				if !ok || a > b {
					return 0, ErrRangeInvalid
				}
				b = min(b, size-1)
				r.Length = b - a + 1
			}
		}
		if n < len(out) {
			out[n] = r
			n++
		} else {
			tooMany = true
		}
	}
	if tooMany {
		return n, ErrTooManyRanges
	}
	if noOverlap && n == 0 {
		return 0, ErrRangeUnsatisfiable
	}
	return n, nil
}

// isToken reports whether b is a non-empty RFC 9110 token.
func isToken(b []byte) bool {
	for _, c := range b {
		if !isTchar(c) {
			return false
		}
	}
	return len(b) > 0
}

func cutByte(s []byte, sep byte) (before, after []byte) {
	b, a, _ := cutByteOK(s, sep)
	return b, a
}

func cutByteOK(s []byte, sep byte) (before, after []byte, found bool) {
	for i, c := range s {
		if c == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, nil, false
}

// AppendContentRange appends "bytes START-END/SIZE" for r.
func AppendContentRange(dst []byte, r Range, size int64) []byte {
	dst = append(dst, "bytes "...)
	dst = strconv.AppendInt(dst, r.Start, 10)
	dst = append(dst, '-')
	dst = strconv.AppendInt(dst, r.End(), 10)
	dst = append(dst, '/')
	return strconv.AppendInt(dst, size, 10)
}

// AppendPartHeader appends the delimiter and header of one multipart/byteranges part,
// byte-for-byte as net/http's mime/multipart writer produces it:
//
//	[CRLF unless first] "--" boundary CRLF
//	"Content-Range: bytes START-END/SIZE" CRLF
//	"Content-Type: " ctype CRLF
//	CRLF
//
// The part's bytes follow. After the last part, append AppendMultipartEnd.
func AppendPartHeader(dst []byte, first bool, r Range, size int64, ctype string, boundary []byte) []byte {
	if !first {
		dst = append(dst, '\r', '\n')
	}
	dst = append(dst, '-', '-')
	dst = append(dst, boundary...)
	dst = append(dst, "\r\nContent-Range: "...)
	dst = AppendContentRange(dst, r, size)
	dst = append(dst, "\r\nContent-Type: "...)
	dst = append(dst, ctype...)
	return append(dst, "\r\n\r\n"...)
}

// AppendMultipartEnd appends the closing delimiter: CRLF "--" boundary "--" CRLF.
func AppendMultipartEnd(dst []byte, boundary []byte) []byte {
	dst = append(dst, '\r', '\n', '-', '-')
	dst = append(dst, boundary...)
	return append(dst, '-', '-', '\r', '\n')
}

// MultipartLength returns the exact length of the multipart/byteranges body made of
// AppendPartHeader + data for each range and AppendMultipartEnd, so the server can send
// Content-Length up front.
func MultipartLength(ranges []Range, size int64, ctype string, boundary []byte) int64 {
	if len(ranges) == 0 {
		return 0
	}
	const perPart = len("\r\n--") + len("\r\nContent-Range: bytes ") + len("-/") +
		len("\r\nContent-Type: ") + len("\r\n\r\n")
	var total int64
	sizeDigits := decimalLen(size)
	for _, r := range ranges {
		total += int64(perPart+len(boundary)+len(ctype)+decimalLen(r.Start)+decimalLen(r.End())+sizeDigits) + r.Length
	}
	total -= 2 // the first delimiter has no leading CRLF
	return total + int64(len("\r\n--")+len(boundary)+len("--\r\n"))
}

// decimalLen is len(strconv.AppendInt(nil, v, 10)).
func decimalLen(v int64) int {
	n := 1
	if v < 0 {
		n++
		if v == -1<<63 {
			return 20
		}
		v = -v
	}
	for v >= 10 {
		v /= 10
		n++
	}
	return n
}
