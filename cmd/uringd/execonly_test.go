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

// TestServeExecOnlyDir runs the real binary as nobody in every engine over a root whose
// directories are execute-only (0711, 0111): search permission is all a path needs, so
// their files are served (200, their bytes) as nginx serves them; a listing of such a
// directory needs read permission and is refused (403), while a readable directory inside
// one is listed. Root bypasses the permission
// checks, so the server runs as uid/gid 65534.
func TestServeExecOnlyDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, to run the server as nobody (uid 65534): as root itself the permission check is bypassed, and another user cannot switch")
	}
	const nobody = 65534
	root := t.TempDir()
	bin := filepath.Join(t.TempDir(), "uringd.test")
	// t.TempDir's parent is 0700: let nobody through it (search only).
	for _, d := range []string{filepath.Dir(root), filepath.Dir(filepath.Dir(bin))} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	// The test binary lives in go's private build directory: nobody runs a copy.
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{root, filepath.Dir(bin)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		"x/f.txt":       "in a 0711 directory\n",
		"y/f.txt":       "in a 0111 directory\n",
		"x/inner/f.txt": "in a 0111 directory in a 0711 one\n",
		"x/open/g.txt":  "in a readable directory in a 0711 one\n",
	}
	for name, body := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Deepest first: chmod of a parent to 0111 first would not stop root, but keep it tidy.
	for _, d := range []struct {
		name string
		mode os.FileMode
	}{{"x/inner", 0o111}, {"x", 0o711}, {"y", 0o111}} {
		if err := os.Chmod(filepath.Join(root, d.name), d.mode); err != nil {
			t.Fatal(err)
		}
	}

	c := &http.Client{Timeout: 5 * time.Second}
	get := func(url string) (int, string) {
		t.Helper()
		resp, err := c.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("GET %s: body: %v", url, err)
		}
		return resp.StatusCode, string(b)
	}
	for _, e := range []struct {
		name string
		args []string
	}{
		{"uring", nil},
		{"threadpool", []string{"--file-io", "threadpool", "--threads", "2"}},
		{"std", []string{"--net", "std"}},
	} {
		t.Run(e.name, func(t *testing.T) {
			url := serveAs(t, bin, nobody, append([]string{"--root", root, "--loops", "1"}, e.args...)...)
			for name, body := range files {
				if code, got := get(url + "/" + name); code != 200 || got != body {
					t.Errorf("GET /%s as nobody: %d %q; want 200 %q", name, code, got, body)
				}
			}
			for _, dir := range []string{"/x/", "/y/", "/x/inner/"} {
				if code, _ := get(url + dir); code != 403 {
					t.Errorf("GET %s (execute-only, no index.html) as nobody: %d; want 403 (a listing needs read permission)", dir, code)
				}
			}
			// A readable directory inside an execute-only one is listed: search permission
			// on the way is enough, as for its files.
			if code, body := get(url + "/x/open/"); code != 200 || !strings.Contains(body, "g.txt") {
				t.Errorf("GET /x/open/ (0755 inside 0711) as nobody: %d %q; want 200 and a listing", code, body)
			}
		})
	}
}

// serveAs starts `bin serve args...` (serveArgs) as uid and gid id and returns its
// base URL; the process is killed at the end of the test.
func serveAs(t *testing.T, bin string, id uint32, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, serveArgs(args)...)
	cmd.Env = append(os.Environ(), "URINGD_TEST_AS_MAIN=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: id, Gid: id}}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s as uid %d: %v", bin, id, err)
	}
	// The reader keeps every line, logged when the test ends, and hands over the address.
	var out []string
	urls, done := make(chan string, 1), make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			l := sc.Text()
			out = append(out, l)
			if i := strings.Index(l, " on http://"); i >= 0 && len(urls) == 0 {
				u := l[i+len(" on "):]
				if j := strings.IndexByte(u, ' '); j >= 0 {
					u = u[:j]
				}
				urls <- u
			}
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		<-done
		for _, l := range out {
			t.Log("serve: " + l)
		}
	})
	select {
	case u := <-urls:
		return u
	case <-done:
		t.Fatal("serve (as nobody) exited before it was serving")
	case <-time.After(10 * time.Second):
		t.Fatal("serve (as nobody) did not say where it serves within 10s")
	}
	return ""
}
