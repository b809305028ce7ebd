package http1

import (
	"math/rand"
	"strings"
	"testing"
)

// bigHead is a valid head of exactly DefaultMaxHeaderBytes bytes.
func bigHead() string {
	const start, end = "GET /big HTTP/1.1\r\nHost: h\r\nX-Pad: ", "\r\n\r\n"
	return start + strings.Repeat("p", DefaultMaxHeaderBytes-len(start)-len(end)) + end
}

// feedByteAtATime offers head to parse one more byte at a time, as a connection whose
// client sends one byte per segment would, and returns the result and the receive at
// which it came.
func feedByteAtATime(head string, parse func([]byte) (int, error)) (k, n int, err error) {
	for k = 1; k <= len(head); k++ {
		n, err = parse([]byte(head[:k]))
		if err != ErrNeedMore {
			return k, n, err
		}
	}
	return k, n, err
}

// TestHeadScannerLinear: an 8 KiB head fed one byte at a time is examined O(n) times in
// total. The same bound applied to today's way (Parse on each growth of the buffer,
// which examines the whole buffer each time) fails, which shows the bound is the one
// that tells them apart.
func TestHeadScannerLinear(t *testing.T) {
	head := bigHead()
	bound := int64(4 * len(head))

	var h HeadScanner
	var req Request
	k, n, err := feedByteAtATime(head, func(b []byte) (int, error) { return h.Parse(b, &req, Limits{}) })
	if err != nil || n != len(head) || k != len(head) || string(req.Path) != "/big" {
		t.Fatalf("HeadScanner: receive %d: %d %v %q", k, n, err, req.Path)
	}
	if got := h.Examined(); got > bound {
		t.Errorf("HeadScanner examined %d bytes for a %d-byte head fed one byte at a time; want <= %d", got, len(head), bound)
	}

	var today int64
	feedByteAtATime(head, func(b []byte) (int, error) {
		today += int64(len(b))
		return Parse(b, &req, Limits{})
	})
	if today <= bound {
		t.Errorf("model of Parse on each growth examined only %d bytes: the bound %d does not separate it", today, bound)
	}
	t.Logf("%d-byte head, one byte per receive: HeadScanner examined %d bytes, Parse on each growth %d", len(head), h.Examined(), today)
}

// headCorpus is heads from the parser's tables and more, valid and not.
func headCorpus() []string {
	c := []string{
		"GET / HTTP/1.1\r\nHost: h\r\n\r\n",
		"\r\n\r\nGET /a?b HTTP/1.0\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: h\r\n\r\n",
		"BREW / HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET / HTTP/1.1\nHost: h\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\n\n",
		"GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\n\rX",
		"\nGET / HTTP/1.1\r\n\r\n",
		"\rGET / HTTP/1.1\r\n\r\n",
		"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
		"G(T / HTTP/1.1\r\n\r\n",
		"GET\r\n\r\n",
		"GET /\r\n\r\n",
		"GET / HTTP/1.1\r\nHost : h\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n",
		"GET / HTTP/1.1\r\n X: a\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a:b:c\r\n\r\n",
		"GET / HTTP/2.0\r\nHost: h\r\n\r\n",
		"GET /" + strings.Repeat("a", DefaultMaxTargetBytes) + " HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET /" + strings.Repeat("a", DefaultMaxTargetBytes-2) + " HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\nX: " + strings.Repeat("b", DefaultMaxHeaderBytes) + "\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\nX: " + strings.Repeat("b", DefaultMaxHeaderBytes),
		strings.Repeat("\r\n", DefaultMaxHeaderBytes),
		bigHead(),
		bigHead()[:len(bigHead())-4] + "x\r\n\r\n", // one byte too many
	}
	return c
}

// checkScannerLikeParse feeds in to a HeadScanner in pieces and compares with Parse on
// each growth (today's way): the same heads are accepted at the same receive with the
// same length and error; what Parse refuses, the scanner refuses too (possibly sooner,
// for a bare CR that Parse notices only once its line is complete).
func checkScannerLikeParse(t *testing.T, in string, sizes []int, lim Limits) {
	t.Helper()
	var h HeadScanner
	var r1, r2 Request
	for end, k := 0, 0; end < len(in); k++ {
		end = min(end+sizes[k%len(sizes)], len(in))
		buf := []byte(in[:end])
		n1, err1 := Parse(buf, &r1, lim)
		n2, err2 := h.Parse(buf, &r2, lim)
		accepted := func(err error) bool { return err == nil || err == ErrMethodNotAllowed || err == ErrNotImplemented }
		switch {
		case err1 == ErrNeedMore && err2 == ErrNeedMore:
			continue
		case accepted(err1) || accepted(err2):
			if err1 != err2 || n1 != n2 || string(r1.Path) != string(r2.Path) || r1.KeepAlive != r2.KeepAlive || r1.Chunked != r2.Chunked {
				t.Fatalf("%q at %d: Parse %d %v %q, HeadScanner %d %v %q", in, end, n1, err1, r1.Path, n2, err2, r2.Path)
			}
			return
		case err2 == ErrNeedMore:
			t.Fatalf("%q at %d: Parse %v, HeadScanner still wants more", in, end, err1)
		case err1 == ErrNeedMore:
			// Only a bare CR may be refused sooner: Parse sees it once its line ends.
			if err2 != ErrBadLineEnding || !hasBareCR(buf) {
				t.Fatalf("%q at %d: HeadScanner %v, Parse still wants more", in, end, err2)
			}
			if _, err := Parse([]byte(in), &r1, lim); accepted(err) {
				t.Fatalf("%q at %d: HeadScanner %v, but Parse of the whole input: %v", in, end, err2, err)
			}
			return
		default:
			if n2 != 0 || !err2.(Error).Close() {
				t.Fatalf("%q at %d: HeadScanner %d %v", in, end, n2, err2)
			}
			// Refused at the same receive. The reason may differ when one receive
			// brings two faults (say, an overlong target and its bare LF): Parse
			// looks at whole lines first, the scanner at bytes in order. Both are
			// checked to be as prompt as Parse in TestHeadScannerPrompt.
			return
		}
	}
}

func hasBareCR(b []byte) bool {
	for i, c := range b {
		if c == '\r' && (i+1 == len(b) || b[i+1] != '\n') && i+1 < len(b) {
			return true
		}
	}
	return false
}

func TestHeadScannerLikeParse(t *testing.T) {
	rnd := rand.New(rand.NewSource(9))
	for _, in := range headCorpus() {
		for _, sizes := range [][]int{{1}, {1 << 20}, {2}, {3, 5, 1}, {rnd.Intn(50) + 1, rnd.Intn(500) + 1}} {
			checkScannerLikeParse(t, in, sizes, Limits{})
			checkScannerLikeParse(t, in, sizes, Limits{MaxHeaderBytes: 64, MaxTargetBytes: 16})
		}
	}
}

// TestHeadScannerPrompt: an oversized head gets 431 and a bare LF 400 at the same
// receive as with Parse on each growth.
func TestHeadScannerPrompt(t *testing.T) {
	for _, c := range []struct {
		in  string
		err error
	}{
		{"GET / HTTP/1.1\r\nHost: h\r\nX: " + strings.Repeat("b", DefaultMaxHeaderBytes+10), ErrHeaderTooLarge},
		{"GET /" + strings.Repeat("b", DefaultMaxTargetBytes+10), ErrTargetTooLong},
		{"GET / HTTP/1.1\nHost: h\r\n\r\n", ErrBadLineEnding},
		{"\r\n\r\n\n", ErrBadLineEnding},
		{"\x16\x03\x01", ErrBadRequestLine},
	} {
		var h HeadScanner
		var r Request
		k1, _, err1 := feedByteAtATime(c.in, func(b []byte) (int, error) { return Parse(b, &r, Limits{}) })
		k2, n2, err2 := feedByteAtATime(c.in, func(b []byte) (int, error) { return h.Parse(b, &r, Limits{}) })
		if err1 != c.err || err2 != c.err || k1 != k2 || n2 != 0 {
			t.Errorf("%.40q: Parse %v at %d, HeadScanner %v at %d; want %v at the same receive", c.in, err1, k1, err2, k2, c.err)
		}
		if h.pos != 0 || h.state != hsStart {
			t.Errorf("%.40q: scanner not reset after an error", c.in)
		}
	}
}

// TestHeadScannerPipelined: after each result the scanner starts on the next head, and
// a moved buffer (the same bytes at another address) is fine.
func TestHeadScannerPipelined(t *testing.T) {
	stream := "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n\r\nHEAD /3 HTTP/1.0\r\n\r\n"
	var h HeadScanner
	var r Request
	var got []string
	in := []byte{}
	off := 0
	for i := 0; i < len(stream); i++ {
		in = append(in, stream[i])
		if i%7 == 0 { // compact: move the unparsed bytes to a new array
			in = append([]byte(nil), in[off:]...)
			off = 0
		}
		for off < len(in) {
			n, err := h.Parse(in[off:], &r, Limits{})
			if err == ErrNeedMore {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, string(r.Path))
			off += n
		}
	}
	if strings.Join(got, ",") != "/1,/2,/3" {
		t.Errorf("got %v", got)
	}
	// A shorter buffer than was scanned (a caller that forgot Reset) restarts the scan.
	h.Reset()
	h.Parse([]byte("GET / HTTP/1.1\r\nHost: h\r\nX: aaaa"), &r, Limits{})
	if n, err := h.Parse([]byte("GET /x HTTP/1.0\r\n\r\n"[:10]), &r, Limits{}); err != ErrNeedMore || n != 0 {
		t.Errorf("shorter buffer: %d %v", n, err)
	}
	if n, err := h.Parse([]byte("GET /x HTTP/1.0\r\n\r\n"), &r, Limits{}); err != nil || n != 19 || string(r.Path) != "/x" {
		t.Errorf("after restart: %d %v %q", n, err, r.Path)
	}
}
