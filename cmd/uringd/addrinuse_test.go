package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServeAddrInUse runs the real binary twice on one address: the second refuses with
// "address already in use", names the first's pid and exits non-zero; with --join-port it
// starts and both serve.
func TestServeAddrInUse(t *testing.T) {
	root1, root2 := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(root1, "who.txt"), []byte("one"), 0o644)
	os.WriteFile(filepath.Join(root2, "who.txt"), []byte("two"), 0o644)
	first, url := serveChild(t, "--root", root1, "--loops", "2")
	hostport := strings.TrimPrefix(url, "http://")

	second := exec.Command(os.Args[0], "serve", "--addr", hostport, "--root", root2, "--loops", "2")
	second.Env = append(os.Environ(), "URINGD_TEST_AS_MAIN=1")
	var stderr bytes.Buffer
	second.Stderr = &stderr
	if err := second.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- second.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() == 0 {
			t.Fatalf("second serve on %s: %v (want a non-zero exit); stderr:\n%s", hostport, err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		second.Process.Kill()
		<-done
		t.Fatalf("second serve on %s was still running after 10s; stderr:\n%s", hostport, stderr.String())
	}
	msg := stderr.String()
	if !strings.Contains(msg, "address already in use") || !strings.Contains(msg, fmt.Sprintf("pid %d", first.Process.Pid)) ||
		strings.Contains(msg, "SO_REUSEPORT unavailable") {
		t.Fatalf("second serve's stderr (want \"address already in use\", pid %d, no SO_REUSEPORT line):\n%s", first.Process.Pid, msg)
	}
	t.Logf("second serve: %s", strings.TrimSpace(msg))

	_, url2 := serveChild(t, "--root", root2, "--loops", "2", "--addr", hostport, "--join-port")
	if url2 != url {
		t.Fatalf("--join-port serves on %s, want %s", url2, url)
	}
	seen := map[string]int{}
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for i := 0; i < 64; i++ {
		resp, err := c.Get(url + "/who.txt")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		seen[string(b)]++
	}
	if seen["one"] == 0 || seen["two"] == 0 {
		t.Fatalf("64 connections answered by %v; want both servers", seen)
	}
	t.Logf("answered by: %v", seen)
}
