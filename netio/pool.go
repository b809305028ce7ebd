package netio

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"syscall"

	"github.com/uringd/uringd/fileio"
	"github.com/uringd/uringd/netio/internal/http1"
)

// poolIO is a loop's file IO in --file-io threadpool mode: the same server with the file half
// done the thread-pool way, through fileio's threadpool engine (OS threads doing pread).
// Reads go through a fileio.Queue owned by the loop; the queue's Notify writes the loop's
// eventfd, which the loop polls in its ring, so completions come back into the loop. Opens
// are rare (the open-file cache holds the files) and run in a goroutine through the same
// engine, beneath the root. Sockets stay in the loop's ring.
type poolIO struct {
	l   *loop
	q   fileio.Queue
	out []*fileio.Op
	// waiting holds reads the queue refused because it was full, oldest first: they go in
	// as reaped reads make room (backpressure), never failed. Each keeps its conn busy.
	waiting []waitingRead
}

type waitingRead struct {
	c  *conn
	op *fileio.Op
}

func newPoolIO(l *loop) (*poolIO, error) {
	depth := 4096
	if l.s.tune.poolDepth > 0 {
		depth = l.s.tune.poolDepth
	}
	q, err := l.s.fileEng.NewQueue(depth, fileio.QueueOptions{Notify: l.wakeup})
	if err != nil {
		return nil, err
	}
	return &poolIO{l: l, q: q, out: make([]*fileio.Op, 256)}, nil
}

// open opens c.key beneath the root; the result comes back through the loop's inbox.
func (p *poolIO) open(c *conn) {
	name := strings.TrimPrefix(string(c.key), "/")
	if name == "" {
		name = "."
	}
	c.poolBusy++
	p.l.s.pressure.opens.Add(1)
	j := poolJob{kind: poolOpen, c: c, gen: c.gen}
	s := p.l.s
	go func() {
		// O_NONBLOCK: a FIFO cannot block the open; regular files ignore it.
		j.file, j.errno = nil, 0
		f, err := s.fileEng.Open(context.Background(), s.fileDir, name, syscall.O_RDONLY|syscall.O_NONBLOCK, 0)
		if err != nil {
			j.errno = errnoOf(err)
		} else {
			j.file = f
		}
		p.l.post(j)
	}()
}

// read queues one read of the current chunk; op is one of the conn's own Ops, which stay
// referenced by the conn until Reap returns them.
func (p *poolIO) read(c *conn, op *fileio.Op, f *fileio.File, buf []byte, off int64) {
	*op = fileio.Op{Code: fileio.OpRead, File: f, Buf: buf, Off: off, Tag: uint64(uint32(c.slot))}
	c.poolBusy++
	if len(p.waiting) > 0 { // behind those already waiting: first come, first read
		p.waiting = append(p.waiting, waitingRead{c, op})
		return
	}
	p.submit(c, op)
}

// submit hands op to the queue; a full queue makes it wait for room.
func (p *poolIO) submit(c *conn, op *fileio.Op) bool {
	err := p.q.Submit(op)
	switch {
	case err == nil:
		return true
	case errors.Is(err, fileio.ErrQueueFull):
		p.waiting = append(p.waiting, waitingRead{c, op})
		return false
	}
	c.poolBusy--
	p.l.s.cfg.Logf("loop %d: queue read of %s: %v", p.l.id, c.key, err)
	c.readFailed = true
	p.readDone(c)
	return true
}

// resubmit gives the waiting reads the room reaps made, in order.
func (p *poolIO) resubmit() {
	i := 0
	for ; i < len(p.waiting); i++ {
		w := p.waiting[i]
		if w.c.closing {
			// Closed while it waited: the read never happens. (Its poolBusy count keeps
			// the conn from being released, so w.c is still that connection.)
			w.c.poolBusy--
			w.c.readFailed = true
			p.readDone(w.c)
			p.l.maybeRelease(w.c)
			continue
		}
		k := len(p.waiting)
		if !p.submit(w.c, w.op) {
			p.waiting = p.waiting[:k] // submit queued it again at the end: it stays where it was
			break
		}
	}
	n := copy(p.waiting, p.waiting[i:])
	clear(p.waiting[n:])
	p.waiting = p.waiting[:n]
}

// reap delivers finished reads.
func (p *poolIO) reap() {
	for {
		n, err := p.q.Reap(p.out, 0)
		if err != nil {
			p.l.s.cfg.Logf("loop %d: reap file reads: %v", p.l.id, err)
		}
		for _, op := range p.out[:n] {
			c := p.l.conns[int32(op.Tag)]
			c.poolBusy--
			if op.Err != nil || op.N != len(op.Buf) { // failed, or the file shrank
				switch {
				case c.closing || c.readFailed:
				case op.Err == nil || errors.Is(op.Err, io.EOF):
					p.l.fileChanged(c)
				default:
					p.l.s.cfg.Logf("loop %d: read %s: %v", p.l.id, c.key, op.Err)
				}
				c.readFailed = true
			}
			p.readDone(c)
			p.l.maybeRelease(c)
		}
		if n < len(p.out) {
			p.resubmit()
			return
		}
	}
}

// readDone sends the chunk once all its reads are in.
func (p *poolIO) readDone(c *conn) {
	c.readsPending--
	if c.readsPending > 0 || c.closing {
		return
	}
	if c.readFailed {
		p.l.closeConn(c)
		return
	}
	p.l.send(c)
}

func (p *poolIO) close() {
	p.q.Close()
}

// inbox carries results from other goroutines (opens in threadpool mode, directory listings)
// to a loop, which drains it when its eventfd fires.
type inbox struct {
	mu     sync.Mutex
	closed bool
	done   []poolJob
	spare  []poolJob
}

type poolKind uint8

const (
	poolOpen poolKind = iota
	poolList
)

// poolJob is one result for the loop.
type poolJob struct {
	kind    poolKind
	c       *conn
	gen     uint32
	file    *fileio.File
	errno   syscall.Errno
	entries []http1.DirEntry
}

// post hands a result to the loop; the first result after a drain wakes the loop.
func (l *loop) post(j poolJob) {
	in := &l.inbox
	in.mu.Lock()
	if in.closed {
		in.mu.Unlock()
		if j.file != nil {
			j.file.Close() // the loop is gone: nobody will take the file
		}
		return
	}
	wake := len(in.done) == 0
	in.done = append(in.done, j)
	in.mu.Unlock()
	if wake {
		l.wakeup()
	}
}

// closeInbox refuses later posts (the loop is closing).
func (l *loop) closeInbox() {
	l.inbox.mu.Lock()
	l.inbox.closed = true
	l.inbox.mu.Unlock()
}

// drainInbox runs on the loop: it delivers every posted result and finished file read.
func (l *loop) drainInbox() {
	if l.pool != nil {
		l.pool.reap()
	}
	in := &l.inbox
	in.mu.Lock()
	done := in.done
	in.done = in.spare[:0]
	in.mu.Unlock()
	for i := range done {
		j := &done[i]
		c := j.c
		c.poolBusy--
		switch j.kind {
		case poolOpen:
			l.onPoolOpen(c, j.file, j.errno)
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

// onPoolOpen is onOpen+statOpened for a file opened by the threadpool engine.
func (l *loop) onPoolOpen(c *conn, f *fileio.File, errno syscall.Errno) {
	if c.closing {
		if f != nil {
			f.Close()
		}
		l.openDone(c)
		return
	}
	if errno != 0 {
		l.openDone(c)
		l.openFailed(c, errno)
		return
	}
	st := f.Info()
	e, errno := l.files.addPool(c.key, f, st, l.now)
	l.openDone(c)
	if errno != 0 {
		l.openFailed(c, errno)
		return
	}
	l.haveFile(c, e)
}
