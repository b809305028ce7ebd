package http1

import (
	"errors"
	"strings"
	"testing"
)

type parseCase struct {
	name  string
	in    string
	err   error
	n     int // expected consumed; 0 means len(in) on success
	lim   Limits
	check func(t *testing.T, r *Request)
}

func TestParse(t *testing.T) {
	const host = "Host: example.com\r\n"
	cases := []parseCase{
		{name: "minimal", in: "GET / HTTP/1.1\r\n" + host + "\r\n", check: func(t *testing.T, r *Request) {
			eq(t, "method", r.Method, MethodGET)
			eqs(t, "MethodRaw", r.MethodRaw, "GET")
			eq(t, "version", r.Version, Version11)
			eqs(t, "target", r.Target, "/")
			eqs(t, "path", r.Path, "/")
			eq(t, "trailing", r.TrailingSlash, true)
			eq(t, "host", r.HasHost, true)
			eqs(t, "host", r.Host, "example.com")
			eq(t, "keepalive", r.KeepAlive, true)
			eq(t, "cl", r.HasContentLength, false)
		}},
		{name: "head", in: "HEAD /a.txt HTTP/1.1\r\n" + host + "\r\n", check: func(t *testing.T, r *Request) {
			eq(t, "method", r.Method, MethodHEAD)
			eqs(t, "path", r.Path, "/a.txt")
			eq(t, "trailing", r.TrailingSlash, false)
		}},
		{name: "http10 no host", in: "GET /x HTTP/1.0\r\n\r\n", check: func(t *testing.T, r *Request) {
			eq(t, "version", r.Version, Version10)
			eq(t, "keepalive", r.KeepAlive, false)
			eq(t, "host", r.HasHost, false)
		}},
		{name: "http10 keep-alive", in: "GET /x HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", check: func(t *testing.T, r *Request) {
			eq(t, "keepalive", r.KeepAlive, true)
		}},
		{name: "http10 keep-alive list", in: "GET /x HTTP/1.0\r\nConnection: foo , keep-alive\r\n\r\n", check: func(t *testing.T, r *Request) {
			eq(t, "keepalive", r.KeepAlive, true)
		}},
		{name: "http10 keep-alive and close", in: "GET /x HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n", check: func(t *testing.T, r *Request) {
			eq(t, "keepalive", r.KeepAlive, false)
		}},
		{name: "http11 close", in: "GET / HTTP/1.1\r\n" + host + "connection: CLOSE\r\n\r\n", check: func(t *testing.T, r *Request) {
			eq(t, "keepalive", r.KeepAlive, false)
		}},
		{name: "http11 close in list", in: "GET / HTTP/1.1\r\n" + host + "Connection: upgrade,close\r\n\r\n", check: func(t *testing.T, r *Request) {
			eq(t, "keepalive", r.KeepAlive, false)
		}},
		{name: "http11 closed not a token", in: "GET / HTTP/1.1\r\n" + host + "Connection: closed\r\n\r\n", check: func(t *testing.T, r *Request) {
			eq(t, "keepalive", r.KeepAlive, true)
		}},
		{name: "leading empty lines", in: "\r\n\r\nGET / HTTP/1.1\r\n" + host + "\r\n", check: func(t *testing.T, r *Request) {
			eqs(t, "path", r.Path, "/")
		}},
		{name: "all fields", in: "GET /f HTTP/1.1\r\n" +
			"hOsT: h:8080\r\n" +
			"If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n" +
			"IF-UNMODIFIED-SINCE:Sun, 06 Nov 1994 08:49:38 GMT\r\n" +
			"If-None-Match: \"a\", W/\"b\"\r\n" +
			"If-Match: *\r\n" +
			"If-Range: \"r\"\r\n" +
			"Range:\t bytes=0-1 \t\r\n" +
			"User-Agent: curl/8.0 (x)\r\n" +
			"Referer: http://r/\r\n" +
			"X-Other: \x80\xff obs-text ok\r\n" +
			"Expect: 100-continue\r\n" +
			"Empty:\r\n" +
			"\r\n", check: func(t *testing.T, r *Request) {
			eqs(t, "host", r.Host, "h:8080")
			eqs(t, "ims", r.IfModifiedSince, "Sun, 06 Nov 1994 08:49:37 GMT")
			eqs(t, "ius", r.IfUnmodifiedSince, "Sun, 06 Nov 1994 08:49:38 GMT")
			eqs(t, "inm", r.IfNoneMatch, `"a", W/"b"`)
			eqs(t, "im", r.IfMatch, "*")
			eqs(t, "ir", r.IfRange, `"r"`)
			eqs(t, "range", r.Range, "bytes=0-1")
			eqs(t, "ua", r.UserAgent, "curl/8.0 (x)")
			eqs(t, "referer", r.Referer, "http://r/")
		}},
		{name: "first occurrence wins", in: "GET / HTTP/1.1\r\n" + host + "Range:\r\nRange: bytes=1-2\r\nRange: bytes=3-4\r\nUser-Agent: a\r\nUser-Agent: b\r\n\r\n", check: func(t *testing.T, r *Request) {
			eqs(t, "range", r.Range, "bytes=1-2")
			eqs(t, "ua", r.UserAgent, "a")
		}},
		{name: "query stripped", in: "GET /a/b.html?x=1&y=/../z HTTP/1.1\r\n" + host + "\r\n", check: func(t *testing.T, r *Request) {
			eqs(t, "rawpath", r.RawPath, "/a/b.html")
			eqs(t, "rawquery", r.RawQuery, "x=1&y=/../z")
			eqs(t, "path", r.Path, "/a/b.html")
		}},
		{name: "empty query", in: "GET /a? HTTP/1.1\r\n" + host + "\r\n", check: func(t *testing.T, r *Request) {
			eqs(t, "path", r.Path, "/a")
			eq(t, "query non-nil", r.RawQuery != nil, true)
		}},
		{name: "decoded and cleaned", in: "GET /a/%2e%2E/%62%20c/./d/ HTTP/1.1\r\n" + host + "\r\n", check: func(t *testing.T, r *Request) {
			eqs(t, "path", r.Path, "/b c/d")
			eq(t, "trailing", r.TrailingSlash, true)
		}},
		{name: "dotdot cannot escape", in: "GET /../../etc/passwd HTTP/1.1\r\n" + host + "\r\n", check: func(t *testing.T, r *Request) {
			eqs(t, "path", r.Path, "/etc/passwd")
		}},
		{name: "encoded slash dotdot", in: "GET /..%2f..%2fetc%2Fpasswd HTTP/1.1\r\n" + host + "\r\n", check: func(t *testing.T, r *Request) {
			eqs(t, "path", r.Path, "/etc/passwd")
		}},
		{name: "trailing slash dir", in: "GET /dir/ HTTP/1.1\r\n" + host + "\r\n", check: func(t *testing.T, r *Request) {
			eqs(t, "path", r.Path, "/dir")
			eq(t, "trailing", r.TrailingSlash, true)
		}},
		{name: "absolute form", in: "GET http://other.example:81/p/q?z HTTP/1.1\r\n" + host + "\r\n", check: func(t *testing.T, r *Request) {
			eqs(t, "host", r.Host, "other.example:81")
			eqs(t, "path", r.Path, "/p/q")
			eqs(t, "query", r.RawQuery, "z")
		}},
		{name: "absolute ipv6 with port", in: "GET http://[::1]:8080/a HTTP/1.1\r\n" + host + "\r\n", check: func(t *testing.T, r *Request) {
			if string(r.Host) != "[::1]:8080" || string(r.Path) != "/a" {
				t.Errorf("host %q path %q", r.Host, r.Path)
			}
		}},
		{name: "absolute form no path", in: "GET HTTPS://h?q HTTP/1.1\r\n" + host + "\r\n", check: func(t *testing.T, r *Request) {
			eqs(t, "path", r.Path, "/")
			eq(t, "trailing", r.TrailingSlash, true)
		}},
		{name: "get with body", in: "GET / HTTP/1.1\r\n" + host + "Content-Length: 5\r\n\r\nhello",
			n: len("GET / HTTP/1.1\r\n" + host + "Content-Length: 5\r\n\r\n"), check: func(t *testing.T, r *Request) {
				eq(t, "hascl", r.HasContentLength, true)
				eq(t, "cl", r.ContentLength, int64(5))
				eq(t, "keepalive", r.KeepAlive, true)
			}},
		{name: "content-length zero", in: "GET / HTTP/1.1\r\n" + host + "Content-Length: 0\r\n\r\n", check: func(t *testing.T, r *Request) {
			eq(t, "hascl", r.HasContentLength, true)
			eq(t, "cl", r.ContentLength, int64(0))
		}},
		{name: "content-length at default body limit", in: "GET / HTTP/1.1\r\n" + host + "Content-Length: 1048576\r\n\r\n", check: func(t *testing.T, r *Request) {
			eq(t, "cl", r.ContentLength, int64(DefaultMaxBodyBytes))
		}},
		{name: "content-length over default body limit", in: "GET / HTTP/1.1\r\n" + host + "Content-Length: 1048577\r\n\r\n", err: ErrBodyTooLarge},
		{name: "post over body limit", in: "POST / HTTP/1.1\r\n" + host + "Content-Length: 11\r\n\r\n", lim: Limits{MaxBodyBytes: 10}, err: ErrBodyTooLarge},
		{name: "content-length max", lim: Limits{MaxBodyBytes: 1<<63 - 1}, in: "GET / HTTP/1.1\r\n" + host + "Content-Length: 9223372036854775807\r\n\r\n", check: func(t *testing.T, r *Request) {
			eq(t, "cl", r.ContentLength, int64(1<<63-1))
		}},
		{name: "raw utf8 in path", in: "GET /caf\xc3\xa9 HTTP/1.1\r\n" + host + "\r\n", check: func(t *testing.T, r *Request) {
			eqs(t, "path", r.Path, "/caf\xc3\xa9")
		}},
		{name: "empty host on 1.1", in: "GET / HTTP/1.1\r\nHost:\r\n\r\n", check: func(t *testing.T, r *Request) {
			eq(t, "hashost", r.HasHost, true)
		}},
		{name: "ipv6 host", in: "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"},

		// Methods: reported after the whole head, connection may stay open.
		{name: "post", in: "POST /x HTTP/1.1\r\n" + host + "\r\n", err: ErrMethodNotAllowed, check: func(t *testing.T, r *Request) {
			eq(t, "method", r.Method, MethodPOST)
			eq(t, "keepalive", r.KeepAlive, true)
		}},
		{name: "post with body closes", in: "POST /x HTTP/1.1\r\n" + host + "Content-Length: 3\r\n\r\nabc",
			n: len("POST /x HTTP/1.1\r\n" + host + "Content-Length: 3\r\n\r\n"), err: ErrMethodNotAllowed, check: func(t *testing.T, r *Request) {
				eq(t, "keepalive", r.KeepAlive, false)
			}},
		{name: "put", in: "PUT /x HTTP/1.1\r\n" + host + "\r\n", err: ErrMethodNotAllowed},
		{name: "delete", in: "DELETE /x HTTP/1.1\r\n" + host + "\r\n", err: ErrMethodNotAllowed},
		{name: "patch", in: "PATCH /x HTTP/1.1\r\n" + host + "\r\n", err: ErrMethodNotAllowed},
		{name: "options star", in: "OPTIONS * HTTP/1.1\r\n" + host + "\r\n", err: ErrMethodNotAllowed},
		{name: "trace", in: "TRACE / HTTP/1.1\r\n" + host + "\r\n", err: ErrMethodNotAllowed},
		{name: "connect", in: "CONNECT h:443 HTTP/1.1\r\n" + host + "\r\n", err: ErrMethodNotAllowed},
		{name: "unknown method", in: "BREW /pot HTTP/1.1\r\n" + host + "\r\n", err: ErrNotImplemented, check: func(t *testing.T, r *Request) {
			eq(t, "method", r.Method, MethodUnknown)
			eqs(t, "raw", r.MethodRaw, "BREW")
		}},
		{name: "lowercase get is unknown", in: "get / HTTP/1.1\r\n" + host + "\r\n", err: ErrNotImplemented},
		{name: "method error http10 closes", in: "POST / HTTP/1.0\r\n\r\n", err: ErrMethodNotAllowed, check: func(t *testing.T, r *Request) {
			eq(t, "keepalive", r.KeepAlive, false)
		}},

		// Request line.
		{name: "double space", in: "GET  / HTTP/1.1\r\n" + host + "\r\n", err: ErrBadRequestLine},
		{name: "no version", in: "GET /\r\n\r\n", err: ErrBadRequestLine},
		{name: "empty method", in: " / HTTP/1.1\r\n" + host + "\r\n", err: ErrBadRequestLine},
		{name: "bad method char", in: "G(T / HTTP/1.1\r\n" + host + "\r\n", err: ErrBadRequestLine},
		{name: "trailing space", in: "GET / HTTP/1.1 \r\n" + host + "\r\n", err: ErrBadVersion},
		{name: "lowercase version", in: "GET / http/1.1\r\n" + host + "\r\n", err: ErrBadVersion},
		{name: "version 11", in: "GET / HTTP/11\r\n" + host + "\r\n", err: ErrBadVersion},
		{name: "version junk", in: "GET / HTTP/1.x\r\n" + host + "\r\n", err: ErrBadVersion},
		{name: "http2", in: "GET / HTTP/2.0\r\n" + host + "\r\n", err: ErrVersionNotSupported},
		{name: "http2 preface", in: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", err: ErrVersionNotSupported},
		{name: "http09", in: "GET / HTTP/0.9\r\n\r\n", err: ErrVersionNotSupported},
		{name: "http12", in: "GET / HTTP/1.2\r\n" + host + "\r\n", err: ErrVersionNotSupported},
		{name: "star for get", in: "GET * HTTP/1.1\r\n" + host + "\r\n", err: ErrBadTarget},
		{name: "relative target", in: "GET a/b HTTP/1.1\r\n" + host + "\r\n", err: ErrBadTarget},
		{name: "ftp absolute", in: "GET ftp://h/ HTTP/1.1\r\n" + host + "\r\n", err: ErrBadTarget},
		{name: "absolute userinfo", in: "GET http://u@h/ HTTP/1.1\r\n" + host + "\r\n", err: ErrBadTarget},
		{name: "absolute empty authority", in: "GET http:///x HTTP/1.1\r\n" + host + "\r\n", err: ErrBadTarget},
		{name: "absolute host escape below 0x80", in: "GET http://a%00b/ HTTP/1.1\r\n" + host + "\r\n", err: ErrBadTarget},
		{name: "absolute port not digits", in: "GET http://:A HTTP/1.0\r\n\r\n", err: ErrBadTarget},
		{name: "absolute port letters", in: "GET http://h:8a/ HTTP/1.1\r\n" + host + "\r\n", err: ErrBadTarget},
		{name: "absolute two colons", in: "GET http://h:1:2/ HTTP/1.1\r\n" + host + "\r\n", err: ErrBadTarget},
		{name: "absolute ipv6 bad port", in: "GET http://[::1]x/ HTTP/1.1\r\n" + host + "\r\n", err: ErrBadTarget},
		{name: "fragment", in: "GET /a#b HTTP/1.1\r\n" + host + "\r\n", err: ErrBadTarget},
		{name: "nul in target", in: "GET /a\x00b HTTP/1.1\r\n" + host + "\r\n", err: ErrBadTarget},
		{name: "del in target", in: "GET /a\x7fb HTTP/1.1\r\n" + host + "\r\n", err: ErrBadTarget},
		{name: "tab in target", in: "GET /a\tb HTTP/1.1\r\n" + host + "\r\n", err: ErrBadTarget},
		{name: "pct00", in: "GET /a%00b HTTP/1.1\r\n" + host + "\r\n", err: ErrBadPath},
		{name: "pct bad hex", in: "GET /a%zzb HTTP/1.1\r\n" + host + "\r\n", err: ErrBadPath},
		{name: "pct truncated", in: "GET /a%4 HTTP/1.1\r\n" + host + "\r\n", err: ErrBadPath},
		{name: "pct newline", in: "GET /a%0d%0aSet-Cookie:x HTTP/1.1\r\n" + host + "\r\n", err: ErrBadPath},
		{name: "bare lf request line", in: "GET / HTTP/1.1\n" + host + "\r\n", err: ErrBadLineEnding},
		{name: "bare cr request line", in: "GET /\r HTTP/1.1\r\n" + host + "\r\n", err: ErrBadLineEnding},
		{name: "leading bare lf", in: "\nGET / HTTP/1.1\r\n" + host + "\r\n", err: ErrBadLineEnding},
		{name: "leading cr junk", in: "\rXGET / HTTP/1.1\r\n" + host + "\r\n", err: ErrBadLineEnding},

		// Field lines.
		{name: "bare lf header", in: "GET / HTTP/1.1\r\nHost: h\n\r\n", err: ErrBadLineEnding},
		{name: "bare lf end", in: "GET / HTTP/1.1\r\nHost: h\r\n\n", err: ErrBadLineEnding},
		{name: "bare cr in value", in: "GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n", err: ErrBadLineEnding},
		{name: "cr not followed by lf at end", in: "GET / HTTP/1.1\r\nHost: h\r\n\rX", err: ErrBadLineEnding},
		{name: "obs-fold", in: "GET / HTTP/1.1\r\n" + host + "X: a\r\n  b\r\n\r\n", err: ErrObsFold},
		{name: "obs-fold tab", in: "GET / HTTP/1.1\r\n" + host + "X: a\r\n\tb\r\n\r\n", err: ErrObsFold},
		{name: "space before first field", in: "GET / HTTP/1.1\r\n " + host + "\r\n", err: ErrObsFold},
		{name: "space before colon", in: "GET / HTTP/1.1\r\nHost : h\r\n\r\n", err: ErrSpaceBeforeColon},
		{name: "tab before colon", in: "GET / HTTP/1.1\r\n" + host + "Content-Length\t: 0\r\n\r\n", err: ErrSpaceBeforeColon},
		{name: "no colon", in: "GET / HTTP/1.1\r\n" + host + "NoColon\r\n\r\n", err: ErrBadHeader},
		{name: "empty name", in: "GET / HTTP/1.1\r\n" + host + ": v\r\n\r\n", err: ErrBadHeader},
		{name: "bad name char", in: "GET / HTTP/1.1\r\n" + host + "X(y): v\r\n\r\n", err: ErrBadHeader},
		{name: "nul in value", in: "GET / HTTP/1.1\r\n" + host + "X: a\x00b\r\n\r\n", err: ErrControlChar},
		{name: "nul in name", in: "GET / HTTP/1.1\r\n" + host + "X\x00: a\r\n\r\n", err: ErrControlChar},
		{name: "ctl in value", in: "GET / HTTP/1.1\r\n" + host + "X: a\x1bb\r\n\r\n", err: ErrControlChar},
		{name: "del in value", in: "GET / HTTP/1.1\r\n" + host + "X: a\x7fb\r\n\r\n", err: ErrControlChar},
		{name: "missing host", in: "GET / HTTP/1.1\r\n\r\n", err: ErrMissingHost},
		{name: "duplicate host", in: "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", err: ErrBadHost},
		{name: "invalid host", in: "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", err: ErrBadHost},
		{name: "host with slash", in: "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", err: ErrBadHost},
		{name: "host zone", in: "GET / HTTP/1.1\r\nHost: [fe80::1%25eth0]:80\r\n\r\n"},
		{name: "host bad escape", in: "GET / HTTP/1.1\r\nHost: a%zz\r\n\r\n", err: ErrBadHost},
		{name: "host bad escape 2", in: "GET / HTTP/1.1\r\nHost: a%2z\r\n\r\n", err: ErrBadHost},
		{name: "host short escape", in: "GET / HTTP/1.1\r\nHost: a%2\r\n\r\n", err: ErrBadHost},
		{name: "host with at", in: "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", err: ErrBadHost},
		{name: "cl and te", in: "GET / HTTP/1.1\r\n" + host + "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", err: ErrContentLengthAndTE},
		{name: "te and cl", in: "GET / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", err: ErrContentLengthAndTE},
		{name: "te chunked", in: "GET / HTTP/1.1\r\n" + host + "Transfer-Encoding: Chunked\r\n\r\n", check: func(t *testing.T, r *Request) {
			eq(t, "chunked", r.Chunked, true)
			eq(t, "keepalive", r.KeepAlive, true)
			eq(t, "cl", r.ContentLength, int64(0))
		}},
		{name: "te gzip", in: "GET / HTTP/1.1\r\n" + host + "Transfer-Encoding: gzip\r\n\r\n", err: ErrBadTransferEncoding},
		{name: "te list", in: "GET / HTTP/1.1\r\n" + host + "Transfer-Encoding: gzip, chunked\r\n\r\n", err: ErrBadTransferEncoding},
		{name: "te twice", in: "GET / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", err: ErrBadTransferEncoding},
		{name: "te empty", in: "GET / HTTP/1.1\r\n" + host + "Transfer-Encoding:\r\n\r\n", err: ErrBadTransferEncoding},
		{name: "te on http10", in: "GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", err: ErrBadTransferEncoding},
		{name: "te on post", in: "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n", err: ErrMethodNotAllowed, check: func(t *testing.T, r *Request) {
			eq(t, "chunked", r.Chunked, true)
			eq(t, "keepalive", r.KeepAlive, false) // the caller would have to decode the body first
		}},
		{name: "duplicate cl", in: "GET / HTTP/1.1\r\n" + host + "Content-Length: 0\r\nContent-Length: 0\r\n\r\n", err: ErrBadContentLength},
		{name: "cl list", in: "GET / HTTP/1.1\r\n" + host + "Content-Length: 5, 5\r\n\r\n", err: ErrBadContentLength},
		{name: "cl plus", in: "GET / HTTP/1.1\r\n" + host + "Content-Length: +5\r\n\r\n", err: ErrBadContentLength},
		{name: "cl negative", in: "GET / HTTP/1.1\r\n" + host + "Content-Length: -1\r\n\r\n", err: ErrBadContentLength},
		{name: "cl empty", in: "GET / HTTP/1.1\r\n" + host + "Content-Length:\r\n\r\n", err: ErrBadContentLength},
		{name: "cl hex", in: "GET / HTTP/1.1\r\n" + host + "Content-Length: 0x5\r\n\r\n", err: ErrBadContentLength},
		{name: "cl overflow", in: "GET / HTTP/1.1\r\n" + host + "Content-Length: 9223372036854775808\r\n\r\n", err: ErrBadContentLength},
		{name: "cl inner space", in: "GET / HTTP/1.1\r\n" + host + "Content-Length: 1 2\r\n\r\n", err: ErrBadContentLength},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var r Request
			n, err := Parse([]byte(c.in), &r, c.lim)
			if err != c.err {
				t.Fatalf("Parse(%q) err = %v, want %v", c.in, err, c.err)
			}
			want := c.n
			if want == 0 && (c.err == nil || !c.err.(Error).Close()) {
				want = len(c.in)
			}
			if c.err != nil && c.err.(Error).Close() {
				want = 0
				if r.KeepAlive {
					t.Errorf("KeepAlive true after fatal error")
				}
			}
			if n != want {
				t.Errorf("consumed = %d, want %d", n, want)
			}
			if c.check != nil {
				c.check(t, &r)
			}
		})
	}
}

func TestParseIncomplete(t *testing.T) {
	reqs := []string{
		"GET /a/b?c HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1\r\n\r\n",
		"\r\n\r\nHEAD / HTTP/1.0\r\n\r\n",
		"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n",
	}
	for _, in := range reqs {
		for i := range len(in) {
			var r Request
			n, err := Parse([]byte(in[:i]), &r, Limits{})
			if err != ErrNeedMore || n != 0 {
				t.Errorf("Parse(%q) = %d, %v; want 0, ErrNeedMore", in[:i], n, err)
			}
		}
	}
}

func TestParsePipelined(t *testing.T) {
	buf := []byte("GET /1 HTTP/1.1\r\nHost: h\r\n\r\n" +
		"GET /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nbody" +
		"\r\n" + // stray CRLF after a body is ignored
		"HEAD /3/ HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n" +
		"GET /4 HTTP/1.1\r\nHo")
	var r Request
	var paths []string
	for {
		n, err := Parse(buf, &r, Limits{})
		if err == ErrNeedMore {
			break
		}
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		paths = append(paths, r.Method.String()+" "+string(r.Path))
		buf = buf[n+int(r.ContentLength):]
	}
	got := strings.Join(paths, ",")
	if want := "GET /1,GET /2,HEAD /3"; got != want {
		t.Errorf("paths = %q, want %q", got, want)
	}
	if string(buf) != "GET /4 HTTP/1.1\r\nHo" {
		t.Errorf("rest = %q", buf)
	}
}

func TestParseLimits(t *testing.T) {
	lim := Limits{MaxHeaderBytes: 100, MaxTargetBytes: 20}
	long := func(n int) string { return strings.Repeat("a", n) }
	cases := []struct {
		name string
		in   string
		err  error
	}{
		{"target at limit", "GET /" + long(19) + " HTTP/1.1\r\nHost: h\r\n\r\n", nil},
		{"target over limit", "GET /" + long(20) + " HTTP/1.1\r\nHost: h\r\n\r\n", ErrTargetTooLong},
		{"target over limit, line incomplete", "GET /" + long(20), ErrTargetTooLong},
		{"target over limit, version incomplete", "GET /" + long(20) + " HT", ErrTargetTooLong},
		{"target over limit no version", "GET /" + long(30) + "\r\n\r\n", ErrTargetTooLong},
		{"target under limit, line incomplete", "GET /" + long(10), ErrNeedMore},
		{"head at limit", "GET / HTTP/1.1\r\nHost: h\r\nX: " + long(100-16-9-5-2) + "\r\n\r\n", nil},
		{"head over limit", "GET / HTTP/1.1\r\nHost: h\r\nX: " + long(100-16-9-5-1) + "\r\n\r\n", ErrHeaderTooLarge},
		{"head over limit incomplete", "GET / HTTP/1.1\r\nHost: h\r\nX: " + long(100), ErrHeaderTooLarge},
		{"head over limit no lf", "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n" + long(90), ErrHeaderTooLarge},
		{"request line over limit", "GET /" + long(15) + "?" + long(3) + " HTTP/1.1" + long(100), ErrHeaderTooLarge},
		{"complete request line over limit", "GET /" + long(15) + " HTTP/1.1\r\nHost: h\r\nX: " + long(100), ErrHeaderTooLarge},
		{"blank lines count", strings.Repeat("\r\n", 51), ErrHeaderTooLarge},
		{"garbage fails fast", "\x16\x03\x01\x02\x00", ErrBadRequestLine},
	}
	for _, c := range cases {
		var r Request
		_, err := Parse([]byte(c.in), &r, lim)
		if err != c.err {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.err)
		}
	}
	// Defaults: 8 KiB header block, 4 KiB target.
	var r Request
	big := "GET / HTTP/1.1\r\nHost: h\r\nX: " + long(DefaultMaxHeaderBytes) + "\r\n\r\n"
	if _, err := Parse([]byte(big), &r, Limits{}); err != ErrHeaderTooLarge {
		t.Errorf("default header limit: %v", err)
	}
	if _, err := Parse([]byte(big[:DefaultMaxHeaderBytes+1]), &r, Limits{}); err != ErrHeaderTooLarge {
		t.Errorf("default header limit incomplete: %v", err)
	}
	if _, err := Parse([]byte(big[:DefaultMaxHeaderBytes]), &r, Limits{}); err != ErrNeedMore {
		t.Errorf("default header limit incomplete at limit: %v", err)
	}
	tgt := "GET /" + long(DefaultMaxTargetBytes) + " HTTP/1.1\r\nHost: h\r\n\r\n"
	if _, err := Parse([]byte(tgt), &r, Limits{}); err != ErrTargetTooLong {
		t.Errorf("default target limit: %v", err)
	}
	tgt = "GET /" + long(DefaultMaxTargetBytes-1) + " HTTP/1.1\r\nHost: h\r\n\r\n"
	if _, err := Parse([]byte(tgt), &r, Limits{}); err != nil {
		t.Errorf("default target at limit: %v", err)
	}
}

func TestErrorProperties(t *testing.T) {
	for e := Error(0); e < numErrors; e++ {
		if e.Error() == "" || errorText[e] == "" {
			t.Errorf("%d: no text", e)
		}
		s := e.Status()
		if e == ErrNeedMore {
			if s != 0 || e.Close() {
				t.Errorf("ErrNeedMore: status %d close %v", s, e.Close())
			}
			continue
		}
		if s < 400 || s > 599 || StatusText(s) == "" {
			t.Errorf("%v: status %d", e, s)
		}
		wantClose := e != ErrMethodNotAllowed && e != ErrNotImplemented
		if e.Close() != wantClose {
			t.Errorf("%v: Close = %v", e, e.Close())
		}
	}
	var pe Error
	if !errors.As(error(ErrBodyTooLarge), &pe) || pe.Status() != 413 {
		t.Errorf("errors.As failed")
	}
	want := map[Error]int{ErrTargetTooLong: 414, ErrHeaderTooLarge: 431, ErrVersionNotSupported: 505,
		ErrMethodNotAllowed: 405, ErrNotImplemented: 501, ErrObsFold: 400, ErrContentLengthAndTE: 400,
		ErrBadChunk: 400, ErrBodyTooLarge: 413}
	for e, s := range want {
		if e.Status() != s {
			t.Errorf("%v: status %d, want %d", e, e.Status(), s)
		}
	}
	if Error(200).Status() != 500 || Error(200).Error() == "" {
		t.Errorf("out of range Error")
	}
}

func TestParseReuseResets(t *testing.T) {
	var r Request
	if _, err := Parse([]byte("GET /%61 HTTP/1.1\r\nHost: h\r\nRange: bytes=1-\r\nUser-Agent: x\r\n\r\n"), &r, Limits{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Parse([]byte("GET /b HTTP/1.0\r\n\r\n"), &r, Limits{}); err != nil {
		t.Fatal(err)
	}
	if r.Range != nil || r.UserAgent != nil || r.HasHost || string(r.Path) != "/b" {
		t.Errorf("fields not reset: %+v", r)
	}
}

func TestMethodString(t *testing.T) {
	for m := MethodUnknown; m <= MethodCONNECT; m++ {
		s := m.String()
		if m != MethodUnknown && lookupMethod([]byte(s)) != m {
			t.Errorf("%v round trip", m)
		}
	}
	if Version10.String() != "HTTP/1.0" || Version11.String() != "HTTP/1.1" || Version(0).String() != "HTTP/?" {
		t.Errorf("Version.String")
	}
}

func eq[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func eqs(t *testing.T, what string, got []byte, want string) {
	t.Helper()
	if string(got) != want {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}
