package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// engines are the three ways to run the server, as serve flags.
var engines = []struct {
	name string
	args []string
}{
	{"uring", nil},
	{"threadpool", []string{"--file-io", "threadpool", "--threads", "2"}},
	{"std", []string{"--net", "std"}},
}

// fetch GETs url with c (nil: a new client with its own connections) and returns the
// status and body.
func fetch(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{}}
		defer c.CloseIdleConnections()
	}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: body: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

// viaUnix is a client whose connections go to the unix socket at path.
func viaUnix(path string) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}}
}

// TestServeListeners runs the binary with --addr repeated (IPv4, IPv6 where the machine
// has [::1], a unix socket with --unix-mode) in each engine: the startup line names every
// listener, each serves (net/http's client, and curl --unix-socket), the socket file has
// the mode asked for, and SIGTERM exits 0 and removes it.
func TestServeListeners(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "a.txt"), []byte("listeners\n"), 0o644)
	ln6, err := net.Listen("tcp", "[::1]:0")
	v6 := err == nil
	if v6 {
		ln6.Close()
	}
	curl, _ := exec.LookPath("curl")
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			sock := filepath.Join(t.TempDir(), "s.sock")
			args := []string{"--root", root, "--loops", "2", "--addr", "127.0.0.1:0", "--addr", "unix:" + sock, "--unix-mode", "0660"}
			if v6 {
				args = append(args, "--addr", "[::1]:0")
			}
			var lines childLines
			cmd, url := serveChildWith(t, nil, &lines, append(args, e.args...)...)
			start := lines.line(" on http://")
			urls := regexp.MustCompile(`http://\S+[0-9]`).FindAllString(start, -1)
			if want := 1 + btoi(v6); len(urls) != want || urls[0] != url || !strings.Contains(start, "unix:"+sock) {
				t.Fatalf("startup line %q: want %d URLs and unix:%s", start, want, sock)
			}
			if v6 && !strings.HasPrefix(urls[1], "http://[::1]:") {
				t.Fatalf("startup line %q: no [::1] URL", start)
			}
			for _, u := range urls {
				if code, body := fetch(t, nil, u+"/a.txt"); code != 200 || body != "listeners\n" {
					t.Fatalf("GET %s/a.txt: %d %q", u, code, body)
				}
			}
			uc := viaUnix(sock)
			for i := 0; i < 2; i++ {
				if code, body := fetch(t, uc, "http://uringd/a.txt"); code != 200 || body != "listeners\n" {
					t.Fatalf("GET /a.txt through %s: %d %q", sock, code, body)
				}
			}
			uc.CloseIdleConnections()
			if curl != "" {
				out, err := exec.Command(curl, "-sS", "--max-time", "10", "--unix-socket", sock, "http://localhost/a.txt").CombinedOutput()
				if err != nil || string(out) != "listeners\n" {
					t.Fatalf("curl --unix-socket %s: %v %q", sock, err, out)
				}
			}
			if st, err := os.Stat(sock); err != nil || st.Mode().Perm() != 0o660 {
				t.Fatalf("socket file: %v, %v; want mode 0660", st.Mode(), err)
			}
			cmd.Process.Signal(syscall.SIGTERM)
			if code := waitExit(t, cmd); code != 0 {
				t.Fatalf("exit status %d after SIGTERM, want 0", code)
			}
			if _, err := os.Lstat(sock); !os.IsNotExist(err) {
				t.Fatalf("socket file after exit: %v; want it removed", err)
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestServeRefusesListenFlags: listen flags that cannot work are refused before anything
// is served, each with an error that names the flag or the path.
func TestServeRefusesListenFlags(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("not a socket"), 0o644)
	busy := filepath.Join(dir, "busy.sock")
	ln, err := net.Listen("unix", busy)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--user", "nosuch"}, "--user nosuch: unknown user"},
		{[]string{"--addr", ""}, `--addr "": an empty listen address`},
		{[]string{"--unix-mode", "rw"}, "--unix-mode rw: want an octal permission mode"},
		{[]string{"--unix-mode", "01777"}, "--unix-mode 01777"},
		{[]string{"--addr", "unix:" + file}, file + " exists and is not a socket"},
		{[]string{"--addr", "unix:" + busy}, "a server is listening there"},
	} {
		out, err := runApp(t, append([]string{"serve", "--root", dir, "--loops", "1"}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(out, "serving") {
			t.Errorf("serve %v: %v (output %q); want an error with %q", c.args, err, out, c.want)
		}
	}
	if b, _ := os.ReadFile(file); string(b) != "not a socket" {
		t.Errorf("the file at the unix: path was touched: %q", b)
	}
}

// TestServeSocketActivation hands the binary a TCP and a unix listener as systemd does
// (fds 3 and 4, LISTEN_FDS=2, LISTEN_PID its own pid, set by a shell that then execs it),
// in each engine: it serves both instead of binding --addr, and leaves them listening
// when it exits, for the next start.
func TestServeSocketActivation(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "a.txt"), []byte("activated\n"), 0o644)
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			tcpLn, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer tcpLn.Close()
			sock := filepath.Join(t.TempDir(), "act.sock")
			unixLn, err := net.Listen("unix", sock)
			if err != nil {
				t.Fatal(err)
			}
			defer unixLn.Close()
			tf, _ := tcpLn.(*net.TCPListener).File()
			defer tf.Close()
			uf, _ := unixLn.(*net.UnixListener).File()
			defer uf.Close()

			// --addr is given to show it is not bound: the startup line names the two sockets.
			args := append([]string{"serve", "--root", root, "--loops", "2", "--addr", "127.0.0.1:1"}, e.args...)
			cmd := exec.Command("sh", append([]string{"-c", `LISTEN_PID=$$ exec "$0" "$@"`, os.Args[0]}, args...)...)
			cmd.Env = append(os.Environ(), "URINGD_TEST_AS_MAIN=1", "LISTEN_FDS=2", "LISTEN_FDNAMES=web:local")
			cmd.ExtraFiles = []*os.File{tf, uf}
			var lines childLines
			url := startChild(t, cmd, nil, &lines)
			if want := "http://" + tcpLn.Addr().String(); url != want {
				t.Fatalf("serves on %s, want the handed-in %s", url, want)
			}
			if start := lines.line(" on http://"); !strings.Contains(start, "unix:"+sock) {
				t.Fatalf("startup line %q does not name unix:%s", start, sock)
			}
			if lines.line("socket activation: serving the 2 sockets systemd passed (web, local), not --addr") == "" {
				t.Errorf("no line saying --addr is not used under socket activation")
			}
			if code, body := fetch(t, nil, url+"/a.txt"); code != 200 || body != "activated\n" {
				t.Fatalf("GET %s/a.txt: %d %q", url, code, body)
			}
			uc := viaUnix(sock)
			if code, body := fetch(t, uc, "http://uringd/a.txt"); code != 200 || body != "activated\n" {
				t.Fatalf("GET /a.txt through the handed-in %s: %d %q", sock, code, body)
			}
			uc.CloseIdleConnections()
			cmd.Process.Signal(syscall.SIGTERM)
			if code := waitExit(t, cmd); code != 0 {
				t.Fatalf("exit status %d after SIGTERM, want 0", code)
			}
			for _, a := range []net.Addr{tcpLn.Addr(), unixLn.Addr()} {
				c, err := net.DialTimeout(a.Network(), a.String(), time.Second)
				if err != nil {
					t.Fatalf("the handed-in %s after uringd exited: %v; want it still listening", a, err)
				}
				c.Close()
			}
		})
	}
}

// TestServeUser runs the binary as root with --user nobody in each engine: the server
// process's uids and gids are nobody's, a world-readable file is served, and a mode-0000
// file and directory, which root could read, are refused with 403.
func TestServeUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: --user drops root's privileges")
	}
	root := t.TempDir()
	if err := os.Chmod(root, 0o755); err != nil { // t.TempDir is 0700: nobody's search
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "open.txt"), []byte("for all\n"), 0o644)
	os.WriteFile(filepath.Join(root, "secret.txt"), []byte("root's\n"), 0o000)
	os.Mkdir(filepath.Join(root, "closed"), 0o755)
	os.WriteFile(filepath.Join(root, "closed", "f.txt"), []byte("inside\n"), 0o644)
	os.Chmod(filepath.Join(root, "closed"), 0o000)

	// As root, without --user, the 0000 file is served: what --user is for.
	_, url := serveChild(t, "--root", root, "--loops", "1")
	if code, _ := fetch(t, nil, url+"/secret.txt"); code != 200 {
		t.Fatalf("as root, GET /secret.txt (0000): %d, want 200 (root reads everything)", code)
	}
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			cmd, url := serveChild(t, append([]string{"--root", root, "--loops", "2", "--user", "nobody"}, e.args...)...)
			status, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/status")
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{"Uid", "Gid"} {
				m := regexp.MustCompile(`(?m)^` + f + `:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$`).FindStringSubmatch(string(status))
				if m == nil || m[1] != "65534" || m[2] != "65534" || m[3] != "65534" || m[4] != "65534" {
					t.Fatalf("server's /proc status %s: %q; want nobody's (65534) four times", f, m)
				}
			}
			if m := regexp.MustCompile(`(?m)^Groups:(.*)$`).FindStringSubmatch(string(status)); m == nil || strings.TrimSpace(m[1]) != "65534" {
				t.Fatalf("server's groups %q; want only nobody's (65534)", m)
			}
			if code, body := fetch(t, nil, url+"/open.txt"); code != 200 || body != "for all\n" {
				t.Fatalf("GET /open.txt (0644) as nobody: %d %q, want 200", code, body)
			}
			for _, p := range []string{"/secret.txt", "/closed/", "/closed/f.txt"} {
				if code, _ := fetch(t, nil, url+p); code != 403 {
					t.Errorf("GET %s (mode 0000) as nobody: %d, want 403", p, code)
				}
			}
		})
	}
}
