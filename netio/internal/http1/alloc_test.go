package http1

import (
	"testing"
	"time"
)

var (
	benchReq = []byte("GET /static/app/main.css?v=123 HTTP/1.1\r\n" +
		"Host: www.example.com\r\n" +
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n" +
		"Accept: text/css,*/*;q=0.1\r\n" +
		"Accept-Language: en-US,en;q=0.5\r\n" +
		"Accept-Encoding: gzip, deflate, br\r\n" +
		"Referer: https://www.example.com/\r\n" +
		"Connection: keep-alive\r\n" +
		"If-Modified-Since: Sun, 01 Jan 2023 00:00:00 GMT\r\n" +
		"If-None-Match: \"17979cfe3d85cd15-1000\"\r\n" +
		"\r\n")
	benchReqDecode = []byte("GET /a/%2e%2e/b%20c/./d/ HTTP/1.1\r\nHost: h\r\nRange: bytes=0-9,20-29\r\n\r\n")
)

func TestZeroAllocs(t *testing.T) {
	mod := time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)
	etagBuf := make([]byte, 0, 64)
	out := make([]byte, 0, 1024)
	var dc DateCache
	var req Request
	var n int
	var err error
	var d Decision
	ranges := make([]Range, MaxRanges)
	badReq := []byte("GET / HTTP/1.1\r\nX : y\r\n\r\n")
	postReq := []byte("POST / HTTP/1.1\r\nHost: h\r\n\r\n")
	rawPath := []byte("/a/%2e%2e/b")
	pathBuf := make([]byte, 0, 64)
	chunkedReq := []byte("GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n")
	chunkedBody := []byte("5;a=\"b\"\r\nhello\r\n0\r\nT: v\r\n\r\n")
	var hs HeadScanner
	var cd ChunkedDecoder

	tests := []struct {
		name string
		f    func()
	}{
		{"Parse", func() { n, err = Parse(benchReq, &req, Limits{}) }},
		{"Parse decode+clean", func() { n, err = Parse(benchReqDecode, &req, Limits{}) }},
		{"Parse incomplete", func() { n, err = Parse(benchReq[:100], &req, Limits{}) }},
		{"Parse error", func() { n, err = Parse(badReq, &req, Limits{}) }},
		{"Parse 405", func() { n, err = Parse(postReq, &req, Limits{}) }},
		{"Parse chunked", func() { n, err = Parse(chunkedReq, &req, Limits{}) }},
		{"HeadScanner whole", func() { n, err = hs.Parse(benchReq, &req, Limits{}) }},
		{"HeadScanner byte at a time", func() {
			for k := 1; k <= len(benchReqDecode); k++ {
				n, err = hs.Parse(benchReqDecode[:k], &req, Limits{})
			}
		}},
		{"ChunkedDecoder", func() {
			cd.Reset(Limits{})
			for k := range chunkedBody {
				n, _, err = cd.Decode(chunkedBody[k : k+1])
			}
		}},
		{"CleanPath", func() { req.Path, _, err = CleanPath(pathBuf, rawPath) }},
		{"ContentType", func() { _ = ContentType([]byte("/x/y/Z.WOFF2")) }},
		{"AppendETag", func() { etagBuf = AppendETag(etagBuf[:0], 12345, mod) }},
		{"ParseHTTPDate", func() { _, _ = ParseHTTPDate([]byte("Sunday, 06-Nov-94 08:49:37 GMT")) }},
		{"DateCache", func() { _ = dc.Get(time.Now()) }},
		{"ParseRange", func() { n, err = ParseRange([]byte("bytes=0-1, 5-, -3"), 100, ranges) }},
		{"Evaluate", func() {
			Parse(benchReqDecode, &req, Limits{})
			d = Evaluate(&req, 1000, mod, etagBuf)
		}},
		{"Evaluate conditional", func() {
			Parse(benchReq, &req, Limits{})
			d = Evaluate(&req, 4096, mod, []byte(`"17979cfe3d85cd15-1000"`))
		}},
		{"FileResponse+AppendResponseHeader", func() {
			Parse(benchReqDecode, &req, Limits{})
			d = Evaluate(&req, 1000, mod, etagBuf)
			r := FileResponse(&req, &d, ContentType(req.Path), mod, etagBuf, dc.Get(mod))
			out = AppendResponseHeader(out[:0], &r)
			for i, rg := range d.Ranges() {
				out = AppendPartHeader(out, i == 0, rg, d.Size, "text/plain", d.Boundary())
			}
			out = AppendMultipartEnd(out, d.Boundary())
		}},
		{"NewErrorResponse", func() {
			r := NewErrorResponse(431, dc.Get(mod))
			out = AppendResponseHeader(out[:0], &r)
		}},
		{"AppendEscapedPath", func() { out = AppendEscapedPath(out[:0], []byte("/a b/ü?")) }},
	}
	for _, tc := range tests {
		tc.f() // warm up (grows the Request's path scratch once)
		if a := testing.AllocsPerRun(200, tc.f); a != 0 {
			t.Errorf("%s: %v allocs per run, want 0", tc.name, a)
		}
	}
	_, _, _ = n, err, d
}

func BenchmarkParse(b *testing.B) {
	var req Request
	b.ReportAllocs()
	b.SetBytes(int64(len(benchReq)))
	for b.Loop() {
		if _, err := Parse(benchReq, &req, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseDecode(b *testing.B) {
	var req Request
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(benchReqDecode, &req, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEvaluate(b *testing.B) {
	var req Request
	Parse(benchReq, &req, Limits{})
	mod := time.Date(2023, 1, 2, 0, 0, 0, 0, time.UTC)
	etag := AppendETag(nil, 4096, mod)
	b.ReportAllocs()
	for b.Loop() {
		d := Evaluate(&req, 4096, mod, etag)
		if d.Status != 200 {
			b.Fatal(d.Status)
		}
	}
}

// BenchmarkServe is the whole per-request hot path: parse, evaluate, build the head.
func BenchmarkServe(b *testing.B) {
	var req Request
	var dc DateCache
	out := make([]byte, 0, 1024)
	etag := make([]byte, 0, 64)
	mod := time.Date(2023, 1, 2, 0, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(benchReq, &req, Limits{}); err != nil {
			b.Fatal(err)
		}
		etag = AppendETag(etag[:0], 4096, mod)
		d := Evaluate(&req, 4096, mod, etag)
		r := FileResponse(&req, &d, ContentType(req.Path), mod, etag, dc.Get(mod))
		out = AppendResponseHeader(out[:0], &r)
	}
}

func BenchmarkAppendResponseHeader(b *testing.B) {
	out := make([]byte, 0, 1024)
	mod := time.Date(2023, 1, 2, 0, 0, 0, 0, time.UTC)
	r := Response{Status: 200, Date: testDate, ContentType: "text/css; charset=utf-8", ContentLength: 4096,
		LastModified: mod, ETag: []byte(`"17979cfe3d85cd15-1000"`), AcceptRanges: true}
	b.ReportAllocs()
	for b.Loop() {
		out = AppendResponseHeader(out[:0], &r)
	}
}

// BenchmarkHeadScannerParse is BenchmarkParse through a HeadScanner: a head that
// arrives whole costs one Parse.
func BenchmarkHeadScannerParse(b *testing.B) {
	var req Request
	var h HeadScanner
	b.ReportAllocs()
	b.SetBytes(int64(len(benchReq)))
	for b.Loop() {
		if _, err := h.Parse(benchReq, &req, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkChunkedDecoder(b *testing.B) {
	body := []byte("1000;a=b\r\n" + string(make([]byte, 4096)) + "\r\n0\r\nT: v\r\n\r\n")
	var d ChunkedDecoder
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		d.Reset(Limits{})
		if _, done, err := d.Decode(body); !done || err != nil {
			b.Fatal(done, err)
		}
	}
}
