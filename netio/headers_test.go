package netio

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

func TestHeaderRules(t *testing.T) {
	root := t.TempDir()
	for _, p := range []string{"assets/js/app.js", "assets/special.css", "font.woff2", "assets/font.woff2", "other.txt"} {
		write(t, filepath.Join(root, p), []byte(p))
	}
	rules := []HeaderRule{
		{Pattern: "/assets/*", Name: "Cache-Control", Value: "public, max-age=31536000, immutable"},
		{Pattern: "*.woff2", Name: "X-Font", Value: "yes"},
		// Listed after the general rule, so it wins for this file.
		{Pattern: "/assets/special.css", Name: "cache-control", Value: "no-store"},
	}
	eachMode(t, func(t *testing.T, m mode) {
		rs := start(t, m, root, func(c *Config) { c.Headers = rules })
		for _, tc := range []struct{ path, cc, font string }{
			{"/assets/js/app.js", "public, max-age=31536000, immutable", ""},
			{"/assets/special.css", "no-store", ""},
			{"/assets/font.woff2", "public, max-age=31536000, immutable", "yes"},
			{"/font.woff2", "", "yes"},
			{"/other.txt", "", ""},
		} {
			for pass := 0; pass < 2; pass++ { // a fresh cache entry, then a cached one
				resp, body := get(t, rs.url+tc.path, "Accept-Encoding", "identity")
				if resp.StatusCode != 200 || string(body) != tc.path[1:] {
					t.Fatalf("%s: %d %q", tc.path, resp.StatusCode, body)
				}
				if got := resp.Header.Values("Cache-Control"); strings.Join(got, "|") != tc.cc {
					t.Errorf("%s: Cache-Control %q, want %q", tc.path, got, tc.cc)
				}
				if got := resp.Header.Get("X-Font"); got != tc.font {
					t.Errorf("%s: X-Font %q, want %q", tc.path, got, tc.font)
				}
			}
		}
		// A 304 carries the rules too (RFC 9110 §15.4.5: Cache-Control as a 200 would).
		resp, _ := get(t, rs.url+"/assets/js/app.js")
		resp, _ = get(t, rs.url+"/assets/js/app.js", "If-None-Match", resp.Header.Get("ETag"))
		if resp.StatusCode != 304 || resp.Header.Get("Cache-Control") == "" {
			t.Errorf("304: %d Cache-Control %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
		}
	})
}

func TestCORS(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "data.json"), []byte(`{"a":1}`))
	eachMode(t, func(t *testing.T, m mode) {
		rs := start(t, m, root, func(c *Config) { c.CORS = "https://app.example" })
		// A listing varies on Accept too (HTML or JSON).
		for p, vary := range map[string]string{"/data.json": "Origin", "/missing.json": "Origin", "/": "Accept, Origin"} {
			resp, _ := get(t, rs.url+p, "Origin", "https://app.example")
			if resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example" || resp.Header.Get("Vary") != vary {
				t.Errorf("GET %s: %d Access-Control-Allow-Origin %q Vary %q", p, resp.StatusCode,
					resp.Header.Get("Access-Control-Allow-Origin"), resp.Header.Get("Vary"))
			}
		}
		resp, body := do(t, "OPTIONS", rs.url+"/data.json", "Origin", "https://app.example",
			"Access-Control-Request-Method", "GET", "Access-Control-Request-Headers", "x-requested-with, range")
		h := resp.Header
		if resp.StatusCode != 204 || len(body) != 0 || h.Get("Access-Control-Allow-Origin") != "https://app.example" ||
			h.Get("Access-Control-Allow-Methods") != "GET, HEAD" || h.Get("Access-Control-Allow-Headers") != "x-requested-with, range" ||
			h.Get("Access-Control-Max-Age") == "" || h.Get("Content-Length") != "" {
			t.Errorf("preflight: %d %v", resp.StatusCode, h)
		}
		// The connection stays usable after a preflight.
		if resp, body := get(t, rs.url+"/data.json"); resp.StatusCode != 200 || string(body) != `{"a":1}` {
			t.Errorf("after preflight: %d %q", resp.StatusCode, body)
		}
	})
	// Without CORS, OPTIONS is a method the server does not allow.
	rs := start(t, modes()[0], root, nil)
	if resp, _ := do(t, "OPTIONS", rs.url+"/data.json"); resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("OPTIONS without CORS: %d", resp.StatusCode)
	}
}

func TestHeaderRuleErrors(t *testing.T) {
	for _, s := range []string{"no colons", "/a: Name", "/a: Bad Name: v", "/a: Content-Length: 3", "/a: etag: x",
		"[: X-A: b", "a/b: X-A: b", ": X-A: b", "/a: Access-Control-Allow-Origin: *"} {
		if r, err := ParseHeaderRule(s); err == nil {
			t.Errorf("ParseHeaderRule(%q) = %+v, want an error", s, r)
		} else if !strings.Contains(err.Error(), "header rule") {
			t.Errorf("ParseHeaderRule(%q): %v: want it to say header rule", s, err)
		}
	}
	for _, s := range []string{"/assets/*", "=x", "/a*b", "/a=x\ny"} {
		if _, err := ParseCacheControl(s); err == nil {
			t.Errorf("ParseCacheControl(%q): want an error", s)
		}
	}
	if r, err := ParseCacheControl("/assets/*=public, max-age=31536000, immutable"); err != nil || r.Name != "Cache-Control" || r.Value != "public, max-age=31536000, immutable" {
		t.Errorf("ParseCacheControl: %+v %v", r, err)
	}
	if r, err := ParseHeaderRule("*.woff2: Access-Control-Max-Age: 3"); err == nil {
		t.Errorf("%+v: want an error", r)
	}
	root := t.TempDir()
	for _, c := range []Config{
		{Headers: []HeaderRule{{Pattern: "/a", Name: "X-A", Value: "a\r\nX-B: b"}}},
		{Precompressed: []string{"deflate"}},
		{Precompressed: []string{"br", "br"}},
		{CORS: "app.example"},
		{CORS: "https://a.example, https://b.example"},
	} {
		c.Root, c.Addr = root, "127.0.0.1:0"
		if s, err := NewServer(c); err == nil {
			s.closeFds()
			t.Errorf("NewServer(%+v): want an error", c)
		} else if !strings.HasPrefix(err.Error(), "netio: ") {
			t.Errorf("%v: want it to name the package", err)
		}
	}
}

func TestHeaderRuleMatch(t *testing.T) {
	for _, tc := range []struct {
		pat, path string
		want      bool
	}{
		{"/assets/*", "/assets/a.js", true},
		{"/assets/*", "/assets/js/a.js", true},
		{"/assets/*", "/assets", false},
		{"/assets/*", "/assetsx/a.js", false},
		{"*.woff2", "/f/a.woff2", true},
		{"*.woff2", "/a.woff", false},
		{"/*.html", "/a.html", true},
		{"/*/x.html", "/a/x.html", true},
		{"/*/x.html", "/a/b/x.html", false},
		{"/exact.txt", "/exact.txt", true},
	} {
		if got := (HeaderRule{Pattern: tc.pat}).matches(tc.path); got != tc.want {
			t.Errorf("%q matches %q = %v, want %v", tc.pat, tc.path, got, tc.want)
		}
	}
}
