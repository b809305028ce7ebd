package http1

import (
	"math/rand/v2"
	"net/url"
	"path"
	"strings"
	"testing"
)

func TestCleanPath(t *testing.T) {
	cases := []struct {
		raw, want string
		slash     bool
		err       error
	}{
		{"/", "/", true, nil},
		{"", "/", true, nil},
		{"/a", "/a", false, nil},
		{"/a/", "/a", true, nil},
		{"/a/b/c.txt", "/a/b/c.txt", false, nil},
		{"a/b", "/a/b", false, nil},
		{"//", "/", true, nil},
		{"//a//b//", "/a/b", true, nil},
		{"/./", "/", true, nil},
		{"/.", "/", false, nil},
		{"/..", "/", false, nil},
		{"/../", "/", true, nil},
		{"/a/..", "/", false, nil},
		{"/a/../", "/", true, nil},
		{"/a/b/../../..", "/", false, nil},
		{"/a/b/../c", "/a/c", false, nil},
		{"/../../../etc/passwd", "/etc/passwd", false, nil},
		{"/a/./b/.", "/a/b", false, nil},
		{"/.a/..b/...", "/.a/..b/...", false, nil},
		{"/a./b../c...", "/a./b../c...", false, nil},
		{"/%2e%2e/%2E%2E/etc", "/etc", false, nil},
		{"/%2e%2e%2f%2e%2e%2fetc", "/etc", false, nil},
		{"/a%2fb", "/a/b", false, nil},
		{"/a%2F", "/a", true, nil},
		{"/a/%2e", "/a", false, nil},
		{"/%7e user/%41", "/~ user/A", false, nil},
		{"/%c3%a9", "/\xc3\xa9", false, nil},
		{"/%25", "/%", false, nil},
		{"/%252e%252e", "/%2e%2e", false, nil},
		{"/\\..\\", "/\\..\\", false, nil},
		{"/a%00", "", false, ErrBadPath},
		{"/a%0A", "", false, ErrBadPath},
		{"/a%7f", "", false, ErrBadPath},
		{"/a%", "", false, ErrBadPath},
		{"/a%2", "", false, ErrBadPath},
		{"/a%g0", "", false, ErrBadPath},
		{"/a%0g", "", false, ErrBadPath},
		{"/a\x01", "", false, ErrBadPath},
		{"/a\x7f", "", false, ErrBadPath},
	}
	for _, c := range cases {
		got, slash, err := CleanPath(nil, []byte(c.raw))
		if err != c.err || string(got) != c.want || (err == nil && slash != c.slash) {
			t.Errorf("CleanPath(%q) = %q, %v, %v; want %q, %v, %v", c.raw, got, slash, err, c.want, c.slash, c.err)
		}
	}
}

// TestCleanPathMatchesPathClean compares against path.Clean of the net/url-decoded path.
func TestCleanPathMatchesPathClean(t *testing.T) {
	alphabet := []string{"/", "/", ".", ".", "a", "b", "%2e", "%2f", "%2F", "%41", "~", "%", "%zz", "%00", "..", "/.."}
	rng := rand.New(rand.NewPCG(1, 2))
	scratch := make([]byte, 0, 64)
	for range 20000 {
		var sb strings.Builder
		for range rng.IntN(12) {
			sb.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		raw := sb.String()
		got, slash, err := CleanPath(scratch, []byte(raw))
		dec, uerr := url.PathUnescape(raw)
		if uerr == nil && strings.IndexByte(dec, 0) >= 0 {
			uerr = ErrBadPath
		}
		if (err != nil) != (uerr != nil) {
			t.Fatalf("CleanPath(%q) err = %v, url err = %v", raw, err, uerr)
		}
		if err != nil {
			continue
		}
		want := path.Clean("/" + dec)
		wantSlash := strings.HasSuffix("/"+dec, "/")
		if string(got) != want || slash != wantSlash {
			t.Fatalf("CleanPath(%q) = %q, %v; want %q, %v", raw, got, slash, want, wantSlash)
		}
		if isCanonicalPath([]byte(raw)) {
			trimmed := raw
			if len(raw) > 1 {
				trimmed = strings.TrimSuffix(raw, "/")
			}
			if trimmed != want {
				t.Fatalf("isCanonicalPath(%q) but clean is %q", raw, want)
			}
		}
	}
}

func TestCleanPathAliasing(t *testing.T) {
	raw := []byte("/a/b/")
	got, _, _ := CleanPath(nil, raw)
	if &got[0] != &raw[0] {
		t.Errorf("clean path was copied")
	}
	scratch := make([]byte, 0, 32)
	raw = []byte("/a/%62")
	got, _, _ = CleanPath(scratch, raw)
	if &got[:1][0] != &scratch[:1][0] {
		t.Errorf("decoded path not in scratch")
	}
}

func TestAppendEscapedPath(t *testing.T) {
	var all []byte
	for c := range 256 {
		all = append(all, byte(c))
	}
	for _, s := range []string{string(all), "/a b/c?d#e%f", "/café/ü", "a:b", "/x+y=z&$,;@"} {
		got := string(AppendEscapedPath(nil, []byte(s)))
		want := (&url.URL{Path: s}).EscapedPath()
		if got != want {
			t.Errorf("AppendEscapedPath(%q) = %q, want %q", s, got, want)
		}
		if back, err := url.PathUnescape(got); err != nil || back != s {
			t.Errorf("round trip %q: %q %v", s, back, err)
		}
	}
}
