package netio

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// listener is one listen address of a Server and the sockets open on it.
type listener struct {
	addr net.Addr // *net.TCPAddr or *net.UnixAddr
	// fds: one SO_REUSEPORT socket per loop (TCP), or one socket every loop accepts on (a
	// unix socket, which SO_REUSEPORT cannot shard; a handed-in one; no SO_REUSEPORT here).
	fds []int
	tcp bool
	// handed: from Config.ListenFiles. It is never shut down: systemd keeps its own copy
	// listening, and connections that come after this server stopped wait for the next one.
	handed bool
	path   string // the unix socket file this server made, removed when it closes
	ino    uint64 // that file's inode: a file someone else put there since is left alone
}

// listenAddrs is Config.Addr followed by Config.Addrs.
func (c *Config) listenAddrs() []string {
	var all []string
	if c.Addr != "" {
		all = append(all, c.Addr)
	}
	return append(all, c.Addrs...)
}

// openListeners opens the listeners of every address, or takes the handed-in ones. The
// uring engine asks for reuseport: one SO_REUSEPORT socket per loop on each TCP address
// (socket sharding: the kernel spreads connections over the loops), or one shared socket
// where SO_REUSEPORT is unsupported; the std engine accepts on one socket per address.
//
// SO_REUSEPORT would also let this server bind beside another process that listens on the
// same address with it, silently taking a share of that one's connections. So unless
// JoinPort is set, each address is first probed with a plain socket (which any listener
// there makes fail with EADDRINUSE), and once the listeners are up, /proc/net/tcp{,6} must
// show no listener on them but ours (which closes the window between probe and bind).
//
// What was opened before an error stays in s.lns, for closeFds.
func (s *Server) openListeners(reuseport bool) error {
	if len(s.cfg.ListenFiles) > 0 {
		if s.cfg.Addr != "" || len(s.cfg.Addrs) > 0 {
			return errors.New("netio: Config.ListenFiles are served instead of Addr and Addrs: set one or the other")
		}
		for i, f := range s.cfg.ListenFiles {
			if err := s.takeListener(f); err != nil {
				return fmt.Errorf("netio: ListenFiles[%d] (%s): %w", i, f.Name(), err)
			}
		}
		return nil
	}
	seen := make(map[string]bool)
	for _, a := range s.cfg.listenAddrs() {
		if path, ok := strings.CutPrefix(a, "unix:"); ok {
			if seen[a] {
				return fmt.Errorf("netio: listen address %q given twice", a)
			}
			seen[a] = true
			if err := s.listenUnix(path); err != nil {
				return err
			}
			continue
		}
		addr, err := net.ResolveTCPAddr("tcp", a)
		if err != nil {
			return fmt.Errorf("netio: listen address %q: %w", a, err)
		}
		if key := addr.String(); addr.Port != 0 {
			if seen[key] {
				return fmt.Errorf("netio: listen address %q given twice", a)
			}
			seen[key] = true
		}
		if !s.cfg.JoinPort {
			if err := probeAddr(addr); err != nil {
				return err
			}
		}
		if err := s.listenTCP(addr, reuseport); err != nil {
			return err
		}
	}
	if !reuseport || s.cfg.JoinPort {
		return nil
	}
	ours := make(map[uint64]bool)
	for _, ln := range s.lns {
		for _, fd := range ln.fds {
			var st unix.Stat_t
			if unix.Fstat(fd, &st) == nil {
				ours[st.Ino] = true
			}
		}
	}
	for _, ln := range s.lns {
		if !ln.tcp {
			continue
		}
		var others []uint64
		for _, ino := range listeningInodes(ln.addr.(*net.TCPAddr)) {
			if !ours[ino] {
				others = append(others, ino)
			}
		}
		if len(others) > 0 {
			return addrInUse(ln.addr.String(), others)
		}
	}
	return nil
}

// listenTCP opens addr's sockets: one per loop with SO_REUSEPORT, else one.
func (s *Server) listenTCP(addr *net.TCPAddr, reuseport bool) error {
	ln := &listener{addr: addr, tcp: true}
	s.lns = append(s.lns, ln)
	n := 1
	if reuseport {
		n = s.cfg.Loops
	}
	for i := 0; i < n; i++ {
		fd, err := listenSocket(addr, reuseport)
		if err != nil && i == 0 && reuseport && errors.Is(err, unix.ENOPROTOOPT) {
			s.cfg.Logf("SO_REUSEPORT unavailable (%v): one listener on %s shared by %d loops", err, addr, n)
			if fd, err = listenSocket(addr, false); err == nil {
				ln.fds = append(ln.fds, fd)
				break
			}
		}
		if errors.Is(err, unix.EADDRINUSE) {
			return addrInUse(addr.String(), nil)
		}
		if err != nil {
			return err
		}
		ln.fds = append(ln.fds, fd)
		if i == 0 && addr.Port == 0 {
			// The other loops' sockets join the port the kernel picked.
			sa, _ := unix.Getsockname(fd)
			addr = sockaddrToTCP(sa)
		}
	}
	sa, err := unix.Getsockname(ln.fds[0])
	if err != nil {
		return fmt.Errorf("netio: getsockname %s: %w", addr, err)
	}
	ln.addr = sockaddrToTCP(sa)
	return nil
}

// maxUnixPath is the longest path a sockaddr_un holds (108 bytes with its NUL).
const maxUnixPath = len(unix.RawSockaddrUnix{}.Path) - 1

// listenUnix opens the unix socket at path ("@name": Linux's abstract namespace, no file).
// An existing file there is refused unless it is a stale socket (nothing listens on it),
// which is replaced. The file gets Config.UnixMode between bind and listen, so no client
// can connect while it still has bind's mode.
func (s *Server) listenUnix(path string) error {
	what := "unix:" + path
	if path == "" {
		return fmt.Errorf("netio: listen address %q: no path", what)
	}
	if len(path) > maxUnixPath {
		return fmt.Errorf("netio: listen address %q: the path is longer than a unix socket address holds (%d bytes)", what, maxUnixPath)
	}
	abstract := path[0] == '@'
	if !abstract {
		if err := clearStaleSocket(path, s.cfg.Logf); err != nil {
			return err
		}
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return fmt.Errorf("netio: socket for %s: %w", what, err)
	}
	ln := &listener{addr: &net.UnixAddr{Name: path, Net: "unix"}, fds: []int{fd}}
	s.lns = append(s.lns, ln)
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		return fmt.Errorf("netio: bind %s: %w", what, err)
	}
	if !abstract {
		var st unix.Stat_t
		if err := unix.Lstat(path, &st); err != nil {
			return fmt.Errorf("netio: %s: stat after bind: %w", what, err)
		}
		ln.path, ln.ino = path, st.Ino
		if m := s.cfg.UnixMode; m != 0 {
			if err := os.Chmod(path, m.Perm()); err != nil {
				return fmt.Errorf("netio: %s: set mode %#o: %w", what, m.Perm(), err)
			}
		}
	}
	if err := unix.Listen(fd, 4096); err != nil {
		return fmt.Errorf("netio: listen %s: %w", what, err)
	}
	return nil
}

// clearStaleSocket makes way for a unix socket at path. Nothing there: nothing to do. A
// socket that refuses connections (ECONNREFUSED: its server is gone without removing it)
// is removed, and Logf says so. A socket something listens on, or a path that is not a
// socket, is an error, and is left as it is.
func clearStaleSocket(path string, logf func(string, ...any)) error {
	what := "unix:" + path
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); errors.Is(err, unix.ENOENT) {
		return nil
	} else if err != nil {
		return fmt.Errorf("netio: %s: %w", what, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return fmt.Errorf("netio: listen %s: %s exists and is not a socket (remove it, or listen elsewhere)", what, path)
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return fmt.Errorf("netio: socket: %w", err)
	}
	defer unix.Close(fd)
	// Non-blocking: a listener with a full backlog answers EAGAIN rather than making us wait.
	switch err := unix.Connect(fd, &unix.SockaddrUnix{Name: path}); {
	case err == nil, errors.Is(err, unix.EAGAIN):
		holder := ""
		if procs := socketOwners(unixListeningInodes(path)); len(procs) > 0 {
			holder = " (held by " + strings.Join(procs, ", ") + ")"
		}
		return fmt.Errorf("netio: listen %s: %w: a server is listening there%s", what, unix.EADDRINUSE, holder)
	case errors.Is(err, unix.ECONNREFUSED):
		if err := unix.Unlink(path); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("netio: %s: remove the stale socket: %w", what, err)
		}
		logf("%s: removed a stale socket (nothing listened on it)", what)
		return nil
	default:
		return fmt.Errorf("netio: listen %s: cannot tell whether the socket there is in use: %w", what, err)
	}
}

// unixListeningInodes returns the inodes of the listening unix sockets bound to path, from
// /proc/net/unix. Best effort: nil when it cannot be read.
func unixListeningInodes(path string) []uint64 {
	b, err := os.ReadFile("/proc/net/unix")
	if err != nil {
		return nil
	}
	var inodes []uint64
	for _, line := range strings.Split(string(b), "\n")[1:] {
		// Num RefCount Protocol Flags Type St Inode Path
		f := strings.Fields(line)
		if len(f) < 8 || f[7] != path {
			continue
		}
		if flags, err := strconv.ParseUint(f[3], 16, 32); err != nil || flags&(1<<16) == 0 { // __SO_ACCEPTCON
			continue
		}
		if ino, err := strconv.ParseUint(f[6], 10, 64); err == nil {
			inodes = append(inodes, ino)
		}
	}
	return inodes
}

// takeListener takes a listening socket handed in (Config.ListenFiles): its own copy of
// the fd, made non-blocking; the caller's file is left open.
func (s *Server) takeListener(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	fd := -1
	var derr error
	if err := rc.Control(func(v uintptr) { fd, derr = unix.FcntlInt(v, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return err
	}
	if derr != nil {
		return fmt.Errorf("dup: %w", derr)
	}
	ln := &listener{fds: []int{fd}, handed: true}
	s.lns = append(s.lns, ln)
	if acc, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err != nil {
		return fmt.Errorf("not a socket: %w", err)
	} else if acc != 1 {
		return errors.New("not a listening socket")
	}
	if typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE); err != nil || typ != unix.SOCK_STREAM {
		return errors.New("not a stream socket (only TCP and unix stream sockets are served)")
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return fmt.Errorf("getsockname: %w", err)
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4, *unix.SockaddrInet6:
		ln.addr, ln.tcp = sockaddrToTCP(sa), true
	case *unix.SockaddrUnix:
		ln.addr = &net.UnixAddr{Name: a.Name, Net: "unix"}
	default:
		return fmt.Errorf("a socket of an unsupported family (%T)", sa)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		return fmt.Errorf("set non-blocking: %w", err)
	}
	return nil
}

// closeListeners removes the unix socket files this server made (only if they are still
// its own) and closes every listener.
func (s *Server) closeListeners() {
	for _, ln := range s.lns {
		if ln.path != "" {
			var st unix.Stat_t
			if unix.Lstat(ln.path, &st) == nil && st.Ino == ln.ino {
				if err := unix.Unlink(ln.path); err != nil {
					// After a privilege drop (uringd serve --user) the directory may not be
					// ours to write: the next start finds the socket stale and replaces it.
					s.cfg.Logf("unix:%s: remove the socket: %v", ln.path, err)
				}
			}
			ln.path = ""
		}
		for _, fd := range ln.fds {
			unix.Close(fd)
		}
		ln.fds = nil
	}
	s.lns = nil
}

// Close releases what NewServer opened (listeners, with the unix socket files it made,
// the root, the file IO engine) for a Server that will not be served: Serve releases them
// itself when it returns.
func (s *Server) Close() error {
	s.closeFds()
	return nil
}

// Listeners returns the addresses the server listens on, in the order of Config.Addr and
// Config.Addrs (or of Config.ListenFiles): *net.TCPAddr (with the port the kernel chose
// for port 0) or *net.UnixAddr.
func (s *Server) Listeners() []net.Addr {
	addrs := make([]net.Addr, len(s.lns))
	for i, ln := range s.lns {
		addrs[i] = ln.addr
	}
	return addrs
}

// SocketActivation returns the listening sockets systemd handed this process (socket
// activation, as sd_listen_fds(3)): fds 3 to 3+LISTEN_FDS-1 when LISTEN_PID is this
// process's pid, named by LISTEN_FDNAMES when it has a name for each. It unsets LISTEN_PID,
// LISTEN_FDS and LISTEN_FDNAMES, so that child processes do not take the sockets for their
// own, and marks the fds close-on-exec. Without activation (no LISTEN_PID, or another
// process's) it returns nil and no error. Pass the files as Config.ListenFiles.
func SocketActivation() ([]*os.File, error) {
	pidEnv, fdsEnv, namesEnv := os.Getenv("LISTEN_PID"), os.Getenv("LISTEN_FDS"), os.Getenv("LISTEN_FDNAMES")
	os.Unsetenv("LISTEN_PID")
	os.Unsetenv("LISTEN_FDS")
	os.Unsetenv("LISTEN_FDNAMES")
	if pidEnv == "" {
		return nil, nil
	}
	pid, err := strconv.Atoi(pidEnv)
	if err != nil {
		return nil, fmt.Errorf("netio: socket activation: LISTEN_PID=%q is not a pid", pidEnv)
	}
	if pid != os.Getpid() {
		return nil, nil // meant for another process (a parent that exec'd us without clearing it)
	}
	n, err := strconv.Atoi(fdsEnv)
	if err != nil || n < 0 {
		return nil, fmt.Errorf("netio: socket activation: LISTEN_FDS=%q is not a count of fds", fdsEnv)
	}
	names := strings.Split(namesEnv, ":")
	const first = 3 // SD_LISTEN_FDS_START
	files := make([]*os.File, 0, n)
	for i := 0; i < n; i++ {
		fd := first + i
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC); err != nil {
			for _, f := range files {
				f.Close()
			}
			return nil, fmt.Errorf("netio: socket activation: fd %d of LISTEN_FDS=%d: %w", fd, n, err)
		}
		name := "LISTEN_FD_" + strconv.Itoa(fd)
		if len(names) == n && names[i] != "" {
			name = names[i]
		}
		files = append(files, os.NewFile(uintptr(fd), name))
	}
	return files, nil
}

// loopListener is one listener as a loop sees it.
type loopListener struct {
	fd int
	// owns: this loop drains and shuts it at shutdown: its own SO_REUSEPORT socket, or loop
	// 0's share of a socket all the loops accept on.
	owns      bool
	tcp       bool // accepted sockets get TCP_NODELAY
	handed    bool // never shut down (listener.handed)
	accepting bool // an ACCEPT is armed on it
	cancelled bool // and its cancellation is submitted
}

// loopListeners is what loop i accepts on: its own socket of each SO_REUSEPORT address and
// the socket of each shared one.
func (s *Server) loopListeners(i int) []loopListener {
	lns := make([]loopListener, len(s.lns))
	for j, ln := range s.lns {
		lns[j] = loopListener{fd: ln.fds[0], owns: i == 0, tcp: ln.tcp, handed: ln.handed}
		if i < len(ln.fds) {
			lns[j].fd, lns[j].owns = ln.fds[i], true
		}
	}
	return lns
}

// unixRemote is the access log's remote address of a unix socket's client.
const unixRemote = "unix"

// setCongestion sets Config.TCPCongestion on every TCP listener; accepted sockets inherit
// a listener's congestion control, so connections pay nothing for it.
func (s *Server) setCongestion() error {
	name := s.cfg.TCPCongestion
	if name == "" {
		return nil
	}
	for _, ln := range s.lns {
		if !ln.tcp {
			continue
		}
		for _, fd := range ln.fds {
			if err := unix.SetsockoptString(fd, unix.IPPROTO_TCP, unix.TCP_CONGESTION, name); err != nil {
				avail, _ := os.ReadFile("/proc/sys/net/ipv4/tcp_available_congestion_control")
				return fmt.Errorf("netio: TCP congestion control %q on %s: %w (available here: %s; without CAP_NET_ADMIN, those in net.ipv4.tcp_allowed_congestion_control)",
					name, ln.addr, err, strings.TrimSpace(string(avail)))
			}
		}
	}
	return nil
}
