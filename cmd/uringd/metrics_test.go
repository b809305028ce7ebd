package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServeMetrics runs the real binary with --metrics in each engine, makes requests with
// net/http's client and scrapes the metrics listener: the server's counts, the access log's,
// Go's and the process's metrics are there.
func TestServeMetrics(t *testing.T) {
	for _, engine := range [][]string{nil, {"--file-io", "threadpool"}, {"--net", "std"}} {
		t.Run(strings.Join(append([]string{"engine"}, engine...), " "), func(t *testing.T) {
			root := t.TempDir()
			os.WriteFile(filepath.Join(root, "a.txt"), []byte("metrics\n"), 0o644)
			lines := &childLines{}
			args := append([]string{"--root", root, "--metrics", "127.0.0.1:0", "--access-log", filepath.Join(t.TempDir(), "access.log")}, engine...)
			_, base := serveChildWith(t, nil, lines, args...)
			for _, p := range []string{"/a.txt", "/a.txt", "/nope"} {
				resp, err := http.Get(base + p)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			var murl string
			for end := time.Now().Add(5 * time.Second); murl == "" && time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
				if l := lines.line("metrics at "); l != "" {
					murl = l[strings.Index(l, "metrics at ")+len("metrics at "):]
				}
			}
			if murl == "" {
				t.Fatal("no \"metrics at\" line")
			}
			var text string
			for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
				resp, err := http.Get(murl)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if text = string(b); strings.Contains(text, `uringd_http_requests_total{code="2xx",method="GET"} 2`+"\n") {
					break
				}
			}
			for _, want := range []string{
				`uringd_http_requests_total{code="2xx",method="GET"} 2` + "\n",
				`uringd_http_requests_total{code="4xx",method="GET"} 1` + "\n",
				"uringd_connections_open ", "uringd_iowq_workers ", "uringd_access_log_dropped_total 0\n",
				"uringd_access_log_errors_total 0\n", "go_goroutines ", "process_open_fds ",
			} {
				if !strings.Contains(text, want) {
					t.Errorf("metrics lack %q:\n%s", want, text)
				}
			}
			if std := len(engine) > 0 && engine[0] == "--net"; std == strings.Contains(text, "uringd_ring_sqes_total") {
				t.Errorf("ring metrics present %v in engine %v", !std, engine)
			}
			if resp, err := http.Get(strings.TrimSuffix(murl, "/metrics") + "/other"); err != nil || resp.StatusCode != 404 {
				t.Errorf("/other on the metrics listener: %v %v, want 404", resp, err)
			}
		})
	}
}
