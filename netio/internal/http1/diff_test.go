package http1

import (
	"bufio"
	"bytes"
	"mime"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestDifferentialServeContent runs a broad table of Range and conditional requests
// through net/http (http.ReadRequest + http.ServeContent) and through Parse, Evaluate,
// FileResponse and AppendResponseHeader, and requires the same status, Content-Range
// and Content-Length (and for GET 200/206, the same body bytes, multipart included).
func TestDifferentialServeContent(t *testing.T) {
	mod := time.Date(2021, 3, 4, 5, 6, 7, 890, time.UTC)
	fmtDate := func(tm time.Time) string { return tm.UTC().Format(http.TimeFormat) }
	sec := mod.Truncate(time.Second)

	rangeHeaders := []string{
		"", "bytes=0-0", "bytes=0-", "bytes=5-", "bytes=-5", "bytes=-1", "bytes=-1000", "bytes=0-4,6-8",
		"bytes=0-4, 6-8 ,", "bytes=9-", "bytes=10-", "bytes=10-20", "bytes=100-200,0-1", "bytes=5-3",
		"bytes=abc", "bytes=", "bytes=,", "bytes 0-5", "bytes=0-5-6", "bytes=--5", "bytes=-",
		"bytes=1-2,3-4,5-6", "bytes=0-,0-", "bytes=0-1,0-1", "bytes=0-99999999999999999999",
		"bytes=0-9223372036854775807", "bytes=1-1,3-3,5-5,7-7,9-9", "bytes=0-\t5", "bytes=999-",
		"bytes=0-998", "bytes=500-,-500", "bytes=0-0,-1", "bytes=2-1,0-0", "bytes=1000-1,0-0",
		"bytes=0-0, x", "bytes=7", "bytes=-5,10-", "bytes= 3 - 4",
	}
	type conds struct{ name, headers string }
	etagFor := func(size int64, mt time.Time) string { return string(AppendETag(nil, size, mt)) }
	condSets := func(etag string) []conds {
		return []conds{
			{"none", ""},
			{"inm match", "If-None-Match: " + etag + "\r\n"},
			{"inm weak match", "If-None-Match: W/" + etag + "\r\n"},
			{"inm other", "If-None-Match: \"nope\"\r\n"},
			{"inm list", "If-None-Match: \"a\", " + etag + "\r\n"},
			{"inm star", "If-None-Match: *\r\n"},
			{"inm malformed", "If-None-Match: nope, " + etag + "\r\n"},
			{"im match", "If-Match: " + etag + "\r\n"},
			{"im weak", "If-Match: W/" + etag + "\r\n"},
			{"im other", "If-Match: \"nope\"\r\n"},
			{"im star", "If-Match: *\r\n"},
			{"im malformed", "If-Match: nope\r\n"},
			{"ims equal", "If-Modified-Since: " + fmtDate(sec) + "\r\n"},
			{"ims before", "If-Modified-Since: " + fmtDate(sec.Add(-time.Second)) + "\r\n"},
			{"ims after", "If-Modified-Since: " + fmtDate(sec.Add(time.Hour)) + "\r\n"},
			{"ims rfc850", "If-Modified-Since: " + sec.In(time.FixedZone("GMT", 0)).Format(time.RFC850) + "\r\n"},
			{"ims asctime", "If-Modified-Since: " + sec.Format(time.ANSIC) + "\r\n"},
			{"ims invalid", "If-Modified-Since: yesterday\r\n"},
			{"ius equal", "If-Unmodified-Since: " + fmtDate(sec) + "\r\n"},
			{"ius before", "If-Unmodified-Since: " + fmtDate(sec.Add(-time.Second)) + "\r\n"},
			{"ius invalid", "If-Unmodified-Since: x\r\n"},
			{"ir etag", "If-Range: " + etag + "\r\n"},
			{"ir weak etag", "If-Range: W/" + etag + "\r\n"},
			{"ir other etag", "If-Range: \"nope\"\r\n"},
			{"ir date", "If-Range: " + fmtDate(sec) + "\r\n"},
			{"ir old date", "If-Range: " + fmtDate(sec.Add(-time.Second)) + "\r\n"},
			{"ir garbage", "If-Range: garbage\r\n"},
			{"im ok + inm match", "If-Match: " + etag + "\r\nIf-None-Match: " + etag + "\r\n"},
			{"im fail + inm match", "If-Match: \"x\"\r\nIf-None-Match: " + etag + "\r\n"},
			{"im ok + ius fail", "If-Match: " + etag + "\r\nIf-Unmodified-Since: " + fmtDate(sec.Add(-time.Hour)) + "\r\n"},
			{"inm other + ims equal", "If-None-Match: \"x\"\r\nIf-Modified-Since: " + fmtDate(sec) + "\r\n"},
			{"inm match + ims before", "If-None-Match: " + etag + "\r\nIf-Modified-Since: " + fmtDate(sec.Add(-time.Hour)) + "\r\n"},
			{"ius ok + ims before", "If-Unmodified-Since: " + fmtDate(sec) + "\r\nIf-Modified-Since: " + fmtDate(sec.Add(-time.Hour)) + "\r\n"},
		}
	}

	const name = "f.txt"
	ctype := ContentType([]byte(name))
	if want := mime.TypeByExtension(".txt"); ctype != want {
		t.Fatalf("ctype %q vs mime %q", ctype, want)
	}
	var checked int
	for _, size := range []int64{0, 1, 10, 1000} {
		content := bytes.Repeat([]byte("abcdefghijklmnopqrstuvwxyz0123"), int(size/30)+1)[:size]
		for _, mt := range []time.Time{mod, {}, time.Unix(0, 0)} {
			etag := etagFor(size, mt)
			for _, method := range []string{"GET", "HEAD"} {
				for _, c := range condSets(etag) {
					for _, rh := range rangeHeaders {
						if size == 0 && hasSuffixElement(rh) {
							continue // documented difference: suffix ranges of an empty file
						}
						raw := method + " /" + name + " HTTP/1.1\r\nHost: h\r\n" + c.headers
						if rh != "" {
							raw += "Range: " + rh + "\r\n"
						}
						raw += "\r\n"
						compareServeContent(t, c.name, raw, content, mt, etag, ctype)
						checked++
					}
				}
			}
		}
	}
	t.Logf("%d requests compared", checked)
}

func compareServeContent(t *testing.T, label, raw string, content []byte, mt time.Time, etag, ctype string) {
	t.Helper()
	size := int64(len(content))
	// net/http.
	hreq, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
	if err != nil {
		t.Fatalf("ReadRequest(%q): %v", raw, err)
	}
	rec := httptest.NewRecorder()
	rec.Header().Set("Etag", etag)
	http.ServeContent(rec, hreq, "f.txt", mt, bytes.NewReader(content))
	want := rec.Result()

	// uringd.
	var req Request
	n, err := Parse([]byte(raw), &req, Limits{})
	if err != nil || n != len(raw) {
		t.Fatalf("Parse(%q) = %d, %v", raw, n, err)
	}
	d := Evaluate(&req, size, mt, []byte(etag))
	resp := FileResponse(&req, &d, ctype, mt, []byte(etag), []byte("Thu, 01 Jan 1970 00:00:00 GMT"))
	head := AppendResponseHeader(nil, &resp)
	got, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(head)), hreq)
	if err != nil {
		t.Fatalf("%s: ReadResponse of our head %q: %v", label, head, err)
	}

	where := func() string {
		return label + " size=" + strconv.FormatInt(size, 10) + " mt=" + mt.String() + " " + strconv.Quote(raw)
	}
	if got.StatusCode != want.StatusCode {
		t.Fatalf("%s: status %d, net/http %d", where(), got.StatusCode, want.StatusCode)
	}
	if g, w := got.Header.Get("Content-Range"), want.Header.Get("Content-Range"); g != w {
		t.Errorf("%s: Content-Range %q, net/http %q", where(), g, w)
	}
	if got.StatusCode != 200 && got.StatusCode != 206 {
		return
	}
	if g, w := got.Header.Get("Accept-Ranges"), want.Header.Get("Accept-Ranges"); g != w {
		t.Errorf("%s: Accept-Ranges %q, net/http %q", where(), g, w)
	}
	if g, w := got.Header.Get("Last-Modified"), want.Header.Get("Last-Modified"); g != w {
		t.Errorf("%s: Last-Modified %q, net/http %q", where(), g, w)
	}
	wantCL := want.Header.Get("Content-Length")
	wantCT := want.Header.Get("Content-Type")
	if d.Multipart() {
		// Boundaries differ by design: compute ours with net/http's boundary.
		mt, params, err := mime.ParseMediaType(wantCT)
		if err != nil || mt != "multipart/byteranges" {
			t.Fatalf("%s: net/http Content-Type %q, we chose multipart", where(), wantCT)
		}
		nb := []byte(params["boundary"])
		if l := MultipartLength(d.Ranges(), size, ctype, nb); strconv.FormatInt(l, 10) != wantCL {
			t.Errorf("%s: multipart length %d, net/http %s", where(), l, wantCL)
		}
		if !strings.HasPrefix(got.Header.Get("Content-Type"), "multipart/byteranges; boundary=") {
			t.Errorf("%s: our Content-Type %q", where(), got.Header.Get("Content-Type"))
		}
		if hreq.Method == "GET" {
			var body []byte
			for i, r := range d.Ranges() {
				body = AppendPartHeader(body, i == 0, r, size, ctype, nb)
				body = append(body, content[r.Start:r.Start+r.Length]...)
			}
			body = AppendMultipartEnd(body, nb)
			if !bytes.Equal(body, rec.Body.Bytes()) {
				t.Errorf("%s: multipart body differs:\n got %q\nwant %q", where(), body, rec.Body.Bytes())
			}
		}
		// Our own Content-Length matches our own body.
		var body []byte
		for i, r := range d.Ranges() {
			body = AppendPartHeader(body, i == 0, r, size, ctype, d.Boundary())
			body = append(body, content[r.Start:r.Start+r.Length]...)
		}
		body = AppendMultipartEnd(body, d.Boundary())
		if got.ContentLength != int64(len(body)) {
			t.Errorf("%s: our multipart Content-Length %d, body %d", where(), got.ContentLength, len(body))
		}
		return
	}
	if g := got.Header.Get("Content-Length"); g != wantCL {
		t.Errorf("%s: Content-Length %q, net/http %q", where(), g, wantCL)
	}
	if g := got.Header.Get("Content-Type"); g != wantCT {
		t.Errorf("%s: Content-Type %q, net/http %q", where(), g, wantCT)
	}
	if hreq.Method == "GET" {
		var body []byte
		if got.StatusCode == 200 {
			body = content
		} else {
			r := d.Ranges()[0]
			body = content[r.Start : r.Start+r.Length]
		}
		if !bytes.Equal(body, rec.Body.Bytes()) {
			t.Errorf("%s: body differs", where())
		}
	}
}

// TestDocumentedDifferences pins the cases where uringd deliberately differs from
// net/http.ServeContent.
func TestDocumentedDifferences(t *testing.T) {
	mod := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)
	cases := []struct {
		name           string
		size           int64
		rangeHdr       string
		ours, nethttp  int
		oursCR, httpCR string
	}{
		{"suffix zero", 10, "bytes=-0", 416, 206, "bytes */10", "bytes 10-9/10"},
		{"suffix on empty file", 0, "bytes=-5", 200, 206, "", "bytes 0--1/0"},
		{"plus sign", 10, "bytes=+1-2", 416, 206, "", "bytes 1-2/10"},
		{"unit case", 10, "Bytes=1-2", 206, 416, "bytes 1-2/10", ""},
		{"unknown unit", 10, "items=0-5", 200, 416, "", ""}, // RFC 9110 §14.2: ignored
		{"too many ranges", 100, "bytes=" + strings.Repeat("0-0,", MaxRanges+1), 200, 206, "", ""},
	}
	for _, c := range cases {
		content := bytes.Repeat([]byte("x"), int(c.size))
		raw := "GET /f HTTP/1.1\r\nHost: h\r\nRange: " + c.rangeHdr + "\r\n\r\n"
		hreq, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		http.ServeContent(rec, hreq, "f", mod, bytes.NewReader(content))
		var req Request
		if _, err := Parse([]byte(raw), &req, Limits{}); err != nil {
			t.Fatal(err)
		}
		d := Evaluate(&req, c.size, mod, nil)
		resp := FileResponse(&req, &d, "x", mod, nil, nil)
		var cr string
		if resp.HasRange {
			cr = string(AppendContentRange(nil, resp.Range, resp.Size))
		} else if resp.Unsatisfied {
			cr = "bytes */" + strconv.FormatInt(resp.Size, 10)
		}
		if d.Status != c.ours || cr != c.oursCR {
			t.Errorf("%s: ours %d %q, want %d %q", c.name, d.Status, cr, c.ours, c.oursCR)
		}
		if rec.Code != c.nethttp || rec.Header().Get("Content-Range") != c.httpCR {
			t.Errorf("%s: net/http now %d %q (was %d %q): update the docs", c.name, rec.Code,
				rec.Header().Get("Content-Range"), c.nethttp, c.httpCR)
		}
	}
}

// hasSuffixElement reports whether a Range value has a "-n" element.
func hasSuffixElement(rh string) bool {
	_, set, ok := strings.Cut(rh, "=")
	if !ok {
		return false
	}
	for el := range strings.SplitSeq(set, ",") {
		if strings.HasPrefix(strings.TrimSpace(el), "-") {
			return true
		}
	}
	return false
}
