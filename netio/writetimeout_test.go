package netio

import (
	"bytes"
	"fmt"
	"io"
	"math/rand"
	"net"
	"path/filepath"
	"testing"
	"time"
)

// TestWriteTimeoutBetweenWrites: WriteTimeout bounds the time between two writes, as
// nginx's send_timeout does. A client that reads an 8 MiB file steadily but slowly (more
// than twice the timeout in all, with gaps of 60 ms) gets all of it, byte for byte; a client that stops reading
// is cut within about the timeout. (Before issue 18 the timeout was a deadline for the whole
// response, and the slow but steady download was cut.)
func TestWriteTimeoutBetweenWrites(t *testing.T) {
	t.Parallel() // waits on timers mostly: overlaps with the others that do
	const size, timeout = 8 << 20, 800 * time.Millisecond
	data := make([]byte, size)
	rand.New(rand.NewSource(3)).Read(data)
	root := t.TempDir()
	write(t, filepath.Join(root, "big.bin"), data)
	eachMode(t, func(t *testing.T, m mode) {
		// The send paths that move the deadline: sendfile (uring; threadpool too), splice,
		// READ+SEND (also what 5.10 takes), and the std engine's; under -short two of them.
		switch {
		case m.name == "uring-threadpool" || m.name == "uring-compat-5.10":
			t.Skip("same send path as uring or uring-read")
		case testing.Short() && m.name != "uring" && m.name != "std":
			t.Skip("-short: uring and std only (3 s a mode)")
		}
		rs := start(t, m, root, func(c *Config) { c.WriteTimeout = timeout })
		dial := func() *net.TCPConn {
			c, err := net.Dial("tcp", rs.addr)
			if err != nil {
				t.Fatal(err)
			}
			tc := c.(*net.TCPConn)
			tc.SetReadBuffer(64 << 10) // a small window: the server waits on this reader
			fmt.Fprintf(tc, "GET /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			return tc
		}

		// Steady: 256 KiB every 60 ms, about 1.9 s for the file.
		c := dial()
		var got bytes.Buffer
		begin := time.Now()
		buf := make([]byte, 256<<10)
		for {
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, err := io.ReadFull(c, buf)
			got.Write(buf[:n])
			if err != nil {
				break
			}
			time.Sleep(60 * time.Millisecond)
		}
		c.Close()
		took := time.Since(begin)
		i := bytes.Index(got.Bytes(), []byte("\r\n\r\n"))
		if i < 0 || !bytes.Equal(got.Bytes()[i+4:], data) {
			t.Fatalf("steady slow reader: %d body bytes of %d after %v (cut by the write timeout?); log:\n%s", got.Len()-i-4, size, took, rs.logText())
		}
		if took < 2*timeout {
			t.Logf("the download took %v only: the test did not outlast the timeout", took)
		}

		// Stalled: read 1 MiB, then nothing; the server must give up within about the
		// timeout (plus the loop's 250 ms tick), long before 5 s.
		c = dial()
		defer c.Close()
		if _, err := io.ReadFull(c, make([]byte, 1<<20)); err != nil {
			t.Fatal(err)
		}
		stalled := time.Now()
		time.Sleep(timeout + 600*time.Millisecond)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		rest, err := io.Copy(io.Discard, c)
		if err != nil {
			t.Fatalf("stalled reader: the connection was not closed (%v after the stall: %v)", time.Since(stalled), err)
		}
		if rest >= size-1<<20 {
			t.Fatalf("stalled reader got the whole file (%d bytes more)", rest)
		}
	})
}
