package http1

import "testing"

func TestPreferEncoding(t *testing.T) {
	all := []Coding{CodingBrotli, CodingZstd, CodingGzip}
	gz := []Coding{CodingGzip}
	for _, tc := range []struct {
		ae   string
		have []Coding
		want int
	}{
		{"", all, -1},
		{"gzip, deflate, br, zstd", all, 0}, // browsers: all q=1, the server's order
		{"gzip, deflate, br, zstd", gz, 0},
		{"gzip", all, 2},
		{"GZIP", all, 2},
		{"x-gzip", all, 2},
		{"deflate", all, -1},
		{"br;q=0.5, gzip;q=0.8", all, 2},
		{"br;q=0.5, gzip;q=0.8", []Coding{CodingBrotli}, 0}, // identity not named comes last
		{"br;q=0.5, identity", []Coding{CodingBrotli}, -1},
		{"br;q=0.5, identity;q=0.1", all, 0},
		{"br;q=0, gzip", all, 2},
		{"br;q=0", []Coding{CodingBrotli}, -1},
		{"*", all, 0},
		{"*;q=0", all, -1},
		{"*;q=0.5, identity", all, -1},
		{"*;q=0.5, identity;q=0.2", gz, 0},
		{"br;Q=1.000", all, 0},
		{"br ; q=1", all, 0},
		{" , br", all, 0},
		{"zstd;level=3", all, 1}, // other parameters are ignored
		// malformed: identity, never an error
		{"br;q=2", all, -1},
		{"br;q=1.5", all, -1},
		{"br;q=abc", all, -1},
		{"br;q=", all, -1},
		{"br;q=0.0001", all, -1},
		{"br;", all, -1},
		{"b r", all, -1},
		{"br;x=\"open", all, -1},
		{";q=1", all, -1},
	} {
		if got := PreferEncoding([]byte(tc.ae), tc.have); got != tc.want {
			t.Errorf("PreferEncoding(%q, %v) = %d, want %d", tc.ae, tc.have, got, tc.want)
		}
	}
}

func TestPreferEncodingAllocs(t *testing.T) {
	ae := []byte("gzip, deflate, br;q=0.9, zstd;q=0.8, *;q=0.1")
	have := []Coding{CodingBrotli, CodingZstd, CodingGzip}
	if n := testing.AllocsPerRun(100, func() { PreferEncoding(ae, have) }); n != 0 {
		t.Fatalf("PreferEncoding allocates %v times", n)
	}
}

func TestResponseEncodingFields(t *testing.T) {
	r := Response{Status: 200, ContentLength: 3, ContentEncoding: "br", Vary: "Accept-Encoding", Extra: []byte("Cache-Control: no-cache\r\n"), Head: true}
	got := string(AppendResponseHeader(nil, &r))
	want := "HTTP/1.1 200 OK\r\nServer: " + ServerName + "\r\nContent-Length: 3\r\nContent-Encoding: br\r\nVary: Accept-Encoding\r\nCache-Control: no-cache\r\n\r\n"
	if got != want {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

func TestWantsJSON(t *testing.T) {
	for _, tc := range []struct {
		accept, query string
		want          bool
	}{
		{"", "", false},
		{"", "format=json", true},
		{"", "a=1&format=json", true},
		{"", "format=jsonx", false},
		{"application/json", "", true},
		{"Application/JSON", "", true},
		{"application/json, text/plain, */*", "", true},
		{"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "", false},
		{"*/*", "", false},
		{"application/json;q=0", "", false},
		{"application/json;q=0.5, text/html", "", false},
		{"application/json;q=0.5, text/*;q=0.4", "", true},
		{"application/json;q=0.5, */*;q=0.6", "", false},
		{"application/json;q=x", "", false},
		{"text/html", "format=json", true},
	} {
		if got := WantsJSON([]byte(tc.accept), []byte(tc.query)); got != tc.want {
			t.Errorf("WantsJSON(%q, %q) = %v, want %v", tc.accept, tc.query, got, tc.want)
		}
	}
}
