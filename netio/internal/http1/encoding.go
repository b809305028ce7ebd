package http1

// Coding is a content coding a server may have a file precompressed in.
type Coding uint8

// The codings of precompressed files. CodingIdentity is the file as it is.
const (
	CodingIdentity Coding = iota
	CodingBrotli          // "br", file.br
	CodingZstd            // "zstd", file.zst
	CodingGzip            // "gzip", file.gz
)

// Name is the coding's token in Accept-Encoding and Content-Encoding.
func (c Coding) Name() string {
	switch c {
	case CodingBrotli:
		return "br"
	case CodingZstd:
		return "zstd"
	case CodingGzip:
		return "gzip"
	}
	return "identity"
}

// Ext is the file name suffix of a file precompressed in c (".br", ".zst", ".gz").
func (c Coding) Ext() string {
	switch c {
	case CodingBrotli:
		return ".br"
	case CodingZstd:
		return ".zst"
	case CodingGzip:
		return ".gz"
	}
	return ""
}

// ParseCoding maps a coding's name ("br", "zstd", "gzip") to it.
func ParseCoding(name string) (Coding, bool) {
	for _, c := range []Coding{CodingBrotli, CodingZstd, CodingGzip} {
		if c.Name() == name {
			return c, true
		}
	}
	return CodingIdentity, false
}

// PreferEncoding chooses which of have to send for the Accept-Encoding value ae, as RFC
// 9110 §12.5.3 says: the coding with the highest qvalue, "*" standing for codings not
// named, a q of 0 refusing; identity, when not named, loses to any coding asked for. have is in the server's order of preference, which breaks ties;
// a tie with identity goes to the coding (it is smaller). It returns the index in have, or
// -1 for identity: when ae is empty or malformed (a bad qvalue, say), the file as it is is
// always acceptable. It never allocates.
func PreferEncoding(ae []byte, have []Coding) int {
	if len(ae) == 0 || len(have) == 0 {
		return -1
	}
	// qvalues in thousandths; -1: not named
	var q [4]int
	for i := range q {
		q[i] = -1
	}
	star, identity := -1, -1
	for len(ae) > 0 {
		var elem []byte
		elem, ae = cutByte(ae, ',')
		elem = trimOWS(elem)
		if len(elem) == 0 {
			continue // empty list elements are allowed (RFC 9110 §5.6.1)
		}
		tok, params, semi := cutByteOK(elem, ';')
		tok = trimOWS(tok)
		if len(tok) == 0 || !isToken(tok) || (semi && len(trimOWS(params)) == 0) {
			return -1
		}
		qv := 1000
		for len(params) > 0 {
			var p []byte
			p, params = cutByte(params, ';')
			p = trimOWS(p)
			if len(p) < 2 || (p[0] != 'q' && p[0] != 'Q') || p[1] != '=' {
				if len(p) == 0 || !isParam(p) {
					return -1
				}
				continue // another parameter: ignored
			}
			v, ok := parseQValue(p[2:])
			if !ok {
				return -1
			}
			qv = v
		}
		switch {
		case len(tok) == 1 && tok[0] == '*':
			star = qv
		case eqFold(tok, "identity"):
			identity = qv
		case eqFold(tok, "br"):
			q[CodingBrotli] = qv
		case eqFold(tok, "zstd"):
			q[CodingZstd] = qv
		case eqFold(tok, "gzip"), eqFold(tok, "x-gzip"):
			q[CodingGzip] = qv
		}
	}
	best, bestQ := -1, 0
	for i, c := range have {
		v := q[c&3]
		if v < 0 {
			v = max(star, 0)
		}
		if v > bestQ {
			best, bestQ = i, v
		}
	}
	if best < 0 {
		return -1
	}
	// Identity not named is acceptable but preferred to nothing a client asked for (as
	// nginx's gzip_static does), unless "*" gives it a weight.
	idQ := identity
	if idQ < 0 {
		idQ = max(star, 0)
	}
	if bestQ < idQ {
		return -1
	}
	return best
}

// parseQValue parses a qvalue (RFC 9110 §12.4.2: "0" or "1" with up to three decimals,
// at most 1) into thousandths.
func parseQValue(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 5 || (b[0] != '0' && b[0] != '1') {
		return 0, false
	}
	v := int(b[0]-'0') * 1000
	if len(b) == 1 {
		return v, true
	}
	if b[1] != '.' {
		return 0, false
	}
	scale := 100
	for _, c := range b[2:] {
		if c < '0' || c > '9' {
			return 0, false
		}
		v += int(c-'0') * scale
		scale /= 10
	}
	return v, v <= 1000
}

// isParam reports whether p looks like token=value (the value a token or quoted string).
func isParam(p []byte) bool {
	name, v := cutByte(p, '=')
	name, v = trimOWS(name), trimOWS(v)
	if len(name) == 0 || !isToken(name) || len(v) == 0 {
		return false
	}
	if v[0] == '"' {
		return len(v) >= 2 && v[len(v)-1] == '"'
	}
	return isToken(v)
}
