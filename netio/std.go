package netio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/uringd/uringd/fileio"
	"github.com/uringd/uringd/netio/internal/http1"
)

// stdServer is the fallback network engine on Go's net package, for machines where io_uring
// is unavailable: a goroutine per connection, the same parser, decisions and replies as the
// uring engine, files opened beneath the root by fileio's std engine (openat2 with
// RESOLVE_BENEATH, or its component walk: never above the root, and directories need only
// search permission, as in the uring engines) and bodies sent with sendfile by the net package.
type stdServer struct {
	s   *Server
	lns []net.Listener // one per Server listener, each with its accepting goroutine

	mu    sync.Mutex
	conns map[*stdConn]struct{}
	wg    sync.WaitGroup

	counts        stdCounters  // for Server.Stats
	paths         stdPaths     // precompressed siblings and header lines by path
	specialLogged atomic.Int64 // unix nanos: a missing fallback or error page was last logged

	// headExamined counts the bytes the request parser examined, for tests: a head that
	// arrives one byte per segment must cost O(n), not O(n²).
	headExamined atomic.Int64
}

type stdConn struct {
	nc   net.Conn
	busy atomic.Bool
}

func newStdServer(s *Server) (*stdServer, error) {
	ss := &stdServer{s: s, conns: make(map[*stdConn]struct{})}
	closeAll := func() {
		for _, ln := range ss.lns {
			ln.Close()
		}
	}
	// The net package takes over the Server's sockets (its own copies; ours are closed, so
	// closing its listeners at shutdown refuses new connections at once).
	for _, sl := range s.lns {
		f := os.NewFile(uintptr(sl.fds[0]), sl.addr.String())
		ln, err := net.FileListener(f)
		f.Close()
		sl.fds = nil
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("netio: std engine: listen %s: %w", sl.addr, err)
		}
		ss.lns = append(ss.lns, ln)
	}
	var err error
	// Files are opened through fileio (the resolver the threadpool mode uses), not os.Root:
	// os.Root opens every directory of a path for reading, so a file inside an execute-only
	// directory got 403. The Server closes the engine and Dir (closeFds).
	if s.fileDir, err = fileio.OpenDir(s.cfg.Root); err == nil {
		s.fileEng, err = fileio.New(fileio.EngineStd, fileio.Options{})
	}
	if err != nil {
		closeAll()
		if s.fileDir != nil {
			s.fileDir.Close()
			s.fileDir = nil
		}
		return nil, fmt.Errorf("netio: std engine: open root: %w", err)
	}
	return ss, nil
}

func (ss *stdServer) serve(ctx context.Context) error {
	s := ss.s
	// A listener that fails stops the server as a shutdown does, and Serve returns why.
	ctx, fail := context.WithCancel(ctx)
	defer fail()
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
		case <-done:
			return
		}
		s.stopping.Store(true)
		for _, ln := range ss.lns {
			ln.Close()
		}
		ss.closeIdle()
		t := time.NewTimer(s.cfg.ShutdownTimeout)
		defer t.Stop()
		select {
		case <-t.C:
			ss.closeAll()
		case <-done:
		}
	}()
	errs := make([]error, len(ss.lns))
	var accepting sync.WaitGroup
	for i, ln := range ss.lns {
		accepting.Add(1)
		go func() {
			defer accepting.Done()
			if errs[i] = ss.accept(ln); errs[i] != nil {
				fail()
			}
		}()
	}
	accepting.Wait()
	ss.wg.Wait()
	close(done)
	err := errors.Join(errs...)
	if s.cfg.AccessLog != nil {
		if ferr := s.cfg.AccessLog.Flush(); ferr != nil {
			err = errors.Join(err, ferr)
		}
	}
	return err
}

// accept takes ln's connections until the shutdown closes it, each served by its own
// goroutine; it returns an error only when accepting failed otherwise.
func (ss *stdServer) accept(ln net.Listener) error {
	s := ss.s
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.stopping.Load() {
				return nil
			}
			if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				s.cfg.Logf("accept: %v (raise the open file limit: ulimit -n)", err)
				time.Sleep(50 * time.Millisecond)
				continue
			}
			return fmt.Errorf("netio: accept on %s: %w", ln.Addr(), err)
		}
		if s.conns.Load() >= s.maxConns {
			nc.Write(overloaded)
			nc.Close()
			ss.counts.refused.Add(1)
			continue
		}
		c := &stdConn{nc: nc}
		ss.mu.Lock()
		ss.conns[c] = struct{}{}
		ss.mu.Unlock()
		s.conns.Add(1)
		ss.wg.Add(1)
		go ss.handle(c)
	}
}

func (ss *stdServer) closeIdle() {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for c := range ss.conns {
		if !c.busy.Load() {
			c.nc.Close()
		}
	}
}

func (ss *stdServer) closeAll() {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for c := range ss.conns {
		c.nc.Close()
	}
}

func (ss *stdServer) handle(c *stdConn) {
	s := ss.s
	defer func() {
		c.nc.Close()
		ss.mu.Lock()
		delete(ss.conns, c)
		ss.mu.Unlock()
		s.conns.Add(-1)
		ss.wg.Done()
	}()
	// in holds received bytes; in[off:] is not parsed yet. It is owned by this goroutine
	// alone (the net package copies into it), and req points into it: while a chunked
	// body is discarded, in[:off] is the head of req and stays in place.
	var (
		p     planner
		rep   reply
		req   http1.Request
		scan  http1.HeadScanner    // where the head being received has been scanned to
		dec   http1.ChunkedDecoder // the chunked body of req, while body is set
		body  bool                 // req is answered once its chunked body is discarded
		in    = make([]byte, 0, 16<<10)
		off   int
		skip  int64
		chunk = make([]byte, 16<<10)
	)
	p.setCORS(s.cfg.CORS)
	remote := []byte(unixRemote)
	if a, ok := c.nc.RemoteAddr().(*net.TCPAddr); ok {
		remote = []byte(a.IP.String())
	}
	headStart := time.Time{}
	for {
		if skip > 0 {
			n := int64(len(in) - off)
			if n > skip {
				n = skip
			}
			off += int(n)
			skip -= n
		}
		if off == len(in) && !body {
			in, off = in[:0], 0
		}
		var n int
		var err error
		switch {
		case body:
			err = http1.ErrNeedMore
			if off < len(in) {
				k, done, derr := dec.Decode(in[off:])
				off += k
				if derr != nil {
					// The framing of what follows is unknown: answer and close.
					now := time.Now()
					p.planError(&rep, now, errorReply{Status: derr.(http1.Error).Status(), Close: true})
					ss.write(c, &rep, nil, &req, remote, now)
					return
				}
				if done {
					body, err = false, nil
					n = 0 // the head was consumed when it was parsed
				} else {
					in = in[:off-k] // all of it was body: drop it, keep the head
					off = len(in)
				}
			}
		case skip == 0 && off < len(in):
			before := scan.Examined()
			n, err = scan.Parse(in[off:], &req, s.limits)
			ss.headExamined.Add(scan.Examined() - before)
			if err == nil && req.Chunked {
				// Discard the body before answering, so that a bad or oversized body
				// can still be answered 400 or 413. Move the head to the front first,
				// so that reading the body needs no more room than one receive.
				if off > 0 {
					in = in[:copy(in[:cap(in)], in[off:])]
					off = 0
					if n2, err2 := http1.Parse(in, &req, s.limits); n2 != n || err2 != nil {
						return // cannot happen: Parse is a pure function of the bytes
					}
				}
				off = n
				dec.Reset(s.limits)
				body, err = true, http1.ErrNeedMore
				headStart = time.Time{}
				continue
			}
		default:
			err = http1.ErrNeedMore
		}
		if err == http1.ErrNeedMore {
			if s.stopping.Load() && len(in) == off && !body {
				return
			}
			if len(in) == off && skip == 0 && !body {
				c.nc.SetReadDeadline(time.Now().Add(s.cfg.IdleTimeout))
				headStart = time.Time{}
			} else {
				if headStart.IsZero() {
					headStart = time.Now()
				}
				c.nc.SetReadDeadline(headStart.Add(s.cfg.ReadHeaderTimeout))
			}
			if len(in) == cap(in) {
				var ok bool
				if in, off, ok = ss.room(in, off, body, &req); !ok {
					return
				}
			}
			k, rerr := c.nc.Read(chunk[:min(len(chunk), cap(in)-len(in))])
			c.busy.Store(true)
			in = append(in, chunk[:k]...)
			if rerr != nil {
				return
			}
			continue
		}
		headStart = time.Time{}
		now := time.Now()
		if err != nil {
			e := err.(http1.Error)
			if n > 0 {
				off += n
				skip = req.ContentLength
			}
			p.planError(&rep, now, errorReply{Status: e.Status(), Close: e.Close() || !req.KeepAlive, Allow: e == http1.ErrMethodNotAllowed})
			ss.write(c, &rep, nil, &req, remote, now)
			if rep.close {
				return
			}
			continue
		}
		off += n
		skip = req.ContentLength
		f := ss.resolve(&p, &rep, &req, now)
		ok := ss.write(c, &rep, f, &req, remote, now)
		if f != nil {
			f.Close()
		}
		s.requests.Add(1)
		if !ok || rep.close || s.stopping.Load() {
			return
		}
		c.busy.Store(false)
	}
}

// room makes space at the end of a full input buffer. Unparsed bytes move to the front
// (a HeadScanner keeps offsets from the start of the head, so it is not disturbed); a
// buffer holding nothing else is doubled, which Parse bounds (431 past MaxHeaderBytes).
// While a chunked body is discarded the buffer holds only req's head, which req points
// into: it is copied to a larger buffer and req is parsed again from the copy.
func (ss *stdServer) room(in []byte, off int, body bool, req *http1.Request) ([]byte, int, bool) {
	if off > 0 && !body {
		return in[:copy(in[:cap(in)], in[off:])], 0, true
	}
	grown := make([]byte, len(in), 2*cap(in))
	copy(grown, in)
	if body {
		if n, err := http1.Parse(grown, req, ss.s.limits); n != off || err != nil {
			return nil, 0, false // cannot happen: Parse is a pure function of the bytes
		}
	}
	return grown, off, true
}

// resolve plans the reply for a GET or HEAD and returns the open file when the reply has a
// body to read from it.
func (ss *stdServer) resolve(p *planner, rep *reply, req *http1.Request, now time.Time) *fileio.File {
	if req.Method == http1.MethodOPTIONS { // parsed only with CORS on: a preflight
		p.planPreflight(rep, now, req)
		return nil
	}
	head := req.Method == http1.MethodHEAD
	name := strings.TrimPrefix(string(req.Path), "/")
	if name == "" {
		name = "."
	}
	for try := 0; try < 2; try++ {
		lk := lookup{indexTry: try == 1}
		var st fileio.Stat
		// O_NONBLOCK: a FIFO cannot block the open; O_NOCTTY: a terminal does not become ours.
		f, err := ss.s.fileEng.Open(context.Background(), ss.s.fileDir, name, syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
		if err != nil {
			lk.errno = errnoOf(err)
		} else {
			st = f.Info() // statx'd by Open
			lk.dir, lk.regular = st.Mode.IsDir(), st.Mode.IsRegular()
		}
		v := resolve(req, lk)
		if f != nil && v != vFile {
			f.Close()
		}
		switch v {
		case vListing:
			dir := strings.TrimSuffix(name, "/"+http1.IndexFile)
			if name == http1.IndexFile {
				dir = "."
			}
			entries, errno := readDirCut(ss.s, dir, http1.WantsJSON(req.Accept, req.RawQuery))
			if errno != 0 {
				p.planError(rep, now, errorReply{Status: statusForOpenError(errno), Head: head, Close: !req.KeepAlive})
			} else {
				p.planDirListing(rep, now, req, entries, ss.s.cfg.MaxListingEntries)
			}
		case vTryIndex:
			if name == "." {
				name = http1.IndexFile
			} else {
				name += "/" + http1.IndexFile
			}
			continue
		case vOpenFailed:
			return ss.special(p, rep, req, now, statusForOpenError(lk.errno), lk.errno)
		case vForbidden:
			return ss.special(p, rep, req, now, 403, 0)
		case vAddSlash:
			p.planRedirect(rep, now, req, append(http1.AppendEscapedPath(nil, req.Path), '/'))
		case vDropSlash:
			p.planRedirect(rep, now, req, http1.AppendEscapedPath(nil, req.Path))
		case vFile:
			m := newMeta(st.Size, st.ModTime, false, []byte(name))
			return ss.planFile(p, rep, req, now, name, f, &m)
		}
		return nil
	}
	return nil
}

// stdWriteChunk is how much of a file piece one sendfile call may send: the write deadline
// moves on after each, so WriteTimeout bounds the time between writes, not the response.
const stdWriteChunk = 256 << 10

// write sends rep: literal pieces with Write, file pieces with sendfile (io.CopyN from the
// file to the TCP connection), each write within the write timeout of the one before.
func (ss *stdServer) write(c *stdConn, rep *reply, file *fileio.File, req *http1.Request, remote []byte, start time.Time) bool {
	var f *os.File // the std engine's os.File: net's sendfile needs one
	if file != nil {
		f = file.OSFile()
	}
	for _, pc := range rep.pieces {
		c.nc.SetWriteDeadline(time.Now().Add(ss.s.cfg.WriteTimeout))
		if !pc.file {
			n, err := c.nc.Write(rep.buf[pc.lo:pc.hi])
			ss.counts.bytesSent.Add(uint64(n))
			if err != nil {
				return false
			}
			continue
		}
		if _, err := f.Seek(pc.off, io.SeekStart); err != nil {
			return false
		}
		for left := pc.n; left > 0; left -= stdWriteChunk {
			k := min(left, stdWriteChunk)
			n, err := io.CopyN(c.nc, f, k)
			ss.counts.bytesSent.Add(uint64(n))
			if err != nil || n != k {
				return false
			}
			c.nc.SetWriteDeadline(time.Now().Add(ss.s.cfg.WriteTimeout))
		}
	}
	ss.countResponse(req, rep.status)
	if al := ss.s.cfg.AccessLog; al != nil {
		al.Log(&AccessEntry{Time: start, Remote: remote, Method: req.MethodRaw, Target: req.Target,
			Proto: protoName(req.Version), Status: rep.status, Bytes: rep.bodyBytes,
			Referer: req.Referer, UserAgent: req.UserAgent, Duration: time.Since(start)})
	}
	return true
}
