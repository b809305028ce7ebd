package netio

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// mode is one way to run the server; every behaviour test runs in each.
type mode struct {
	name string
	cfg  Config
}

func modes() []mode {
	return []mode{
		{"uring", Config{}},
		{"uring-splice", Config{LargeFiles: "splice"}},
		{"uring-read", Config{LargeFiles: "read"}},
		{"uring-threadpool", Config{FileIO: "threadpool", Threads: 4}},
		{"uring-compat-5.10", Config{KernelCompat: "5.10"}},
		{"std", Config{Net: "std"}},
	}
}

func eachMode(t *testing.T, fn func(t *testing.T, m mode)) {
	for _, m := range modes() {
		t.Run(m.name, func(t *testing.T) { fn(t, m) })
	}
}

// testRoot builds a small tree: files of several sizes, an index, a directory without
// index, a symlink inside the root and one leading out of it.
func testRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	rnd := rand.New(rand.NewSource(7))
	for name, size := range map[string]int{"4k.bin": 4096, "1m.bin": 1 << 20, "odd.bin": 100_003, "empty.txt": 0} {
		b := make([]byte, size)
		rnd.Read(b)
		write(t, filepath.Join(root, name), b)
	}
	write(t, filepath.Join(root, "hello.txt"), []byte("hello, uringd\n"))
	write(t, filepath.Join(root, "page.html"), []byte("<!doctype html><title>x</title>\n"))
	write(t, filepath.Join(root, "site", "index.html"), []byte("<p>site index\n"))
	write(t, filepath.Join(root, "list", "b.txt"), []byte("b"))
	write(t, filepath.Join(root, "list", "a & <c>.txt"), []byte("a"))
	os.Mkdir(filepath.Join(root, "list", "sub"), 0o755)
	outside := filepath.Join(t.TempDir(), "secret.txt")
	write(t, outside, []byte("secret\n"))
	os.Symlink(outside, filepath.Join(root, "escape.txt"))
	os.Symlink("hello.txt", filepath.Join(root, "alias.txt"))
	os.Symlink("/etc", filepath.Join(root, "etc"))
	old := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	for _, n := range []string{"4k.bin", "hello.txt"} {
		os.Chtimes(filepath.Join(root, n), old, old)
	}
	return root
}

func write(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

type running struct {
	s      *Server
	url    string
	addr   string
	cancel context.CancelFunc
	done   chan error
	logs   *bytes.Buffer
	logMu  *sync.Mutex
}

type syncBuf struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w syncBuf) Write(p []byte) (int, error) { w.mu.Lock(); defer w.mu.Unlock(); return w.b.Write(p) }

func start(t *testing.T, m mode, root string, adjust func(*Config)) *running {
	t.Helper()
	_, rs := startTuned(t, m, root, ringTuning{}, adjust)
	cancel := rs.cancel
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-rs.done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Errorf("Serve did not return after cancel")
		}
		http.DefaultClient.CloseIdleConnections()
	})
	return rs
}

func get(t *testing.T, url string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	return do(t, "GET", url, hdr...)
}

func do(t *testing.T, method, url string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return resp, body
}

// TestLikeNetHTTP sends the same requests to uringd and to net/http's FileServer on the same
// files and compares status, the entity headers and the body.
func TestLikeNetHTTP(t *testing.T) {
	root := testRoot(t)
	ref := httptest.NewServer(http.FileServer(http.Dir(root)))
	defer ref.Close()
	lm := "Mon, 06 May 2024 07:08:09 GMT"
	cases := []struct {
		path string
		hdr  []string
	}{
		{"/hello.txt", nil},
		{"/4k.bin", nil},
		{"/1m.bin", nil},
		{"/odd.bin", nil},
		{"/empty.txt", nil},
		{"/page.html", nil},
		{"/site/", nil},
		{"/missing", nil},
		{"/alias.txt", nil},
		{"/4k.bin", []string{"Range", "bytes=0-99"}},
		{"/4k.bin", []string{"Range", "bytes=-100"}},
		{"/4k.bin", []string{"Range", "bytes=4000-"}},
		{"/4k.bin", []string{"Range", "bytes=5000-6000"}},
		{"/4k.bin", []string{"Range", "bytes=abc"}},
		{"/odd.bin", []string{"Range", "bytes=100000-200000"}},
		{"/1m.bin", []string{"Range", "bytes=1000-500000"}},
		{"/4k.bin", []string{"If-Modified-Since", lm}},
		{"/4k.bin", []string{"If-Modified-Since", "Sun, 05 May 2024 00:00:00 GMT"}},
		{"/4k.bin", []string{"If-Unmodified-Since", "Sun, 05 May 2024 00:00:00 GMT"}},
		{"/4k.bin", []string{"If-Unmodified-Since", lm}},
		{"/4k.bin", []string{"Range", "bytes=0-9", "If-Range", lm}},
		{"/4k.bin", []string{"Range", "bytes=0-9", "If-Range", "Sun, 05 May 2024 00:00:00 GMT"}},
		{"/hello.txt?x=1", nil},
		{"/%68ello.txt", nil},
		{"/./hello.txt", nil},
		{"/site/../hello.txt", nil},
	}
	eachMode(t, func(t *testing.T, m mode) {
		rs := start(t, m, root, nil)
		for _, c := range cases {
			for _, method := range []string{"GET", "HEAD"} {
				want, wbody := do(t, method, ref.URL+c.path, c.hdr...)
				got, gbody := do(t, method, rs.url+c.path, c.hdr...)
				what := fmt.Sprintf("%s %s %v", method, c.path, c.hdr)
				if got.StatusCode != want.StatusCode {
					t.Errorf("%s: status %d, net/http %d", what, got.StatusCode, want.StatusCode)
					continue
				}
				for _, h := range []string{"Content-Type", "Content-Length", "Content-Range", "Last-Modified", "Accept-Ranges", "Location"} {
					// Error bodies are uringd's own short texts, so their type and length differ.
					if g, w := got.Header.Get(h), want.Header.Get(h); g != w &&
						!((h == "Content-Type" || h == "Content-Length") && (want.StatusCode >= 400 || want.StatusCode == 301)) {
						t.Errorf("%s: %s %q, net/http %q", what, h, g, w)
					}
				}
				if want.StatusCode < 300 && !bytes.Equal(gbody, wbody) {
					t.Errorf("%s: body differs (%d vs %d bytes)", what, len(gbody), len(wbody))
				}
				if got.Header.Get("Date") == "" || (got.StatusCode == 200 && got.Header.Get("ETag") == "" && c.path != "/site/") {
					t.Errorf("%s: missing Date or ETag: %v", what, got.Header)
				}
			}
		}
	})
}

func TestETagConditionals(t *testing.T) {
	root := testRoot(t)
	eachMode(t, func(t *testing.T, m mode) {
		rs := start(t, m, root, nil)
		resp, _ := get(t, rs.url+"/hello.txt")
		etag := resp.Header.Get("ETag")
		if !strings.HasPrefix(etag, `"`) {
			t.Fatalf("ETag %q", etag)
		}
		for _, c := range []struct {
			hdr  []string
			want int
		}{
			{[]string{"If-None-Match", etag}, 304},
			{[]string{"If-None-Match", `W/` + etag}, 304},
			{[]string{"If-None-Match", `"other", ` + etag}, 304},
			{[]string{"If-None-Match", `"other"`}, 200},
			{[]string{"If-None-Match", "*"}, 304},
			{[]string{"If-Match", etag}, 200},
			{[]string{"If-Match", `"other"`}, 412},
			{[]string{"If-Match", `W/` + etag}, 412},
			{[]string{"Range", "bytes=0-4", "If-Range", etag}, 206},
			{[]string{"Range", "bytes=0-4", "If-Range", `"old"`}, 200},
		} {
			resp, body := get(t, rs.url+"/hello.txt", c.hdr...)
			if resp.StatusCode != c.want {
				t.Errorf("%v: %d, want %d", c.hdr, resp.StatusCode, c.want)
			}
			if c.want == 304 && (len(body) != 0 || resp.Header.Get("ETag") != etag) {
				t.Errorf("%v: 304 with body %q or ETag %q", c.hdr, body, resp.Header.Get("ETag"))
			}
		}
	})
}

func TestMultiRange(t *testing.T) {
	root := testRoot(t)
	file, _ := os.ReadFile(filepath.Join(root, "odd.bin"))
	eachMode(t, func(t *testing.T, m mode) {
		rs := start(t, m, root, nil)
		resp, body := get(t, rs.url+"/odd.bin", "Range", "bytes=0-9,50000-90000,-7")
		if resp.StatusCode != 206 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		if err != nil || mt != "multipart/byteranges" {
			t.Fatalf("Content-Type %q", resp.Header.Get("Content-Type"))
		}
		if resp.ContentLength != int64(len(body)) {
			t.Fatalf("Content-Length %d, body %d", resp.ContentLength, len(body))
		}
		mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		wants := [][2]int{{0, 10}, {50000, 90001}, {len(file) - 7, len(file)}}
		for i, w := range wants {
			p, err := mr.NextPart()
			if err != nil {
				t.Fatalf("part %d: %v", i, err)
			}
			got, _ := io.ReadAll(p)
			if !bytes.Equal(got, file[w[0]:w[1]]) {
				t.Fatalf("part %d: %d bytes differ", i, len(got))
			}
			if cr := p.Header.Get("Content-Range"); cr != fmt.Sprintf("bytes %d-%d/%d", w[0], w[1]-1, len(file)) {
				t.Fatalf("part %d Content-Range %q", i, cr)
			}
		}
		if _, err := mr.NextPart(); err != io.EOF {
			t.Fatalf("after the parts: %v", err)
		}
		resp, _ = get(t, rs.url+"/odd.bin", "Range", "bytes=200000-300000")
		if resp.StatusCode != 416 || resp.Header.Get("Content-Range") != fmt.Sprintf("bytes */%d", len(file)) {
			t.Fatalf("unsatisfiable: %d %q", resp.StatusCode, resp.Header.Get("Content-Range"))
		}
	})
}

func TestDirectories(t *testing.T) {
	root := testRoot(t)
	eachMode(t, func(t *testing.T, m mode) {
		rs := start(t, m, root, nil)
		resp, body := get(t, rs.url+"/site/")
		if resp.StatusCode != 200 || string(body) != "<p>site index\n" {
			t.Fatalf("index: %d %q", resp.StatusCode, body)
		}
		resp, _ = get(t, rs.url+"/site?q=1")
		if resp.StatusCode != 301 || resp.Header.Get("Location") != "/site/?q=1" {
			t.Fatalf("redirect: %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		resp, _ = get(t, rs.url+"/hello.txt/")
		if resp.StatusCode != 301 || resp.Header.Get("Location") != "/hello.txt" {
			t.Fatalf("file with slash: %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		resp, body = get(t, rs.url+"/list/")
		if resp.StatusCode != 200 || !strings.Contains(string(body), `<a href="b.txt">b.txt</a>`) ||
			!strings.Contains(string(body), `<a href="sub/">sub/</a>`) || !strings.Contains(string(body), "a &amp; &lt;c&gt;.txt") {
			t.Fatalf("listing: %d %s", resp.StatusCode, body)
		}
	})
}

func TestNothingOutsideRoot(t *testing.T) {
	root := testRoot(t)
	eachMode(t, func(t *testing.T, m mode) {
		rs := start(t, m, root, nil)
		for _, p := range []string{"/escape.txt", "/etc/passwd", "/etc/"} {
			resp, body := get(t, rs.url+p)
			if resp.StatusCode < 400 || strings.Contains(string(body), "secret") || strings.Contains(string(body), "root:") {
				t.Errorf("%s: %d %q", p, resp.StatusCode, body)
			}
		}
		// Raw targets that a client library would clean first.
		for _, target := range []string{"/../../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/site/..%2f..%2f..%2fetc/passwd"} {
			status, body := rawRequest(t, rs.addr, "GET "+target+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			// Cleaned to /etc/passwd, where /etc is a symlink out of the root: refused.
			if strings.Contains(body, "root:") || status < 400 {
				t.Errorf("%s: %d %q", target, status, body)
			}
		}
	})
}

// rawRequest writes raw bytes and returns the first response's status and the rest.
func rawRequest(t *testing.T, addr, raw string) (int, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%q: %v", raw, err)
	}
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestBadInputAnsweredAndClosed(t *testing.T) {
	root := testRoot(t)
	long := strings.Repeat("a", 5000)
	cases := []struct {
		name, raw string
		status    int
		allow     bool
	}{
		{"malformed request line", "GET\r\n\r\n", 400, false},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n", 400, false},
		{"space before colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400, false},
		{"CL and TE", "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400, false},
		{"duplicate CL", "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400, false},
		{"invalid CL", "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400, false},
		{"unknown TE", "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 400, false},
		{"missing Host", "GET / HTTP/1.1\r\n\r\n", 400, false},
		{"NUL in header", "GET / HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n", 400, false},
		{"POST", "POST /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", 405, true},
		{"unknown method", "BREW /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 501, false},
		{"version", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505, false},
		{"header too large", "GET / HTTP/1.1\r\nHost: x\r\nX: " + strings.Repeat("b", 9000) + "\r\n\r\n", 431, false},
		{"target too long", "GET /" + long + " HTTP/1.1\r\nHost: x\r\n\r\n", 414, false},
	}
	eachMode(t, func(t *testing.T, m mode) {
		rs := start(t, m, root, nil)
		for _, c := range cases {
			conn, err := net.Dial("tcp", rs.addr)
			if err != nil {
				t.Fatal(err)
			}
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			io.WriteString(conn, c.raw)
			br := bufio.NewReader(conn)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
				conn.Close()
				continue
			}
			io.ReadAll(resp.Body)
			if resp.StatusCode != c.status {
				t.Errorf("%s: status %d, want %d", c.name, resp.StatusCode, c.status)
			}
			if c.allow && resp.Header.Get("Allow") != "GET, HEAD" {
				t.Errorf("%s: Allow %q", c.name, resp.Header.Get("Allow"))
			}
			// The connection is closed after the answer.
			if n, err := br.Read(make([]byte, 1)); err != io.EOF {
				t.Errorf("%s: connection still open after the error (read %d, %v)", c.name, n, err)
			}
			conn.Close()
		}
	})
}

func TestKeepAlivePipeliningAndHTTP10(t *testing.T) {
	root := testRoot(t)
	eachMode(t, func(t *testing.T, m mode) {
		rs := start(t, m, root, nil)
		conn, err := net.Dial("tcp", rs.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		// Three pipelined requests in one write, a 405 with a body among them: answered in order.
		io.WriteString(conn, "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n"+
			"HEAD /4k.bin HTTP/1.1\r\nHost: x\r\n\r\n"+
			"GET /page.html HTTP/1.1\r\nHost: x\r\n\r\n")
		br := bufio.NewReader(conn)
		for i, want := range []struct {
			status int
			body   string
			method string
		}{{200, "hello, uringd\n", "GET"}, {200, "", "HEAD"}, {200, "<!doctype html><title>x</title>\n", "GET"}} {
			resp, err := http.ReadResponse(br, &http.Request{Method: want.method})
			if err != nil {
				t.Fatalf("response %d: %v", i, err)
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != want.status || string(body) != want.body {
				t.Fatalf("response %d: %d %q", i, resp.StatusCode, body)
			}
		}
		// The same connection goes on serving.
		io.WriteString(conn, "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 200 {
			t.Fatalf("after pipelining: %v", err)
		}

		// HTTP/1.0 without keep-alive: answered, then closed.
		st, body := rawRequest(t, rs.addr, "GET /hello.txt HTTP/1.0\r\n\r\n")
		if st != 200 || body != "hello, uringd\n" {
			t.Fatalf("HTTP/1.0: %d %q", st, body)
		}
		// HTTP/1.0 with keep-alive: Connection: keep-alive in the reply, connection stays.
		c2, _ := net.Dial("tcp", rs.addr)
		defer c2.Close()
		c2.SetDeadline(time.Now().Add(10 * time.Second))
		br2 := bufio.NewReader(c2)
		for i := 0; i < 2; i++ {
			io.WriteString(c2, "GET /hello.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
			resp, err := http.ReadResponse(br2, nil)
			if err != nil {
				t.Fatalf("HTTP/1.0 keep-alive %d: %v", i, err)
			}
			io.ReadAll(resp.Body)
			if resp.Header.Get("Connection") != "keep-alive" {
				t.Fatalf("HTTP/1.0 keep-alive: Connection %q", resp.Header.Get("Connection"))
			}
		}
	})
}

func TestConcurrentLargeFiles(t *testing.T) {
	root := testRoot(t)
	want, _ := os.ReadFile(filepath.Join(root, "1m.bin"))
	eachMode(t, func(t *testing.T, m mode) {
		rs := start(t, m, root, nil)
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for g := 0; g < 16; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 5; i++ {
					resp, err := http.Get(rs.url + "/1m.bin")
					if err != nil {
						errs <- err
						return
					}
					body, err := io.ReadAll(resp.Body)
					resp.Body.Close()
					if err != nil || !bytes.Equal(body, want) {
						errs <- fmt.Errorf("1m.bin: %d bytes, err %v", len(body), err)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
}

func TestTimeouts(t *testing.T) {
	t.Parallel() // waits on timers mostly: overlaps with the others that do
	root := testRoot(t)
	eachMode(t, func(t *testing.T, m mode) {
		rs := start(t, m, root, func(c *Config) {
			c.ReadHeaderTimeout = 300 * time.Millisecond
			c.IdleTimeout = 600 * time.Millisecond
		})
		// Slow loris: a partial head, never finished, is cut off.
		c, _ := net.Dial("tcp", rs.addr)
		defer c.Close()
		io.WriteString(c, "GET /hello.txt HTTP/1.1\r\nHost: x\r\nX-Slow: ")
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		start := time.Now()
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatal("a slow head got an answer")
		}
		if el := time.Since(start); el > 4*time.Second {
			t.Fatalf("slow head not cut off (waited %v)", el)
		}
		// An idle keep-alive connection is closed after the idle timeout.
		c2, _ := net.Dial("tcp", rs.addr)
		defer c2.Close()
		io.WriteString(c2, "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
		br := bufio.NewReader(c2)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.ReadAll(resp.Body)
		c2.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := br.ReadByte(); err != io.EOF {
			t.Fatalf("idle connection: %v, want EOF", err)
		}
	})
}

func TestMaxConns(t *testing.T) {
	root := testRoot(t)
	eachMode(t, func(t *testing.T, m mode) {
		rs := start(t, m, root, func(c *Config) { c.MaxConns = 4 })
		var held []net.Conn
		for i := 0; i < 4; i++ {
			c, err := net.Dial("tcp", rs.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			held = append(held, c)
		}
		waitFor(t, func() bool { return rs.s.Conns() == 4 })
		st, _ := rawRequest(t, rs.addr, "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
		if st != 503 {
			t.Fatalf("over the limit: %d, want 503", st)
		}
		// The existing connections still work.
		io.WriteString(held[0], "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
		held[0].SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(held[0]), nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("held connection: %v", err)
		}
	})
}

// waitFor fails the test if cond is still false after 30 s: a hang detector, generous since an
// emulated kernel beside other work took over 5 s to accept 3000 connections.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for i := 0; i < 3000; i++ {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("condition not reached in 30s")
}

func TestGracefulShutdown(t *testing.T) {
	t.Parallel() // waits on timers mostly: overlaps with the others that do
	root := testRoot(t)
	eachMode(t, func(t *testing.T, m mode) {
		var mu sync.Mutex
		logBuf := new(bytes.Buffer)
		al, _ := NewWriterLog(syncBuf{&mu, logBuf}, "combined")
		rs := start(t, m, root, func(c *Config) { c.AccessLog = al })
		// A client that reads a large body slowly is mid-response at shutdown.
		c, _ := net.Dial("tcp", rs.addr)
		defer c.Close()
		io.WriteString(c, "GET /1m.bin HTTP/1.1\r\nHost: x\r\nUser-Agent: slow-reader\r\n\r\n")
		br := bufio.NewReaderSize(c, 1024)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		idle, _ := net.Dial("tcp", rs.addr) // an idle connection is closed right away
		defer idle.Close()
		waitFor(t, func() bool { return rs.s.Conns() == 2 })
		rs.cancel()
		time.Sleep(100 * time.Millisecond)
		body, err := io.ReadAll(resp.Body)
		if err != nil || len(body) != 1<<20 {
			t.Fatalf("in-flight response at shutdown: %d bytes, %v", len(body), err)
		}
		select {
		case err := <-rs.done:
			if err != nil {
				t.Fatalf("Serve: %v", err)
			}
			rs.done <- nil
		case <-time.After(10 * time.Second):
			t.Fatal("Serve did not return")
		}
		idle.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := idle.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("idle connection after shutdown: %v", err)
		}
		mu.Lock()
		defer mu.Unlock()
		if !strings.Contains(logBuf.String(), `"GET /1m.bin HTTP/1.1" 200 1048576 "-" "slow-reader"`) {
			t.Fatalf("access log after shutdown: %q", logBuf.String())
		}
	})
}

var idleConns = flag.Int("idle-conns", 3000, "idle connections in TestManyIdleConnections")

// acceptQueue describes the TCP sockets on addr's port, from /proc/net/tcp and tcp6: each
// listener's accept queue (its rx_queue), and how many others there are in each state.
func acceptQueue(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	want := fmt.Sprintf(":%04X", p)
	var out []string
	states := map[string]int{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			out = append(out, err.Error())
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			fs := strings.Fields(line)
			if len(fs) < 5 || !strings.HasSuffix(fs[1], want) {
				continue
			}
			if fs[3] == "0A" { // LISTEN
				_, q, _ := strings.Cut(fs[4], ":")
				rx, _ := strconv.ParseUint(q, 16, 64)
				out = append(out, fmt.Sprintf("listener %s: %d waiting for accept", fs[1], rx))
			} else {
				states[fs[3]]++
			}
		}
	}
	return fmt.Sprintf("%s; other sockets by state (hex, as in /proc/net/tcp): %v", strings.Join(out, ", "), states)
}

func TestManyIdleConnections(t *testing.T) {
	idle := *idleConns
	var lim syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	if lim.Cur < uint64(2*idle+200) {
		t.Skipf("needs %d open files, RLIMIT_NOFILE is %d", 2*idle+200, lim.Cur)
	}
	root := testRoot(t)
	for _, m := range modes() {
		if testing.Short() && m.name != "uring" {
			continue
		}
		t.Run(m.name, func(t *testing.T) {
			// Connections that have sent nothing are closed after ReadHeaderTimeout (10 s by
			// default), and dialling thousands takes longer than that under emulation: the
			// test wants them all open at once.
			rs := start(t, m, root, func(c *Config) { c.ReadHeaderTimeout = 5 * time.Minute })
			conns := make([]net.Conn, 0, idle)
			defer func() {
				for _, c := range conns {
					c.Close()
				}
			}()
			for i := 0; i < idle; i++ {
				c, err := net.Dial("tcp", rs.addr)
				if err != nil {
					t.Fatalf("connection %d: %v", i, err)
				}
				conns = append(conns, c)
			}
			for deadline := time.Now().Add(30 * time.Second); rs.s.Conns() != int64(idle); time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("%d of %d connections accepted after 30 s; sockets on its port: %s; server log:\n%s",
						rs.s.Conns(), idle, acceptQueue(rs.addr), rs.logText())
				}
			}
			start := time.Now()
			resp, body := get(t, rs.url+"/hello.txt")
			el := time.Since(start)
			if resp.StatusCode != 200 || string(body) != "hello, uringd\n" {
				t.Fatalf("with %d idle connections: %d %q", idle, resp.StatusCode, body)
			}
			if el > time.Second {
				t.Fatalf("with %d idle connections a request took %v", idle, el)
			}
			// And one of the idle connections still works.
			io.WriteString(conns[idle/2], "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
			conns[idle/2].SetReadDeadline(time.Now().Add(5 * time.Second))
			if r, err := http.ReadResponse(bufio.NewReader(conns[idle/2]), nil); err != nil || r.StatusCode != 200 {
				t.Fatalf("an idle connection: %v", err)
			}
			t.Logf("%d idle connections: a new request served in %v", idle, el)
		})
	}
}
