package http1

import "bytes"

// Method is a request method. Only GET and HEAD are served.
type Method uint8

// Methods recognised by the parser. MethodUnknown is any other token (answered 501).
const (
	MethodUnknown Method = iota
	MethodGET
	MethodHEAD
	MethodPOST
	MethodPUT
	MethodDELETE
	MethodPATCH
	MethodOPTIONS
	MethodTRACE
	MethodCONNECT
)

func (m Method) String() string {
	switch m {
	case MethodGET:
		return "GET"
	case MethodHEAD:
		return "HEAD"
	case MethodPOST:
		return "POST"
	case MethodPUT:
		return "PUT"
	case MethodDELETE:
		return "DELETE"
	case MethodPATCH:
		return "PATCH"
	case MethodOPTIONS:
		return "OPTIONS"
	case MethodTRACE:
		return "TRACE"
	case MethodCONNECT:
		return "CONNECT"
	}
	return "unknown"
}

func lookupMethod(b []byte) Method {
	switch string(b) { // no allocation: the compiler compares in place
	case "GET":
		return MethodGET
	case "HEAD":
		return MethodHEAD
	case "POST":
		return MethodPOST
	case "PUT":
		return MethodPUT
	case "DELETE":
		return MethodDELETE
	case "PATCH":
		return MethodPATCH
	case "OPTIONS":
		return MethodOPTIONS
	case "TRACE":
		return MethodTRACE
	case "CONNECT":
		return MethodCONNECT
	}
	return MethodUnknown
}

// Version is the request's HTTP version.
type Version uint8

// Supported versions. Others are answered 505 by Parse.
const (
	Version10 Version = 10
	Version11 Version = 11
)

func (v Version) String() string {
	switch v {
	case Version10:
		return "HTTP/1.0"
	case Version11:
		return "HTTP/1.1"
	}
	return "HTTP/?"
}

// Default limits, used for zero fields of Limits.
const (
	DefaultMaxHeaderBytes = 8 << 10
	DefaultMaxTargetBytes = 4 << 10
	DefaultMaxBodyBytes   = 1 << 20
)

// Limits bounds what Parse accepts. Zero fields mean the defaults.
type Limits struct {
	// MaxHeaderBytes bounds the header block: blank lines before the request, the
	// request line, all field lines and the final CRLF. Larger blocks get 431, also
	// while still incomplete.
	MaxHeaderBytes int
	// MaxTargetBytes bounds the request target (path and query). Longer targets get
	// 414, also while the request line is still incomplete.
	MaxTargetBytes int
	// MaxBodyBytes bounds the request body a server reads only to discard it: a
	// Content-Length above it gets 413 from Parse, a chunked body whose encoding
	// (chunk sizes, extensions, data, line ends and trailer fields, as sent) would
	// exceed it gets 413 from ChunkedDecoder. Both close the connection.
	MaxBodyBytes int64
	// AllowOptions has OPTIONS parsed like GET and HEAD (its path is set) instead of
	// answered 405, for servers that answer CORS preflights.
	AllowOptions bool
}

func (l Limits) maxHeader() int {
	if l.MaxHeaderBytes > 0 {
		return l.MaxHeaderBytes
	}
	return DefaultMaxHeaderBytes
}

func (l Limits) maxBody() int64 {
	if l.MaxBodyBytes > 0 {
		return l.MaxBodyBytes
	}
	return DefaultMaxBodyBytes
}

func (l Limits) maxTarget() int {
	if l.MaxTargetBytes > 0 {
		return l.MaxTargetBytes
	}
	return DefaultMaxTargetBytes
}

// Request is a parsed request head. All []byte fields are slices of the buffer passed
// to Parse (or of the Request's own scratch space for Path) and stay valid only until
// that buffer is modified or compacted. An absent field is nil or empty; a field
// present with an empty value is treated as absent, like net/http's Header.Get.
//
// A Request is reused across Parse calls; Parse resets it but keeps its path scratch
// space, so decoding a path allocates at most once per Request.
type Request struct {
	Method    Method
	MethodRaw []byte  // method token as received
	Version   Version // Version10 or Version11
	Target    []byte  // request-target as received
	RawPath   []byte  // path component of Target, still percent-encoded
	RawQuery  []byte  // query after '?', without the '?'; nil if none

	// Path is RawPath percent-decoded and cleaned like path.Clean: it always starts
	// with '/', has no empty, "." or ".." segments and no trailing slash (except the
	// root "/"), so it can never name anything above the served root. Set only for
	// GET and HEAD requests accepted by Parse.
	Path []byte
	// TrailingSlash reports whether the decoded path ended in '/' before cleaning
	// (true for "/"): the server redirects "/dir" to "/dir/" and "/file/" to "/file".
	TrailingSlash bool

	HasHost bool
	Host    []byte // Host field, or the authority of an absolute-form target

	// KeepAlive reports whether the connection may serve another request after this
	// one: HTTP/1.1 unless "Connection: close"; HTTP/1.0 only with
	// "Connection: keep-alive" (and no "close").
	KeepAlive bool

	// ContentLength is the length of the request body that follows the header block.
	// The caller must discard that many bytes before parsing the next request. It is
	// at most Limits.MaxBodyBytes: Parse answers larger bodies ErrBodyTooLarge (413).
	ContentLength    int64
	HasContentLength bool
	// TransferEncoding is the Transfer-Encoding value. Parse accepts only a single
	// "chunked" on HTTP/1.1 without Content-Length, and then sets Chunked; any other
	// value, or one on HTTP/1.0, is answered 400.
	TransferEncoding []byte
	// Chunked reports a chunked request body after the header block (ContentLength is
	// then 0). The caller must run it through a ChunkedDecoder, which bounds it by
	// Limits.MaxBodyBytes, before the next request starts.
	Chunked bool

	IfModifiedSince   []byte
	IfUnmodifiedSince []byte
	IfNoneMatch       []byte
	IfMatch           []byte
	IfRange           []byte
	Range             []byte

	UserAgent []byte // for access logs
	Referer   []byte // for access logs

	// Accept is the first Accept field (WantsJSON reads it).
	Accept []byte
	// AcceptEncoding is the first Accept-Encoding field (PreferEncoding reads it); Origin
	// and AccessControlRequestHeaders are for CORS answers.
	AcceptEncoding              []byte
	Origin                      []byte
	AccessControlRequestHeaders []byte

	scratch []byte // decoded-path space, kept across Parse calls
}

// Parse parses one request head from the start of buf.
//
// On success it returns the number of bytes of the head (including blank lines before
// the request line and the final CRLF) and a nil error; req.ContentLength body bytes
// follow and must be discarded by the caller. Pipelined requests are parsed by calling
// Parse again on buf[consumed+ContentLength:].
//
// If the head is incomplete it returns 0 and ErrNeedMore (unless the bytes so far
// already exceed a limit: the caller's buffer must be able to hold MaxHeaderBytes+1
// bytes for an oversized head to be answered 431 rather than stall). Each call
// re-scans buf from the start, which is cheap for heads bounded by MaxHeaderBytes. Any other error is an Error carrying the status to answer;
// see Error.Close. Parse never allocates, except once per Request to grow its path
// scratch space the first time a path needs decoding or cleaning.
func Parse(buf []byte, req *Request, lim Limits) (int, error) {
	scratch := req.scratch
	*req = Request{scratch: scratch}
	maxHdr := lim.maxHeader()

	// RFC 9112 §2.2: ignore empty lines before the request line.
	i := 0
	for {
		if i >= len(buf) {
			return 0, incomplete(len(buf), maxHdr)
		}
		c := buf[i]
		if c == '\n' {
			return 0, ErrBadLineEnding
		}
		if c != '\r' {
			break
		}
		if i+1 >= len(buf) {
			return 0, incomplete(len(buf), maxHdr)
		}
		if buf[i+1] != '\n' {
			return 0, ErrBadLineEnding
		}
		i += 2
	}

	// Request line.
	nl := bytes.IndexByte(buf[i:], '\n')
	if nl < 0 {
		return 0, incompleteRequestLine(buf[i:], len(buf), maxHdr, lim.maxTarget())
	}
	lineEnd := i + nl
	if buf[lineEnd-1] != '\r' { // lineEnd > i since buf[i] is neither CR nor LF
		return 0, ErrBadLineEnding
	}
	if err := parseRequestLine(buf[i:lineEnd-1], req, lim.maxTarget()); err != nil {
		return 0, err
	}

	// Field lines.
	var st fieldState
	pos := lineEnd + 1
	for {
		if pos >= len(buf) {
			return 0, incomplete(len(buf), maxHdr)
		}
		c := buf[pos]
		if c == '\r' {
			if pos+1 >= len(buf) {
				return 0, incomplete(len(buf), maxHdr)
			}
			if buf[pos+1] != '\n' {
				return 0, ErrBadLineEnding
			}
			pos += 2
			break
		}
		if c == '\n' {
			return 0, ErrBadLineEnding
		}
		if c == ' ' || c == '\t' {
			// obs-fold, or whitespace between the start line and the first field
			// (RFC 9112 §2.2, §5.2): rejected.
			return 0, ErrObsFold
		}
		nl := bytes.IndexByte(buf[pos:], '\n')
		if nl < 0 {
			return 0, incomplete(len(buf), maxHdr)
		}
		end := pos + nl
		if buf[end-1] != '\r' {
			return 0, ErrBadLineEnding
		}
		if err := parseField(buf[pos:end-1], req, &st); err != nil {
			return 0, err
		}
		pos = end + 1
	}
	if pos > maxHdr {
		return 0, ErrHeaderTooLarge
	}

	if req.Version == Version11 && !req.HasHost {
		return 0, ErrMissingHost
	}
	if req.TransferEncoding != nil || st.sawTE {
		if req.HasContentLength {
			return 0, ErrContentLengthAndTE
		}
		if req.Version == Version10 || st.teBad || !st.teChunked {
			return 0, ErrBadTransferEncoding
		}
		req.Chunked = true
	}
	if req.ContentLength > lim.maxBody() {
		return 0, ErrBodyTooLarge
	}
	if req.Version == Version11 {
		req.KeepAlive = !st.connClose
	} else {
		req.KeepAlive = st.connKeepAlive && !st.connClose
	}

	if req.Method != MethodGET && req.Method != MethodHEAD && (req.Method != MethodOPTIONS || !lim.AllowOptions) {
		// The head is well framed: report it whole so the caller may keep the
		// connection, unless a body would have to be skipped first.
		if req.ContentLength > 0 || req.Chunked {
			req.KeepAlive = false
		}
		if req.Method == MethodUnknown {
			return pos, ErrNotImplemented
		}
		return pos, ErrMethodNotAllowed
	}

	if err := splitTarget(req); err != nil {
		req.KeepAlive = false
		return 0, err
	}
	if !isCanonicalPath(req.RawPath) && cap(req.scratch) < len(req.RawPath)+1 {
		req.scratch = make([]byte, 0, max(len(req.RawPath)+1, 128))
	}
	p, slash, err := CleanPath(req.scratch[:0], req.RawPath)
	if err != nil {
		req.KeepAlive = false
		return 0, err
	}
	req.Path, req.TrailingSlash = p, slash
	return pos, nil
}

// incomplete is the result for a head that has no end yet.
func incomplete(n, maxHdr int) error {
	if n > maxHdr {
		return ErrHeaderTooLarge
	}
	return ErrNeedMore
}

// incompleteRequestLine checks a request line whose LF has not arrived yet, so that
// garbage and overlong targets are refused without waiting for the rest.
func incompleteRequestLine(line []byte, n, maxHdr, maxTarget int) error {
	sp := -1
	for j, c := range line {
		if c == ' ' {
			sp = j
			break
		}
		if !isTchar(c) && !(c == '\r' && j == len(line)-1) {
			return ErrBadRequestLine
		}
	}
	if sp >= 0 {
		rest := line[sp+1:]
		tlen := bytes.IndexByte(rest, ' ')
		if tlen < 0 {
			tlen = len(rest)
		}
		if tlen > maxTarget {
			return ErrTargetTooLong
		}
	}
	return incomplete(n, maxHdr)
}

// parseRequestLine parses "method SP request-target SP HTTP-version" (without CRLF).
func parseRequestLine(line []byte, req *Request, maxTarget int) error {
	if bytes.IndexByte(line, '\r') >= 0 {
		return ErrBadLineEnding
	}
	m := 0
	for m < len(line) && isTchar(line[m]) {
		m++
	}
	if m == 0 || m == len(line) || line[m] != ' ' {
		return ErrBadRequestLine
	}
	req.MethodRaw = line[:m]
	req.Method = lookupMethod(req.MethodRaw)

	rest := line[m+1:]
	sp := bytes.IndexByte(rest, ' ')
	if sp < 0 {
		if len(rest) > maxTarget {
			return ErrTargetTooLong
		}
		return ErrBadRequestLine // HTTP/0.9 style or missing version
	}
	target := rest[:sp]
	if len(target) > maxTarget {
		return ErrTargetTooLong
	}
	if len(target) == 0 {
		return ErrBadRequestLine
	}
	for _, c := range target {
		// Visible ASCII and obs bytes; no controls, spaces or fragment.
		if c <= ' ' || c == 0x7f || c == '#' {
			return ErrBadTarget
		}
	}
	req.Target = target

	v := rest[sp+1:]
	if len(v) != 8 || string(v[:5]) != "HTTP/" || !isDigit(v[5]) || v[6] != '.' || !isDigit(v[7]) {
		return ErrBadVersion
	}
	switch {
	case v[5] == '1' && v[7] == '1':
		req.Version = Version11
	case v[5] == '1' && v[7] == '0':
		req.Version = Version10
	default:
		return ErrVersionNotSupported
	}
	return nil
}

// fieldState collects what Parse needs across field lines but does not expose.
type fieldState struct {
	sawTE, teChunked, teBad  bool
	connClose, connKeepAlive bool
}

// parseField parses one field line (without CRLF) into req.
func parseField(line []byte, req *Request, st *fieldState) error {
	j := 0
	for j < len(line) && isTchar(line[j]) {
		j++
	}
	if j == len(line) {
		return ErrBadHeader // no colon
	}
	if line[j] != ':' {
		switch c := line[j]; {
		case c == ' ' || c == '\t':
			return ErrSpaceBeforeColon
		case c == '\r':
			return ErrBadLineEnding
		case c < ' ' || c == 0x7f:
			return ErrControlChar
		}
		return ErrBadHeader
	}
	if j == 0 {
		return ErrBadHeader
	}
	name, v := line[:j], line[j+1:]
	for _, c := range v {
		if (c < ' ' && c != '\t') || c == 0x7f {
			if c == '\r' {
				return ErrBadLineEnding
			}
			return ErrControlChar
		}
	}
	v = trimOWS(v)

	switch len(name) {
	case 4:
		if eqFold(name, "host") {
			if req.HasHost || !validHost(v) {
				return ErrBadHost
			}
			req.HasHost, req.Host = true, v
		}
	case 6:
		if eqFold(name, "origin") {
			setFirst(&req.Origin, v)
		} else if eqFold(name, "accept") {
			setFirst(&req.Accept, v)
		}
	case 5:
		if eqFold(name, "range") {
			setFirst(&req.Range, v)
		}
	case 7:
		if eqFold(name, "referer") {
			setFirst(&req.Referer, v)
		}
	case 8:
		if eqFold(name, "if-match") {
			setFirst(&req.IfMatch, v)
		} else if eqFold(name, "if-range") {
			setFirst(&req.IfRange, v)
		}
	case 10:
		if eqFold(name, "connection") {
			connectionTokens(v, st)
		} else if eqFold(name, "user-agent") {
			setFirst(&req.UserAgent, v)
		}
	case 13:
		if eqFold(name, "if-none-match") {
			setFirst(&req.IfNoneMatch, v)
		}
	case 14:
		if eqFold(name, "content-length") {
			if req.HasContentLength {
				return ErrBadContentLength
			}
			n, ok := parseDigits(v)
			if !ok {
				return ErrBadContentLength
			}
			req.HasContentLength, req.ContentLength = true, n
		}
	case 15:
		if eqFold(name, "accept-encoding") {
			setFirst(&req.AcceptEncoding, v)
		}
	case 30:
		if eqFold(name, "access-control-request-headers") {
			setFirst(&req.AccessControlRequestHeaders, v)
		}
	case 17:
		if eqFold(name, "if-modified-since") {
			setFirst(&req.IfModifiedSince, v)
		} else if eqFold(name, "transfer-encoding") {
			if st.sawTE {
				st.teBad = true // several codings: never acceptable here
			}
			st.sawTE = true
			setFirst(&req.TransferEncoding, v)
			if eqFold(v, "chunked") {
				st.teChunked = true
			} else {
				st.teBad = true
			}
		}
	case 19:
		if eqFold(name, "if-unmodified-since") {
			setFirst(&req.IfUnmodifiedSince, v)
		}
	}
	return nil
}

func setFirst(dst *[]byte, v []byte) {
	if len(*dst) == 0 && len(v) > 0 {
		*dst = v
	}
}

// connectionTokens scans a Connection list for "close" and "keep-alive".
func connectionTokens(v []byte, st *fieldState) {
	for len(v) > 0 {
		var tok []byte
		if k := bytes.IndexByte(v, ','); k >= 0 {
			tok, v = v[:k], v[k+1:]
		} else {
			tok, v = v, nil
		}
		tok = trimOWS(tok)
		if eqFold(tok, "close") {
			st.connClose = true
		} else if eqFold(tok, "keep-alive") {
			st.connKeepAlive = true
		}
	}
}

// splitTarget splits req.Target into RawPath and RawQuery, accepting origin-form
// ("/path?query") and absolute-form ("http://authority/path?query").
func splitTarget(req *Request) error {
	t := req.Target
	if t[0] != '/' {
		var rest []byte
		switch {
		case hasPrefixFold(t, "http://"):
			rest = t[len("http://"):]
		case hasPrefixFold(t, "https://"):
			rest = t[len("https://"):]
		default:
			return ErrBadTarget // asterisk-form or authority-form: not for GET/HEAD
		}
		k := bytes.IndexAny(rest, "/?")
		if k < 0 {
			k = len(rest)
		}
		auth := rest[:k]
		if len(auth) == 0 || !validAuthority(auth) {
			return ErrBadTarget
		}
		// RFC 9112 §3.2.2: the target's authority replaces the Host field.
		req.Host = auth
		t = rest[k:]
	}
	if q := bytes.IndexByte(t, '?'); q >= 0 {
		req.RawPath, req.RawQuery = t[:q], t[q+1:]
	} else {
		req.RawPath = t
	}
	return nil
}

// parseDigits parses 1*DIGIT into a non-negative int64, rejecting overflow.
func parseDigits(v []byte) (int64, bool) {
	if len(v) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if !isDigit(c) {
			return 0, false
		}
		d := int64(c - '0')
		if n > (1<<63-1-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// isTchar reports whether c is an RFC 9110 token character.
func isTchar(c byte) bool {
	return c < 0x80 && tcharTable[c]
}

var tcharTable = [128]bool{
	'!': true, '#': true, '$': true, '%': true, '&': true, '\'': true, '*': true,
	'+': true, '-': true, '.': true, '^': true, '_': true, '`': true, '|': true, '~': true,
	'0': true, '1': true, '2': true, '3': true, '4': true, '5': true, '6': true, '7': true,
	'8': true, '9': true,
	'A': true, 'B': true, 'C': true, 'D': true, 'E': true, 'F': true, 'G': true, 'H': true,
	'I': true, 'J': true, 'K': true, 'L': true, 'M': true, 'N': true, 'O': true, 'P': true,
	'Q': true, 'R': true, 'S': true, 'T': true, 'U': true, 'V': true, 'W': true, 'X': true,
	'Y': true, 'Z': true,
	'a': true, 'b': true, 'c': true, 'd': true, 'e': true, 'f': true, 'g': true, 'h': true,
	'i': true, 'j': true, 'k': true, 'l': true, 'm': true, 'n': true, 'o': true, 'p': true,
	'q': true, 'r': true, 's': true, 't': true, 'u': true, 'v': true, 'w': true, 'x': true,
	'y': true, 'z': true,
}

// trimOWS trims SP and HTAB from both ends.
func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// eqFold reports whether b equals the lower-case ASCII string s, ignoring ASCII case.
func eqFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(s) {
		if lower(b[i]) != s[i] {
			return false
		}
	}
	return true
}

func hasPrefixFold(b []byte, s string) bool {
	return len(b) >= len(s) && eqFold(b[:len(s)], s)
}
