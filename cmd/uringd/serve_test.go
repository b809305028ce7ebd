package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/uringd/uringd/ring"
	"golang.org/x/sys/unix"
)

// TestMain lets a test run this binary as uringd itself: the serve tests start a child
// process (signals, exit status and stderr are the real ones).
func TestMain(m *testing.M) {
	if os.Getenv("URINGD_TEST_AS_MAIN") == "1" {
		if n, err := strconv.ParseUint(os.Getenv("URINGD_TEST_NOFILE"), 10, 64); err == nil {
			// A real fd limit for the child, soft and hard, set before anything runs.
			if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: n, Max: n}); err != nil {
				fmt.Fprintln(os.Stderr, "setrlimit:", err)
				os.Exit(2)
			}
		}
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// serveChild starts `uringd serve args...` and returns the process and its base URL.
func serveChild(t *testing.T, args ...string) (*exec.Cmd, string) {
	t.Helper()
	return serveChildWith(t, nil, nil, args...)
}

// childLines collects what a child printed on stderr; eof is
// closed once its stderr ended (after the child exited, all of it has been collected).
type childLines struct {
	mu    sync.Mutex
	lines []string
	eof   chan struct{}
}

// waitEOF waits until all the child's stderr is in (call it after the child exited).
func (c *childLines) waitEOF(t *testing.T) {
	t.Helper()
	select {
	case <-c.eof:
	case <-time.After(5 * time.Second):
		t.Fatal("the child's stderr did not end 5 s after it exited")
	}
}

func (c *childLines) add(l string) { c.mu.Lock(); c.lines = append(c.lines, l); c.mu.Unlock() }

// line is the first line containing sub, or "".
func (c *childLines) line(sub string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, l := range c.lines {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}

func (c *childLines) matching(sub string) (n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, l := range c.lines {
		if strings.Contains(l, sub) {
			n++
		}
	}
	return n
}

// serveChildWith is serveChild with the child's stdout (nil: none) and a collector of its
// stderr lines (nil: logged only).
func serveChildWith(t *testing.T, stdout *os.File, lines *childLines, args ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], serveArgs(args)...)
	cmd.Env = append(os.Environ(), "URINGD_TEST_AS_MAIN=1")
	return cmd, startChild(t, cmd, stdout, lines)
}

// startChild starts cmd, a uringd serve (or a wrapper that execs one), and returns the
// first URL it says it serves on; as serveChildWith for stdout and lines.
func startChild(t *testing.T, cmd *exec.Cmd, stdout *os.File, lines *childLines) string {
	t.Helper()
	if stdout != nil {
		cmd.Stdout = stdout
	}
	// A pipe of our own, not StderrPipe: Wait closes that one when the child exits, which
	// can lose the child's last lines before they are read.
	stderr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = pw
	if lines != nil {
		lines.eof = make(chan struct{})
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait(); stderr.Close() })
	out := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			out <- sc.Text()
		}
		close(out)
	}()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case l, ok := <-out:
			if !ok {
				t.Fatal("serve exited before it was serving")
			}
			if lines != nil {
				lines.add(l)
			}
			if i := strings.Index(l, " on http://"); i < 0 {
				t.Log("serve: " + l)
			} else {
				go func() { // keep draining
					for l := range out {
						t.Log("serve: " + l)
						if lines != nil {
							lines.add(l)
						}
					}
					if lines != nil {
						close(lines.eof)
					}
				}()
				u := l[i+len(" on "):]
				return u[:strings.IndexByte(u, ' ')]
			}
		case <-timeout:
			t.Fatal("serve did not say where it serves within 10s")
		}
	}
}

// serveArgs is `serve args...`, on a free loopback port unless args give an --addr (which
// is repeatable: one more would be served beside it).
func serveArgs(args []string) []string {
	for _, a := range args {
		if a == "--addr" || strings.HasPrefix(a, "--addr=") {
			return append([]string{"serve"}, args...)
		}
	}
	return append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return string(b)
}

// TestServeAccessLogRotation runs the real binary: requests (with net/http's client and
// with curl when installed) go to the access log file through package logger; after
// logrotate's rename and a SIGHUP new entries go to a new file; SIGTERM flushes and exits 0.
func TestServeAccessLogRotation(t *testing.T) {
	root, logs := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(root, "a.txt"), []byte("alpha\n"), 0o644)
	os.WriteFile(filepath.Join(root, "index.html"), []byte("<p>hi\n"), 0o644)
	alog := filepath.Join(logs, "access.log")
	cmd, url := serveChild(t, "--root", root, "--access-log", alog, "--loops", "2")

	if got := httpGet(t, url+"/a.txt"); got != "alpha\n" {
		t.Fatalf("/a.txt = %q", got)
	}
	curled := false
	if curl, err := exec.LookPath("curl"); err == nil {
		out, err := exec.Command(curl, "-sS", "-A", "curl-test", url+"/a.txt").Output()
		if err != nil || string(out) != "alpha\n" {
			t.Fatalf("curl /a.txt: %q %v", out, err)
		}
		curled = true
	}
	// logrotate: rename, then SIGHUP.
	if err := os.Rename(alog, alog+".1"); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Stat(alog); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no new access log 5s after SIGHUP")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := httpGet(t, url+"/"); got != "<p>hi\n" {
		t.Fatalf("/ = %q", got)
	}
	http.DefaultClient.CloseIdleConnections()
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve after SIGTERM: %v (want exit 0)", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not exit 15s after SIGTERM")
	}

	old, _ := os.ReadFile(alog + ".1")
	cur, _ := os.ReadFile(alog)
	wantOld := 1
	if curled {
		wantOld = 2
		if !strings.Contains(string(old), `"GET /a.txt HTTP/1.1" 200 6 "-" "curl-test"`) {
			t.Errorf("rotated log lacks the curl request:\n%s", old)
		}
	}
	if n := strings.Count(string(old), "\n"); n != wantOld || strings.Count(string(old), `"GET /a.txt HTTP/1.1" 200 6 `) != wantOld {
		t.Errorf("rotated log: want %d /a.txt entries:\n%s", wantOld, old)
	}
	if strings.Count(string(cur), "\n") != 1 || !strings.Contains(string(cur), `"GET / HTTP/1.1" 200 6 `) {
		t.Errorf("new log after SIGHUP:\n%s", cur)
	}
}

// waitExit waits up to 15 s for the child to exit and returns its exit status.
func waitExit(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			return 0
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				t.Fatalf("serve was killed by %v", ws.Signal())
			}
			return ee.ExitCode()
		}
		t.Fatalf("serve: %v", err)
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not exit within 15 s")
	}
	return -1
}

// TestServeAccessLogKernelCompat: --kernel-compat caps the access log's ring as it caps the
// loops'. Capped below io_uring (5.1, with the std network engine) the log falls back to the
// logger's thread engine; capped to 5.10 it keeps io_uring. Either way every request served
// is in the log once the server exits.
func TestServeAccessLogKernelCompat(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "a.txt"), []byte("alpha\n"), 0o644)
	for _, c := range []struct {
		compat, engine string
		args           []string
	}{{"5.1", "thread", []string{"--net", "std"}}, {"5.10", "uring", nil}} {
		t.Run(c.compat, func(t *testing.T) {
			t.Setenv(ring.CompatEnv, "") // the flag alone must reach the log's ring
			alog := filepath.Join(t.TempDir(), "access.log")
			var lines childLines
			args := append([]string{"--root", root, "--access-log", alog, "--kernel-compat", c.compat}, c.args...)
			cmd, url := serveChildWith(t, nil, &lines, args...)
			if l := lines.line("requests logged to "); !strings.Contains(l, "logger's "+c.engine+" engine") {
				t.Errorf("startup line %q: want the logger's %s engine", l, c.engine)
			}
			for range 3 {
				if got := httpGet(t, url+"/a.txt"); got != "alpha\n" {
					t.Fatalf("/a.txt = %q", got)
				}
			}
			http.DefaultClient.CloseIdleConnections()
			cmd.Process.Signal(syscall.SIGTERM)
			if err := cmd.Wait(); err != nil {
				t.Fatalf("serve after SIGTERM: %v (want exit 0)", err)
			}
			b, err := os.ReadFile(alog)
			if n := strings.Count(string(b), "GET /a.txt"); err != nil || n != 3 {
				t.Errorf("access log: %d entries for /a.txt, %v; want 3:\n%s", n, err, b)
			}
		})
	}
}

// TestServeAccessLogStdoutClosed: with --access-log -, the reader of stdout goes away after
// one line (as `| head -1` does). The server must not die of SIGPIPE: it says once that the
// log broke, keeps serving, and at SIGTERM says how many entries were lost (exit 1: the
// log is incomplete).
func TestServeAccessLogStdoutClosed(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "a.txt"), []byte("alpha\n"), 0o644)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var lines childLines
	cmd, url := serveChildWith(t, w, &lines, "--root", root, "--access-log", "-", "--loops", "1")
	w.Close()
	httpGet(t, url+"/a.txt")
	first, err := bufio.NewReader(r).ReadString('\n') // flushed within a second
	if err != nil || !strings.Contains(first, `"GET /a.txt HTTP/1.1" 200 6`) {
		t.Fatalf("first access log line %q, %v", first, err)
	}
	r.Close() // the reader is gone: the next flush meets EPIPE
	for end := time.Now().Add(2500 * time.Millisecond); time.Now().Before(end); {
		if got := httpGet(t, url+"/a.txt"); got != "alpha\n" {
			t.Fatalf("/a.txt = %q", got)
		}
		time.Sleep(5 * time.Millisecond)
	}
	http.DefaultClient.CloseIdleConnections()
	cmd.Process.Signal(syscall.SIGTERM)
	if code := waitExit(t, cmd); code != 1 {
		t.Errorf("exit status %d after the log broke, want 1", code)
	}
	lines.waitEOF(t)
	if n := lines.matching("broken pipe; later entries are counted"); n != 1 {
		t.Errorf("the broken log was reported %d times, want once", n)
	}
	if lines.matching("entries or more lost") != 1 {
		t.Errorf("the exit does not say how many entries were lost")
	}
}

// TestServeRefusesBadFlags: counts and times that mean nothing are refused, naming the
// flag, instead of silently becoming the defaults.
func TestServeRefusesBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--max-conns", "0"}, {"--max-conns", "-1"}, {"--idle-timeout", "-5s"}, {"--loops", "-3"},
		{"--max-header-bytes", "-1"}, {"--read-header-timeout", "0s"}, {"--write-timeout", "0s"},
		{"--threads", "0"}, {"--max-listing-entries", "-2"}, {"--shutdown-timeout", "-1s"},
		{"--fixed-buffers", "-1"}, {"--fixed-buffers", "20000"},
	} {
		cmd := exec.Command(os.Args[0], append([]string{"serve", "--addr", "127.0.0.1:0", "--root", t.TempDir()}, args...)...)
		cmd.Env = append(os.Environ(), "URINGD_TEST_AS_MAIN=1")
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() == 0 {
			t.Errorf("serve %v: %v, want a refusal; output %q", args, err, out)
			continue
		}
		if !strings.Contains(string(out), args[0]+" ") || strings.Contains(string(out), "serving") {
			t.Errorf("serve %v: %q does not name the flag (or it served)", args, out)
		}
	}
}

// TestErrorLinesHeldBack: errors coming faster than one a second print one line a second,
// and the next line says how many were held back (a full disk fails every batch).
func TestErrorLinesHeldBack(t *testing.T) {
	var out strings.Builder
	e := &errorLines{w: &out, every: 50 * time.Millisecond}
	for i := range 100 {
		e.report(fmt.Errorf("write failed %d", i))
	}
	time.Sleep(60 * time.Millisecond)
	e.report(errors.New("write failed again"))
	got := out.String()
	if n := strings.Count(got, "\n"); n != 3 {
		t.Fatalf("%d lines for 101 errors, want 3:\n%s", n, got)
	}
	if !strings.Contains(got, "99 more errors") || !strings.Contains(got, "write failed 99") {
		t.Fatalf("the held-back errors are not counted:\n%s", got)
	}
}
