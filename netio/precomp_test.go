package netio

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uringd/uringd/netio/internal/http1"
)

// precompRoot has app.js with .br, .zst and .gz siblings (the gzip one real), a sibling
// older than its file, a sibling that is a symlink out of the root, and a file without any.
func precompRoot(t *testing.T) (root string, js, br, gz, zst []byte) {
	t.Helper()
	root = t.TempDir()
	js = bytes.Repeat([]byte("console.log('uringd');\n"), 200)
	br = []byte("not really brotli, but the server never looks inside")
	zst = []byte("zstd bytes, also opaque to the server")
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write(js)
	zw.Close()
	gz = b.Bytes()
	write(t, filepath.Join(root, "app.js"), js)
	write(t, filepath.Join(root, "app.js.br"), br)
	write(t, filepath.Join(root, "app.js.zst"), zst)
	write(t, filepath.Join(root, "app.js.gz"), gz)
	write(t, filepath.Join(root, "dir", "index.html"), []byte("<p>index\n"))
	write(t, filepath.Join(root, "dir", "index.html.br"), br)

	// A sibling older than its file: made before the file changed, so stale.
	write(t, filepath.Join(root, "old.css"), []byte("body{}\n"))
	write(t, filepath.Join(root, "old.css.gz"), gz)
	past := time.Now().Add(-time.Hour)
	if err := os.Chtimes(filepath.Join(root, "old.css.gz"), past, past); err != nil {
		t.Fatal(err)
	}

	// A sibling that leads out of the root is refused, as any such path is.
	write(t, filepath.Join(root, "link.js"), js)
	outside := filepath.Join(t.TempDir(), "secret.br")
	write(t, outside, []byte("secret\n"))
	os.Symlink(outside, filepath.Join(root, "link.js.br"))

	write(t, filepath.Join(root, "plain.txt"), []byte("plain\n"))
	freshSiblings(t, filepath.Join(root, "app.js"), ".br", ".zst", ".gz")

	// As `brotli -k` makes it: the sibling has the original's time cut to the second.
	write(t, filepath.Join(root, "cut.js"), js)
	write(t, filepath.Join(root, "cut.js.br"), br)
	sec := time.Now().Add(-time.Hour).Truncate(time.Second)
	for name, mt := range map[string]time.Time{"cut.js": sec.Add(700 * time.Millisecond), "cut.js.br": sec} {
		if err := os.Chtimes(filepath.Join(root, name), mt, mt); err != nil {
			t.Fatal(err)
		}
	}
	freshSiblings(t, filepath.Join(root, "dir", "index.html"), ".br")
	return root, js, br, gz, zst
}

// freshSiblings makes file an hour older than its siblings (file+ext), by the clock rather
// than by the order of the writes: a stepped wall clock (a VM's) can make a later write look
// older, which would make the sibling stale.
func freshSiblings(t *testing.T, file string, exts ...string) {
	t.Helper()
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(file, old, old); err != nil {
		t.Fatal(err)
	}
	for _, ext := range exts {
		if err := os.Chtimes(file+ext, old.Add(time.Hour), old.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestPrecompressed(t *testing.T) {
	root, js, br, gz, zst := precompRoot(t)
	eachMode(t, func(t *testing.T, m mode) {
		rs := start(t, m, root, func(c *Config) {
			c.Precompressed = []string{"br", "zstd", "gzip"}
			c.Headers = []HeaderRule{{Pattern: "*.js", Name: "Cache-Control", Value: "max-age=60"}}
		})
		u := rs.url
		// Twice: the first pass learns the siblings, the second finds them known.
		for pass := 0; pass < 2; pass++ {
			resp, body := get(t, u+"/app.js", "Accept-Encoding", "gzip, deflate, br, zstd")
			expect(t, resp, body, 200, "br", br)
			brTag := resp.Header.Get("ETag")
			if !strings.HasSuffix(brTag, `-br"`) {
				t.Errorf("br ETag %q: want one of its own", brTag)
			}
			if cc := resp.Header.Get("Cache-Control"); cc != "max-age=60" {
				t.Errorf("br response: Cache-Control %q: want the original's rule", cc)
			}

			resp, body = get(t, u+"/app.js", "Accept-Encoding", "gzip")
			expect(t, resp, body, 200, "gzip", gz)
			if zr, err := gzip.NewReader(bytes.NewReader(body)); err != nil {
				t.Error(err)
			} else if plain, _ := io.ReadAll(zr); !bytes.Equal(plain, js) {
				t.Error("gzip body does not decode to the file")
			}
			gzTag := resp.Header.Get("ETag")

			resp, body = get(t, u+"/app.js", "Accept-Encoding", "zstd;q=0.5, gzip;q=0.4, br;q=0")
			expect(t, resp, body, 200, "zstd", zst)

			// Identity: asked for, refused codings, a malformed field, none at all.
			var idTag string
			for _, ae := range []string{"identity", "br;q=0, gzip;q=0, zstd;q=0", "br;q=2", "gzip;;", "identity;q=1, br;q=0.5"} {
				resp, body = get(t, u+"/app.js", "Accept-Encoding", ae)
				expect(t, resp, body, 200, "", js)
				idTag = resp.Header.Get("ETag")
			}
			if tags := map[string]bool{brTag: true, gzTag: true, idTag: true}; len(tags) != 3 {
				t.Errorf("ETags %s %s %s: want one per encoding", brTag, gzTag, idTag)
			}

			// Conditionals and ranges apply to the encoded bytes.
			resp, _ = get(t, u+"/app.js", "Accept-Encoding", "br", "If-None-Match", brTag)
			if resp.StatusCode != 304 || resp.Header.Get("Vary") != "Accept-Encoding" {
				t.Errorf("If-None-Match with the br ETag: %d Vary %q, want 304 Vary Accept-Encoding", resp.StatusCode, resp.Header.Get("Vary"))
			}
			resp, body = get(t, u+"/app.js", "Accept-Encoding", "identity", "If-None-Match", brTag)
			expect(t, resp, body, 200, "", js)
			resp, body = get(t, u+"/app.js", "Accept-Encoding", "br", "Range", "bytes=4-9")
			if resp.StatusCode != 206 || resp.Header.Get("Content-Encoding") != "br" || !bytes.Equal(body, br[4:10]) ||
				resp.Header.Get("Content-Range") != "bytes 4-9/"+strconv.Itoa(len(br)) {
				t.Errorf("Range on br: %d %q %q %q", resp.StatusCode, resp.Header.Get("Content-Encoding"), resp.Header.Get("Content-Range"), body)
			}
			resp, body = do(t, "HEAD", u+"/app.js", "Accept-Encoding", "br")
			if resp.StatusCode != 200 || len(body) != 0 || resp.Header.Get("Content-Length") != strconv.Itoa(len(br)) || resp.Header.Get("Content-Encoding") != "br" {
				t.Errorf("HEAD br: %d len %s %q", resp.StatusCode, resp.Header.Get("Content-Length"), resp.Header.Get("Content-Encoding"))
			}

			// A sibling as old as its file to the second counts.
			resp, body = get(t, u+"/cut.js", "Accept-Encoding", "br")
			expect(t, resp, body, 200, "br", br)

			// A directory's index has its siblings too.
			resp, body = get(t, u+"/dir/", "Accept-Encoding", "br")
			expect(t, resp, body, 200, "br", br)
			if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("/dir/ br: Content-Type %q", ct)
			}

			// Stale and escaping siblings do not count; nor does anything beside plain.txt.
			for _, p := range []string{"/old.css", "/link.js", "/plain.txt"} {
				resp, body = get(t, u+p, "Accept-Encoding", "br, gzip")
				if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "" || resp.Header.Get("Vary") != "" || bytes.Contains(body, []byte("secret")) {
					t.Errorf("%s: %d Content-Encoding %q Vary %q", p, resp.StatusCode, resp.Header.Get("Content-Encoding"), resp.Header.Get("Vary"))
				}
			}
		}
		// The escaping sibling is said (once per cache entry, so once or, without a cache,
		// per probe); the absent ones are not.
		logs := rs.logText()
		if !strings.Contains(logs, "/link.js.br (precompressed sibling, not served)") || strings.Contains(logs, "plain.txt") {
			t.Errorf("log: want the refused /link.js.br said, nothing of absent siblings:\n%s", logs)
		}
	})
}

// expect checks a response's status, Content-Encoding, Vary and body, and that the type
// is the original's.
func expect(t *testing.T, resp *http.Response, body []byte, status int, enc string, want []byte) {
	t.Helper()
	if resp.StatusCode != status || resp.Header.Get("Content-Encoding") != enc || !bytes.Equal(body, want) {
		t.Errorf("%s (Accept-Encoding %q): %d Content-Encoding %q, %d bytes; want %d %q, %d bytes",
			resp.Request.URL.Path, resp.Request.Header.Get("Accept-Encoding"), resp.StatusCode, resp.Header.Get("Content-Encoding"), len(body), status, enc, len(want))
	}
	if v := resp.Header.Get("Vary"); v != "Accept-Encoding" {
		t.Errorf("%s: Vary %q, want Accept-Encoding (siblings exist)", resp.Request.URL.Path, v)
	}
	if strings.HasSuffix(resp.Request.URL.Path, ".js") && resp.Header.Get("Content-Type") != http1.ContentType([]byte("x.js")) {
		t.Errorf("%s: Content-Type %q", resp.Request.URL.Path, resp.Header.Get("Content-Type"))
	}
}

// TestPrecompressedUnderPressure: sibling lookups go through the same lookup as any path,
// so they must survive what it survives: a full SQ (tiny rings), the kernel's unasked
// cancellations of OPENAT2 and chains (every 7th: with a smaller period the same
// connection's retries can be the ones hit every time, as the kernel's never are), no open-file cache (every request looks the
// siblings up again), and clients that vanish while a lookup is in flight. Every body
// must be right, and once the clients are gone no fd of a served file stays open.
func TestPrecompressedUnderPressure(t *testing.T) {
	root, js, br, gz, _ := precompRoot(t)
	want := map[string][]byte{"br": br, "gzip": gz, "identity": js}
	for _, m := range []mode{modes()[0], modes()[3], modes()[4]} { // uring, threadpool, 5.10
		for _, cache := range []int{0, -1} {
			t.Run(fmt.Sprintf("%s/cache%d", m.name, cache), func(t *testing.T) {
				s, rs := startTuned(t, m, root, ringTuning{sqEntries: 8, cqEntries: 16, cancelEvery: 7}, func(c *Config) {
					c.Precompressed = []string{"br", "gzip"}
					c.OpenFileCache = cache
				})
				defer rs.stop(t)
				var wg sync.WaitGroup
				errs := make(chan string, 64)
				for g := range 12 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						tr := &http.Transport{DisableCompression: true}
						defer tr.CloseIdleConnections()
						cl := &http.Client{Transport: tr, Timeout: 10 * time.Second}
						for i := range 20 {
							enc := []string{"br", "gzip", "identity"}[(g+i)%3]
							req, _ := http.NewRequest("GET", rs.url+"/app.js", nil)
							req.Header.Set("Accept-Encoding", enc)
							resp, err := cl.Do(req)
							if err != nil {
								errs <- err.Error()
								return
							}
							body, err := io.ReadAll(resp.Body)
							resp.Body.Close()
							got := resp.Header.Get("Content-Encoding")
							if got == "" {
								got = "identity"
							}
							if err != nil || resp.StatusCode != 200 || got != enc || !bytes.Equal(body, want[enc]) {
								errs <- fmt.Sprintf("%s: %d %s %d bytes %v", enc, resp.StatusCode, got, len(body), err)
								return
							}
						}
					}()
					// A client that asks and leaves at once, its lookups maybe in flight.
					if c, err := net.Dial("tcp", rs.addr); err == nil {
						fmt.Fprintf(c, "GET /app.js HTTP/1.1\r\nHost: x\r\nAccept-Encoding: br\r\n\r\n")
						c.Close()
					}
				}
				wg.Wait()
				close(errs)
				for e := range errs {
					t.Fatalf("%s; log:\n%s", e, rs.logText())
				}
				if cache < 0 {
					waitFor(t, func() bool { return s.Conns() == 0 })
					if n := fdsUnder(t, root); n != 0 {
						t.Fatalf("%d fds of served files open with no cache and no client", n)
					}
				}
			})
		}
	}
}

// fdsUnder counts this process's fds open on files beneath dir.
func fdsUnder(t *testing.T, dir string) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip(err)
	}
	n := 0
	for _, e := range ents {
		if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && strings.HasPrefix(l, dir+"/") {
			n++
		}
	}
	return n
}

// TestPlanPrecompressedAllocs: choosing a sibling and planning its reply, and planning an
// error page, allocate nothing once the planner's scratch has grown.
func TestPlanPrecompressedAllocs(t *testing.T) {
	var p planner
	p.setCORS("https://app.example")
	var r reply
	req := http1.Request{Method: http1.MethodGET, Version: http1.Version11, KeepAlive: true,
		AcceptEncoding: []byte("gzip, deflate, br, zstd"), Path: []byte("/app.js")}
	orig := newMeta(4600, time.Now(), false, []byte("app.js"))
	sib := newMeta(1200, time.Now(), false, []byte("app.js.br"))
	pre := []http1.Coding{http1.CodingBrotli, http1.CodingGzip}
	hdrs := []byte("Cache-Control: max-age=60\r\n")
	now := time.Now()
	n := testing.AllocsPerRun(200, func() {
		k := chooseSibling(pre, 3, req.AcceptEncoding)
		v := p.codedView(&sib, &orig, pre[k], hdrs)
		p.planFile(&r, now, &req, &sib, &v)
		v = p.plainView(&orig, hdrs, true)
		p.planFile(&r, now, &req, &orig, &v)
		if routeLike(req.Path) { // a fallback's test, then an error page's reply
			t.Error("/app.js taken for a route")
		}
		p.planPage(&r, now, &req, &orig, 404)
	})
	if n != 0 {
		t.Fatalf("%v allocations per planned reply", n)
	}
}
