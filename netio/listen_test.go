package netio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
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
)

// listenModes are the engines the listener tests run in: the three, and 5.10's rings,
// whose accepts are single-shot (each listener's ACCEPT is armed again after each).
func listenModes() []mode {
	m := modes()
	return []mode{m[0], m[3], m[4], m[5]}
}

// ipv6Loopback reports whether [::1] can be listened on here.
func ipv6Loopback() bool {
	ln, err := net.Listen("tcp", "[::1]:0")
	if err == nil {
		ln.Close()
	}
	return err == nil
}

// unixClient is a net/http client whose connections go to the unix socket at path,
// whatever the URL's host.
func unixClient(path string) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}}
}

// remoteLog keeps the access log's remote addresses.
type remoteLog struct {
	mu      sync.Mutex
	remotes map[string]int
}

func (r *remoteLog) Log(e *AccessEntry) {
	r.mu.Lock()
	r.remotes[string(e.Remote)]++
	r.mu.Unlock()
}

func (r *remoteLog) Flush() error { return nil }

func (r *remoteLog) count(remote string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.remotes[remote]
}

// TestSeveralListeners: one server on 127.0.0.1, [::1] (where the machine has IPv6
// loopback) and a unix socket answers on each, several requests per keep-alive connection
// and on new ones; the access log names the unix peers "unix"; the socket file gets
// UnixMode and is removed when Serve returns.
func TestSeveralListeners(t *testing.T) {
	root := testRoot(t)
	v6 := ipv6Loopback()
	curl, _ := exec.LookPath("curl")
	for _, m := range listenModes() {
		t.Run(m.name, func(t *testing.T) {
			sock := filepath.Join(t.TempDir(), "u.sock")
			al := &remoteLog{remotes: map[string]int{}}
			_, rs := startTuned(t, m, root, ringTuning{}, func(c *Config) {
				if v6 {
					c.Addrs = append(c.Addrs, "[::1]:0")
				}
				c.Addrs = append(c.Addrs, "unix:"+sock)
				c.UnixMode = 0o660
				c.AccessLog = al
			})
			stopped := false
			defer func() {
				if !stopped {
					rs.stop(t)
				}
			}()
			lns := rs.s.Listeners()
			n := 2
			if v6 {
				n = 3
			}
			if len(lns) != n {
				t.Fatalf("Listeners() = %v, want %d", lns, n)
			}
			if a, ok := lns[0].(*net.TCPAddr); !ok || !a.IP.Equal(net.IPv4(127, 0, 0, 1)) || a.Port == 0 || rs.s.Addr().Port != a.Port {
				t.Fatalf("first listener %v, Addr() %v: want 127.0.0.1 and the port chosen", lns[0], rs.s.Addr())
			}
			if u, ok := lns[len(lns)-1].(*net.UnixAddr); !ok || u.Name != sock {
				t.Fatalf("last listener %v, want unix %s", lns[len(lns)-1], sock)
			}
			if st, err := os.Stat(sock); err != nil || st.Mode()&os.ModeSocket == 0 || st.Mode().Perm() != 0o660 {
				t.Fatalf("socket file: %v %v; want a socket of mode 0660", st.Mode(), err)
			}
			want, _ := os.ReadFile(filepath.Join(root, "4k.bin"))
			clients := map[string]*http.Client{"http://" + lns[0].String(): {Timeout: 10 * time.Second, Transport: &http.Transport{}}}
			if v6 {
				clients["http://"+lns[1].String()] = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{}}
			}
			clients["http://uringd.sock"] = unixClient(sock)
			for base, c := range clients {
				for i := 0; i < 3; i++ { // the keep-alive connection, then a new one
					if body := string(getWith(t, c, base+"/hello.txt")); body != "hello, uringd\n" {
						t.Fatalf("GET %s/hello.txt: %q", base, body)
					}
					if body := string(getWith(t, c, base+"/4k.bin")); body != string(want) {
						t.Fatalf("GET %s/4k.bin: %d bytes, not the file's", base, len(body))
					}
					if i == 1 {
						c.CloseIdleConnections()
					}
				}
				c.CloseIdleConnections()
			}
			if curl != "" {
				out, err := exec.Command(curl, "-sS", "--max-time", "10", "--unix-socket", sock, "http://localhost/hello.txt", "http://localhost/site/").CombinedOutput()
				if err != nil || string(out) != "hello, uringd\n<p>site index\n" {
					t.Fatalf("curl --unix-socket: %v %q", err, out)
				}
			}
			// An entry is logged once its response's last SEND completes, which the client
			// can see a moment before: wait for all of them, then count exactly.
			for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
				if al.count("unix") >= 6 && al.count("127.0.0.1") >= 6 && (!v6 || al.count("::1") >= 6) {
					break
				}
			}
			if al.count("unix") < 6 || al.count("127.0.0.1") != 6 || (v6 && al.count("::1") != 6) {
				al.mu.Lock()
				t.Errorf("access log remotes %v; want 6 each from 127.0.0.1 and ::1, 6 or more (curl's too) from unix", al.remotes)
				al.mu.Unlock()
			}
			if err := rs.stop(t); err != nil {
				t.Fatalf("Serve: %v", err)
			}
			stopped = true
			if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("after Serve returned, the socket file: %v; want it removed", err)
			}
		})
	}
}

// TestUnixPathExists: a path a server listens on, a regular file and a directory are
// refused with an error that says so, and left as they were; a stale socket (its server
// gone without removing it) is replaced, and Logf says so.
func TestUnixPathExists(t *testing.T) {
	root := testRoot(t)
	for _, m := range []mode{modes()[0], modes()[5]} {
		t.Run(m.name, func(t *testing.T) {
			dir := t.TempDir()
			newServer := func(path string) (*Server, string, error) {
				var logs bytes.Buffer
				cfg := m.cfg
				cfg.Root, cfg.Addr, cfg.Loops = root, "unix:"+path, 2
				cfg.Logf = func(f string, a ...any) { fmt.Fprintf(&logs, f+"\n", a...) }
				s, err := NewServer(cfg)
				return s, logs.String(), err
			}

			busy := filepath.Join(dir, "busy.sock")
			ln, err := net.Listen("unix", busy)
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			if s, _, err := newServer(busy); err == nil {
				s.Close()
				t.Fatal("started on a unix socket another server listens on")
			} else if !errors.Is(err, syscall.EADDRINUSE) || !strings.Contains(err.Error(), "a server is listening there") ||
				!strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) {
				t.Fatalf("socket in use: %v; want EADDRINUSE, \"a server is listening there\" and the holder's pid", err)
			} else {
				t.Logf("in use: %v", err)
			}
			if c, err := net.Dial("unix", busy); err != nil {
				t.Fatalf("the other server's socket after the refusal: %v", err)
			} else {
				c.Close()
			}

			for name, mk := range map[string]func(string) error{
				"file": func(p string) error { return os.WriteFile(p, []byte("keep me"), 0o644) },
				"dir":  func(p string) error { return os.Mkdir(p, 0o755) },
			} {
				p := filepath.Join(dir, name)
				if err := mk(p); err != nil {
					t.Fatal(err)
				}
				if s, _, err := newServer(p); err == nil {
					s.Close()
					t.Fatalf("started on a unix: path that is a %s", name)
				} else if !strings.Contains(err.Error(), p+" exists and is not a socket") {
					t.Fatalf("a %s at the path: %v", name, err)
				}
				if _, err := os.Stat(p); err != nil {
					t.Fatalf("the %s at the path after the refusal: %v", name, err)
				}
			}

			stale := filepath.Join(dir, "stale.sock")
			old, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
			if err != nil {
				t.Fatal(err)
			}
			old.SetUnlinkOnClose(false)
			old.Close() // the file stays, nothing listens: stale
			s, logs, err := newServer(stale)
			if err != nil {
				t.Fatalf("a stale socket was not replaced: %v", err)
			}
			if !strings.Contains(logs, "unix:"+stale+": removed a stale socket") {
				t.Errorf("no log line for the stale socket replaced; logs: %q", logs)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- s.Serve(ctx) }()
			if body := string(getWith(t, unixClient(stale), "http://x/hello.txt")); body != "hello, uringd\n" {
				t.Fatalf("GET through the replaced socket: %q", body)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if _, err := os.Lstat(stale); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("socket file after Serve: %v; want removed", err)
			}
		})
	}
}

// TestListenConfigRefused: listen addresses that cannot work are refused by NewServer,
// naming the address, and a unix socket made before the refusal is removed.
func TestListenConfigRefused(t *testing.T) {
	root := t.TempDir()
	dir := t.TempDir()
	notSock, _ := os.Create(filepath.Join(dir, "plain"))
	defer notSock.Close()
	tcpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcpLn.Close()
	tcpFile, _ := tcpLn.(*net.TCPListener).File()
	defer tcpFile.Close()
	early := filepath.Join(dir, "early.sock")
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{Addr: "unix:"}, `"unix:": no path`},
		{Config{Addr: "unix:/" + strings.Repeat("x", 120)}, "longer than a unix socket address holds"},
		{Config{Addr: "unix:" + early, Addrs: []string{"127.0.0.1:http-nosuch"}}, `listen address "127.0.0.1:http-nosuch"`},
		{Config{Addr: "127.0.0.1:0", Addrs: []string{"unix:" + early, "unix:" + early}}, "given twice"},
		{Config{ListenFiles: []*os.File{notSock}}, "not a socket"},
		{Config{Addr: "127.0.0.1:0", ListenFiles: []*os.File{tcpFile}}, "set one or the other"},
	} {
		for _, engine := range []string{"uring", "std"} {
			cfg := c.cfg
			cfg.Root, cfg.Net, cfg.Loops = root, engine, 2
			s, err := NewServer(cfg)
			if err == nil {
				s.Close()
				t.Errorf("%s: NewServer(%+v) succeeded", engine, c.cfg)
				continue
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: NewServer(%+v): %v; want %q", engine, c.cfg, err, c.want)
			}
			if _, err := os.Lstat(early); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s: %+v: the socket made before the refusal was left behind (%v)", engine, c.cfg, err)
			}
		}
	}
}

// TestListenFiles: sockets handed in (as systemd's) are served in every engine, TCP and
// unix alike, and are not shut at shutdown: the one who handed them keeps them listening.
func TestListenFiles(t *testing.T) {
	root := testRoot(t)
	for _, m := range listenModes() {
		t.Run(m.name, func(t *testing.T) {
			tcpLn, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer tcpLn.Close()
			sock := filepath.Join(t.TempDir(), "h.sock")
			unixLn, err := net.Listen("unix", sock)
			if err != nil {
				t.Fatal(err)
			}
			defer unixLn.Close()
			tf, _ := tcpLn.(*net.TCPListener).File()
			uf, _ := unixLn.(*net.UnixListener).File()
			_, rs := startTuned(t, m, root, ringTuning{}, func(c *Config) {
				c.Addr = ""
				c.ListenFiles = []*os.File{tf, uf}
			})
			tf.Close() // NewServer has its own copies
			uf.Close()
			if l := rs.s.Listeners(); len(l) != 2 || l[0].String() != tcpLn.Addr().String() || l[1].String() != sock {
				t.Fatalf("Listeners() = %v; want %v and %s", l, tcpLn.Addr(), sock)
			}
			tc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{}}
			for base, c := range map[string]*http.Client{"http://" + tcpLn.Addr().String(): tc, "http://x": unixClient(sock)} {
				for i := 0; i < 2; i++ {
					if body := string(getWith(t, c, base+"/hello.txt")); body != "hello, uringd\n" {
						t.Fatalf("GET %s/hello.txt: %q", base, body)
					}
				}
				c.CloseIdleConnections()
			}
			if err := rs.stop(t); err != nil {
				t.Fatal(err)
			}
			// Still listening: a connection is queued for whoever accepts next.
			for _, a := range []net.Addr{tcpLn.Addr(), unixLn.Addr()} {
				c, err := net.DialTimeout(a.Network(), a.String(), time.Second)
				if err != nil {
					t.Fatalf("the handed-in %s after the server stopped: %v; want it still listening", a, err)
				}
				c.Close()
			}
			if _, err := os.Lstat(sock); err != nil {
				t.Fatalf("the handed-in socket's file after the server stopped: %v; want it left alone", err)
			}
		})
	}
}

// TestSocketActivationEnv: the variables are for this process only when LISTEN_PID says
// so, are unset either way, and bad values are errors naming the variable.
func TestSocketActivationEnv(t *testing.T) {
	for _, c := range []struct {
		pid, fds, want string
	}{
		{"1", "2", ""}, // another process's
		{"x", "1", "LISTEN_PID"},
		{strconv.Itoa(os.Getpid()), "many", "LISTEN_FDS"},
		{strconv.Itoa(os.Getpid()), "0", ""},
	} {
		t.Setenv("LISTEN_PID", c.pid)
		t.Setenv("LISTEN_FDS", c.fds)
		t.Setenv("LISTEN_FDNAMES", "a:b")
		files, err := SocketActivation()
		if c.want == "" && (err != nil || len(files) != 0) || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("LISTEN_PID=%s LISTEN_FDS=%s: %v, %v; want no files and error %q", c.pid, c.fds, files, err, c.want)
		}
		for _, v := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
			if _, set := os.LookupEnv(v); set {
				t.Errorf("LISTEN_PID=%s LISTEN_FDS=%s: %s still set", c.pid, c.fds, v)
			}
		}
	}
}

// TestIPv6AddrInUse: an IPv6 address in use is refused as an IPv4 one is, naming the
// holder; /proc/net/tcp6 finds its listeners; and an IPv4 address on the same port is no
// conflict (the IPv6 listeners are IPV6_V6ONLY), in either direction.
func TestIPv6AddrInUse(t *testing.T) {
	if !ipv6Loopback() {
		t.Skip("no IPv6 loopback here")
	}
	s1, err := NewServer(Config{Root: t.TempDir(), Addr: "[::1]:0", Loops: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s1.Close()
	a := s1.Addr()
	if got := listeningInodes(a); len(got) != 2 {
		t.Fatalf("listeners on %s from /proc/net/tcp6: %v, want the server's 2", a, got)
	}
	v4 := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: a.Port}
	if got := listeningInodes(v4); len(got) != 0 {
		t.Fatalf("listeners on %s: %v, want none (the [::1] ones are IPv6 only)", v4, got)
	}
	for _, m := range []mode{modes()[0], modes()[5]} {
		cfg := m.cfg
		cfg.Root, cfg.Addr, cfg.Loops = t.TempDir(), a.String(), 2
		s2, err := NewServer(cfg)
		if err == nil {
			s2.Close()
			t.Fatalf("%s: a second server on %s started", m.name, a)
		}
		if !errors.Is(err, syscall.EADDRINUSE) || !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) {
			t.Fatalf("%s: second server on %s: %v; want EADDRINUSE naming this process", m.name, a, err)
		}
		cfg.Addr = v4.String()
		s3, err := NewServer(cfg)
		if err != nil {
			if ln, lerr := net.Listen("tcp", v4.String()); lerr != nil {
				t.Skipf("%s is taken by another process: %v", v4, lerr)
			} else {
				ln.Close()
			}
			t.Fatalf("%s: a server on %s beside [::1]:%d: %v", m.name, v4, a.Port, err)
		}
		s3.Close()
	}
}
