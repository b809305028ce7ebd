package netio

import (
	"runtime"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/uringd/uringd/netio/internal/http1"
)

// poolIO runs a loop's file IO on a thread pool (--file-io threadpool): workers locked to OS
// threads do openat2, statx and pread, and hand results back to the loop through its inbox
// and eventfd. Sockets stay in the loop's ring. This is the comparison mode: the same server
// with the file half done the thread-pool way.
type poolIO struct {
	l       *loop
	jobs    chan poolJob
	wg      sync.WaitGroup
	mu      sync.Mutex
	stopped bool
}

// inbox carries results from other goroutines (pool workers, directory listings) to a loop.
type inbox struct {
	mu    sync.Mutex
	done  []poolJob
	spare []poolJob
}

type poolKind uint8

const (
	poolOpen poolKind = iota
	poolStatx
	poolRead
	poolList
)

// poolJob is one operation. The buffers it names (path, statx, read destination) belong to
// the conn, which keeps them until the loop has seen the job's result.
type poolJob struct {
	kind    poolKind
	slot    int32
	gen     uint32
	fd      int
	buf     []byte
	want    int
	off     int64
	c       *conn
	res     int64
	errno   syscall.Errno
	entries []http1.DirEntry
}

func newPoolIO(l *loop, threads int) *poolIO {
	p := &poolIO{l: l, jobs: make(chan poolJob, 4096)}
	for i := 0; i < threads; i++ {
		p.wg.Add(1)
		go p.worker()
	}
	return p
}

func (p *poolIO) worker() {
	defer p.wg.Done()
	runtime.LockOSThread() // one OS thread per worker: the thread-pool model, measured as such
	defer runtime.UnlockOSThread()
	for j := range p.jobs {
		p.do(&j)
		p.l.post(j)
	}
}

func (p *poolIO) do(j *poolJob) {
	c := j.c
	var err error
	switch j.kind {
	case poolOpen:
		var fd int
		fd, err = unix.Openat2(p.l.s.rootFd, string(c.pathz[:len(c.pathz)-1]), &unix.OpenHow{Flags: c.how.Flags, Resolve: c.how.Resolve})
		j.res = int64(fd)
	case poolStatx:
		err = unix.Statx(j.fd, "", unix.AT_EMPTY_PATH, unix.STATX_TYPE|unix.STATX_SIZE|unix.STATX_MTIME, c.stx)
	case poolRead:
		var n int
		for len(j.buf) > 0 {
			n, err = unix.Pread(j.fd, j.buf, j.off)
			if err == syscall.EINTR {
				continue
			}
			if err != nil || n == 0 {
				break
			}
			j.res += int64(n)
			j.buf, j.off = j.buf[n:], j.off+int64(n)
		}
	}
	if err != nil {
		j.errno, _ = err.(syscall.Errno)
		if j.errno == 0 {
			j.errno = syscall.EIO
		}
	}
}

// post hands a result to the loop; the first result after a drain wakes the loop.
func (l *loop) post(j poolJob) {
	in := &l.inbox
	in.mu.Lock()
	wake := len(in.done) == 0
	in.done = append(in.done, j)
	in.mu.Unlock()
	if wake {
		l.wakeup()
	}
}

func (p *poolIO) submit(c *conn, j poolJob) {
	j.c, j.slot, j.gen = c, c.slot, c.gen
	c.poolBusy++
	p.jobs <- j
}

func (p *poolIO) open(c *conn)  { p.submit(c, poolJob{kind: poolOpen}) }
func (p *poolIO) statx(c *conn) { p.submit(c, poolJob{kind: poolStatx, fd: c.openFd}) }
func (p *poolIO) read(c *conn, fd int, buf []byte, off int64) {
	p.submit(c, poolJob{kind: poolRead, fd: fd, buf: buf, off: off, want: len(buf)})
}

// drainInbox runs on the loop: it delivers every posted result.
func (l *loop) drainInbox() {
	in := &l.inbox
	in.mu.Lock()
	done := in.done
	in.done = in.spare[:0]
	in.mu.Unlock()
	for i := range done {
		j := &done[i]
		c := j.c
		if c.gen != j.gen {
			continue
		}
		c.poolBusy--
		res := int32(j.res)
		if j.errno != 0 {
			res = -int32(j.errno)
		}
		switch j.kind {
		case poolOpen:
			l.onOpen(c, res)
		case poolStatx:
			l.onStatx(c, res)
		case poolRead:
			c.readsPending--
			if j.errno != 0 || j.res < int64(j.want) { // failed, or the file shrank
				c.readFailed = true
			}
			if c.readsPending == 0 && !c.closing {
				if c.readFailed {
					l.closeConn(c)
				} else {
					l.send(c, 0)
				}
			}
		case poolList:
			l.onListing(c, j.entries, j.errno)
		}
		l.maybeRelease(c)
	}
	for i := range done {
		done[i] = poolJob{}
	}
	in.mu.Lock()
	in.spare = done[:0]
	in.mu.Unlock()
}

func (p *poolIO) close() {
	p.mu.Lock()
	if !p.stopped {
		p.stopped = true
		close(p.jobs)
	}
	p.mu.Unlock()
	p.wg.Wait()
}
