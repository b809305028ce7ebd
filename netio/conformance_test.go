package netio

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Request framing in every engine, driven over real loopback TCP with raw clients.

// rawConn dials rs with a deadline, so that a server that stops answering fails the
// test instead of hanging it.
func rawConn(t *testing.T, rs *running) (*net.TCPConn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", rs.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	tc := c.(*net.TCPConn)
	tc.SetNoDelay(true)
	return tc, bufio.NewReader(c)
}

func readResp(t *testing.T, br *bufio.Reader, what string) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("%s: reading the response: %v", what, err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s: reading the body: %v", what, err)
	}
	return resp, string(body)
}

// expectClosed checks that the server closed the connection after its answer.
func expectClosed(t *testing.T, br *bufio.Reader, what string) {
	t.Helper()
	if n, err := br.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("%s: connection still open after the answer (read %d, %v)", what, n, err)
	}
}

// TestChunkedBodyDiscarded: a chunked request body (with extensions and trailers) is
// read and discarded, the request is answered, and the connection stays open for the
// next request, whether the body comes in one write, pipelined with the next request,
// or one byte at a time.
func TestChunkedBodyDiscarded(t *testing.T) {
	eachMode(t, func(t *testing.T, m mode) {
		rs := start(t, m, testRoot(t), nil)
		const head = "GET /hello.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
		const body = "5;name=\"q \\\" v\";x\r\nhello\r\n1a\r\n" + "abcdefghijklmnopqrstuvwxyz" + "\r\n0;last\r\nT1: a\r\nT2:\r\n\r\n"
		const next = "GET /page.html HTTP/1.1\r\nHost: x\r\n\r\n"
		for _, how := range []string{"whole", "pipelined", "byte at a time"} {
			c, br := rawConn(t, rs)
			switch how {
			case "whole":
				io.WriteString(c, head+body)
			case "pipelined":
				io.WriteString(c, head+body+next)
			case "byte at a time":
				io.WriteString(c, head)
				for i := range len(body) {
					if _, err := c.Write([]byte{body[i]}); err != nil {
						t.Fatalf("%s: write: %v", how, err)
					}
				}
			}
			resp, got := readResp(t, br, how)
			if resp.StatusCode != 200 || got != "hello, uringd\n" || resp.Close {
				t.Fatalf("%s: status %d close %v body %q; want 200, keep-alive, the file", how, resp.StatusCode, resp.Close, got)
			}
			if how != "pipelined" {
				io.WriteString(c, next)
			}
			resp, got = readResp(t, br, how+", next request")
			if resp.StatusCode != 200 || !strings.HasPrefix(got, "<!doctype html>") {
				t.Fatalf("%s: next request on the connection: status %d body %q", how, resp.StatusCode, got)
			}
		}
	})
}

// TestChunkedBodyBuffers: chunked bodies that make the server move or grow its
// buffer while it keeps the head it will answer: a chunked request pipelined behind
// another (its head is not at the front), a body of many receives, and a head that ends
// exactly where the buffer does.
func TestChunkedBodyBuffers(t *testing.T) {
	eachMode(t, func(t *testing.T, m mode) {
		rs := start(t, m, testRoot(t), func(c *Config) { c.MaxHeaderBytes = 64 << 10 })
		chunkedGet := func(path, extra string) string {
			return "GET " + path + " HTTP/1.1\r\nHost: x\r\n" + extra + "Transfer-Encoding: chunked\r\n\r\n"
		}
		var big strings.Builder // 900 KiB of data in chunks of 3000 bytes: under the 1 MiB limit
		for range 300 {
			big.WriteString("bb8;e=1\r\n" + strings.Repeat("d", 3000) + "\r\n")
		}
		big.WriteString("0\r\n\r\n")
		// A head of exactly 32 KiB: the buffer (16 KiB, doubled when a head fills it) is full
		// just as the head ends, so the body needs a larger buffer while the head stays.
		const pad = "X-Pad: "
		fixed := len(chunkedGet("/page.html", pad+"\r\n"))
		exact := chunkedGet("/page.html", pad+strings.Repeat("q", 32<<10-fixed)+"\r\n")
		if len(exact) != 32<<10 {
			t.Fatalf("head of %d bytes", len(exact))
		}
		for _, c := range []struct {
			name, raw string
			files     []string
		}{
			{"behind another request", "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n" + chunkedGet("/page.html", "") + "3\r\nabc\r\n0\r\n\r\n" +
				"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n", []string{"hello", "page", "hello"}},
			{"900 KiB body", chunkedGet("/hello.txt", "") + big.String() + "GET /page.html HTTP/1.1\r\nHost: x\r\n\r\n", []string{"hello", "page"}},
			{"head ends at the buffer's end", exact + "5\r\nhello\r\n0\r\n\r\nGET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n", []string{"page", "hello"}},
		} {
			conn, br := rawConn(t, rs)
			go io.WriteString(conn, c.raw)
			for i, f := range c.files {
				resp, got := readResp(t, br, c.name)
				want := map[string]string{"hello": "hello, uringd\n", "page": "<!doctype html><title>x</title>\n"}[f]
				if resp.StatusCode != 200 || got != want || resp.Close {
					t.Fatalf("%s: response %d: status %d close %v body %.40q, want 200 %q", c.name, i, resp.StatusCode, resp.Close, got, want)
				}
			}
		}
	})
}

// TestChunkedBodyRefused: a chunked body over the body limit gets 413, a malformed
// one 400, and both close the connection; a 405 with a chunked body closes it too.
func TestChunkedBodyRefused(t *testing.T) {
	eachMode(t, func(t *testing.T, m mode) {
		rs := start(t, m, testRoot(t), nil)
		const head = "GET /hello.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
		for _, c := range []struct {
			name, raw string
			status    int
		}{
			{"chunk over 1 MiB announced", head + "100001\r\n", 413},
			{"Content-Length over 1 MiB", "GET /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 1048577\r\n\r\n", 413},
			{"data longer than its size", head + "5\r\nhelloX\r\n", 400},
			{"bare LF after the size", head + "5\nhello\r\n0\r\n\r\n", 400},
			{"chunk-size overflow", head + "10000000000000000\r\n", 400},
			{"obs-fold in a trailer", head + "0\r\nA: b\r\n c\r\n\r\n", 400},
			{"TE and CL", "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", 400},
			{"TE not chunked", "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 400},
			{"POST with a chunked body", "POST /hello.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 405},
		} {
			conn, br := rawConn(t, rs)
			io.WriteString(conn, c.raw)
			resp, _ := readResp(t, br, c.name)
			if resp.StatusCode != c.status || !resp.Close {
				t.Errorf("%s: status %d close %v; want %d with Connection: close", c.name, resp.StatusCode, resp.Close, c.status)
			}
			expectClosed(t, br, c.name)
		}
	})
}

// TestBadHost: Host values that are not uri-host [":" port] get 400 and a close.
func TestBadHost(t *testing.T) {
	eachMode(t, func(t *testing.T, m mode) {
		rs := start(t, m, testRoot(t), nil)
		for _, h := range []string{"a:b:c", "123.40.56.78:9000:80", "[::1", "host:80x", "[abcd::1].", "[::1]:a", "[1:2]"} {
			conn, br := rawConn(t, rs)
			io.WriteString(conn, "GET /hello.txt HTTP/1.1\r\nHost: "+h+"\r\n\r\n")
			resp, _ := readResp(t, br, h)
			if resp.StatusCode != 400 {
				t.Errorf("Host %q: status %d, want 400", h, resp.StatusCode)
			}
			expectClosed(t, br, h)
		}
		for _, h := range []string{"x", "x:8080", "[::1]:80", "123.40.56.78:9000", "[fe80::1%25eth0]"} {
			conn, br := rawConn(t, rs)
			io.WriteString(conn, "GET /hello.txt HTTP/1.1\r\nHost: "+h+"\r\nConnection: close\r\n\r\n")
			if resp, _ := readResp(t, br, h); resp.StatusCode != 200 {
				t.Errorf("Host %q: status %d, want 200", h, resp.StatusCode)
			}
		}
	})
}

// TestHeadByteAtATime: an 8 KiB head sent one byte per segment is answered, and the
// server examines O(n) bytes for it, not O(n²) (counted by the server, not timed).
func TestHeadByteAtATime(t *testing.T) {
	eachMode(t, func(t *testing.T, m mode) {
		rs := start(t, m, testRoot(t), nil)
		const start = "GET /hello.txt HTTP/1.1\r\nHost: x\r\nX-Pad: "
		head := start + strings.Repeat("p", 8000-len(start)-4) + "\r\n\r\n"
		c, br := rawConn(t, rs)
		for i := range len(head) {
			if _, err := c.Write([]byte{head[i]}); err != nil {
				t.Fatalf("write byte %d: %v", i, err)
			}
		}
		resp, got := readResp(t, br, "byte at a time")
		if resp.StatusCode != 200 || got != "hello, uringd\n" {
			t.Fatalf("status %d body %q", resp.StatusCode, got)
		}
		examined := rs.s.pressure.headExamined.Load()
		if rs.s.std != nil {
			examined = rs.s.std.headExamined.Load()
		}
		if bound := int64(4 * len(head)); examined > bound {
			t.Errorf("server examined %d bytes for a %d-byte head sent one byte at a time; want <= %d", examined, len(head), bound)
		}
		t.Logf("%d-byte head, one byte per write: %d bytes examined", len(head), examined)
	})
}

// TestPipelinedFillsBuffer: pipelined requests that fill the receive buffer, so that
// a head is cut at its end, are all answered, each with its own file: the unparsed
// bytes move to the front of the buffer intact.
func TestPipelinedFillsBuffer(t *testing.T) {
	eachMode(t, func(t *testing.T, m mode) {
		root := testRoot(t)
		const files = 7
		for i := range files {
			write(t, filepath.Join(root, fmt.Sprintf("p%d.txt", i)), []byte(fmt.Sprintf("file %d\n", i)))
		}
		rs := start(t, m, root, nil)
		var blob strings.Builder
		const n = 200 // about 60 KiB: several buffers' worth, cut at many points
		for i := range n {
			r := fmt.Sprintf("GET /p%d.txt HTTP/1.1\r\nHost: x\r\nX-Pad: %s\r\n\r\n", i%files, strings.Repeat("z", 250+i%13))
			blob.WriteString(r)
		}
		c, br := rawConn(t, rs)
		go io.WriteString(c, blob.String())
		for i := range n {
			resp, got := readResp(t, br, fmt.Sprintf("request %d", i))
			if want := fmt.Sprintf("file %d\n", i%files); resp.StatusCode != 200 || got != want {
				t.Fatalf("request %d: status %d body %q, want 200 %q", i, resp.StatusCode, got, want)
			}
		}
	})
}
