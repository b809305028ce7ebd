package netio

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/uringd/uringd/ring"
)

// startTuned starts a server whose loops' rings are tuned (tiny queues, injected faults);
// the caller stops it (rs.stop). start is startTuned with production rings and a cleanup.
func startTuned(t *testing.T, m mode, root string, tune ringTuning, adjust func(*Config)) (*Server, *running) {
	t.Helper()
	cfg := m.cfg
	cfg.Root, cfg.Addr, cfg.Loops = root, "127.0.0.1:0", 2
	var mu sync.Mutex
	logs := new(bytes.Buffer)
	cfg.Logf = func(f string, a ...any) { mu.Lock(); fmt.Fprintf(logs, f+"\n", a...); mu.Unlock() }
	if adjust != nil {
		adjust(&cfg)
	}
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	s.tune = tune
	ctx, cancel := context.WithCancel(context.Background())
	rs := &running{s: s, addr: s.Addr().String(), url: "http://" + s.Addr().String(), cancel: cancel, done: make(chan error, 1), logs: logs, logMu: &mu}
	go func() { rs.done <- s.Serve(ctx) }()
	return s, rs
}

// stop cancels the server and returns Serve's error (failing the test if it hangs).
func (rs *running) stop(t *testing.T) error {
	t.Helper()
	rs.cancel()
	select {
	case err := <-rs.done:
		return err
	case <-time.After(20 * time.Second):
		t.Fatalf("Serve did not return after cancel; logs:\n%s", rs.logText())
		return nil
	}
}

// pressureRoot holds small and large files of distinct contents, so a body that carries
// another file's bytes (or another response's) cannot pass for the right one.
func pressureRoot(t *testing.T) (string, map[string][]byte) {
	t.Helper()
	root := t.TempDir()
	files := map[string][]byte{}
	sizes := map[string]int{"a.txt": 13, "4k.bin": 4096, "20k.bin": 20_000, "odd.bin": 100_003, "300k.bin": 300_000, "1m.bin": 1 << 20}
	i := 0
	for name, size := range sizes {
		b := make([]byte, size)
		for j := range b {
			b[j] = byte('a' + (i*7+j*13+j/251)%26) // distinct per file and per offset
		}
		write(t, filepath.Join(root, name), b)
		files["/"+name] = b
		i++
	}
	return root, files
}

// pipelined opens conns connections at once; each sends a pipeline of requests for a mix of
// small and large files in one write and checks every response's status and body byte for
// byte. It returns how many responses were checked and the first mismatch.
func pipelined(t *testing.T, addr string, files map[string][]byte, conns, depth int, deadline time.Duration) (int64, error) {
	t.Helper()
	small := []string{"/a.txt", "/4k.bin", "/20k.bin", "/odd.bin"}
	large := []string{"/300k.bin", "/1m.bin"}
	var ok atomic.Int64
	var first atomic.Pointer[error]
	fail := func(err error) { first.CompareAndSwap(nil, &err) }
	var wg sync.WaitGroup
	end := time.Now().Add(deadline)
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			paths := make([]string, depth)
			for j := range paths {
				paths[j] = small[(i+j)%len(small)]
				if (i+j)%23 == 0 {
					paths[j] = large[(i/23+j)%len(large)]
				}
			}
			nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
			if err != nil {
				fail(fmt.Errorf("conn %d: dial: %w", i, err))
				return
			}
			defer nc.Close()
			nc.SetDeadline(end)
			var req bytes.Buffer
			for _, p := range paths {
				fmt.Fprintf(&req, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", p)
			}
			if _, err := nc.Write(req.Bytes()); err != nil {
				fail(fmt.Errorf("conn %d: write: %w", i, err))
				return
			}
			br := bufio.NewReader(nc)
			for j, p := range paths {
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					fail(fmt.Errorf("conn %d: response %d of %d (%s): %w", i, j+1, depth, p, err))
					return
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					fail(fmt.Errorf("conn %d: %s: body: %w", i, p, err))
					return
				}
				if resp.StatusCode != 200 || !bytes.Equal(body, files[p]) {
					fail(fmt.Errorf("conn %d: %s: status %d, %d bytes, want 200 and the file's %d bytes (first difference at %d)",
						i, p, resp.StatusCode, len(body), len(files[p]), firstDiff(body, files[p])))
					return
				}
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	if e := first.Load(); e != nil {
		return ok.Load(), *e
	}
	return ok.Load(), nil
}

// pipelinedThenStop runs pipelined, stops the server, and reports whether both went well
// (with the server's log when not).
func pipelinedThenStop(t *testing.T, rs *running, files map[string][]byte, conns, depth int) (int64, bool) {
	t.Helper()
	n, err := pipelined(t, rs.addr, files, conns, depth, 60*time.Second)
	if err != nil {
		t.Errorf("%d responses right, then: %v", n, err)
	}
	if serr := rs.stop(t); serr != nil {
		t.Errorf("Serve: %v", serr)
	}
	if t.Failed() {
		t.Logf("server log:\n%.4000s", rs.logText())
		return n, false
	}
	return n, true
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func pressureModes() []mode {
	var ms []mode
	for _, m := range modes() {
		if m.cfg.Net != "std" { // the std engine has no ring to fill
			ms = append(ms, m)
		}
	}
	return ms
}

// TestTinyRings runs the loops with an 8-entry SQ and a 16-entry CQ, so nearly every
// iteration meets a full SQ and a CQ in overflow, while 2 000 connections pipeline requests
// for small and large files. Every body must be the file's, byte for byte: a link chain
// split across submits would send a chunk before its file bytes are read into it.
func TestTinyRings(t *testing.T) {
	root, files := pressureRoot(t)
	conns, depth := 2000, 3
	if testing.Short() || raceEnabled { // the emulated kernels of CI, and the race detector's pace
		conns = 500
	}
	for _, m := range pressureModes() {
		t.Run(m.name, func(t *testing.T) {
			s, rs := startTuned(t, m, root, ringTuning{sqEntries: 8, cqEntries: 16}, nil)
			n, ok := pipelinedThenStop(t, rs, files, conns, depth)
			if !ok {
				return
			}
			if n != int64(conns*depth) {
				t.Fatalf("%d responses checked, want %d", n, conns*depth)
			}
			t.Logf("%d responses byte-correct; %d operations waited for SQ room", n, s.pressure.sqWaits.Load())
		})
	}
}

// TestInjectedEnterFaults makes every 5th io_uring_enter that submits fail with EAGAIN,
// EBUSY, EINTR or ENOMEM, or submit nothing, on small rings: the loop must retry and
// serve every request right.
func TestInjectedEnterFaults(t *testing.T) {
	root, files := pressureRoot(t)
	conns, depth := 400, 3
	if testing.Short() {
		conns = 150
	}
	for _, m := range pressureModes() {
		t.Run(m.name, func(t *testing.T) {
			var injected atomic.Int64
			faults := ring.EveryNth(5, &injected, unix.EAGAIN, unix.EBUSY, unix.EINTR, unix.ENOMEM)
			f := faults.Enter
			var calls atomic.Int64
			faults.Enter = func(c ring.EnterCall) ring.Fault {
				// Every 11th call submits nothing and returns as if it had: a short submit
				// that cannot split a link chain in two.
				if c.ToSubmit > 0 && calls.Add(1)%11 == 0 {
					injected.Add(1)
					return ring.Fault{Short: true, Submit: 0}
				}
				return f(c)
			}
			_, rs := startTuned(t, m, root, ringTuning{sqEntries: 16, cqEntries: 32, faults: faults}, nil)
			n, ok := pipelinedThenStop(t, rs, files, conns, depth)
			if !ok {
				return
			}
			if n != int64(conns*depth) || injected.Load() == 0 {
				t.Fatalf("%d responses checked (want %d), %d faults injected", n, conns*depth, injected.Load())
			}
			t.Logf("%d responses byte-correct with %d faults injected", n, injected.Load())
		})
	}
}

// TestLostCompletionsStopTheServer: EBADR from io_uring_enter means the kernel dropped
// completions, so the loop no longer knows what is in flight. The server must stop with an
// error that says so, not keep running with a loop that lost track.
func TestLostCompletionsStopTheServer(t *testing.T) {
	root, files := pressureRoot(t)
	var arm atomic.Bool
	faults := &ring.Faults{Enter: func(c ring.EnterCall) ring.Fault {
		if c.ToSubmit > 0 && arm.Load() {
			return ring.Fault{Errno: unix.EBADR}
		}
		return ring.Fault{}
	}}
	_, rs := startTuned(t, modes()[0], root, ringTuning{faults: faults}, nil)
	if n, err := pipelined(t, rs.addr, files, 4, 2, 20*time.Second); err != nil {
		t.Fatalf("before the fault: %d right, then %v", n, err)
	}
	arm.Store(true)
	pipelined(t, rs.addr, files, 4, 2, 5*time.Second) // answered or not: the loops fail now
	select {
	case err := <-rs.done:
		if err == nil || !errors.Is(err, syscall.EBADR) {
			t.Fatalf("Serve returned %v, want an error wrapping EBADR", err)
		}
		t.Logf("Serve: %v", err)
	case <-time.After(15 * time.Second):
		rs.cancel()
		t.Fatalf("Serve kept running after its loops' io_uring_enter failed with EBADR")
	}
}

// TestResetMidResponse has clients reset their connections in the middle of large
// responses while others fetch files, on small rings and with an open-file cache that
// drops its entries at every tick: a connection's file fd and buffers must stay until
// nothing in flight refers to them, or a READ meets its fd number reused by an accept and
// consumes (or answers with) another client's bytes. Every checked body must be right and
// no connection may leak.
func TestResetMidResponse(t *testing.T) {
	root, files := pressureRoot(t)
	for _, m := range pressureModes() {
		t.Run(m.name, func(t *testing.T) {
			s, rs := startTuned(t, m, root, ringTuning{sqEntries: 16, cqEntries: 32}, func(c *Config) {
				c.OpenFileCacheTTL = time.Millisecond
			})
			run := 3 * time.Second
			if testing.Short() {
				run = time.Second
			}
			stop := time.Now().Add(run)
			var resets atomic.Int64
			var wg sync.WaitGroup
			for i := 0; i < 32; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for time.Now().Before(stop) {
						nc, err := net.Dial("tcp", rs.addr)
						if err != nil {
							continue
						}
						fmt.Fprintf(nc, "GET /1m.bin HTTP/1.1\r\nHost: x\r\n\r\nGET /300k.bin HTTP/1.1\r\nHost: x\r\n\r\n")
						var b [1 << 12]byte
						nc.SetReadDeadline(time.Now().Add(5 * time.Second))
						io.ReadFull(nc, b[:1+i*97%len(b)])
						nc.(*net.TCPConn).SetLinger(0) // RST, with the response half sent
						nc.Close()
						resets.Add(1)
					}
				}()
			}
			var checked int64
			var cerr error
			for time.Now().Before(stop) && cerr == nil {
				var n int64
				n, cerr = pipelined(t, rs.addr, files, 64, 3, 20*time.Second)
				checked += n
			}
			wg.Wait()
			if cerr != nil {
				t.Errorf("%d responses right, then: %v", checked, cerr)
			}
			waitFor(t, func() bool { return s.Conns() == 0 })
			if serr := rs.stop(t); serr != nil {
				t.Errorf("Serve: %v", serr)
			}
			if t.Failed() {
				t.Logf("server log:\n%.4000s", rs.logText())
				return
			}
			t.Logf("%d responses byte-correct beside %d resets", checked, resets.Load())
		})
	}
}
