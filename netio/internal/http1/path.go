package http1

// CleanPath percent-decodes the path component of a request target and cleans it like
// path.Clean("/" + path): the result always starts with '/', has no empty, "." or ".."
// segments (".." never climbs above the root) and no trailing slash except for "/".
// trailingSlash reports whether the decoded path ended in '/' before cleaning (true
// for "/" and ""), which the server uses for directory redirects.
//
// %2F decodes to '/' and is then treated as a separator, like net/http. An invalid
// escape, %00, or any control byte (raw or decoded, < 0x20 or 0x7F) is an error
// (ErrBadPath). A query string must already be stripped.
//
// When raw is already clean and has no escapes, the result is a subslice of raw and
// nothing is copied. Otherwise the result is appended to dst[:0]; it needs at most
// len(raw)+1 bytes, so with that capacity CleanPath never allocates.
func CleanPath(dst, raw []byte) (path []byte, trailingSlash bool, err error) {
	if isCanonicalPath(raw) {
		if len(raw) > 1 && raw[len(raw)-1] == '/' {
			return raw[:len(raw)-1], true, nil
		}
		return raw, len(raw) == 1, nil
	}
	dst = append(dst[:0], '/')
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c == '%' {
			if i+2 >= len(raw) {
				return nil, false, ErrBadPath
			}
			hi, ok1 := unhex(raw[i+1])
			lo, ok2 := unhex(raw[i+2])
			if !ok1 || !ok2 {
				return nil, false, ErrBadPath
			}
			c = hi<<4 | lo
			i += 2
		}
		if c < ' ' || c == 0x7f {
			return nil, false, ErrBadPath
		}
		dst = append(dst, c)
	}
	trailingSlash = dst[len(dst)-1] == '/'
	return cleanInPlace(dst), trailingSlash, nil
}

// isCanonicalPath reports whether raw starts with '/', has no escapes or control
// bytes, and has no empty, "." or ".." segment (a single trailing slash is allowed).
func isCanonicalPath(raw []byte) bool {
	if len(raw) == 0 || raw[0] != '/' {
		return false
	}
	seg := 1
	for i := 1; i <= len(raw); i++ {
		if i < len(raw) {
			c := raw[i]
			if c != '/' {
				if c == '%' || c < ' ' || c == 0x7f {
					return false
				}
				continue
			}
		}
		switch i - seg {
		case 0:
			if i != len(raw) {
				return false // "//"
			}
		case 1:
			if raw[seg] == '.' {
				return false
			}
		case 2:
			if raw[seg] == '.' && raw[seg+1] == '.' {
				return false
			}
		}
		seg = i + 1
	}
	return true
}

// cleanInPlace cleans b, which starts with '/', in place, as path.Clean does for a
// rooted path. The write index never overtakes the read index.
func cleanInPlace(b []byte) []byte {
	n := len(b)
	w, r := 1, 1
	for r < n {
		switch {
		case b[r] == '/':
			r++
		case b[r] == '.' && (r+1 == n || b[r+1] == '/'):
			r++
		case b[r] == '.' && b[r+1] == '.' && (r+2 == n || b[r+2] == '/'):
			r += 2
			if w > 1 { // drop the last written segment
				w--
				for w > 1 && b[w] != '/' {
					w--
				}
			}
		default:
			if w > 1 {
				b[w] = '/'
				w++
			}
			for r < n && b[r] != '/' {
				b[w] = b[r]
				w++
				r++
			}
		}
	}
	return b[:w]
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// AppendEscapedPath appends p percent-encoded for use as a URL path (in Location and
// directory-listing hrefs), escaping exactly what net/url escapes in a path:
// everything except unreserved characters and "$&+,/:;=@".
func AppendEscapedPath(dst, p []byte) []byte {
	const hexDigits = "0123456789ABCDEF"
	for _, c := range p {
		if pathByteOK(c) {
			dst = append(dst, c)
		} else {
			dst = append(dst, '%', hexDigits[c>>4], hexDigits[c&15])
		}
	}
	return dst
}

func pathByteOK(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '-', '_', '.', '~', '$', '&', '+', ',', '/', ':', ';', '=', '@':
		return true
	}
	return false
}
