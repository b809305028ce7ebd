package netio

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"
)

// TestPipelinedFlood sends 10 000 pipelined requests (about 340 KB) in one write, as a
// client doing sendall() and only then reading, and reads the answers: every one must come,
// in order, with the file's bytes. The server stops receiving while a connection has many
// unanswered requests and resumes as it answers them. (Before issue 18, past 256 KiB of
// unanswered input the connection was closed with unread input, and the reset discarded
// every answer: 0 bytes.)
func TestPipelinedFlood(t *testing.T) {
	n := 10000
	if testing.Short() {
		n = 2200 // about 72 KB: still past the 64 KiB at which receiving pauses
	}
	root := t.TempDir()
	write(t, filepath.Join(root, "a.txt"), []byte("hi\n"))
	req := []byte("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
	flood := bytes.Repeat(req, n)
	eachMode(t, func(t *testing.T, m mode) {
		rs := start(t, m, root, nil)
		c, err := net.Dial("tcp", rs.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(60 * time.Second)) // a hang detector: emulated kernels are slow
		if _, err := c.Write(flood); err != nil {
			t.Fatalf("writing %d pipelined requests: %v", n, err)
		}
		br := bufio.NewReaderSize(c, 64<<10)
		for i := range n {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("answer %d of %d: %v; log:\n%s", i, n, err, rs.logText())
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 || string(body) != "hi\n" {
				t.Fatalf("answer %d: %d %q %v", i, resp.StatusCode, body, err)
			}
		}
	})
}
