package http1_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/uringd/uringd/netio/internal/http1"
)

// An event loop parses pipelined requests one after another from its receive buffer.
func ExampleParse() {
	buf := []byte("GET /docs/../index.html HTTP/1.1\r\nHost: example.com\r\n\r\n" +
		"POST /form HTTP/1.1\r\nHost: example.com\r\nContent-Length: 3\r\n\r\nabc" +
		"GET /next HTTP/1.1\r\nHo")
	var req http1.Request
	for {
		n, err := http1.Parse(buf, &req, http1.Limits{})
		if err == http1.ErrNeedMore {
			fmt.Printf("need more bytes, %d buffered\n", len(buf))
			return
		}
		if err != nil {
			e := err.(http1.Error)
			fmt.Printf("%d %s, close=%v\n", e.Status(), req.Method, e.Close() || !req.KeepAlive)
			if e.Close() || !req.KeepAlive {
				return
			}
		} else {
			fmt.Printf("%s %s keep-alive=%v\n", req.Method, req.Path, req.KeepAlive)
		}
		buf = buf[n+int(req.ContentLength):]
	}
	// Output:
	// GET /index.html keep-alive=true
	// 405 POST, close=true
}

// After open+stat, the server evaluates preconditions and ranges and writes the head.
func ExampleEvaluate() {
	raw := []byte("GET /video.mp4 HTTP/1.1\r\nHost: h\r\nRange: bytes=100-199\r\n\r\n")
	var req http1.Request
	if _, err := http1.Parse(raw, &req, http1.Limits{}); err != nil {
		panic(err)
	}
	size, mtime := int64(1000), time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	etag := http1.AppendETag(nil, size, mtime)

	d := http1.Evaluate(&req, size, mtime, etag)
	var dates http1.DateCache
	resp := http1.FileResponse(&req, &d, http1.ContentType(req.Path), mtime, etag, dates.Get(mtime))
	head := http1.AppendResponseHeader(nil, &resp)
	fmt.Print(strings.ReplaceAll(string(head), "\r\n", "\n"))
	for _, r := range d.Ranges() {
		fmt.Printf("then send %d bytes at offset %d\n", r.Length, r.Start)
	}
	// Output:
	// HTTP/1.1 206 Partial Content
	// Date: Tue, 02 Jan 2024 03:04:05 GMT
	// Server: uringd
	// Content-Type: video/mp4
	// Content-Length: 100
	// Last-Modified: Tue, 02 Jan 2024 03:04:05 GMT
	// ETag: "17a668b730013200-3e8"
	// Accept-Ranges: bytes
	// Content-Range: bytes 100-199/1000
	//
	// then send 100 bytes at offset 100
}

func ExampleParseRange() {
	var out [http1.MaxRanges]http1.Range
	n, err := http1.ParseRange([]byte("bytes=0-9, -5, 990-"), 1000, out[:])
	fmt.Println(out[:n], err)
	_, err = http1.ParseRange([]byte("bytes=2000-"), 1000, out[:])
	fmt.Println(err)
	// Output:
	// [{0 10} {995 5} {990 10}] <nil>
	// http1: invalid range: failed to overlap
}

func ExampleCleanPath() {
	p, slash, err := http1.CleanPath(nil, []byte("/a/%2e%2e/../b%20c/"))
	fmt.Printf("%q %v %v\n", p, slash, err)
	// Output: "/b c" true <nil>
}

func ExampleAppendDirListing() {
	out := http1.AppendDirListing(nil, []http1.DirEntry{{Name: "b&c.txt"}, {Name: "a", IsDir: true}})
	fmt.Print(string(out))
	// Output:
	// <!doctype html>
	// <meta name="viewport" content="width=device-width">
	// <pre>
	// <a href="a/">a/</a>
	// <a href="b&c.txt">b&amp;c.txt</a>
	// </pre>
}

// A connection keeps a HeadScanner and a ChunkedDecoder. Bytes arrive in pieces; the
// head is scanned once however it is cut, and a chunked body is discarded before the
// request is answered (a bad or oversized body is answered 400 or 413 instead).
func ExampleHeadScanner() {
	pieces := []string{
		"GET /a HTTP/1.1\r\nHo", "st: h\r\nTransfer-Encoding: chunked\r\n", "\r\n5;x=y\r\nhel",
		"lo\r\n0\r\nTrailer: t\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n",
	}
	var (
		scan http1.HeadScanner
		dec  http1.ChunkedDecoder
		req  http1.Request
		in   []byte
		off  int
		body bool
	)
	for _, p := range pieces {
		in = append(in, p...)
		for off < len(in) {
			if body {
				n, done, err := dec.Decode(in[off:])
				off += n
				if err != nil {
					fmt.Println(err.(http1.Error).Status(), "and close")
					return
				}
				if !done {
					break
				}
				body = false
				fmt.Println("body discarded; answer", req.Method, string(req.Path))
				continue
			}
			n, err := scan.Parse(in[off:], &req, http1.Limits{})
			if err == http1.ErrNeedMore {
				break
			}
			if err != nil {
				fmt.Println(err.(http1.Error).Status())
				return
			}
			off += n
			if req.Chunked {
				dec.Reset(http1.Limits{})
				body = true
				continue
			}
			fmt.Println("answer", req.Method, string(req.Path))
		}
	}
	// Output:
	// body discarded; answer GET /a
	// answer GET /b
}
