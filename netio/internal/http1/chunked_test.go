package http1

import (
	"math/rand"
	"strings"
	"testing"
)

// decodeSplit feeds body to a fresh decoder in pieces of the given sizes (cycled) and
// returns the bytes consumed in total, whether it completed, and the error.
func decodeSplit(body []byte, lim Limits, sizes []int) (int, bool, error) {
	var d ChunkedDecoder
	d.Reset(lim)
	total := 0
	for k := 0; ; k++ {
		end := min(total+sizes[k%len(sizes)], len(body))
		n, done, err := d.Decode(body[total:end])
		if n < 0 || n > end-total {
			return -1, false, nil
		}
		total += n
		if err != nil || done {
			if int64(total) != d.Consumed() {
				return -2, false, nil
			}
			return total, done, err
		}
		if total != end {
			return -3, false, nil // not done, no error, yet not everything consumed
		}
		if end == len(body) {
			return total, false, nil
		}
	}
}

// TestChunkedGrammar: chunked-body syntax from RFC 9112 §7.1, with chunk extensions
// (§7.1.1) and trailer fields (§7.1.2), fed whole, one byte at a time and in odd pieces.
// A request that follows the body must be left unconsumed.
func TestChunkedGrammar(t *testing.T) {
	const next = "GET /next HTTP/1.1\r\n"
	valid := []string{
		"0\r\n\r\n",
		"000\r\n\r\n",
		"5\r\nhello\r\n0\r\n\r\n",
		"5\r\nhe\r\nl\r\n0\r\n\r\n", // CRLF inside chunk-data is data
		"a\r\n0123456789\r\nA\r\n0123456789\r\n0\r\n\r\n",
		"1\r\nx\r\n1\r\ny\r\n1\r\nz\r\n0\r\n\r\n",
		"00000000000000000000000005\r\nhello\r\n0\r\n\r\n", // leading zeros do not overflow
		"10\r\n0123456789abcdef\r\n0\r\n\r\n",
		"5;name\r\nhello\r\n0\r\n\r\n",
		"5;name=value\r\nhello\r\n0\r\n\r\n",
		"5;a=1;b;c=\"q\"\r\nhello\r\n0;last\r\n\r\n",
		"5 ;a\r\nhello\r\n0\t;b\r\n\r\n",                 // BWS before ';'
		"5; a = b ;c= \"d\"\t;\te\r\nhello\r\n0\r\n\r\n", // BWS around ';' and '='
		"5;q=\"a \\\"quoted\\\" \\\\ pair\"\r\nhello\r\n0\r\n\r\n",
		"5;q=\"\"\r\nhello\r\n0\r\n\r\n",
		"5;q=\"\t\x80\xff!#[]~\"\r\nhello\r\n0\r\n\r\n",
		"5;q=\"\\\x80\"\r\nhello\r\n0\r\n\r\n",
		"5;!#$%&'*+-.^_`|~=!#$%&'*+-.^_`|~\r\nhello\r\n0\r\n\r\n",
		"0\r\nTrailer: value\r\n\r\n",
		"0\r\nA: 1\r\nB:2\r\nC:\r\nD: \t x y \x80 \t\r\n\r\n",
		"5\r\nhello\r\n0\r\nExpires: Wed, 21 Oct 2015 07:28:00 GMT\r\n\r\n",
	}
	invalid := []struct{ in, why string }{
		{"\r\n", "no chunk-size"},
		{"x\r\n\r\n", "size not hex"},
		{"-5\r\nhello\r\n0\r\n\r\n", "signed size"},
		{"0x5\r\nhello\r\n0\r\n\r\n", "0x prefix"},
		{" 5\r\nhello\r\n0\r\n\r\n", "space before size"},
		{"5 \r\nhello\r\n0\r\n\r\n", "trailing BWS without ';'"},
		{"5\nhello\r\n0\r\n\r\n", "bare LF after size"},
		{"5\rhello\r\n0\r\n\r\n", "bare CR after size"},
		{"5\r\nhelloX\r\n0\r\n\r\n", "data longer than size"},
		{"5\r\nhello\n0\r\n\r\n", "bare LF after data"},
		{"5\r\nhello\r\r\n0\r\n\r\n", "CR CR after data"},
		{"5;\r\nhello\r\n0\r\n\r\n", "';' without name"},
		{"5;=v\r\nhello\r\n0\r\n\r\n", "empty name"},
		{"5;a=\r\nhello\r\n0\r\n\r\n", "'=' without value"},
		{"5;a=b c\r\nhello\r\n0\r\n\r\n", "two tokens"},
		{"5;a \r\nhello\r\n0\r\n\r\n", "BWS at line end"},
		{"5;a=b \r\nhello\r\n0\r\n\r\n", "BWS after value at line end"},
		{"5;a=\"b\r\nhello\r\n0\r\n\r\n", "unterminated quoted-string"},
		{"5;a=\"b\"c\r\nhello\r\n0\r\n\r\n", "token after quoted-string"},
		{"5;a=\"b\x00\"\r\nhello\r\n0\r\n\r\n", "NUL in quoted-string"},
		{"5;a=\"b\x7f\"\r\nhello\r\n0\r\n\r\n", "DEL in quoted-string"},
		{"5;a=\"\\\n\"\r\nhello\r\n0\r\n\r\n", "quoted-pair of LF"},
		{"5;a=b@c\r\nhello\r\n0\r\n\r\n", "separator in token"},
		{"5;a(b\r\nhello\r\n0\r\n\r\n", "separator in name"},
		{"5;a=\x80\r\nhello\r\n0\r\n\r\n", "obs-text outside quotes"},
		{"5,6\r\nhello\r\n0\r\n\r\n", "list of sizes"},
		{"0\r\n\n", "bare LF final"},
		{"0\r\n\r\r", "bare CR final"},
		{"0\r\nA: 1\n\r\n", "bare LF in trailer"},
		{"0\r\nA: 1\rx\r\n\r\n", "bare CR in trailer"},
		{"0\r\nA : 1\r\n\r\n", "space before colon"},
		{"0\r\n: 1\r\n\r\n", "empty trailer name"},
		{"0\r\nA\r\n\r\n", "trailer without colon"},
		{"0\r\nA: 1\r\n b\r\n\r\n", "obs-fold in trailer"},
		{"0\r\nA: \x00\r\n\r\n", "NUL in trailer"},
		{"0\r\nA: \x7f\r\n\r\n", "DEL in trailer"},
		{"0\r\nA(: 1\r\n\r\n", "separator in trailer name"},
		{"8000000000000000\r\n", "chunk-size overflow"},
		{"ffffffffffffffffff\r\n", "chunk-size overflow, long"},
	}
	splits := [][]int{{1 << 20}, {1}, {2}, {3, 1, 4, 1, 5}, {7}}
	big := Limits{MaxBodyBytes: 1<<63 - 1}
	for _, v := range valid {
		for _, sp := range splits {
			n, done, err := decodeSplit([]byte(v+next), big, sp)
			if err != nil || !done || n != len(v) {
				t.Errorf("%q split %v: consumed %d done %v err %v; want %d true nil", v, sp, n, done, err, len(v))
			}
		}
		// Every proper prefix wants more.
		for i := range len(v) {
			if n, done, err := decodeSplit([]byte(v[:i]), big, []int{1 << 20}); err != nil || done || n != i {
				t.Errorf("%q prefix %d: %d %v %v", v, i, n, done, err)
			}
		}
	}
	for _, c := range invalid {
		for _, sp := range splits {
			_, done, err := decodeSplit([]byte(c.in+next), big, sp)
			if err != ErrBadChunk || done {
				t.Errorf("%s: %q split %v: done %v err %v, want ErrBadChunk", c.why, c.in, sp, done, err)
			}
		}
	}
}

// TestChunkedLimit: the encoded body is bounded by MaxBodyBytes; a chunk-size that
// cannot fit is refused before its data is sent.
func TestChunkedLimit(t *testing.T) {
	body := "5\r\nhello\r\n0\r\n\r\n" // 15 bytes
	lim := func(n int64) Limits { return Limits{MaxBodyBytes: n} }
	if n, done, err := decodeSplit([]byte(body+"GET"), lim(15), []int{1}); err != nil || !done || n != 15 {
		t.Errorf("body at limit: %d %v %v", n, done, err)
	}
	if _, _, err := decodeSplit([]byte(body), lim(14), []int{1}); err != ErrBodyTooLarge {
		t.Errorf("body over limit: %v", err)
	}
	if _, _, err := decodeSplit([]byte(body), lim(14), []int{100}); err != ErrBodyTooLarge {
		t.Errorf("body over limit in one piece: %v", err)
	}
	// Announced size over the limit: refused on the size line alone.
	var d ChunkedDecoder
	d.Reset(lim(1000))
	if n, done, err := d.Decode([]byte("3e9\r\n")); err != ErrBodyTooLarge || done {
		t.Errorf("announced 1001: %d %v %v", n, done, err)
	}
	if _, _, err := d.Decode([]byte("x")); err != ErrBodyTooLarge {
		t.Errorf("error not sticky: %v", err)
	}
	// Default limit: 1 MiB.
	d = ChunkedDecoder{}
	if _, _, err := d.Decode([]byte("100001\r\n")); err != ErrBodyTooLarge {
		t.Errorf("default limit, 1 MiB + 1 announced: %v", err)
	}
	d = ChunkedDecoder{}
	if _, done, err := d.Decode([]byte("ff000\r\n")); err != nil || done {
		t.Errorf("default limit, 1 MiB - 4 KiB announced: %v %v", done, err)
	}
	// Endless extensions, trailers, leading zeros or tiny chunks all hit the limit.
	for name, stream := range map[string]string{
		"extensions": "1" + strings.Repeat(";a=b", 2000),
		"trailers":   "0\r\n" + strings.Repeat("A: b\r\n", 1000),
		"zeros":      strings.Repeat("0", 5000),
		"tiny":       strings.Repeat("1\r\nx\r\n", 1000),
	} {
		if _, _, err := decodeSplit([]byte(stream), lim(4096), []int{13}); err != ErrBodyTooLarge {
			t.Errorf("%s: %v, want ErrBodyTooLarge", name, err)
		}
	}
	// Done is sticky, and after Reset the decoder starts over.
	d.Reset(Limits{})
	if _, done, _ := d.Decode([]byte(body)); !done {
		t.Fatal("not done")
	}
	if n, done, err := d.Decode([]byte("GET")); n != 0 || !done || err != nil {
		t.Errorf("after done: %d %v %v", n, done, err)
	}
	d.Reset(Limits{})
	if n, done, err := d.Decode([]byte(body)); n != len(body) || !done || err != nil {
		t.Errorf("after Reset: %d %v %v", n, done, err)
	}
}

// TestChunkedRandomSplits decodes generated valid bodies in random pieces.
func TestChunkedRandomSplits(t *testing.T) {
	rnd := rand.New(rand.NewSource(3))
	for range 300 {
		var body strings.Builder
		for range rnd.Intn(6) {
			n := 1 + rnd.Intn(500)
			body.WriteString(strings.Repeat("0", rnd.Intn(3)))
			body.WriteString(hex(n, rnd.Intn(2) == 0))
			if rnd.Intn(3) == 0 {
				body.WriteString(";ext=\"v\\\"\" ; x")
			}
			body.WriteString("\r\n")
			body.WriteString(strings.Repeat("\r\n", n/2) + strings.Repeat("z", n%2))
			body.WriteString("\r\n")
		}
		body.WriteString("0\r\n")
		for range rnd.Intn(3) {
			body.WriteString("T-" + hex(rnd.Intn(1000), false) + ": v\r\n")
		}
		body.WriteString("\r\n")
		in := []byte(body.String() + "NEXT")
		var sizes []int
		for range 8 {
			sizes = append(sizes, 1+rnd.Intn(40))
		}
		n, done, err := decodeSplit(in, Limits{}, sizes)
		if err != nil || !done || n != len(in)-4 {
			t.Fatalf("%q split %v: %d %v %v", in, sizes, n, done, err)
		}
	}
}

func hex(n int, upper bool) string {
	const lo, up = "0123456789abcdef", "0123456789ABCDEF"
	digits := lo
	if upper {
		digits = up
	}
	s := ""
	for {
		s = string(digits[n&15]) + s
		n >>= 4
		if n == 0 {
			return s
		}
	}
}
