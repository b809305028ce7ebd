package http1

import "bytes"

// validHost reports whether v is uri-host [":" port] (RFC 9110 §7.2, RFC 9112 §3.2),
// checked byte by byte against RFC 3986 §3.2.2-3.2.3:
//
//	uri-host    = IP-literal / IPv4address / reg-name
//	IP-literal  = "[" ( IPv6address / IPv6addrz / IPvFuture ) "]"   (IPv6addrz: RFC 6874)
//	reg-name    = *( unreserved / pct-encoded / sub-delims )
//	port        = *DIGIT
//
// An IPv4address is also a reg-name, so it needs no check of its own. Empty is valid
// (an empty reg-name), as RFC 9112 §3.2 allows "Host:" for targets without authority.
func validHost(v []byte) bool {
	i := 0
	if len(v) > 0 && v[0] == '[' {
		end := bytes.IndexByte(v, ']')
		if end < 0 || !validIPLiteral(v[1:end]) {
			return false
		}
		i = end + 1
	} else {
		for i < len(v) && v[i] != ':' {
			c := v[i]
			switch {
			case isUnreserved(c) || isSubDelim(c):
				i++
			case c == '%' && pctEncoded(v[i:]):
				i += 3
			default:
				return false
			}
		}
	}
	if i == len(v) {
		return true
	}
	if v[i] != ':' {
		return false
	}
	for _, c := range v[i+1:] {
		if !isDigit(c) {
			return false
		}
	}
	return true
}

// validIPLiteral checks what is between the brackets of an IP-literal.
func validIPLiteral(b []byte) bool {
	if len(b) > 0 && (b[0] == 'v' || b[0] == 'V') {
		// IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )
		i := 1
		for i < len(b) && isHex(b[i]) {
			i++
		}
		if i == 1 || i == len(b) || b[i] != '.' || i+1 == len(b) {
			return false
		}
		for _, c := range b[i+1:] {
			if !isUnreserved(c) && !isSubDelim(c) && c != ':' {
				return false
			}
		}
		return true
	}
	if k := bytes.IndexByte(b, '%'); k >= 0 {
		// IPv6addrz = IPv6address "%25" ZoneID; ZoneID = 1*( unreserved / pct-encoded )
		zone := b[k:]
		if !bytes.HasPrefix(zone, []byte("%25")) || len(zone) == 3 {
			return false
		}
		for j := 3; j < len(zone); j++ {
			switch c := zone[j]; {
			case isUnreserved(c):
			case c == '%' && pctEncoded(zone[j:]):
				j += 2
			default:
				return false
			}
		}
		b = b[:k]
	}
	return validIPv6(b)
}

// validIPv6 reports whether b is an IPv6address of RFC 3986 §3.2.2: eight h16 pieces
// (h16 = 1*4HEXDIG), the last two of which may be an IPv4address, with at most one "::"
// standing for one or more zero pieces.
func validIPv6(b []byte) bool {
	pieces, ellipsis, i := 0, false, 0
	if bytes.HasPrefix(b, []byte("::")) {
		ellipsis, i = true, 2
		if i == len(b) {
			return true
		}
	}
	for {
		j := i
		for j < len(b) && j-i < 5 && isHex(b[j]) {
			j++
		}
		if j < len(b) && b[j] == '.' {
			// ls32 as an IPv4address: it must end the address.
			if !validIPv4(b[i:]) {
				return false
			}
			pieces += 2
			break
		}
		if j == i || j-i > 4 {
			return false
		}
		pieces++
		i = j
		if i == len(b) {
			break
		}
		if b[i] != ':' {
			return false
		}
		i++
		if i == len(b) {
			return false // a single trailing ':'
		}
		if b[i] == ':' {
			if ellipsis {
				return false
			}
			ellipsis = true
			i++
			if i == len(b) {
				break
			}
		}
	}
	if ellipsis {
		return pieces <= 7
	}
	return pieces == 8
}

// validIPv4 reports whether b is dec-octet "." dec-octet "." dec-octet "." dec-octet,
// where a dec-octet is 0-255 without leading zeros.
func validIPv4(b []byte) bool {
	for octet := 0; octet < 4; octet++ {
		if octet > 0 {
			if len(b) == 0 || b[0] != '.' {
				return false
			}
			b = b[1:]
		}
		n, v := 0, 0
		for n < len(b) && n < 4 && isDigit(b[n]) {
			v = v*10 + int(b[n]-'0')
			n++
		}
		if n == 0 || n > 3 || v > 255 || (n > 1 && b[0] == '0') {
			return false
		}
		b = b[n:]
	}
	return len(b) == 0
}

// validAuthority reports whether a is the authority of an absolute-form target that
// net/url also accepts: a non-empty valid uri-host [":" port] (userinfo is refused by the
// grammar), where a reg-name uses percent-escapes only for bytes >= 0x80 and "%25", and an
// IP-literal is an IPv6 address whose only escape is the "%25" that introduces a zone.
func validAuthority(a []byte) bool {
	if len(a) == 0 || !validHost(a) {
		return false
	}
	if a[0] == '[' {
		lit := a[1:bytes.IndexByte(a, ']')]
		if lit[0] == 'v' || lit[0] == 'V' {
			return false // IPvFuture: net/url takes only IPv6 addresses in brackets
		}
		if k := bytes.IndexByte(lit, '%'); k >= 0 && bytes.IndexByte(lit[k+1:], '%') >= 0 {
			return false
		}
		return true
	}
	// (validHost has checked that every '%' is followed by two hex digits.)
	for i, c := range a {
		if c == '%' {
			if h, _ := unhex(a[i+1]); h < 8 && !bytes.HasPrefix(a[i:], []byte("%25")) {
				return false
			}
		}
	}
	return true
}

// pctEncoded reports whether b starts with "%" HEXDIG HEXDIG.
func pctEncoded(b []byte) bool {
	return len(b) >= 3 && b[0] == '%' && isHex(b[1]) && isHex(b[2])
}

func isHex(c byte) bool {
	return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// isUnreserved: ALPHA / DIGIT / "-" / "." / "_" / "~" (RFC 3986 §2.3).
func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || isDigit(c) ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// isSubDelim: "!" / "$" / "&" / "'" / "(" / ")" / "*" / "+" / "," / ";" / "=" (RFC 3986 §2.2).
func isSubDelim(c byte) bool {
	switch c {
	case '!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=':
		return true
	}
	return false
}
