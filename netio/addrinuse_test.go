package netio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// firstOfTwo opens a server on a free port whose who.txt says "one", and returns it with
// a second root whose who.txt says "two".
func firstOfTwo(t *testing.T) (*Server, string) {
	t.Helper()
	root1, root2 := t.TempDir(), t.TempDir()
	write(t, filepath.Join(root1, "who.txt"), []byte("one"))
	write(t, filepath.Join(root2, "who.txt"), []byte("two"))
	s1, err := NewServer(Config{Root: root1, Addr: "127.0.0.1:0", Loops: 2})
	if err != nil {
		t.Fatal(err)
	}
	return s1, root2
}

// TestSecondServerSameAddrRefused: a second server on an address a first one serves must
// fail with "address already in use" naming the holder (this process), whatever its root,
// and must not log that SO_REUSEPORT is unavailable.
func TestSecondServerSameAddrRefused(t *testing.T) {
	s1, root2 := firstOfTwo(t)
	defer s1.closeFds()
	addr := s1.Addr().String()
	for _, m := range []mode{modes()[0], modes()[4], modes()[5]} { // uring, 5.10, std
		t.Run(m.name, func(t *testing.T) {
			var logs bytes.Buffer
			cfg := m.cfg
			cfg.Root, cfg.Addr, cfg.Loops = root2, addr, 2
			cfg.Logf = func(f string, a ...any) { fmt.Fprintf(&logs, f+"\n", a...) }
			s2, err := NewServer(cfg)
			if err == nil {
				s2.closeFds()
				t.Fatalf("a second server on %s (another root) started without error", addr)
			}
			if !errors.Is(err, syscall.EADDRINUSE) || !strings.Contains(err.Error(), "address already in use") {
				t.Fatalf("second server: %v; want EADDRINUSE, \"address already in use\"", err)
			}
			if pid := fmt.Sprintf("pid %d", os.Getpid()); !strings.Contains(err.Error(), pid) {
				t.Errorf("second server: %v; want the holder named (%s)", err, pid)
			}
			if strings.Contains(logs.String(), "SO_REUSEPORT unavailable") {
				t.Errorf("misleading log line: %s", logs.String())
			}
			t.Logf("second server: %v", err)
		})
	}
}

// TestJoinPortSharesAddr: with JoinPort a second server binds beside the first, and new
// connections are spread over both; when the first stops, the second serves them all.
func TestJoinPortSharesAddr(t *testing.T) {
	s1, root2 := firstOfTwo(t)
	addr := s1.Addr().String()
	s2, err := NewServer(Config{Root: root2, Addr: addr, Loops: 2, JoinPort: true})
	if err != nil {
		s1.closeFds()
		t.Fatalf("second server with JoinPort: %v", err)
	}
	serve := func(s *Server) (context.CancelFunc, chan error) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Serve(ctx) }()
		return cancel, done
	}
	stop1, done1 := serve(s1)
	stop2, done2 := serve(s2)
	wait := func(name string, done chan error) {
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s: Serve: %v", name, err)
			}
		case <-time.After(15 * time.Second):
			t.Errorf("%s: Serve did not return", name)
		}
	}
	defer func() { stop1(); stop2(); wait("second", done2) }()
	seen := whoServes(t, addr, 64)
	if seen["one"] == 0 || seen["two"] == 0 || seen["one"]+seen["two"] != 64 {
		stop1()
		wait("first", done1)
		t.Fatalf("64 connections answered by: %v; want both servers", seen)
	}
	t.Logf("answered by: %v", seen)
	// The upgrade's second half: the old server stops, the new one takes every connection.
	stop1()
	wait("first", done1)
	if seen := whoServes(t, addr, 16); seen["two"] != 16 {
		t.Fatalf("after the first server stopped, 16 connections answered by %v", seen)
	}
}

// TestListeningInodes: /proc/net/tcp is read right: a listener on the address is found,
// one on another address with the same port is not.
func TestListeningInodes(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	other, err := net.Listen("tcp", fmt.Sprintf("127.0.0.2:%d", port))
	if err != nil {
		t.Skipf("no second loopback address: %v", err)
	}
	defer other.Close()
	inode := func(l net.Listener) uint64 {
		f, err := l.(*net.TCPListener).File()
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		st, _ := f.Stat()
		return st.Sys().(*syscall.Stat_t).Ino
	}
	got := listeningInodes(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if len(got) != 1 || got[0] != inode(ln) {
		t.Fatalf("listeners on 127.0.0.1:%d: %v, want [%d]", port, got, inode(ln))
	}
	if got := listeningInodes(&net.TCPAddr{Port: port}); len(got) != 2 {
		t.Fatalf("listeners overlapping *:%d: %v, want both", port, got)
	}
	if owners := socketOwners(got); len(owners) != 1 || owners[0] != fmt.Sprintf("pid %d (%s)", os.Getpid(), procComm(t)) {
		t.Fatalf("owners: %v", owners)
	}
}

func procComm(t *testing.T) string {
	b, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// whoServes counts which of the two servers answers /who.txt on n new connections.
func whoServes(t *testing.T, addr string, n int) map[string]int {
	t.Helper()
	seen := map[string]int{}
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for i := 0; i < n; i++ {
		resp, err := c.Get("http://" + addr + "/who.txt")
		if err != nil {
			t.Fatalf("GET /who.txt: %v", err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		seen[string(b)]++
	}
	return seen
}

// TestAddrInUseByPlainListener: the holder is an ordinary listener without SO_REUSEPORT.
// The error is the address in use, not a fallback from SO_REUSEPORT.
func TestAddrInUseByPlainListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var logs bytes.Buffer
	s, err := NewServer(Config{Root: t.TempDir(), Addr: ln.Addr().String(), Loops: 2,
		Logf: func(f string, a ...any) { fmt.Fprintf(&logs, f+"\n", a...) }})
	if err == nil {
		s.closeFds()
		t.Fatal("started on an address a plain listener holds")
	}
	if !errors.Is(err, syscall.EADDRINUSE) || strings.Contains(logs.String(), "SO_REUSEPORT unavailable") {
		t.Fatalf("error %v, log %q; want EADDRINUSE and no SO_REUSEPORT line", err, logs.String())
	}
	t.Logf("%v", err)
}

// TestJoinPortNeedsUring: the std engine listens without SO_REUSEPORT, so it cannot join;
// it says so rather than failing later with an address in use.
func TestJoinPortNeedsUring(t *testing.T) {
	s1, root2 := firstOfTwo(t)
	defer s1.closeFds()
	_, err := NewServer(Config{Net: "std", Root: root2, Addr: s1.Addr().String(), JoinPort: true})
	if err == nil || !strings.Contains(err.Error(), "JoinPort needs the uring engine") {
		t.Fatalf("std engine with JoinPort: %v", err)
	}
}
