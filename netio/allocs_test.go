package netio

import (
	"bufio"
	"bytes"
	"net"
	"runtime"
	"testing"
	"time"
)

// TestServeAllocs: serving keep-alive requests allocates nothing per request in the loops
// (receive, parse, plan, read, send, the send buffer's trip back to its pool), on the
// sendfile path as on the READ+SEND one. The client reuses its buffers, so what the process
// allocates while the requests run is the server's (plus the runtime's background, which is
// what the bound leaves room for: one allocation a request would be 1, the runtime's
// background a small fraction, larger over the short run on an emulated kernel). The open
// file cache's entries outlive the run: reopening a file when its entry expires costs a few
// allocations a second, not a request.
func TestServeAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items")
	}
	for _, m := range []mode{modes()[0], modes()[3], modes()[4]} { // uring, threadpool, 5.10
		t.Run(m.name, func(t *testing.T) {
			rs := start(t, m, testRoot(t), func(c *Config) {
				// Slow requests on an emulated kernel would otherwise be charged the reopens.
				c.Loops, c.OpenFileCacheTTL = 1, time.Hour
			})
			c, err := net.Dial("tcp", rs.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			br := bufio.NewReaderSize(c, 64<<10)
			for _, path := range []string{"/4k.bin", "/1m.bin"} {
				req := []byte("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n")
				one := func() {
					if _, err := c.Write(req); err != nil {
						t.Fatal(err)
					}
					n := int64(-1)
					for {
						line, err := br.ReadSlice('\n')
						if err != nil {
							t.Fatal(err)
						}
						if len(line) <= 2 {
							break
						}
						if k, v, ok := bytes.Cut(line, []byte(":")); ok && bytes.EqualFold(k, []byte("Content-Length")) {
							n = 0
							for _, d := range bytes.TrimSpace(v) {
								n = n*10 + int64(d-'0')
							}
						}
					}
					if _, err := br.Discard(int(n)); err != nil {
						t.Fatal(err)
					}
				}
				warm, reqs := 300, 2000
				if testing.Short() {
					warm, reqs = 100, 500
					if path == "/1m.bin" { // slow on an emulated kernel
						warm, reqs = 50, 200
					}
				}
				for range warm { // pools, caches, the planner's scratch
					one()
				}
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				for range reqs {
					one()
				}
				runtime.ReadMemStats(&after)
				per := float64(after.Mallocs-before.Mallocs) / float64(reqs)
				t.Logf("%s: %.3f allocations per request", path, per)
				if per > 0.25 {
					t.Errorf("%s: %.2f allocations per request", path, per)
				}
			}
		})
	}
}
