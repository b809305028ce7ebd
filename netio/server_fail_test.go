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
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/uringd/uringd/ring"
)

// failingLoopFaults makes io_uring_enter fail with errno, once armed, on the first loop
// thread that enters after arming, and only on that one: the other loops stay healthy.
// Each loop's ring is entered only from its own locked OS thread, so the thread id names
// the loop.
func failingLoopFaults(errno syscall.Errno) (f *ring.Faults, arm func(), injected *atomic.Int64) {
	var armed atomic.Bool
	var victim atomic.Int64
	injected = new(atomic.Int64)
	f = &ring.Faults{Enter: func(ring.EnterCall) ring.Fault {
		if !armed.Load() {
			return ring.Fault{}
		}
		tid := int64(unix.Gettid())
		victim.CompareAndSwap(0, tid)
		if victim.Load() != tid {
			return ring.Fault{}
		}
		injected.Add(1)
		return ring.Fault{Errno: errno}
	}}
	return f, func() { armed.Store(true) }, injected
}

// serveWithFaults starts a server whose loops' rings take faults; done yields Serve's result.
func serveWithFaults(t *testing.T, cfg Config, faults *ring.Faults) (*Server, context.CancelFunc, chan error) {
	t.Helper()
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	s.tune.faults = faults
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	return s, cancel, done
}

// answeredOf sends a GET on each of n new connections and counts those answered within
// a second: on a server with a dead loop, the connections its listener takes get nothing.
func answeredOf(addr string, n int) (answered, unanswered, refused int) {
	for i := 0; i < n; i++ {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			refused++
			continue
		}
		c.SetDeadline(time.Now().Add(time.Second))
		io.WriteString(c, "GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		b, _ := io.ReadAll(c)
		c.Close()
		if bytes.HasPrefix(b, []byte("HTTP/1.1 200")) {
			answered++
		} else {
			unanswered++
		}
	}
	return
}

// TestLoopFailureStopsServer: a loop whose io_uring_enter fails unexpectedly (ENOMEM here)
// must take the whole server down: Serve returns an error naming the loop and the failure,
// the other loops close their connections, and the listeners are closed so that the kernel
// refuses new connections rather than queueing them on a listener nobody accepts from.
func TestLoopFailureStopsServer(t *testing.T) {
	t.Parallel() // waits on timers mostly: overlaps with the others that do
	root := testRoot(t)
	for _, m := range []mode{modes()[0], modes()[3], modes()[4]} { // uring, threadpool, 5.10
		t.Run(m.name, func(t *testing.T) {
			faults, arm, injected := failingLoopFaults(unix.ENOMEM)
			var mu sync.Mutex
			logs := new(bytes.Buffer)
			cfg := m.cfg
			cfg.Root, cfg.Addr, cfg.Loops, cfg.ShutdownTimeout = root, "127.0.0.1:0", 2, 5*time.Second
			cfg.Logf = func(f string, a ...any) { mu.Lock(); fmt.Fprintf(logs, f+"\n", a...); mu.Unlock() }
			s, cancel, done := serveWithFaults(t, cfg, faults)
			defer cancel()
			addr := s.Addr().String()
			if ok, no, _ := answeredOf(addr, 8); ok != 8 {
				t.Fatalf("before the fault: %d of 8 answered (%d not)", ok, no)
			}
			// Keep-alive connections, spread over both loops by SO_REUSEPORT: each must be
			// closed, not left hanging, when the server goes down.
			var idle []net.Conn
			for i := 0; i < 8; i++ {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				idle = append(idle, c)
			}
			waitFor(t, func() bool { return s.Conns() == 8 })

			arm()
			var serr error
			select {
			case serr = <-done:
			case <-time.After(10 * time.Second):
				ok, no, ref := answeredOf(addr, 16)
				cancel()
				<-done
				t.Fatalf("Serve still running 10s after a loop's io_uring_enter failed with ENOMEM (%d faults injected); "+
					"GET on 16 new connections: %d answered, %d unanswered, %d refused", injected.Load(), ok, no, ref)
			}
			if serr == nil || !errors.Is(serr, unix.ENOMEM) || !strings.Contains(serr.Error(), "loop ") {
				t.Fatalf("Serve returned %v; want an error naming the loop and wrapping ENOMEM", serr)
			}
			t.Logf("Serve: %v", serr)
			mu.Lock()
			t.Logf("server log:\n%s", logs.String())
			mu.Unlock()
			if _, err := net.DialTimeout("tcp", addr, 2*time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
				t.Fatalf("connect after the failure: %v, want connection refused", err)
			}
			for i, c := range idle {
				c.SetReadDeadline(time.Now().Add(3 * time.Second))
				_, err := c.Read(make([]byte, 1))
				if err != io.EOF && !errors.Is(err, syscall.ECONNRESET) {
					t.Errorf("keep-alive connection %d after the failure: %v, want it closed", i, err)
				}
			}
			if n := s.Conns(); n != 0 {
				t.Errorf("%d connections still counted open", n)
			}
		})
	}
}

// TestLoopFailureRefusesDuringDrain: while a healthy loop is still finishing in-flight
// responses, a new connection is already refused.
func TestLoopFailureRefusesDuringDrain(t *testing.T) {
	t.Parallel() // waits on timers mostly: overlaps with the others that do
	root := t.TempDir()
	big := bytes.Repeat([]byte("0123456789abcdef"), 4<<20) // 64 MiB: more than socket buffers hold
	write(t, root+"/big.bin", big)
	write(t, root+"/hello.txt", []byte("hello, uringd\n"))
	faults, arm, _ := failingLoopFaults(unix.ENOMEM)
	s, cancel, done := serveWithFaults(t, Config{Root: root, Addr: "127.0.0.1:0", Loops: 2, ShutdownTimeout: 20 * time.Second}, faults)
	defer cancel()
	addr := s.Addr().String()
	// Readers of a large file that stop reading, on several connections: those on the loop
	// that stays healthy keep Serve draining until they read on.
	var slow []*http.Response
	for i := 0; i < 8; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(60 * time.Second))
		io.WriteString(c, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		slow = append(slow, resp)
	}
	arm()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := net.DialTimeout("tcp", addr, time.Second)
		if errors.Is(err, syscall.ECONNREFUSED) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("10s after a loop failed, a new connection still gets %v, want refused", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	var serr error
	returned := false
	select {
	case serr = <-done:
		returned = true
		t.Log("Serve had already returned when the connection was refused (every reader on the failed loop?)")
	default:
		t.Log("refused while Serve was still draining")
	}
	full := 0
	for _, r := range slow {
		if n, _ := io.Copy(io.Discard, r.Body); n == int64(len(big)) {
			full++
		}
	}
	t.Logf("%d of %d in-flight downloads completed during the drain", full, len(slow))
	if !returned && full == 0 {
		t.Error("Serve was draining, yet no in-flight download on the healthy loop completed")
	}
	if !returned {
		select {
		case serr = <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("Serve did not return")
		}
	}
	if serr == nil || !errors.Is(serr, unix.ENOMEM) {
		t.Fatalf("Serve: %v, want the loop's ENOMEM", serr)
	}
}

// TestConfigRefusesNegative: a negative count or time is refused, naming the field; zero
// still takes the default.
func TestConfigRefusesNegative(t *testing.T) {
	for _, c := range []struct {
		field string
		set   func(*Config)
	}{
		{"MaxConns", func(c *Config) { c.MaxConns = -1 }},
		{"Loops", func(c *Config) { c.Loops = -3 }},
		{"IdleTimeout", func(c *Config) { c.IdleTimeout = -5 * time.Second }},
		{"MaxHeaderBytes", func(c *Config) { c.MaxHeaderBytes = -1 }},
		{"WriteTimeout", func(c *Config) { c.WriteTimeout = -1 }},
		{"MaxListingEntries", func(c *Config) { c.MaxListingEntries = -1 }},
	} {
		cfg := Config{Addr: "127.0.0.1:0", Root: t.TempDir()}
		c.set(&cfg)
		s, err := NewServer(cfg)
		if err == nil {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			s.Serve(ctx) // lets go of its listeners
			t.Errorf("Config.%s negative: accepted", c.field)
			continue
		}
		if !strings.Contains(err.Error(), "Config."+c.field) {
			t.Errorf("Config.%s negative: %v does not name the field", c.field, err)
		}
	}
}
