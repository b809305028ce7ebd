package bench

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
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// HTTPServer is one server bench http can run: uringd in one of its modes, or a reference.
type HTTPServer struct {
	Name    string // e.g. "uringd", "nginx-aio"
	Package string // the Debian package that provides it, for references
	Binary  string // the executable looked up in PATH, for references
	About   string // how it is configured, for the report

	config func(e *serverEnv) ([]string, []string, error) // argv and extra environment
}

type serverEnv struct {
	root, addr, dir string
	self            []string // uringd's argv prefix for "serve"
	netHTTP         []string // the net/http FileServer child's argv prefix
	uringdArgs      []string
	maxConns        int // the most connections the bench holds open at once: no server may refuse them
}

// connCap is a server's connection cap: its usual setting here, or more when the bench opens
// more connections than that.
func (e *serverEnv) connCap(usual int) int { return max(usual, e.maxConns+1024) }

func (e *serverEnv) hostPort() (string, string) {
	h, p, _ := net.SplitHostPort(e.addr)
	return h, p
}

func uringdServer(name, about string, args ...string) HTTPServer {
	return HTTPServer{Name: name, About: about, config: func(e *serverEnv) ([]string, []string, error) {
		if len(e.self) == 0 {
			return nil, nil, errors.New("no uringd binary to run")
		}
		argv := append(slices.Clone(e.self), "serve", "--root", e.root, "--addr", e.addr,
			"--max-conns", strconv.Itoa(e.connCap(10000)))
		argv = append(argv, args...)
		return append(argv, e.uringdArgs...), nil, nil
	}}
}

func nginxServer(name, about, extra string) HTTPServer {
	return HTTPServer{Name: name, Package: "nginx-light", Binary: "nginx", About: about,
		config: func(e *serverEnv) ([]string, []string, error) {
			conf := fmt.Sprintf(`daemon off;
worker_processes 2;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events { worker_connections %[5]d; }
http {
  include /etc/nginx/mime.types;
  access_log off;
  sendfile on; tcp_nopush on; tcp_nodelay on;
  keepalive_requests 1000000; keepalive_timeout 60s;
  open_file_cache max=10000 inactive=30s;
  %[2]s
  server { listen %[3]s reuseport backlog=4096; root %[4]s; }
}
`, e.dir, extra, e.addr, e.root, e.connCap(16384))
			p := filepath.Join(e.dir, "nginx.conf")
			return []string{"nginx", "-c", p}, nil, os.WriteFile(p, []byte(conf), 0o644)
		}}
}

// HTTPServers lists every server bench http knows, in its default order.
func HTTPServers() []HTTPServer {
	return []HTTPServer{
		uringdServer("uringd", "uringd serve: file IO in each loop's ring (--file-io uring), large files by sendfile when cached, else read with O_DIRECT on first use (--cold-reads direct)"),
		uringdServer("uringd-threadpool", "uringd serve --file-io threadpool: file reads on a pool of OS threads", "--file-io", "threadpool"),
		uringdServer("uringd-std", "uringd serve --net std: Go's net package and os.File, no io_uring", "--net", "std"),
		nginxServer("nginx", "nginx: 2 workers, sendfile, tcp_nopush, open_file_cache, a listen backlog of 4096 (as uringd), no access log", ""),
		nginxServer("nginx-aio", "nginx with its thread pool: the same plus `aio threads` (disk reads and sendfile on the pool's 32 threads)", "aio threads;"),
		{Name: "h2o", Package: "h2o", Binary: "h2o", About: "h2o: 2 threads, file.dir, no compression",
			config: func(e *serverEnv) ([]string, []string, error) {
				host, port := e.hostPort()
				conf := fmt.Sprintf("listen:\n  host: %s\n  port: %s\nnum-threads: 2\nmax-connections: %d\n"+
					"http1-request-timeout: 60\nfile.send-compressed: OFF\nhosts:\n  default:\n    paths:\n      /:\n        file.dir: %s\n",
					host, port, e.connCap(20000), e.root)
				p := filepath.Join(e.dir, "h2o.conf")
				return []string{"h2o", "-c", p}, nil, os.WriteFile(p, []byte(conf), 0o644)
			}},
		{Name: "lighttpd", Package: "lighttpd", Binary: "lighttpd", About: "lighttpd: 2 workers, sendfile backend, keep-alive, a listen backlog of 4096",
			config: func(e *serverEnv) ([]string, []string, error) {
				host, port := e.hostPort()
				conf := fmt.Sprintf(`server.document-root = %q
server.bind = %q
server.port = %s
server.max-worker = 2
server.max-keep-alive-requests = 1000000
server.max-keep-alive-idle = 60
server.max-fds = %d
server.max-connections = %d
server.listen-backlog = 4096
server.network-backend = "sendfile"
server.pid-file = %q
server.errorlog = %q
include_shell "/usr/share/lighttpd/create-mime.conf.pl"
`, e.root, host, port, max(16384, 3*e.connCap(16384/3)), e.connCap(16384/3), filepath.Join(e.dir, "pid"), filepath.Join(e.dir, "error.log"))
				p := filepath.Join(e.dir, "lighttpd.conf")
				return []string{"lighttpd", "-D", "-f", p}, nil, os.WriteFile(p, []byte(conf), 0o644)
			}},
		{Name: "caddy", Package: "caddy", Binary: "caddy", About: "Caddy: file_server, GOMAXPROCS=2, no admin, plain HTTP",
			config: func(e *serverEnv) ([]string, []string, error) {
				conf := fmt.Sprintf("{\n  admin off\n  auto_https off\n}\nhttp://%s {\n  root * %s\n  file_server\n}\n", e.addr, e.root)
				p := filepath.Join(e.dir, "Caddyfile")
				env := []string{"HOME=" + e.dir, "XDG_DATA_HOME=" + e.dir, "XDG_CONFIG_HOME=" + e.dir, "GOMAXPROCS=2"}
				return []string{"caddy", "run", "--adapter", "caddyfile", "--config", p}, env, os.WriteFile(p, []byte(conf), 0o644)
			}},
		{Name: "nethttp", About: "Go's net/http FileServer (http.FileServer(http.Dir(root)))",
			config: func(e *serverEnv) ([]string, []string, error) {
				if len(e.netHTTP) == 0 {
					return nil, nil, errors.New("no net/http server binary to run")
				}
				return append(slices.Clone(e.netHTTP), e.root, e.addr), nil, nil
			}},
	}
}

// ServeNetHTTP serves root on addr with Go's net/http FileServer until ctx is done: the
// net/http reference of bench http, run in its own process.
func ServeNetHTTP(ctx context.Context, root, addr string) error {
	srv := &http.Server{Addr: addr, Handler: http.FileServer(http.Dir(root))}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// runningServer is a server process (and its children) under test.
type runningServer struct {
	srv  *HTTPServer
	cmd  *exec.Cmd
	addr string
	log  *os.File
	dir  string
	cg   *memCgroup // the memory cgroup it runs in, or nil
	done chan struct{}
	err  error
}

// freeAddr returns a loopback address no one listens on now.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// startServer runs s serving root, inside cg when it is not nil (the process joins the
// cgroup before it execs the server, so everything it reads is charged there).
func startServer(ctx context.Context, s *HTTPServer, env serverEnv, cg *memCgroup) (*runningServer, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "uringd-bench-"+s.Name+"-")
	if err != nil {
		return nil, err
	}
	env.addr, env.dir = addr, dir
	argv, extraEnv, err := s.config(&env)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("bench http: %s: %w", s.Name, err)
	}
	if cg != nil {
		argv = append([]string{"/bin/sh", "-c", `echo $$ > "$0" && exec "$@"`, cg.procs}, argv...)
	}
	log, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), extraEnv...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		log.Close()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("bench http: starting %s: %w", s.Name, err)
	}
	rs := &runningServer{srv: s, cmd: cmd, addr: addr, log: log, dir: dir, cg: cg, done: make(chan struct{})}
	go func() {
		rs.err = cmd.Wait()
		close(rs.done)
	}()
	return rs, nil
}

// pids is the server's process and its children (nginx's and lighttpd's workers).
func (rs *runningServer) pids() []int {
	p := []int{rs.cmd.Process.Pid}
	if kids, err := Children(p[0]); err == nil {
		p = append(p, kids...)
	}
	return p
}

// exited reports whether the server is gone, with its log's tail.
func (rs *runningServer) exited() error {
	select {
	case <-rs.done:
		return fmt.Errorf("bench http: %s exited (%v): %s", rs.srv.Name, rs.err, rs.logTail())
	default:
		return nil
	}
}

func (rs *runningServer) logTail() string {
	b, _ := os.ReadFile(rs.log.Name())
	b = bytes.TrimSpace(b)
	if len(b) > 600 {
		b = b[len(b)-600:]
	}
	return string(b)
}

// stop ends the server's process group: SIGTERM, then SIGKILL after 5 s.
func (rs *runningServer) stop() {
	pgid := rs.cmd.Process.Pid
	syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-rs.done:
	case <-time.After(5 * time.Second):
		syscall.Kill(-pgid, syscall.SIGKILL)
		<-rs.done
	}
	syscall.Kill(-pgid, syscall.SIGKILL) // workers that outlived their master
	rs.log.Close()
	os.RemoveAll(rs.dir)
}

// memCgroup caps the page cache (and memory) of the servers started in it.
type memCgroup struct {
	dir   string
	procs string
}

// newMemCgroup makes a memory cgroup limited to limit bytes: cgroup v1's memory controller
// when it is mounted (memory.limit_in_bytes), else v2's memory.max.
func newMemCgroup(name string, limit int64) (*memCgroup, error) {
	v1 := "/sys/fs/cgroup/memory"
	dir, file := filepath.Join(v1, name), "memory.limit_in_bytes"
	if _, err := os.Stat(filepath.Join(v1, "cgroup.procs")); err != nil {
		ctl, err := os.ReadFile("/sys/fs/cgroup/cgroup.controllers")
		if err != nil || !slices.Contains(strings.Fields(string(ctl)), "memory") {
			return nil, errors.New("no memory cgroup: neither cgroup v1's memory controller nor v2's is mounted")
		}
		dir, file = filepath.Join("/sys/fs/cgroup", name), "memory.max"
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("memory cgroup: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, file), []byte(strconv.FormatInt(limit, 10)), 0); err != nil {
		os.Remove(dir)
		return nil, fmt.Errorf("memory cgroup: setting %s: %w", file, err)
	}
	return &memCgroup{dir: dir, procs: filepath.Join(dir, "cgroup.procs")}, nil
}

// remove deletes the cgroup once its processes are gone.
func (c *memCgroup) remove() error {
	var err error
	for range 50 {
		if err = os.Remove(c.dir); err == nil || errors.Is(err, os.ErrNotExist) {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("memory cgroup: %w", err)
}

// dropCaches writes the dirty pages out and drops the page cache, dentries and inodes.
func dropCaches() error {
	syscall.Sync()
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3"), 0); err != nil {
		return fmt.Errorf("dropping the page cache: %w", err)
	}
	return nil
}
