package http1

import (
	"strings"
	"testing"
)

// rfcCase is one request head and the outcome the grammar of RFC 9112 / RFC 9110 /
// RFC 3986 asks for. err nil means accepted (a GET served, or a 405/501 framed head).
type rfcCase struct {
	name string
	in   string
	err  error
}

func runRFCCases(t *testing.T, lim Limits, cases []rfcCase) {
	t.Helper()
	for _, c := range cases {
		var r Request
		_, err := Parse([]byte(c.in), &r, lim)
		if err != c.err {
			t.Errorf("%s: Parse(%q) = %v, want %v", c.name, c.in, err, c.err)
		}
	}
}

// TestRFCRequestLine: request-line = method SP request-target SP HTTP-version
// (RFC 9112 §3), method = token, HTTP-version = "HTTP/" DIGIT "." DIGIT (§2.3).
func TestRFCRequestLine(t *testing.T) {
	const h = "Host: h\r\n\r\n"
	runRFCCases(t, Limits{}, []rfcCase{
		{"origin-form", "GET /a/b?c=d HTTP/1.1\r\n" + h, nil},
		{"absolute-form", "GET http://h/x HTTP/1.1\r\n" + h, nil},
		{"absolute-form port", "GET http://h:8080/x HTTP/1.1\r\n" + h, nil},
		{"absolute-form empty port", "GET http://h:/x HTTP/1.1\r\n" + h, nil},
		{"absolute-form ipv6", "GET http://[2001:db8::7]/x HTTP/1.1\r\n" + h, nil},
		{"absolute-form bad ipv6", "GET http://[2001:db8::7::1]/x HTTP/1.1\r\n" + h, ErrBadTarget},
		{"absolute-form unclosed literal", "GET http://[::1/x HTTP/1.1\r\n" + h, ErrBadTarget},
		{"absolute-form two ports", "GET http://h:1:2/x HTTP/1.1\r\n" + h, ErrBadTarget},
		{"token method with tchars", "M-1!#$%&'*+.^_`|~ / HTTP/1.1\r\n" + h, ErrNotImplemented},
		{"method with slash", "GE/T / HTTP/1.1\r\n" + h, ErrBadRequestLine},
		{"tab separator", "GET\t/ HTTP/1.1\r\n" + h, ErrBadRequestLine},
		{"leading space", " GET / HTTP/1.1\r\n" + h, ErrBadRequestLine},
		{"two spaces before version", "GET /  HTTP/1.1\r\n" + h, ErrBadVersion},
		{"missing target", "GET  HTTP/1.1\r\n" + h, ErrBadRequestLine},
		{"version three digits", "GET / HTTP/1.10\r\n" + h, ErrBadVersion},
		{"version no minor", "GET / HTTP/1\r\n" + h, ErrBadVersion},
		{"version lower case", "GET / Http/1.1\r\n" + h, ErrBadVersion},
		{"version 3.0", "GET / HTTP/3.0\r\n" + h, ErrVersionNotSupported},
		{"space in target", "GET /a b HTTP/1.1\r\n" + h, ErrBadVersion},
		{"empty lines first (§2.2)", "\r\n\r\n\r\nGET / HTTP/1.1\r\n" + h, nil},
		{"bare LF first", "\nGET / HTTP/1.1\r\n" + h, ErrBadLineEnding},
		{"request line bare LF", "GET / HTTP/1.1\n" + h, ErrBadLineEnding},
		{"request line bare CR", "GET / HTTP/1.1\rX\r\n" + h, ErrBadLineEnding},
	})
}

// TestRFCFieldSyntax: field-line = field-name ":" OWS field-value OWS (RFC 9112 §5),
// field-name = token, field-value = *field-content, field-vchar = VCHAR / obs-text
// (RFC 9110 §5.5); obs-fold is rejected (RFC 9112 §5.2); no whitespace before ':' (§5.1).
func TestRFCFieldSyntax(t *testing.T) {
	const rl = "GET / HTTP/1.1\r\nHost: h\r\n"
	runRFCCases(t, Limits{}, []rfcCase{
		{"plain", rl + "X-A: b\r\n\r\n", nil},
		{"no OWS", rl + "X-A:b\r\n\r\n", nil},
		{"OWS both sides", rl + "X-A: \t b c \t \r\n\r\n", nil},
		{"empty value", rl + "X-A:\r\n\r\n", nil},
		{"only OWS", rl + "X-A:  \r\n\r\n", nil},
		{"obs-text", rl + "X-A: \x80\xfe\xff\r\n\r\n", nil},
		{"all tchars in name", rl + "!#$%&'*+-.^_`|~09AZaz: v\r\n\r\n", nil},
		{"colon in value", rl + "X-A: a:b\r\n\r\n", nil},
		{"space before colon", rl + "X-A : b\r\n\r\n", ErrSpaceBeforeColon},
		{"tab before colon", rl + "X-A\t: b\r\n\r\n", ErrSpaceBeforeColon},
		{"empty name", rl + ":b\r\n\r\n", ErrBadHeader},
		{"separator in name", rl + "X@A: b\r\n\r\n", ErrBadHeader},
		{"quote in name", rl + "X\"A: b\r\n\r\n", ErrBadHeader},
		{"no colon", rl + "X-A b\r\n\r\n", ErrSpaceBeforeColon},
		{"obs-fold SP", rl + "X-A: b\r\n c\r\n\r\n", ErrObsFold},
		{"obs-fold HTAB", rl + "X-A: b\r\n\tc\r\n\r\n", ErrObsFold},
		{"NUL", rl + "X-A: b\x00\r\n\r\n", ErrControlChar},
		{"CTL 0x01", rl + "X-A: \x01\r\n\r\n", ErrControlChar},
		{"DEL", rl + "X-A: \x7f\r\n\r\n", ErrControlChar},
		{"bare CR in value", rl + "X-A: b\rc\r\n\r\n", ErrBadLineEnding},
		{"bare LF line end", rl + "X-A: b\n\r\n", ErrBadLineEnding},
		{"bare LF final", rl + "X-A: b\r\n\n", ErrBadLineEnding},
		{"CR CR LF", rl + "X-A: b\r\r\n\r\n", ErrBadLineEnding},
		{"non-ASCII name", rl + "X\xc3\xa9: b\r\n\r\n", ErrBadHeader},
	})
}

// TestRFCHost: Host = uri-host [ ":" port ] (RFC 9110 §7.2), with uri-host =
// IP-literal / IPv4address / reg-name and port = *DIGIT (RFC 3986 §3.2.2-3.2.3).
// A request with an invalid or repeated Host gets 400 (RFC 9112 §3.2).
func TestRFCHost(t *testing.T) {
	host := func(v string) string { return "GET / HTTP/1.1\r\nHost: " + v + "\r\n\r\n" }
	var cases []rfcCase
	for _, v := range []string{
		"example.com", "example.com:80", "example.com:", "EXAMPLE.com:08080", "", "h",
		"123.40.56.78", "123.40.56.78:9000", "999.1.1.1", // reg-name may look like an IPv4 address
		"a-b_c~d.e", "!$&'()*+,;=", "%41%42", "xn--nxasmq6b.example",
		"[::1]", "[::1]:443", "[::]", "[2001:db8::7]", "[2001:db8:0:0:1:0:0:1]:8080",
		"[1:2:3:4:5:6:7:8]", "[::ffff:192.0.2.1]", "[1:2:3:4:5:6:1.2.3.4]", "[1::]", "[1:2:3:4:5:6:7::]",
		"[::2:3:4:5:6:7:8]", "[fe80::1%25eth0]", "[fe80::1%25en%30]:80", "[v1.fe80::a+en1]", "[vF.a:b]",
	} {
		cases = append(cases, rfcCase{"valid " + v, host(v), nil})
	}
	for _, v := range []string{
		"a:b:c", "123.40.56.78:9000:80", "[::1", "host:80x", "[abcd::1].", "::1", "[::1]x", "[::1]:a",
		"h:-1", "h: 80", "h :80", "a b", "a/b", "a?b", "a#b", "u@h", "u:p@h", "a%", "a%4", "a%zz",
		"[]", "[:]", "[:::]", "[1:::2]", "[::1::]", "[1:2:3:4:5:6:7:8:9]", "[1:2:3:4:5:6:7]",
		"[12345::]", "[g::]", "[::1.2.3]", "[::1.2.3.256]", "[::01.2.3.4]", "[1:2:3:4:5:6:7:1.2.3.4]",
		"[1.2.3.4]", "[::1%eth0]", "[::1%25]", "[::1%25%]", "[v1.]", "[v.a]", "[vx.a]", "[v1.a/b]",
		"[::1]]", "[[::1]", "h[::1]", "h]", "\x80", "h\xff",
	} {
		cases = append(cases, rfcCase{"invalid " + v, host(v), ErrBadHost})
	}
	cases = append(cases,
		rfcCase{"two Host lines", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", ErrBadHost},
		rfcCase{"Host list", "GET / HTTP/1.1\r\nHost: a, b\r\n\r\n", ErrBadHost},
		rfcCase{"no Host on 1.1", "GET / HTTP/1.1\r\n\r\n", ErrMissingHost},
		rfcCase{"no Host on 1.0", "GET / HTTP/1.0\r\n\r\n", nil},
		rfcCase{"invalid Host on 1.0", "GET / HTTP/1.0\r\nHost: a:b:c\r\n\r\n", ErrBadHost},
		rfcCase{"Host OWS trimmed", "GET / HTTP/1.1\r\nHost: \t h:1 \t\r\n\r\n", nil},
	)
	runRFCCases(t, Limits{}, cases)
}

// TestRFCContentLength: Content-Length = 1*DIGIT (RFC 9110 §8.6); invalid or repeated
// values get 400 (RFC 9112 §6.3 item 5); a body over Limits.MaxBodyBytes gets 413.
func TestRFCContentLength(t *testing.T) {
	cl := func(v string) string { return "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: " + v + "\r\n\r\n" }
	runRFCCases(t, Limits{}, []rfcCase{
		{"zero", cl("0"), nil},
		{"leading zeros", cl("0005"), nil},
		{"OWS", cl(" \t12\t "), nil},
		{"empty", cl(""), ErrBadContentLength},
		{"sign", cl("+1"), ErrBadContentLength},
		{"negative", cl("-1"), ErrBadContentLength},
		{"hex", cl("0x10"), ErrBadContentLength},
		{"decimal point", cl("1.0"), ErrBadContentLength},
		{"list of equal values", cl("3, 3"), ErrBadContentLength},
		{"inner space", cl("1 0"), ErrBadContentLength},
		{"overflow", cl("99999999999999999999"), ErrBadContentLength},
		{"twice", "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", ErrBadContentLength},
		{"with TE", "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", ErrContentLengthAndTE},
	})
}

// TestRFCTransferEncoding: Transfer-Encoding = #transfer-coding (RFC 9112 §6.1). chunked
// must be understood and must be the final coding, applied once; other codings are not
// implemented here and, like a chunked coding that is not final, get 400 and close.
// Transfer-Encoding on HTTP/1.0 means faulty framing (§6.1): 400.
func TestRFCTransferEncoding(t *testing.T) {
	te := func(v string) string {
		return "GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: " + v + "\r\n\r\n"
	}
	runRFCCases(t, Limits{}, []rfcCase{
		{"chunked", te("chunked"), nil},
		{"case-insensitive", te("ChUnKeD"), nil},
		{"OWS", te(" \tchunked \t"), nil},
		// Deliberate deviation: RFC 9110 §5.6.1.2 asks recipients to ignore empty list
		// elements, but any spelling of chunked other than the plain one is where front
		// ends and origins disagree about framing (request smuggling); net/http also
		// accepts only "chunked". So these are refused.
		{"empty list elements", te(", chunked ,"), ErrBadTransferEncoding},
		{"POST chunked is framed", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", ErrMethodNotAllowed},
		{"unknown method chunked is framed", "BREW / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", ErrNotImplemented},
		{"empty", te(""), ErrBadTransferEncoding},
		{"only commas", te(" , "), ErrBadTransferEncoding},
		{"gzip", te("gzip"), ErrBadTransferEncoding},
		{"gzip then chunked", te("gzip, chunked"), ErrBadTransferEncoding},
		{"chunked not final", te("chunked, gzip"), ErrBadTransferEncoding},
		{"chunked twice in a list", te("chunked, chunked"), ErrBadTransferEncoding},
		{"chunked twice in lines", "GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", ErrBadTransferEncoding},
		{"parameter", te("chunked;q=1"), ErrBadTransferEncoding},
		{"chunked-false", te("chunkedx"), ErrBadTransferEncoding},
		{"identity", te("identity"), ErrBadTransferEncoding},
		{"HTTP/1.0", "GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", ErrBadTransferEncoding},
		{"with CL", "GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n", ErrContentLengthAndTE},
		{"with CL on 1.0", "GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n", ErrContentLengthAndTE},
	})
}

// TestRFCLongHost keeps the Host check linear and within the header limit.
func TestRFCLongHost(t *testing.T) {
	runRFCCases(t, Limits{}, []rfcCase{
		{"long reg-name", "GET / HTTP/1.1\r\nHost: " + strings.Repeat("a.", 3000) + "\r\n\r\n", nil},
		{"long port", "GET / HTTP/1.1\r\nHost: h:" + strings.Repeat("9", 3000) + "\r\n\r\n", nil},
	})
}
