package http1

import (
	"math/rand/v2"
	"net/http"
	"testing"
	"time"
)

func TestAppendHTTPDate(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	times := []time.Time{
		time.Unix(0, 0),
		time.Date(1994, 11, 6, 8, 49, 37, 0, time.UTC),
		time.Date(2000, 2, 29, 23, 59, 59, 999999999, time.FixedZone("X", -7*3600)),
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	for range 2000 {
		times = append(times, time.Unix(rng.Int64N(253402300799), rng.Int64N(1e9)))
	}
	for _, tm := range times {
		got := string(AppendHTTPDate(nil, tm))
		want := tm.UTC().Format(http.TimeFormat)
		if got != want {
			t.Fatalf("AppendHTTPDate(%v) = %q, want %q", tm, got, want)
		}
	}
	if got := string(AppendHTTPDate(nil, time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC))); len(got) != 29 {
		t.Errorf("year clamp: %q", got)
	}
	if TimeFormat != http.TimeFormat {
		t.Errorf("TimeFormat differs")
	}
}

func TestDateCache(t *testing.T) {
	var c DateCache
	t0 := time.Date(2024, 5, 6, 7, 8, 9, 100, time.UTC)
	d := c.Get(t0)
	if string(d) != "Mon, 06 May 2024 07:08:09 GMT" {
		t.Errorf("Get = %q", d)
	}
	if string(c.Get(t0.Add(500*time.Millisecond))) != "Mon, 06 May 2024 07:08:09 GMT" {
		t.Errorf("same second changed")
	}
	if string(c.Get(t0.Add(time.Second))) != "Mon, 06 May 2024 07:08:10 GMT" {
		t.Errorf("next second not updated")
	}
	var z DateCache
	if string(z.Get(time.Unix(0, 0))) != "Thu, 01 Jan 1970 00:00:00 GMT" {
		t.Errorf("zero cache at epoch")
	}
}

func TestParseHTTPDate(t *testing.T) {
	want := time.Date(1994, 11, 6, 8, 49, 37, 0, time.UTC)
	cases := []struct {
		in string
		ok bool
		t  time.Time
	}{
		{"Sun, 06 Nov 1994 08:49:37 GMT", true, want},
		{"Sunday, 06-Nov-94 08:49:37 GMT", true, want},
		{"Sun Nov  6 08:49:37 1994", true, want},
		{"Sun Nov 16 08:49:37 1994", true, want.AddDate(0, 0, 10)},
		{"sun, 06 nov 1994 08:49:37 GMT", true, want},
		{"Mon, 06 Nov 1994 08:49:37 GMT", true, want}, // weekday not checked
		{"Wednesday, 01-Jan-69 00:00:00 GMT", true, time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"Thursday, 31-Dec-68 00:00:00 GMT", true, time.Date(2068, 12, 31, 0, 0, 0, 0, time.UTC)},
		{"Tue, 29 Feb 2000 00:00:00 GMT", true, time.Date(2000, 2, 29, 0, 0, 0, 0, time.UTC)},
		{"Thu, 01 Jan 1970 00:00:00 GMT", true, time.Unix(0, 0).UTC()},
		{"", false, time.Time{}},
		{"Sun, 06 Nov 1994 08:49:37 UTC", false, time.Time{}},
		{"Sun, 06 Nov 1994 08:49:37 gmt", false, time.Time{}},
		{"Sun, 6 Nov 1994 08:49:37 GMT", false, time.Time{}},
		{"Sun, 06 Nov 94 08:49:37 GMT", false, time.Time{}},
		{"Sun, 06 Foo 1994 08:49:37 GMT", false, time.Time{}},
		{"Sux, 06 Nov 1994 08:49:37 GMT", false, time.Time{}},
		{"Sun, 00 Nov 1994 08:49:37 GMT", false, time.Time{}},
		{"Sun, 31 Nov 1994 08:49:37 GMT", false, time.Time{}},
		{"Sun, 29 Feb 1900 08:49:37 GMT", false, time.Time{}},
		{"Sun, 06 Nov 1994 24:49:37 GMT", false, time.Time{}},
		{"Sun, 06 Nov 1994 08:60:37 GMT", false, time.Time{}},
		{"Sun, 06 Nov 1994 08:49:60 GMT", false, time.Time{}},
		{"Sun, 06 Nov 1994 08-49-37 GMT", false, time.Time{}},
		{"Sun, 06 Nov 1994 08:49:3x GMT", false, time.Time{}},
		{"Sun,  06 Nov 1994 08:49:37 GMT", false, time.Time{}},
		{"Sunday, 06-Nov-1994 08:49:37 GMT", false, time.Time{}},
		{"Sundae, 06-Nov-94 08:49:37 GMT", false, time.Time{}},
		{"Sunday, 06 Nov 94 08:49:37 GMT", false, time.Time{}},
		{"Sun Nov 6 08:49:37 1994", false, time.Time{}},
		{"Sun Nov  6 08:49:37 94", false, time.Time{}},
		{"Sun Nov x6 08:49:37 1994", false, time.Time{}},
		{"1994-11-06T08:49:37Z", false, time.Time{}},
		{"Sun, 06 Nov 199x 08:49:37 GMT", false, time.Time{}},
		{"Sun, 0x Nov 1994 08:49:37 GMT", false, time.Time{}},
		{"Sun Nov  6 08:49:3x 1994", false, time.Time{}},
		{"Sun Nov  6 08:49:37 199x", false, time.Time{}},
		{"Sun Foo  6 08:49:37 1994", false, time.Time{}},
		{"Sun Nov 31 08:49:37 1994", false, time.Time{}},
		{"Sunday, 0x-Nov-94 08:49:37 GMT", false, time.Time{}},
		{"Sunday, 06-Nov-9x 08:49:37 GMT", false, time.Time{}},
		{"Sunday, 06-Nov-94 08:49:3x GMT", false, time.Time{}},
		{"Sunday, 06-Nov-94 08:49:37 UTC", false, time.Time{}},
		{"Sunday, 31-Feb-94 08:49:37 GMT", false, time.Time{}},
		{"Wednesday, 06-Nov-94 08:49:37 GMT", true, want},
		{"\x00\x00\x00,\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00 GMT", false, time.Time{}},
	}
	for _, c := range cases {
		got, ok := ParseHTTPDate([]byte(c.in))
		if ok != c.ok || !got.Equal(c.t) {
			t.Errorf("ParseHTTPDate(%q) = %v, %v; want %v, %v", c.in, got, ok, c.t, c.ok)
		}
		if c.ok {
			nt, err := http.ParseTime(c.in)
			if err != nil || !nt.Equal(got) {
				t.Errorf("net/http.ParseTime(%q) = %v, %v; differs", c.in, nt, err)
			}
		}
	}
}

// TestParseHTTPDateRoundTrip checks all three forms produced by time.Format agree with
// net/http.ParseTime.
func TestParseHTTPDateRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for range 3000 {
		tm := time.Unix(rng.Int64N(3124137600), 0).In(time.FixedZone("GMT", 0)) // 1970..2068
		for _, layout := range []string{http.TimeFormat, time.RFC850, time.ANSIC} {
			s := tm.Format(layout)
			got, ok := ParseHTTPDate([]byte(s))
			want, err := http.ParseTime(s)
			if !ok || err != nil || !got.Equal(want) {
				t.Fatalf("%q: got %v %v, net/http %v %v", s, got, ok, want, err)
			}
		}
	}
}
