package netio

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func specialRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	write(t, filepath.Join(root, "index.html"), []byte("<p>app shell\n"))
	write(t, filepath.Join(root, "app.js"), []byte("app()\n"))
	write(t, filepath.Join(root, "404.html"), []byte("<h1>lost</h1>\n"))
	write(t, filepath.Join(root, "403.html"), []byte("<h1>keep out</h1>\n"))
	write(t, filepath.Join(root, "secret.txt"), []byte("x"))
	os.Chmod(filepath.Join(root, "secret.txt"), 0)
	return root
}

func TestFallbackAndErrorPages(t *testing.T) {
	root := specialRoot(t)
	eachMode(t, func(t *testing.T, m mode) {
		rs := start(t, m, root, func(c *Config) {
			c.Fallback = "/index.html"
			c.ErrorPages = map[int]string{404: "/404.html", 403: "/403.html"}
		})
		for pass := 0; pass < 2; pass++ { // looked up, then from the cache
			// Routes of a single-page app get the shell, with its validators.
			for _, p := range []string{"/app/settings", "/app/settings/", "/deep/a/b/c"} {
				resp, body := get(t, rs.url+p)
				if resp.StatusCode != 200 || string(body) != "<p>app shell\n" || resp.Header.Get("ETag") == "" ||
					resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
					t.Errorf("%s: %d %q %v", p, resp.StatusCode, body, resp.Header)
				}
			}
			resp, _ := get(t, rs.url+"/app/settings")
			if r2, _ := get(t, rs.url+"/app/settings", "If-None-Match", resp.Header.Get("ETag")); r2.StatusCode != 304 {
				t.Errorf("fallback If-None-Match: %d, want 304", r2.StatusCode)
			}
			// A missing file (it has an extension) gets the 404 page, whole, with 404.
			for _, hdr := range [][]string{nil, {"Range", "bytes=0-2"}, {"If-None-Match", "*"}} {
				resp, body := get(t, rs.url+"/missing.js", hdr...)
				if resp.StatusCode != 404 || string(body) != "<h1>lost</h1>\n" || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" ||
					resp.Header.Get("ETag") != "" || resp.Header.Get("Content-Range") != "" {
					t.Errorf("/missing.js %v: %d %q %v", hdr, resp.StatusCode, body, resp.Header)
				}
			}
			resp, body := do(t, "HEAD", rs.url+"/missing.js")
			if resp.StatusCode != 404 || len(body) != 0 || resp.Header.Get("Content-Length") != "14" {
				t.Errorf("HEAD /missing.js: %d %q Content-Length %q", resp.StatusCode, body, resp.Header.Get("Content-Length"))
			}
			if os.Geteuid() != 0 { // root reads a mode-0000 file
				resp, body = get(t, rs.url+"/secret.txt")
				if resp.StatusCode != 403 || string(body) != "<h1>keep out</h1>\n" {
					t.Errorf("/secret.txt: %d %q", resp.StatusCode, body)
				}
			}
			// The files themselves are still served as they are.
			if resp, body := get(t, rs.url+"/app.js"); resp.StatusCode != 200 || string(body) != "app()\n" {
				t.Errorf("/app.js: %d %q", resp.StatusCode, body)
			}
		}
	})
}

// TestMissingFallbackAndErrorPage: a fallback or error page that is not there gives the
// plain answer and a log line, not a loop or a hang; a fallback that is missing falls to
// the 404 page when there is one.
func TestMissingFallbackAndErrorPage(t *testing.T) {
	root := specialRoot(t)
	os.Mkdir(filepath.Join(root, "adir"), 0o755)
	eachMode(t, func(t *testing.T, m mode) {
		rs := start(t, m, root, func(c *Config) {
			c.Fallback = "/nope.html"
			c.ErrorPages = map[int]string{403: "/adir"} // a directory: not a page
		})
		resp, body := get(t, rs.url+"/route")
		if resp.StatusCode != 404 || string(body) != "404 Not Found\n" {
			t.Errorf("/route with a missing fallback: %d %q", resp.StatusCode, body)
		}
		if os.Geteuid() != 0 {
			if resp, body = get(t, rs.url+"/secret.txt"); resp.StatusCode != 403 || string(body) != "403 Forbidden\n" {
				t.Errorf("/secret.txt with a directory as its page: %d %q", resp.StatusCode, body)
			}
		}
		waitFor(t, func() bool { return strings.Contains(rs.logText(), "fallback /nope.html") })
		rs2 := start(t, m, root, func(c *Config) {
			c.Fallback = "/nope.html"
			c.ErrorPages = map[int]string{404: "/404.html"}
		})
		if resp, body = get(t, rs2.url+"/route"); resp.StatusCode != 404 || string(body) != "<h1>lost</h1>\n" {
			t.Errorf("/route, missing fallback, 404 page: %d %q", resp.StatusCode, body)
		}
	})
	for _, c := range []Config{{Fallback: "index.html"}, {Fallback: "/a/../b"}, {Fallback: "/"},
		{ErrorPages: map[int]string{302: "/x.html"}}, {ErrorPages: map[int]string{404: "x.html"}}} {
		c.Root, c.Addr = root, "127.0.0.1:0"
		if s, err := NewServer(c); err == nil {
			s.Close()
			t.Errorf("NewServer(%+v): want an error", c)
		}
	}
	for _, s := range []string{"404", "x=/a", "=/a"} {
		if _, _, err := ParseErrorPage(s); err == nil {
			t.Errorf("ParseErrorPage(%q): want an error", s)
		}
	}
	if code, p, err := ParseErrorPage("404=/404.html"); code != 404 || p != "/404.html" || err != nil {
		t.Errorf("ParseErrorPage: %d %q %v", code, p, err)
	}
}

func TestJSONListing(t *testing.T) {
	root := t.TempDir()
	names := []string{"plain.txt", `quote"back\slash.txt`, "tab\there", "ünïcode ✓", "bad\xffutf8", "ctl\x01x"}
	for _, n := range names {
		write(t, filepath.Join(root, "d", n), []byte(n))
	}
	os.Mkdir(filepath.Join(root, "d", "sub"), 0o755)
	mtime := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	os.Chtimes(filepath.Join(root, "d", "plain.txt"), mtime, mtime)
	type entry struct {
		Name  string    `json:"name"`
		Size  int64     `json:"size"`
		MTime time.Time `json:"mtime"`
		IsDir bool      `json:"is_dir"`
	}
	type listing struct {
		Entries   []entry `json:"entries"`
		Truncated bool    `json:"truncated"`
	}
	eachMode(t, func(t *testing.T, m mode) {
		rs := start(t, m, root, nil)
		for _, ask := range [][]string{{"/d/", "Accept", "application/json"}, {"/d/?format=json"}, {"/d/", "Accept", "application/json, text/plain, */*"}} {
			resp, body := get(t, rs.url+ask[0], ask[1:]...)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Vary") != "Accept" {
				t.Fatalf("%v: %d %v", ask, resp.StatusCode, resp.Header)
			}
			var l listing
			if err := json.Unmarshal(body, &l); err != nil {
				t.Fatalf("%v: %v in %s", ask, err, body)
			}
			got := map[string]entry{}
			for _, e := range l.Entries {
				got[e.Name] = e
			}
			if len(l.Entries) != len(names)+1 || l.Truncated || !got["sub"].IsDir {
				t.Errorf("%v: %+v", ask, l)
			}
			for _, n := range names {
				want := strings.ToValidUTF8(n, "\ufffd")
				e, ok := got[want]
				if !ok || e.Size != int64(len(n)) || e.IsDir {
					t.Errorf("%v: entry %q: %+v (present %v)", ask, want, e, ok)
				}
				if !utf8.ValidString(e.Name) {
					t.Errorf("invalid UTF-8 in %q", e.Name)
				}
			}
			if !got["plain.txt"].MTime.Equal(mtime) {
				t.Errorf("plain.txt mtime %v, want %v", got["plain.txt"].MTime, mtime)
			}
		}
		// A browser's Accept, or none, keeps the HTML listing.
		for _, accept := range []string{"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", ""} {
			resp, body := get(t, rs.url+"/d/", "Accept", accept)
			if resp.Header.Get("Content-Type") != "text/html; charset=utf-8" || !strings.Contains(string(body), "<pre>") || resp.Header.Get("Vary") != "Accept" {
				t.Errorf("Accept %q: %v", accept, resp.Header)
			}
		}
	})
	// A cut listing says so.
	rs := start(t, modes()[0], root, func(c *Config) { c.MaxListingEntries = 2 })
	_, body := get(t, rs.url+"/d/?format=json")
	var l listing
	if err := json.Unmarshal(body, &l); err != nil || len(l.Entries) != 2 || !l.Truncated {
		t.Errorf("cut JSON listing: %v %+v", err, l)
	}
}
