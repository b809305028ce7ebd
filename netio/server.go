package netio

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/uringd/uringd/fileio"
	"github.com/uringd/uringd/netio/internal/http1"
	"github.com/uringd/uringd/ring"
)

// Config configures a Server. Zero fields take the documented defaults; negative counts
// and times are refused by NewServer, except where a field says negative disables.
type Config struct {
	// Addr is a listen address, and Addrs more of them: the server listens on Addr (when
	// set) and on each of Addrs; with neither set, on 127.0.0.1:8080. An address is
	// host:port ("[::1]:8080" for IPv6, which listens on IPv6 only, as nginx does: list
	// 0.0.0.0:P beside [::]:P for both) or "unix:/path.sock", a unix socket every loop
	// accepts on (SO_REUSEPORT cannot shard one), its file removed when the server closes.
	Addr  string
	Addrs []string
	// UnixMode is the mode of the unix socket files, set between bind and listen (clients
	// need write permission to connect); 0 leaves bind's, 0777 less the umask.
	UnixMode os.FileMode
	// ListenFiles are listening sockets handed in, such as systemd's (SocketActivation):
	// TCP or unix stream sockets, served instead of Addr and Addrs, each loop accepting on
	// each. NewServer takes its own copies; the caller may close the files after it.
	ListenFiles []*os.File

	Root  string // directory served; default "."
	Loops int    // event loops, each an OS thread owning one ring; default runtime.NumCPU()

	// Net picks the network engine: "uring" (default) or "std" (Go's net package: for
	// machines where io_uring is unavailable; same HTTP and file code).
	Net string
	// FileIO picks where file IO runs in the uring engine: "uring" (default: in the loop's
	// own ring) or "threadpool" (Threads OS threads doing pread, completions back in the loop).
	FileIO  string
	Threads int // threadpool OS threads, shared by the loops; default 32

	MaxHeaderBytes    int           // default 8 KiB: larger header blocks get 431
	MaxTargetBytes    int           // default 4 KiB: longer request targets get 414
	ReadHeaderTimeout time.Duration // default 10s: a request head must arrive within it (slow-loris)
	IdleTimeout       time.Duration // default 60s: keep-alive connections idle longer are closed
	WriteTimeout      time.Duration // default 60s: longest wait for a response's next write (as nginx's send_timeout), not a bound on the whole response
	ShutdownTimeout   time.Duration // default 10s: in-flight responses get this long at shutdown
	MaxConns          int           // default 10000: above it new connections get 503 and are closed

	// BatchWait is how long a loop that has some completions waits for more before handling
	// them, on kernels with IORING_FEAT_MIN_TIMEOUT (6.12+), when its recent rate brings at
	// least two more in that time: fewer wakeups and syscalls under load, at most this much
	// added latency. Default (zero or negative): no batched waits, which served as many
	// requests or more, for no more CPU, in every load measured (see the README's design
	// notes).
	BatchWait time.Duration

	// LargeFiles picks how file pieces of 64 KiB and more are sent in the uring file IO mode
	// (smaller ones always go as READ linked to SEND, head and body in one buffer):
	//
	//   - "sendfile" (default): the loop calls sendfile(2) itself on the non-blocking socket,
	//     for ranges cachestat(2) (6.5+) says are in the page cache: no copy through user
	//     memory and no thread, ours or the kernel's; an EAGAIN arms a POLL for writability in
	//     the ring. io_uring has no sendfile, and its SPLICE always runs on io-wq workers. A
	//     range not (fully) cached, or a kernel without cachestat, takes the "read" path for
	//     that chunk, so the loop never waits for a disk.
	//   - "splice": SPLICE file→pipe→socket through the ring (5.7+): zero-copy too, but every
	//     splice runs on a kernel io-wq worker thread, which blocks in the socket write.
	//   - "read": READ into a 256 KiB buffer linked to SEND: thread-free, two copies more.
	//
	// "sendfile" is the default because it moves cached bytes with no copy and no thread
	// (measured: see docs/results).
	LargeFiles string

	// ColdReads picks how the "sendfile" path reads large file ranges that are not in the
	// page cache: "direct" (default) READs them with O_DIRECT the first time an open file is
	// used, and buffered after that; "buffered" always READs through the page cache. Direct
	// reads keep files read once from pushing hot ones out of the cache, and spare the loop's
	// thread the readahead, page allocation and cgroup reclaim that buffered reads do inline
	// (measured: see docs/results). A file system without O_DIRECT reads buffered.
	ColdReads string

	// MaxListingEntries bounds a directory listing (a directory without index.html): at
	// most this many entries are read and shown, and a cut listing says so in a last line.
	// Default (for 0) 10000.
	MaxListingEntries int

	// FixedBuffers is how many 256 KiB send buffers each loop registers with its ring
	// (IORING_REGISTER_BUFFERS), so the file bytes READ into them (uncached large ranges,
	// and pieces read with their head) go by READ_FIXED: the kernel pins those pages once,
	// instead of at every read. Connections beyond them read into ordinary buffers. They
	// are pinned memory, which counts against RLIMIT_MEMLOCK without CAP_IPC_LOCK; a loop
	// the limit refuses registers half as many, down to none, and Logf says so. Default
	// (for 0) 32, 8 MiB a loop; negative disables. The thread-pool file IO mode has none.
	FixedBuffers int

	// IOWQMaxWorkers caps each loop's io-wq worker threads of each kind, bounded (regular
	// file work: reads, opens, stats) and unbounded (sockets, pipes), with
	// IORING_REGISTER_IOWQ_MAX_WORKERS (5.15+): at most 2×IOWQMaxWorkers per loop, so a cold
	// disk load cannot grow the kernel's own thread pool without bound; work beyond the cap
	// waits in the kernel's queue. 0 leaves the kernel's limit (RLIMIT_NPROC). Older
	// kernels ignore it, which Logf reports.
	IOWQMaxWorkers int

	// Precompressed names the encodings served from precompressed files beside the one
	// asked for ("br", "zstd", "gzip": file.br, file.zst, file.gz), in the server's order of
	// preference, to clients whose Accept-Encoding takes them; a sibling older than its file
	// is ignored. Which siblings exist is looked up once per open-file cache entry, so files
	// without any cost no syscall per request. Empty: none (files are never compressed on
	// the fly: that would be CPU in the loop).
	Precompressed []string
	// Fallback, when set (a path in the root such as "/index.html"), answers with that file
	// and 200 a GET or HEAD for a missing path whose last segment has no '.' (a route of a
	// single-page app, not a missing asset), in place of 404.
	Fallback string
	// ErrorPages maps an error status to a file in the root whose contents answer it, with
	// that status: 404 (missing), 403 (refused) and 500 (a failed open) arise from lookups.
	// A page that is itself missing gives the plain answer, and a log line.
	ErrorPages map[int]string

	// Headers adds header fields to file responses by path (HeaderRule).
	Headers []HeaderRule
	// CORS, when set ("*" or one origin such as "https://example.com"), is sent as
	// Access-Control-Allow-Origin on every response, and OPTIONS preflights are answered.
	CORS string

	OpenFileCache    int           // open files kept per loop (fd + stat); default 1024, negative disables
	OpenFileCacheTTL time.Duration // how long an entry is trusted before it is opened again; default 1s

	// KeepGOMAXPROCS stops Serve from raising GOMAXPROCS to at least Loops+2 while it runs.
	// Each loop's OS thread spends its time blocked in io_uring_enter; with no spare P the
	// runtime's monitor takes the loops' Ps back every 20µs and wakes as often, which costs
	// CPU under load. Spare Ps let it leave them alone.
	KeepGOMAXPROCS bool

	// JoinPort lets the server share Addr with a server already listening there through
	// SO_REUSEPORT (the kernel then spreads new connections over both), for a zero-downtime
	// upgrade: start the new server with JoinPort, then stop the old one. Without it an
	// address in use is refused, naming the process that holds it. The std engine, which
	// listens without SO_REUSEPORT, cannot join. Unix sockets cannot be shared: a unix:
	// path a server listens on is refused either way.
	JoinPort bool
	// TCPCongestion names the TCP congestion control of accepted connections (e.g. "cubic"):
	// set on each TCP listener (TCP_CONGESTION), which accepted sockets inherit. Empty: the
	// system's net.ipv4.tcp_congestion_control. A name the kernel lacks, or one it does not
	// allow without CAP_NET_ADMIN, fails NewServer.
	TCPCongestion string

	// AccessLog receives one entry per response; nil disables access logging.
	AccessLog AccessLogger
	// KernelCompat caps io_uring features to an older kernel version (e.g. "5.10").
	KernelCompat string
	// Logf reports server events (fallbacks, errors that close connections); nil: silent.
	Logf func(format string, args ...any)
}

// DefaultConfig is the zero Config with its defaults filled in.
func DefaultConfig() Config {
	var c Config
	c.setDefaults()
	return c
}

func (c *Config) setDefaults() {
	if c.Addr == "" && len(c.Addrs) == 0 && len(c.ListenFiles) == 0 {
		c.Addr = "127.0.0.1:8080"
	}
	if c.Root == "" {
		c.Root = "."
	}
	if c.Loops <= 0 {
		c.Loops = runtime.NumCPU()
	}
	if c.Net == "" {
		c.Net = "uring"
	}
	if c.FileIO == "" {
		c.FileIO = "uring"
	}
	if c.LargeFiles == "" {
		c.LargeFiles = "sendfile"
	}
	if c.ColdReads == "" {
		c.ColdReads = "direct"
	}
	if c.Threads <= 0 {
		c.Threads = 32
	}
	if c.MaxHeaderBytes <= 0 {
		c.MaxHeaderBytes = 8 << 10
	}
	if c.MaxTargetBytes <= 0 {
		c.MaxTargetBytes = 4 << 10
	}
	if c.ReadHeaderTimeout <= 0 {
		c.ReadHeaderTimeout = 10 * time.Second
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 60 * time.Second
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 60 * time.Second
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = 10 * time.Second
	}
	if c.MaxConns <= 0 {
		c.MaxConns = 10000
	}
	if c.BatchWait == 0 {
		c.BatchWait = -1
	}
	if c.MaxListingEntries <= 0 {
		c.MaxListingEntries = 10000
	}
	if c.OpenFileCache == 0 {
		c.OpenFileCache = 1024
	}
	if c.FixedBuffers == 0 {
		c.FixedBuffers = 32
	}
	if c.OpenFileCacheTTL <= 0 {
		c.OpenFileCacheTTL = time.Second
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
}

// connCap is MaxConns, lowered to what the fd limit leaves after the open-file caches and
// a margin (listeners, rings, eventfds, pipes, files opened past the cache): a connection
// over it gets a 503 at once, so the connections being served keep fds to open files with,
// rather than the server running out and answering them 500.
func connCap(cfg Config) int64 {
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &rl) != nil || rl.Cur == unix.RLIM_INFINITY {
		return int64(cfg.MaxConns)
	}
	reserve := 64 + int64(cfg.Loops)*int64(max(0, fileCacheSize(cfg.OpenFileCache, cfg.Loops)))
	return min(int64(cfg.MaxConns), max(16, int64(rl.Cur)-reserve))
}

// checkNegative refuses negative counts and times, which have no meaning (zero takes the
// default; OpenFileCache, FixedBuffers and BatchWait are the fields where negative disables).
func (c *Config) checkNegative() error {
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"Loops", int64(c.Loops)}, {"Threads", int64(c.Threads)}, {"MaxHeaderBytes", int64(c.MaxHeaderBytes)},
		{"MaxTargetBytes", int64(c.MaxTargetBytes)}, {"MaxConns", int64(c.MaxConns)},
		{"MaxListingEntries", int64(c.MaxListingEntries)}, {"IOWQMaxWorkers", int64(c.IOWQMaxWorkers)},
		{"ReadHeaderTimeout", int64(c.ReadHeaderTimeout)}, {"IdleTimeout", int64(c.IdleTimeout)},
		{"WriteTimeout", int64(c.WriteTimeout)}, {"ShutdownTimeout", int64(c.ShutdownTimeout)},
		{"OpenFileCacheTTL", int64(c.OpenFileCacheTTL)},
	} {
		if f.v < 0 {
			return fmt.Errorf("netio: Config.%s is negative (%d): zero takes the default", f.name, f.v)
		}
	}
	return nil
}

// Server is the static file server. Create it with NewServer, run it with Serve.
type Server struct {
	cfg      Config
	rootPath string
	rootFd   int      // O_PATH directory fd every file is opened beneath
	root     *os.Root // the same root for directory listings and the std engine
	features *ring.Features
	limits   http1.Limits
	pre      []http1.Coding // Config.Precompressed
	hdrRules *headerRules   // Config.Headers and CORS; nil: none

	conns    atomic.Int64 // open connections, all loops
	maxConns int64        // MaxConns, or fewer if the fd limit is lower (connCap)
	requests atomic.Int64 // responses completed
	// large counts the bytes of large file pieces sent by each path (index: largeRead,
	// largeSplice, largeSendfile), so tests and operators can see which path the kernel got.
	large [5]atomic.Int64
	// uncachedLooks counts cachestat looks that found a range not all cached (LargeFileStats).
	uncachedLooks atomic.Int64
	sendfileOK    bool // cachestat(2) works here: the sendfile path can be taken (SendfileUsable)
	coldDirect    bool // Config.ColdReads is "direct"
	stopping      atomic.Bool
	stopAt        atomic.Int64 // unix nanos: force-close deadline after shutdown began

	std *stdServer

	lns []*listener // one per listen address (listen.go)

	lists listQueue // directory listings waiting for and running on listing workers

	tune     ringTuning // tests: tiny queues, injected faults (tuning.go)
	pressure pressure   // how often the loops met a full SQ

	failedMu sync.Mutex
	failed   []*loop // loops that failed: kept reachable, see keepFailed

	statsMu    sync.Mutex
	statsLoops []*loop // Serve's loops, for Stats (they stay reachable for it after Serve)

	fileEng fileio.Engine // --file-io threadpool and the std engine: the fileio engine and the root it opens beneath
	fileDir *fileio.Dir
}

// NewServer validates cfg, opens the root and the listeners, and for the uring engine
// checks that io_uring is usable, saying why not (and to use Net "std") when it is not.
func NewServer(cfg Config) (*Server, error) {
	if err := cfg.checkNegative(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	// Go's runtime creates its netpoller (an epoll fd, and an eventfd) on first use, and dies
	// if no fd is left for it then. Use it now, while fds are plentiful.
	if r, w, err := os.Pipe(); err == nil {
		r.Close()
		w.Close()
	}
	switch cfg.Net {
	case "uring", "std":
	default:
		return nil, fmt.Errorf("netio: unknown network engine %q (uring, std)", cfg.Net)
	}
	switch cfg.FileIO {
	case "uring", "threadpool":
	default:
		return nil, fmt.Errorf("netio: unknown file IO mode %q (uring, threadpool)", cfg.FileIO)
	}
	switch cfg.LargeFiles {
	case "sendfile", "splice", "read":
	default:
		return nil, fmt.Errorf("netio: unknown large-file path %q (sendfile, splice, read)", cfg.LargeFiles)
	}
	switch cfg.ColdReads {
	case "direct", "buffered":
	default:
		return nil, fmt.Errorf("netio: unknown cold-read mode %q (direct, buffered)", cfg.ColdReads)
	}
	pre, err := parseCodings(cfg.Precompressed)
	if err != nil {
		return nil, err
	}
	rules, err := newHeaderRules(cfg.Headers, cfg.CORS)
	if err != nil {
		return nil, err
	}
	if err := checkSpecialPages(cfg.Fallback, cfg.ErrorPages); err != nil {
		return nil, err
	}
	st, err := os.Stat(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("netio: root: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("netio: root %s is not a directory", cfg.Root)
	}
	s := &Server{cfg: cfg, rootPath: cfg.Root, pre: pre, hdrRules: rules,
		limits: http1.Limits{MaxHeaderBytes: cfg.MaxHeaderBytes, MaxTargetBytes: cfg.MaxTargetBytes, AllowOptions: cfg.CORS != ""}}
	s.maxConns = connCap(cfg)
	if s.root, err = os.OpenRoot(cfg.Root); err != nil {
		return nil, fmt.Errorf("netio: open root: %w", err)
	}
	// Every engine opens directories for listings beneath it (openDirBeneath).
	if s.rootFd, err = unix.Open(cfg.Root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
		s.root.Close()
		return nil, fmt.Errorf("netio: open root %s: %w", cfg.Root, err)
	}
	if cfg.Net == "std" {
		closeRoot := func() {
			s.root.Close()
			unix.Close(s.rootFd)
		}
		if cfg.JoinPort {
			closeRoot()
			return nil, errors.New("netio: JoinPort needs the uring engine (the std engine listens without SO_REUSEPORT)")
		}
		err = s.openListeners(false)
		if err == nil {
			err = s.setCongestion()
		}
		if err != nil {
			s.closeFds()
			return nil, err
		}
		s.std, err = newStdServer(s)
		if err != nil {
			s.closeFds()
			return nil, err
		}
		return s, nil
	}
	f, err := ring.Probe(cfg.KernelCompat)
	if err != nil {
		s.closeFds()
		return nil, fmt.Errorf("netio: cannot use io_uring: %w (run with the std network engine: --net std)", err)
	}
	s.features = f
	s.sendfileOK = SendfileUsable(f)
	s.coldDirect = cfg.ColdReads == "direct"
	if cfg.LargeFiles == "sendfile" && !s.sendfileOK && cfg.FileIO == "uring" {
		cfg.Logf("large files: sendfile needs cachestat(2) (Linux 6.5+, kernel here %s); they go by READ+SEND", f.Effective())
	}
	if cfg.FileIO == "threadpool" {
		if s.fileDir, err = fileio.OpenDir(cfg.Root); err == nil {
			s.fileEng, err = fileio.New("threadpool", fileio.Options{Workers: cfg.Threads})
		}
		if err != nil {
			s.closeFds()
			return nil, fmt.Errorf("netio: file IO thread pool: %w", err)
		}
	}
	err = s.openListeners(true)
	if err == nil {
		err = s.setCongestion()
	}
	if err != nil {
		s.closeFds()
		return nil, err
	}
	return s, nil
}

// probeAddr fails with EADDRINUSE when something listens on addr: it binds a socket
// without SO_REUSEPORT there, which a listener's presence refuses, with or without
// SO_REUSEPORT. Port 0 (any free port) needs no probe.
func probeAddr(addr *net.TCPAddr) error {
	if addr.Port == 0 {
		return nil
	}
	family, sa := sockaddrOf(addr)
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("netio: socket: %w", err)
	}
	defer unix.Close(fd)
	// SO_REUSEADDR as the listeners have it: connections in TIME_WAIT do not count.
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return fmt.Errorf("netio: SO_REUSEADDR %s: %w", addr, err)
	}
	if family == unix.AF_INET6 {
		// As the listener will be: an IPv4 listener on the port is no conflict.
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1); err != nil {
			return fmt.Errorf("netio: IPV6_V6ONLY %s: %w", addr, err)
		}
	}
	if err := unix.Bind(fd, sa); err != nil {
		if errors.Is(err, unix.EADDRINUSE) {
			return addrInUse(addr.String(), nil)
		}
		return fmt.Errorf("netio: bind %s: %w", addr, err)
	}
	return nil
}

// addrInUse is the error for an address another listener holds: it wraps EADDRINUSE and
// names the holding processes when /proc shows them (inodes: the holder's listening
// sockets, when known; else they are looked up).
func addrInUse(address string, inodes []uint64) error {
	addr, _ := net.ResolveTCPAddr("tcp", address)
	if addr != nil && inodes == nil {
		inodes = listeningInodes(addr)
	}
	holder := ""
	if procs := socketOwners(inodes); len(procs) > 0 {
		holder = " (held by " + strings.Join(procs, ", ") + ")"
	} else if len(inodes) > 0 {
		holder = " (held by a process this user cannot inspect)"
	}
	return fmt.Errorf("netio: listen %s: %w%s; to share it on purpose (a zero-downtime upgrade), set JoinPort (uringd serve --join-port)",
		address, unix.EADDRINUSE, holder)
}

// listeningInodes returns the inodes of the TCP sockets in LISTEN state on addr's port
// whose address overlaps addr's (equal, or either one the wildcard), from /proc/net/tcp and
// /proc/net/tcp6. Best effort: nil when /proc cannot be read. An IPv6 addr is compared with
// IPv6 listeners only (ours are IPV6_V6ONLY); an IPv4 one with both, since a [::] listener
// may be dual-stack.
func listeningInodes(addr *net.TCPAddr) []uint64 {
	var inodes []uint64
	v6 := addr.IP != nil && addr.IP.To4() == nil
	for _, name := range [2]string{"/proc/net/tcp", "/proc/net/tcp6"} {
		if v6 && name == "/proc/net/tcp" {
			continue
		}
		b, err := os.ReadFile(name)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			f := strings.Fields(line)
			if len(f) < 10 || f[3] != "0A" { // TCP_LISTEN
				continue
			}
			host, port, ok := strings.Cut(f[1], ":")
			p, err := strconv.ParseUint(port, 16, 16)
			if !ok || err != nil || int(p) != addr.Port {
				continue
			}
			ip := procIP(host)
			if ip == nil || !(ip.Equal(addr.IP) || ip.IsUnspecified() || addr.IP == nil || addr.IP.IsUnspecified()) {
				continue
			}
			if ino, err := strconv.ParseUint(f[9], 10, 64); err == nil && ino != 0 {
				inodes = append(inodes, ino)
			}
		}
	}
	return inodes
}

// procIP decodes an address of /proc/net/tcp{,6}: 32-bit words in hex, each printed from
// its in-memory (network order) bytes read as a native-endian integer.
func procIP(h string) net.IP {
	if len(h) != 8 && len(h) != 32 {
		return nil
	}
	ip := make(net.IP, len(h)/2)
	for i := 0; i < len(h); i += 8 {
		w, err := strconv.ParseUint(h[i:i+8], 16, 32)
		if err != nil {
			return nil
		}
		binary.NativeEndian.PutUint32(ip[i/2:], uint32(w))
	}
	return ip
}

// socketOwners names the processes ("pid 123 (uringd)") that hold a socket of inodes, by
// reading the /proc/PID/fd links this user may read.
func socketOwners(inodes []uint64) []string {
	if len(inodes) == 0 {
		return nil
	}
	want := make(map[string]bool, len(inodes))
	for _, ino := range inodes {
		want["socket:["+strconv.FormatUint(ino, 10)+"]"] = true
	}
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var owners []string
	for _, p := range procs {
		pid := p.Name()
		if pid[0] < '0' || pid[0] > '9' {
			continue
		}
		fds, err := os.ReadDir("/proc/" + pid + "/fd")
		if err != nil {
			continue
		}
		for _, fd := range fds {
			if link, err := os.Readlink("/proc/" + pid + "/fd/" + fd.Name()); err == nil && want[link] {
				comm, _ := os.ReadFile("/proc/" + pid + "/comm")
				owners = append(owners, "pid "+pid+" ("+strings.TrimSpace(string(comm))+")")
				break
			}
		}
	}
	return owners
}

func sockaddrOf(addr *net.TCPAddr) (family int, sa unix.Sockaddr) {
	if ip4 := addr.IP.To4(); ip4 != nil || addr.IP == nil {
		in := &unix.SockaddrInet4{Port: addr.Port}
		if ip4 != nil {
			copy(in.Addr[:], ip4)
		}
		return unix.AF_INET, in
	}
	in := &unix.SockaddrInet6{Port: addr.Port}
	copy(in.Addr[:], addr.IP.To16())
	return unix.AF_INET6, in
}

func listenSocket(addr *net.TCPAddr, reuseport bool) (int, error) {
	family, sa := sockaddrOf(addr)
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return -1, fmt.Errorf("netio: socket: %w", err)
	}
	fail := func(what string, err error) (int, error) {
		unix.Close(fd)
		return -1, fmt.Errorf("netio: %s %s: %w", what, addr, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return fail("SO_REUSEADDR", err)
	}
	if family == unix.AF_INET6 {
		// IPv6 only, as nginx's listeners: 0.0.0.0:P and [::]:P can then both be listed.
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1); err != nil {
			return fail("IPV6_V6ONLY", err)
		}
	}
	if reuseport {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
			return fail("SO_REUSEPORT", err)
		}
	}
	if err := unix.Bind(fd, sa); err != nil {
		return fail("bind", err)
	}
	if err := unix.Listen(fd, 4096); err != nil {
		return fail("listen", err)
	}
	return fd, nil
}

func sockaddrToTCP(sa unix.Sockaddr) *net.TCPAddr {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(append([]byte(nil), a.Addr[:]...)), Port: a.Port}
	case *unix.SockaddrInet6:
		return &net.TCPAddr{IP: net.IP(append([]byte(nil), a.Addr[:]...)), Port: a.Port}
	}
	return &net.TCPAddr{}
}

// Addr is the first TCP address the server listens on (useful with port 0), nil if it
// listens on unix sockets only; Listeners has them all.
func (s *Server) Addr() *net.TCPAddr {
	for _, ln := range s.lns {
		if ln.tcp {
			return ln.addr.(*net.TCPAddr)
		}
	}
	return nil
}

// Features is what the uring engine runs on (nil for the std engine).
func (s *Server) Features() *ring.Features { return s.features }

// Conns is the number of open connections.
func (s *Server) Conns() int64 { return s.conns.Load() }

// Requests is the number of responses completed.
func (s *Server) Requests() int64 { return s.requests.Load() }

// Serve runs the server until ctx is done, then shuts down gracefully: it stops accepting,
// lets in-flight responses finish within ShutdownTimeout, closes every connection, flushes
// the access log and returns nil.
//
// A loop that fails (its ring returns an error that is neither a timeout nor busy) takes the
// whole server down: the listeners are shut at once, so the kernel refuses new connections
// instead of queueing them where no loop accepts, the other loops drain and close their
// connections as at a normal shutdown, and Serve returns an error naming the loop and what
// failed. It does not rebuild the ring in-process: a ring failing unexpectedly leaves the
// loop in an unknown state, and every buffer still in flight would have to be abandoned
// safely; a supervisor (systemd, Kubernetes) restarting the process is the clean recovery.
func (s *Server) Serve(ctx context.Context) error {
	defer s.closeFds()
	if s.std != nil {
		return s.std.serve(ctx)
	}
	if want := s.cfg.Loops + 2; !s.cfg.KeepGOMAXPROCS && runtime.GOMAXPROCS(0) < want {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(want))
	}
	loops := make([]*loop, s.cfg.Loops)
	// Serve wakes the loops through its own copy of each loop's eventfd: a loop closes its
	// copy when it ends, and a write to a closed fd number would land on whatever reused it.
	wakeFds := make([]int, 0, len(loops))
	defer func() {
		for _, fd := range wakeFds {
			unix.Close(fd)
		}
	}()
	for i := range loops {
		l, err := newLoop(s, i, s.loopListeners(i))
		if err == nil {
			var wfd int
			if wfd, err = unix.FcntlInt(uintptr(l.wakeFd), unix.F_DUPFD_CLOEXEC, 0); err == nil {
				wakeFds = append(wakeFds, wfd)
			} else {
				l.close()
				err = fmt.Errorf("netio: loop %d: dup eventfd: %w", i, err)
			}
		}
		if err != nil {
			for _, l := range loops[:i] {
				l.close()
			}
			return err
		}
		loops[i] = l
	}
	s.statsMu.Lock()
	s.statsLoops = loops
	s.statsMu.Unlock()
	var stopOnce sync.Once
	stop := func() {
		stopOnce.Do(func() {
			s.stopAt.Store(time.Now().Add(s.cfg.ShutdownTimeout).UnixNano())
			s.stopping.Store(true)
			one := [8]byte{1}
			for _, fd := range wakeFds {
				unix.Write(fd, one[:])
			}
		})
	}
	var failOnce sync.Once
	failed, first := -1, error(nil)
	var wg sync.WaitGroup
	errs := make([]error, len(loops))
	for i, l := range loops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errs[i] = l.run(); errs[i] != nil {
				s.keepFailed(l)
				failOnce.Do(func() {
					failed, first = i, fmt.Errorf("netio: server stopped: %w", errs[i])
					s.cfg.Logf("loop %d failed, stopping the server: %v", i, errs[i])
					stop() // first: a loop that sees its accept fail on the shut listener is stopping
					s.shutListeners()
				})
			}
		}()
	}
	served := make(chan struct{})
	defer close(served)
	go func() {
		select {
		case <-ctx.Done():
			stop()
		case <-served:
		}
	}()
	wg.Wait()
	var all []error
	if failed >= 0 {
		all = append(all, first)
		for i, err := range errs {
			if i != failed && err != nil {
				all = append(all, err)
			}
		}
	}
	if s.cfg.AccessLog != nil {
		if err := s.cfg.AccessLog.Flush(); err != nil {
			all = append(all, fmt.Errorf("netio: flush access log: %w", err))
		}
	}
	return errors.Join(all...)
}

// shutListeners makes every listener refuse new connections now. shutdown(2) on a
// listening socket stops it (it leaves its SO_REUSEPORT group, queued connections are
// reset, later SYNs refused) even while a ring's accept holds a reference to it, which
// close(2) alone would not; the fds are closed when Serve returns.
func (s *Server) shutListeners() {
	for _, ln := range s.lns {
		if ln.handed {
			continue // systemd's copy goes on listening, for the next start
		}
		for _, fd := range ln.fds {
			unix.Shutdown(fd, unix.SHUT_RDWR)
		}
	}
}

// keepFailed keeps a failed loop reachable from the Server. Its run has returned and its
// close has closed the ring and released its connections; the kernel may still be
// finishing io-wq work (a file read) into its buffers after the ring fd was closed.
func (s *Server) keepFailed(l *loop) {
	s.failedMu.Lock()
	s.failed = append(s.failed, l)
	s.failedMu.Unlock()
}

func (s *Server) closeFds() {
	s.closeListeners()
	if s.rootFd > 0 {
		unix.Close(s.rootFd)
		s.rootFd = 0
	}
	if s.root != nil {
		s.root.Close()
	}
	if s.fileEng != nil {
		s.fileEng.Close()
		s.fileEng = nil
	}
	if s.fileDir != nil {
		s.fileDir.Close()
		s.fileDir = nil
	}
}

// String describes the engine for logs: "uring (file IO: uring, 2 loops)".
func (s *Server) String() string {
	if s.std != nil {
		return "std (Go net package)"
	}
	return "uring (file IO: " + s.cfg.FileIO + ", " + strconv.Itoa(s.cfg.Loops) + " loops)"
}
