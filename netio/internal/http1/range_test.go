package http1

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/textproto"
	"strconv"
	"strings"
	"testing"
)

func TestParseRange(t *testing.T) {
	cases := []struct {
		h    string
		size int64
		want []Range
		err  error
	}{
		{"", 10, nil, nil},
		{"bytes=0-0", 10, []Range{{0, 1}}, nil},
		{"bytes=0-9", 10, []Range{{0, 10}}, nil},
		{"bytes=0-100", 10, []Range{{0, 10}}, nil},
		{"bytes=3-", 10, []Range{{3, 7}}, nil},
		{"bytes=9-", 10, []Range{{9, 1}}, nil},
		{"bytes=-3", 10, []Range{{7, 3}}, nil},
		{"bytes=-10", 10, []Range{{0, 10}}, nil},
		{"bytes=-100", 10, []Range{{0, 10}}, nil},
		{"Bytes=1-2", 10, []Range{{1, 2}}, nil},
		{"bytes= 1 - 2 , 4-5 ,,", 10, []Range{{1, 2}, {4, 2}}, nil},
		{"bytes=\t1-2\t", 10, []Range{{1, 2}}, nil},
		{"bytes=5-5,0-0", 10, []Range{{5, 1}, {0, 1}}, nil},
		{"bytes=0-1,0-1", 10, []Range{{0, 2}, {0, 2}}, nil},
		{"bytes=10-,2-3", 10, []Range{{2, 2}}, nil},
		{"bytes=", 10, nil, nil},
		{"bytes=,", 10, nil, nil},
		{"bytes=10-", 10, nil, ErrRangeUnsatisfiable},
		{"bytes=10-20", 10, nil, ErrRangeUnsatisfiable},
		{"bytes=10-x", 10, nil, ErrRangeUnsatisfiable}, // end not parsed, as net/http
		{"bytes=20-10", 10, nil, ErrRangeUnsatisfiable},
		{"bytes=-0", 10, nil, ErrRangeUnsatisfiable},
		{"bytes=0-", 0, nil, ErrRangeUnsatisfiable},
		{"bytes=-1", 0, nil, ErrRangeUnsatisfiable},
		{"bytes=5-3", 10, nil, ErrRangeInvalid},
		{"bytes=x", 10, nil, ErrRangeInvalid},
		{"bytes=1", 10, nil, ErrRangeInvalid},
		{"bytes=-", 10, nil, ErrRangeInvalid},
		{"bytes=--1", 10, nil, ErrRangeInvalid},
		{"bytes=1--2", 10, nil, ErrRangeInvalid},
		{"bytes=+1-2", 10, nil, ErrRangeInvalid},
		{"bytes=1-+2", 10, nil, ErrRangeInvalid},
		{"bytes=0x1-2", 10, nil, ErrRangeInvalid},
		{"bytes=1 2-3", 10, nil, ErrRangeInvalid},
		{"bytes=0-1,x", 10, nil, ErrRangeInvalid},
		{"bytes=10-,x", 10, nil, ErrRangeInvalid},
		{"bytes=99999999999999999999-", 10, nil, ErrRangeInvalid},
		{"bytes=0-99999999999999999999", 10, nil, ErrRangeInvalid},
		{"bytes=-99999999999999999999", 10, nil, ErrRangeInvalid},
		{"bytes=0-9223372036854775807", 10, []Range{{0, 10}}, nil},
		{"bytes 0-1", 10, nil, ErrRangeInvalid},
		{" bytes=0-1", 10, nil, ErrRangeInvalid},
		// RFC 9110 §14.2: a range unit the server does not understand is ignored (the
		// whole file, 200), as if there were no Range; only "bytes" is understood.
		{"items=0-1", 10, nil, nil},
		{"Items=0-5", 10, nil, nil},
		{"none=0-1", 10, nil, nil},
		{"bytesx=0-1", 10, nil, nil},
		{"x-bytes=junk", 10, nil, nil},
		{"items=", 10, nil, nil},
		{"items=0-1", 0, nil, nil},
		// No unit, or one that is not a token, or no "=": not a ranges-specifier at all.
		{"=0-1", 10, nil, ErrRangeInvalid},
		{"by tes=0-1", 10, nil, ErrRangeInvalid},
		{"bytes:0-1", 10, nil, ErrRangeInvalid},
		{"items", 10, nil, ErrRangeInvalid},
		{"bytes0-1", 10, nil, ErrRangeInvalid},
		{"bytes=0-0", 1<<63 - 1, []Range{{0, 1}}, nil},
		{"bytes=-1", 1<<63 - 1, []Range{{1<<63 - 2, 1}}, nil},
	}
	for _, c := range cases {
		out := make([]Range, MaxRanges)
		n, err := ParseRange([]byte(c.h), c.size, out)
		if err != c.err || !equalRanges(out[:n], c.want) {
			t.Errorf("ParseRange(%q, %d) = %v, %v; want %v, %v", c.h, c.size, out[:n], err, c.want, c.err)
		}
	}
	out := make([]Range, 2)
	n, err := ParseRange([]byte("bytes=0-0,1-1,2-2"), 10, out)
	if err != ErrTooManyRanges || n != 2 {
		t.Errorf("too many: %d %v", n, err)
	}
	if n, err := ParseRange([]byte("bytes=0-0,1-1,x"), 10, out[:1]); err != ErrRangeInvalid || n != 0 {
		t.Errorf("invalid after too many: %d %v", n, err)
	}
	for _, e := range []RangeError{ErrRangeInvalid, ErrRangeUnsatisfiable, ErrTooManyRanges, 0} {
		if e.Error() == "" {
			t.Errorf("no text for %d", e)
		}
	}
}

func TestAppendContentRange(t *testing.T) {
	if got := string(AppendContentRange(nil, Range{5, 10}, 100)); got != "bytes 5-14/100" {
		t.Errorf("got %q", got)
	}
}

// TestMultipartMatchesMimeMultipart checks part headers and length against
// mime/multipart, which net/http uses for multipart/byteranges.
func TestMultipartMatchesMimeMultipart(t *testing.T) {
	content := []byte(strings.Repeat("0123456789", 200))
	size := int64(len(content))
	sets := [][]Range{
		{{0, 1}, {5, 3}},
		{{0, size}, {size - 1, 1}, {7, 993}},
		{{1999, 1}, {0, 1}, {100, 1000}, {9, 1}},
	}
	for _, ctype := range []string{"text/plain; charset=utf-8", "", "application/octet-stream"} {
		for _, ranges := range sets {
			var want bytes.Buffer
			mw := multipart.NewWriter(&want)
			for _, r := range ranges {
				w, err := mw.CreatePart(textproto.MIMEHeader{
					"Content-Range": {string(AppendContentRange(nil, r, size))},
					"Content-Type":  {ctype},
				})
				if err != nil {
					t.Fatal(err)
				}
				w.Write(content[r.Start : r.Start+r.Length])
			}
			mw.Close()
			boundary := []byte(mw.Boundary())

			var got []byte
			for i, r := range ranges {
				got = AppendPartHeader(got, i == 0, r, size, ctype, boundary)
				got = append(got, content[r.Start:r.Start+r.Length]...)
			}
			got = AppendMultipartEnd(got, boundary)
			if !bytes.Equal(got, want.Bytes()) {
				t.Fatalf("multipart body differs:\n got %q\nwant %q", got, want.Bytes())
			}
			if l := MultipartLength(ranges, size, ctype, boundary); l != int64(len(got)) {
				t.Errorf("MultipartLength = %d, want %d", l, len(got))
			}
			// And it parses back.
			mr := multipart.NewReader(bytes.NewReader(got), string(boundary))
			for _, r := range ranges {
				p, err := mr.NextPart()
				if err != nil {
					t.Fatal(err)
				}
				data, _ := io.ReadAll(p)
				if !bytes.Equal(data, content[r.Start:r.Start+r.Length]) {
					t.Errorf("part data differs")
				}
			}
		}
	}
	if MultipartLength(nil, 10, "x", []byte("b")) != 0 {
		t.Errorf("empty multipart")
	}
}

func TestDecimalLen(t *testing.T) {
	for _, v := range []int64{0, 1, 9, 10, 99, 100, -1, -10, 1<<63 - 1, -1 << 63, 123456789} {
		var buf [24]byte
		if got, want := decimalLen(v), len(strconv.AppendInt(buf[:0], v, 10)); got != want {
			t.Errorf("decimalLen(%d) = %d, want %d", v, got, want)
		}
	}
}
