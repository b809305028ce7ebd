package main

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets a test run this binary as uringd itself: the serve tests start a child
// process (signals, exit status and stderr are the real ones).
func TestMain(m *testing.M) {
	if os.Getenv("URINGD_TEST_AS_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// serveChild starts `uringd serve args...` and returns the process and its base URL.
func serveChild(t *testing.T, args ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), "URINGD_TEST_AS_MAIN=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("serve exited before it was serving")
			}
			if i := strings.Index(l, " on http://"); i >= 0 {
				go func() { // keep draining
					for l := range lines {
						t.Log("serve: " + l)
					}
				}()
				u := l[i+len(" on "):]
				return cmd, u[:strings.IndexByte(u, ' ')]
			}
		case <-timeout:
			t.Fatal("serve did not say where it serves within 10s")
		}
	}
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
