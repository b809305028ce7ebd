package http1

import (
	"strings"
	"testing"
	"time"
)

func TestAppendETag(t *testing.T) {
	mt := time.Unix(1700000000, 123456789)
	got := string(AppendETag(nil, 4096, mt))
	if got != `"17979cfe3d85cd15-1000"` {
		t.Errorf("AppendETag = %s", got)
	}
	if e, rest := scanETag([]byte(got)); string(e) != got || len(rest) != 0 {
		t.Errorf("ETag not a valid entity-tag: %q", e)
	}
	if a, b := AppendETag(nil, 1, mt), AppendETag(nil, 1, mt.Add(time.Nanosecond)); string(a) == string(b) {
		t.Errorf("mtime change not reflected")
	}
	if a, b := AppendETag(nil, 1, mt), AppendETag(nil, 2, mt); string(a) == string(b) {
		t.Errorf("size change not reflected")
	}
	if len(AppendETag(nil, 1<<63-1, time.Unix(-1, 0))) > 36 {
		t.Errorf("ETag longer than documented")
	}
}

func TestScanETag(t *testing.T) {
	cases := []struct{ in, etag, rest string }{
		{`"abc"`, `"abc"`, ""},
		{` W/"abc" , "d"`, `W/"abc"`, ` , "d"`},
		{`""`, `""`, ""},
		{`"a`, "", ""},
		{`abc`, "", ""},
		{`W/abc`, "", ""},
		{`"a b"`, "", ""},
		{"\"a\x7fb\"", "", ""},
		{"\"\x80\xff\"", "\"\x80\xff\"", ""},
		{`w/"a"`, "", ""},
		{`"`, "", ""},
	}
	for _, c := range cases {
		e, r := scanETag([]byte(c.in))
		if string(e) != c.etag || string(r) != c.rest {
			t.Errorf("scanETag(%q) = %q, %q; want %q, %q", c.in, e, r, c.etag, c.rest)
		}
	}
}

func TestMatchLists(t *testing.T) {
	const etag = `"xyz"`
	cases := []struct {
		header      string
		ifMatch     condResult // strong
		ifNoneMatch condResult // weak, inverted
	}{
		{"", condNone, condNone},
		{"*", condTrue, condFalse},
		{`"xyz"`, condTrue, condFalse},
		{`W/"xyz"`, condFalse, condFalse},
		{`"abc"`, condFalse, condTrue},
		{`"abc", "xyz"`, condTrue, condFalse},
		{`"abc",W/"xyz"`, condFalse, condFalse},
		{` , ,"xyz"`, condTrue, condFalse},
		{`"abc", *`, condTrue, condFalse},
		{`xyz`, condFalse, condTrue},
		{`"abc" junk "xyz"`, condFalse, condTrue},
		{`junk, "xyz"`, condFalse, condTrue},
		{",", condFalse, condTrue},
	}
	for _, c := range cases {
		r := &Request{IfMatch: []byte(c.header), IfNoneMatch: []byte(c.header), Method: MethodGET}
		if got := checkIfMatch(r, []byte(etag)); got != c.ifMatch {
			t.Errorf("If-Match %q = %v, want %v", c.header, got, c.ifMatch)
		}
		if got := checkIfNoneMatch(r, []byte(etag)); got != c.ifNoneMatch {
			t.Errorf("If-None-Match %q = %v, want %v", c.header, got, c.ifNoneMatch)
		}
	}
	// A weak ETag on our side still matches weakly but never strongly.
	r := &Request{IfMatch: []byte(`W/"a"`), IfNoneMatch: []byte(`"a"`)}
	if checkIfMatch(r, []byte(`W/"a"`)) != condFalse || checkIfNoneMatch(r, []byte(`W/"a"`)) != condFalse {
		t.Errorf("weak server etag")
	}
	// No ETag: only * matches.
	r = &Request{IfMatch: []byte(`"a"`), IfNoneMatch: []byte(`"a"`)}
	if checkIfMatch(r, nil) != condFalse || checkIfNoneMatch(r, nil) != condTrue {
		t.Errorf("nil etag")
	}
}

func TestDateConditions(t *testing.T) {
	mod := time.Date(2020, 1, 2, 3, 4, 5, 600, time.UTC)
	at := func(d time.Duration) []byte { return AppendHTTPDate(nil, mod.Truncate(time.Second).Add(d)) }
	cases := []struct {
		name     string
		mod      time.Time
		date     []byte
		ius, ims condResult
	}{
		{"absent", mod, nil, condNone, condNone},
		{"equal second", mod, at(0), condTrue, condFalse},
		{"later", mod, at(time.Second), condTrue, condFalse},
		{"earlier", mod, at(-time.Second), condFalse, condTrue},
		{"garbage ignored", mod, []byte("yesterday"), condNone, condNone},
		{"zero modtime", time.Time{}, at(0), condNone, condNone},
		{"epoch modtime", time.Unix(0, 0), at(0), condNone, condNone},
	}
	for _, c := range cases {
		r := &Request{Method: MethodGET, IfUnmodifiedSince: c.date, IfModifiedSince: c.date}
		if got := checkIfUnmodifiedSince(r, c.mod); got != c.ius {
			t.Errorf("%s: If-Unmodified-Since = %v, want %v", c.name, got, c.ius)
		}
		if got := checkIfModifiedSince(r, c.mod); got != c.ims {
			t.Errorf("%s: If-Modified-Since = %v, want %v", c.name, got, c.ims)
		}
	}
	r := &Request{Method: MethodPOST, IfModifiedSince: at(0)}
	if checkIfModifiedSince(r, mod) != condNone {
		t.Errorf("If-Modified-Since must only apply to GET/HEAD")
	}
}

func TestIfRange(t *testing.T) {
	mod := time.Date(2020, 1, 2, 3, 4, 5, 600, time.UTC)
	etag := []byte(`"e"`)
	cases := []struct {
		v    string
		mod  time.Time
		want condResult
	}{
		{"", mod, condNone},
		{`"e"`, mod, condTrue},
		{`W/"e"`, mod, condFalse},
		{`"f"`, mod, condFalse},
		{string(AppendHTTPDate(nil, mod)), mod, condTrue},
		{string(AppendHTTPDate(nil, mod.Add(time.Second))), mod, condFalse},
		{string(AppendHTTPDate(nil, mod.Add(-time.Second))), mod, condFalse},
		{string(AppendHTTPDate(nil, mod)), time.Time{}, condFalse},
		{"garbage", mod, condFalse},
	}
	for _, c := range cases {
		r := &Request{Method: MethodHEAD, IfRange: []byte(c.v)}
		if got := checkIfRange(r, etag, c.mod); got != c.want {
			t.Errorf("If-Range %q = %v, want %v", c.v, got, c.want)
		}
	}
	if checkIfRange(&Request{Method: MethodPUT, IfRange: []byte(`"f"`)}, etag, mod) != condNone {
		t.Errorf("If-Range must only apply to GET/HEAD")
	}
}

func TestEvaluate(t *testing.T) {
	mod := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	etag := []byte(`"v1"`)
	date := func(d time.Duration) string { return string(AppendHTTPDate(nil, mod.Add(d))) }
	type hdr struct{ im, ius, inm, ims, ir, rng string }
	cases := []struct {
		name    string
		method  Method
		size    int64
		h       hdr
		status  int
		ranges  []Range
		unsatis bool
	}{
		{"plain", MethodGET, 10, hdr{}, 200, nil, false},
		{"if-match ok", MethodGET, 10, hdr{im: `"v1"`}, 200, nil, false},
		{"if-match fail", MethodGET, 10, hdr{im: `"v0"`}, 412, nil, false},
		{"if-match beats ius", MethodGET, 10, hdr{im: `"v1"`, ius: date(-time.Hour)}, 200, nil, false},
		{"ius fail", MethodGET, 10, hdr{ius: date(-time.Hour)}, 412, nil, false},
		{"ius ok", MethodGET, 10, hdr{ius: date(0)}, 200, nil, false},
		{"inm match", MethodGET, 10, hdr{inm: `"v1"`}, 304, nil, false},
		{"inm match head", MethodHEAD, 10, hdr{inm: `W/"v1"`}, 304, nil, false},
		{"inm match other method", MethodPOST, 10, hdr{inm: `"v1"`}, 412, nil, false},
		{"inm star", MethodGET, 10, hdr{inm: `*`}, 304, nil, false},
		{"inm nomatch beats ims", MethodGET, 10, hdr{inm: `"v0"`, ims: date(time.Hour)}, 200, nil, false},
		{"ims not modified", MethodGET, 10, hdr{ims: date(0)}, 304, nil, false},
		{"ims modified", MethodGET, 10, hdr{ims: date(-time.Second)}, 200, nil, false},
		{"if-match fail beats inm", MethodGET, 10, hdr{im: `"v0"`, inm: `"v1"`}, 412, nil, false},
		{"range single", MethodGET, 10, hdr{rng: "bytes=2-4"}, 206, []Range{{2, 3}}, false},
		{"range suffix", MethodGET, 10, hdr{rng: "bytes=-3"}, 206, []Range{{7, 3}}, false},
		{"range open", MethodGET, 10, hdr{rng: "bytes=7-"}, 206, []Range{{7, 3}}, false},
		{"range multi", MethodGET, 10, hdr{rng: "bytes=0-1,5-6"}, 206, []Range{{0, 2}, {5, 2}}, false},
		{"range unsatisfiable", MethodGET, 10, hdr{rng: "bytes=10-"}, 416, nil, true},
		{"range invalid", MethodGET, 10, hdr{rng: "bytes=5-1"}, 416, nil, false},
		{"range unsatisfiable empty file", MethodGET, 0, hdr{rng: "bytes=0-"}, 200, nil, false},
		{"range suffix empty file", MethodGET, 0, hdr{rng: "bytes=-5"}, 200, nil, false},
		{"range suffix zero", MethodGET, 10, hdr{rng: "bytes=-0"}, 416, nil, true},
		{"range overlap abuse", MethodGET, 10, hdr{rng: "bytes=0-,0-"}, 200, nil, false},
		{"range overlap ok", MethodGET, 10, hdr{rng: "bytes=0-1,0-1"}, 206, []Range{{0, 2}, {0, 2}}, false},
		{"range too many", MethodGET, 100, hdr{rng: "bytes=" + strings.Repeat("1-1,", MaxRanges+1)}, 200, nil, false},
		{"range max", MethodGET, 100, hdr{rng: "bytes=" + strings.Repeat("1-1,", MaxRanges)}, 206, nil, false},
		{"if-range etag ok", MethodGET, 10, hdr{ir: `"v1"`, rng: "bytes=1-1"}, 206, []Range{{1, 1}}, false},
		{"if-range etag stale", MethodGET, 10, hdr{ir: `"v0"`, rng: "bytes=1-1"}, 200, nil, false},
		{"if-range date ok", MethodGET, 10, hdr{ir: date(0), rng: "bytes=1-1"}, 206, []Range{{1, 1}}, false},
		{"if-range date stale", MethodGET, 10, hdr{ir: date(time.Second), rng: "bytes=1-1"}, 200, nil, false},
		{"if-range stale skips invalid range", MethodGET, 10, hdr{ir: `"v0"`, rng: "bytes=x"}, 200, nil, false},
		{"304 wins over range", MethodGET, 10, hdr{inm: `"v1"`, rng: "bytes=x"}, 304, nil, false},
		{"empty range header", MethodGET, 10, hdr{rng: "bytes="}, 200, nil, false},
	}
	for _, c := range cases {
		r := &Request{Method: c.method, IfMatch: b(c.h.im), IfUnmodifiedSince: b(c.h.ius), IfNoneMatch: b(c.h.inm),
			IfModifiedSince: b(c.h.ims), IfRange: b(c.h.ir), Range: b(c.h.rng)}
		d := Evaluate(r, c.size, mod, etag)
		if d.Status != c.status || d.Unsatisfied != c.unsatis || d.Size != c.size {
			t.Errorf("%s: status %d unsatisfied %v size %d; want %d %v", c.name, d.Status, d.Unsatisfied, d.Size, c.status, c.unsatis)
		}
		if c.ranges != nil && !equalRanges(d.Ranges(), c.ranges) {
			t.Errorf("%s: ranges %v, want %v", c.name, d.Ranges(), c.ranges)
		}
		if d.Status != 206 && len(d.Ranges()) != 0 {
			t.Errorf("%s: ranges on %d", c.name, d.Status)
		}
		if d.Multipart() != (d.Status == 206 && len(d.Ranges()) > 1) || (d.Boundary() != nil) != d.Multipart() {
			t.Errorf("%s: multipart/boundary inconsistent", c.name)
		}
	}
	for status, want := range map[int]int64{200: 10, 304: 0, 412: 0, 416: 0} {
		d := Decision{Status: status, Size: 10}
		if got := d.BodyLength("x"); got != want {
			t.Errorf("BodyLength for %d = %d, want %d", status, got, want)
		}
	}
	if d := Evaluate(&Request{Method: MethodGET}, -5, mod, nil); d.Status != 200 || d.Size != 0 {
		t.Errorf("negative size: %+v", d)
	}
}

func TestBoundary(t *testing.T) {
	mod := time.Unix(1e9, 0)
	r := &Request{Method: MethodGET, Range: []byte("bytes=0-0,2-2")}
	d1 := Evaluate(r, 10, mod, []byte(`"a"`))
	d2 := Evaluate(r, 10, mod, []byte(`"a"`))
	d3 := Evaluate(r, 10, mod, []byte(`"b"`))
	b1 := string(d1.Boundary())
	if len(b1) != BoundaryLen || !strings.HasPrefix(b1, "uringd-") {
		t.Errorf("boundary %q", b1)
	}
	if b1 != string(d2.Boundary()) || b1 == string(d3.Boundary()) {
		t.Errorf("boundary not a function of the etag: %q %q %q", b1, d2.Boundary(), d3.Boundary())
	}
	for _, c := range b1 {
		if !strings.ContainsRune("abcdefghijklmnopqrstuvwxyz0123456789-", c) {
			t.Errorf("boundary char %q", c)
		}
	}
}

func b(s string) []byte {
	if s == "" {
		return nil
	}
	return []byte(s)
}

func equalRanges(a, b []Range) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
