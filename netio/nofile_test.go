package netio

import (
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestAcceptPausesOutOfFds lowers this process's own fd limit just above what it has open
// while a server runs, then connects until the server's accepts fail with EMFILE. The loop
// must pause accepting and say so once per 500 ms pause (not once per failed accept: the old
// loop re-armed at once and logged every failure, flooding the log), and serve
// again once fds are back.
func TestAcceptPausesOutOfFds(t *testing.T) {
	// 5.10 mode: single-shot accepts. A multishot accept keeps the fd limit it was prepared
	// under, so lowering the limit while one is armed would not reach it (a real limit, set
	// before the server starts, does: TestServeOutOfFds in cmd/uringd).
	rs := start(t, modes()[4], testRoot(t), func(c *Config) { c.Loops = 1 })
	get(t, rs.url+"/hello.txt")
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip(err)
	}
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	low := old
	low.Cur = uint64(len(ents) + 24)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Skip(err)
	}
	var conns []net.Conn
	var lastErr error
	restore := func() {
		for _, c := range conns {
			c.Close()
		}
		conns = nil
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old)
	}
	defer restore()
	for end := time.Now().Add(1200 * time.Millisecond); time.Now().Before(end); {
		if c, err := net.DialTimeout("tcp", rs.addr, 100*time.Millisecond); err == nil {
			conns = append(conns, c)
		} else {
			lastErr = err
			time.Sleep(5 * time.Millisecond)
		}
	}
	t.Logf("%d connections made (then: %v)", len(conns), lastErr)
	restore()
	n, pauses := strings.Count(rs.logText(), "too many open files"), strings.Count(rs.logText(), "not accepting for")
	if pauses == 0 || n != pauses || n > 6 {
		t.Fatalf("%d lines about EMFILE in 1.2 s, %d of them pauses; want 1-6, one per pause; log:\n%.1000s", n, pauses, rs.logText())
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", rs.addr, time.Second)
		if err == nil {
			c.SetDeadline(time.Now().Add(time.Second))
			c.Write([]byte("GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
			b := make([]byte, 512)
			k, _ := c.Read(b)
			c.Close()
			if strings.HasPrefix(string(b[:k]), "HTTP/1.1 200") {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not serving 3 s after fds came back: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
