package http1

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

var testDate = []byte("Tue, 02 Jan 2024 03:04:05 GMT")

func TestAppendResponseHeaderGolden(t *testing.T) {
	mod := time.Date(2023, 12, 31, 23, 59, 59, 500, time.UTC)
	cases := []struct {
		name string
		r    Response
		want string
	}{
		{"200 full", Response{Status: 200, Date: testDate, ContentType: "text/html; charset=utf-8", ContentLength: 42,
			LastModified: mod, ETag: []byte(`"e"`), AcceptRanges: true},
			"HTTP/1.1 200 OK\r\nDate: Tue, 02 Jan 2024 03:04:05 GMT\r\nServer: uringd\r\n" +
				"Content-Type: text/html; charset=utf-8\r\nContent-Length: 42\r\n" +
				"Last-Modified: Sun, 31 Dec 2023 23:59:59 GMT\r\nETag: \"e\"\r\nAccept-Ranges: bytes\r\n\r\n"},
		{"206 single", Response{Status: 206, ContentType: "image/png", ContentLength: 10, HasRange: true, Range: Range{5, 10}, Size: 100},
			"HTTP/1.1 206 Partial Content\r\nServer: uringd\r\nContent-Type: image/png\r\nContent-Length: 10\r\n" +
				"Content-Range: bytes 5-14/100\r\n\r\n"},
		{"206 multipart", Response{Status: 206, ContentType: "ignored", Boundary: []byte("B"), ContentLength: 99},
			"HTTP/1.1 206 Partial Content\r\nServer: uringd\r\nContent-Type: multipart/byteranges; boundary=B\r\nContent-Length: 99\r\n\r\n"},
		{"304", Response{Status: 304, ContentLength: -1, ETag: []byte(`"e"`)},
			"HTTP/1.1 304 Not Modified\r\nServer: uringd\r\nETag: \"e\"\r\n\r\n"},
		{"epoch last-modified omitted", Response{Status: 200, ContentLength: 0, LastModified: time.Unix(0, 0)},
			"HTTP/1.1 200 OK\r\nServer: uringd\r\nContent-Length: 0\r\n\r\n"},
		{"unknown status", Response{Status: 299, ContentLength: -1},
			"HTTP/1.1 299 Status\r\nServer: uringd\r\n\r\n"},
		{"416 unsatisfied", Response{Status: 416, ContentLength: -1, Unsatisfied: true, Size: 7},
			"HTTP/1.1 416 Range Not Satisfiable\r\nServer: uringd\r\nContent-Range: bytes */7\r\n\r\n"},
		{"close", Response{Status: 200, ContentLength: 0, Close: true, KeepAliveReply: true},
			"HTTP/1.1 200 OK\r\nServer: uringd\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"},
		{"keep-alive", Response{Status: 200, ContentLength: 0, KeepAliveReply: true},
			"HTTP/1.1 200 OK\r\nServer: uringd\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n"},
		{"405 error", NewErrorResponse(405, testDate),
			"HTTP/1.1 405 Method Not Allowed\r\nDate: Tue, 02 Jan 2024 03:04:05 GMT\r\nServer: uringd\r\n" +
				"Content-Type: text/plain; charset=utf-8\r\nContent-Length: 23\r\nAllow: GET, HEAD\r\n" +
				"X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n405 Method Not Allowed\n"},
		{"404 head", func() Response { r := NewErrorResponse(404, nil); r.Head = true; return r }(),
			"HTTP/1.1 404 Not Found\r\nServer: uringd\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 14\r\n" +
				"X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n"},
		{"301", NewRedirectResponse(301, []byte("/dir/?q=1"), nil),
			"HTTP/1.1 301 Moved Permanently\r\nServer: uringd\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 22\r\n" +
				"Location: /dir/?q=1\r\nConnection: close\r\n\r\n301 Moved Permanently\n"},
	}
	for _, c := range cases {
		got := string(AppendResponseHeader(nil, &c.r))
		if got != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, c.want)
		}
	}
}

func TestStatusTexts(t *testing.T) {
	for _, code := range []int{200, 206, 301, 302, 304, 307, 308, 400, 403, 404, 405, 408, 412, 413, 414, 416, 431, 500, 501, 503, 505} {
		want := http.StatusText(code)
		switch code { // RFC 9110 names where net/http keeps older ones
		case 413:
			want = "Content Too Large"
		case 414:
			want = "URI Too Long"
		case 416:
			want = "Range Not Satisfiable"
		}
		if got := StatusText(code); got != want {
			t.Errorf("StatusText(%d) = %q, want %q", code, got, want)
		}
		if StatusBody(code) != strconv.Itoa(code)+" "+StatusText(code)+"\n" {
			t.Errorf("StatusBody(%d) = %q", code, StatusBody(code))
		}
	}
	if StatusText(299) != "" || StatusBody(299) != "" {
		t.Errorf("unknown status")
	}
	if r := NewErrorResponse(299, nil); r.ContentLength != 0 || r.Body != "" {
		t.Errorf("unknown status error response %+v", r)
	}
}

func TestApplyRequest(t *testing.T) {
	cases := []struct {
		raw       string
		close, ka bool
		head      bool
	}{
		{"GET / HTTP/1.1\r\nHost: h\r\n\r\n", false, false, false},
		{"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", true, false, false},
		{"HEAD / HTTP/1.0\r\n\r\n", true, false, true},
		{"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", false, true, false},
	}
	for _, c := range cases {
		var req Request
		if _, err := Parse([]byte(c.raw), &req, Limits{}); err != nil {
			t.Fatal(err)
		}
		var r Response
		r.ApplyRequest(&req)
		if r.Close != c.close || r.KeepAliveReply != c.ka || r.Head != c.head {
			t.Errorf("%q: %+v", c.raw, r)
		}
	}
}

// TestFileResponseParses checks FileResponse heads for each Evaluate outcome with
// net/http's response parser.
func TestFileResponseParses(t *testing.T) {
	mod := time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)
	etag := AppendETag(nil, 100, mod)
	cases := []struct {
		raw    string
		status int
		check  func(t *testing.T, h http.Header, body string)
	}{
		{"GET /a.css HTTP/1.1\r\nHost: h\r\n\r\n", 200, func(t *testing.T, h http.Header, body string) {
			eq(t, "ct", h.Get("Content-Type"), "text/css; charset=utf-8")
			eq(t, "cl", h.Get("Content-Length"), "100")
			eq(t, "etag", h.Get("Etag"), string(etag))
			eq(t, "lm", h.Get("Last-Modified"), "Sun, 01 Jan 2023 00:00:00 GMT")
			eq(t, "ar", h.Get("Accept-Ranges"), "bytes")
			eq(t, "server", h.Get("Server"), "uringd")
			eq(t, "date", h.Get("Date"), string(testDate))
			eq(t, "conn", h.Get("Connection"), "")
		}},
		{"HEAD /a.css HTTP/1.0\r\n\r\n", 200, func(t *testing.T, h http.Header, body string) {
			eq(t, "cl", h.Get("Content-Length"), "100")
			eq(t, "conn", h.Get("X-Close"), "close")
		}},
		{"GET /a.css HTTP/1.1\r\nHost: h\r\nIf-None-Match: " + string(etag) + "\r\n\r\n", 304, func(t *testing.T, h http.Header, body string) {
			eq(t, "cl", h.Get("Content-Length"), "")
			eq(t, "ct", h.Get("Content-Type"), "")
			eq(t, "etag", h.Get("Etag"), string(etag))
			eq(t, "lm", h.Get("Last-Modified"), "")
		}},
		{"GET /a.css HTTP/1.1\r\nHost: h\r\nIf-Match: \"x\"\r\n\r\n", 412, func(t *testing.T, h http.Header, body string) {
			eq(t, "body", body, "412 Precondition Failed\n")
			eq(t, "conn", h.Get("Connection"), "")
		}},
		{"GET /a.css HTTP/1.1\r\nHost: h\r\nRange: bytes=200-\r\n\r\n", 416, func(t *testing.T, h http.Header, body string) {
			eq(t, "cr", h.Get("Content-Range"), "bytes */100")
			eq(t, "body", body, "416 Range Not Satisfiable\n")
		}},
		{"GET /a.css HTTP/1.1\r\nHost: h\r\nRange: bytes=1-0\r\n\r\n", 416, func(t *testing.T, h http.Header, body string) {
			eq(t, "cr", h.Get("Content-Range"), "")
		}},
		{"GET /a.css HTTP/1.1\r\nHost: h\r\nRange: bytes=10-19\r\n\r\n", 206, func(t *testing.T, h http.Header, body string) {
			eq(t, "cr", h.Get("Content-Range"), "bytes 10-19/100")
			eq(t, "cl", h.Get("Content-Length"), "10")
			eq(t, "ct", h.Get("Content-Type"), "text/css; charset=utf-8")
		}},
		{"GET /a.css HTTP/1.1\r\nHost: h\r\nRange: bytes=10-19,50-\r\n\r\n", 206, func(t *testing.T, h http.Header, body string) {
			eq(t, "cr", h.Get("Content-Range"), "")
			if !strings.HasPrefix(h.Get("Content-Type"), "multipart/byteranges; boundary=uringd-") {
				t.Errorf("ct %q", h.Get("Content-Type"))
			}
		}},
	}
	for _, c := range cases {
		var req Request
		if _, err := Parse([]byte(c.raw), &req, Limits{}); err != nil {
			t.Fatal(err)
		}
		d := Evaluate(&req, 100, mod, etag)
		resp := FileResponse(&req, &d, ContentType(req.Path), mod, etag, testDate)
		out := AppendResponseHeader(nil, &resp)
		hr, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(out)), &http.Request{Method: req.Method.String()})
		if err != nil {
			t.Fatalf("%q: %v", out, err)
		}
		if hr.StatusCode != c.status {
			t.Errorf("%q: status %d, want %d", c.raw, hr.StatusCode, c.status)
			continue
		}
		body := ""
		if hr.StatusCode >= 400 {
			b, _ := io.ReadAll(hr.Body)
			body = string(b)
		}
		if hr.Close {
			hr.Header.Set("X-Close", "close")
		}
		c.check(t, hr.Header, body)
	}
}
