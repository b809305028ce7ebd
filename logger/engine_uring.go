package logger

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/uringd/uringd/ring"
)

// uringEngine writes batches through an io_uring ring (package ring). Every batch is one
// IORING_OP_WRITE; all batches the writer hands over are submitted with one io_uring_enter
// and stay in flight together. While they are in flight the writer goroutine waits on a
// ring.Notifier, an eventfd read through Go's netpoller, so it parks like a goroutine blocked
// on a socket: no OS thread sits in write(2) or io_uring_enter on its behalf. (Writes the
// kernel cannot finish inline are completed by its io-wq workers, iou-wrk-* threads the
// kernel attaches to the process; they are the kernel's, not Go's.)
//
// Order. Writes in flight together may complete in any order, so on regular files the
// engine gives every batch its own offset (the file is opened without O_APPEND and the
// engine keeps the end-of-file position): each lands where it belongs whatever the order.
// The logger therefore owns its file's write position: another process appending to the same
// file, or logrotate's copytruncate, is not supported (use Reopen). Devices and FIFOs, which
// have no offsets, get one write in flight at a time at the current position.
//
// Memory. The kernel reads a batch's buffer after submit returns, until its completion is
// reaped. Buffers are heap memory owned by the queue (see batch), and from submit until reap
// the engine's slot table holds a pointer to each in-flight batch, which keeps its buffer
// reachable; Go's collector never moves heap objects. The eventfd counter and filler buffers
// are heap memory too. Nothing the kernel touches is ever on a goroutine stack.
//
// Failures. A failed write leaves a gap [a, b) in the file. If no later write succeeded the
// engine simply writes the next batch at a; otherwise, once nothing is in flight, it fills
// the gap with spaces ending in a newline, so the file never holds NUL bytes from a hole and
// every line stays a whole record (or a blank line).
type uringEngine struct {
	r  *ring.Ring
	nt *ring.Notifier

	fd         int
	path       string
	positional bool
	next       int64  // offset of the next new batch (positional)
	hiOK       int64  // end of the furthest successful write since attach (positional)
	holes      []span // ranges left unwritten by failed writes (positional)

	slots    []slot   // in-flight operations, indexed by user_data
	free     []uint32 // unused slot indexes
	inFlight int      // batches submitted and not yet returned by reap
	queued   int      // SQEs prepared and not yet submitted
	waiting  []*batch // non-positional files: batches waiting for the one in flight
	done     []*batch // finished batches not yet returned by reap
	cqes     []*ring.CQE
	results  []result

	fsyncPending bool  // an fsync is in flight
	fsyncRes     int32 // the result of the last one
	fsyncAsync   bool  // the one in flight (or just finished) was started by startFsync
	fsyncDone    bool  // ... and it has finished, its result not yet collected

	probe *uringProbe
}

// slot is one operation in flight. The batch pointer is what keeps the buffer the kernel is
// reading alive; it is cleared when the completion is reaped.
type slot struct {
	b      *batch
	filler bool // a hole filler of the engine's own, not a writer batch
	fsync  bool
	used   bool
}

type span struct{ a, b int64 }

// maxUnaskedCancels is how often a write the kernel cancelled unasked is submitted again
// before its ECANCELED counts as a write error.
const maxUnaskedCancels = 3

// uringTuning is the test-only part of Options for EngineUring (Options.uring).
type uringTuning struct {
	faults    *ring.Faults // injected io_uring_enter failures (ring.Options.Faults)
	sqEntries uint32       // SQ size instead of QueueSize+8 (tiny rings)
	genStart  uint32       // first generation of every slot (to force a wrap soon)
	probe     *uringProbe  // counts what tests want to see, if set
}

// uringProbe counts, for tests, what the engine saw; read after Close.
type uringProbe struct {
	cancels atomic.Int64 // write or fsync completions with ECANCELED
}

func newUringEngine(queueSize int, tune uringTuning) (engine, error) {
	entries := uint32(queueSize + 8)
	if tune.sqEntries > 0 {
		entries = tune.sqEntries
	}
	r, err := ring.New(ring.Options{Entries: entries, Faults: tune.faults})
	if err != nil {
		return nil, fmt.Errorf("logger: io_uring setup: %w", err)
	}
	nt, err := ring.NewNotifier(r)
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("logger: io_uring notifier: %w", err)
	}
	n := int(r.CQEntries())
	e := &uringEngine{
		r:     r,
		nt:    nt,
		fd:    -1,
		slots: make([]slot, n),
		free:  make([]uint32, 0, n),
		cqes:  make([]*ring.CQE, n),
		probe: tune.probe,
	}
	for i := n - 1; i >= 0; i-- {
		e.free = append(e.free, uint32(i))
	}
	return e, nil
}

func (e *uringEngine) start() error { return nil }
func (e *uringEngine) stop()        {}

func (e *uringEngine) attach(fd int, size int64, positional bool, path string) {
	e.fd, e.path, e.positional = fd, path, positional
	e.next, e.hiOK = size, size
	e.holes = e.holes[:0]
}

func (e *uringEngine) inflight() int {
	n := e.inFlight + len(e.done)
	if e.fsyncAsync && (e.fsyncPending || e.fsyncDone) {
		n++
	}
	return n
}

func (e *uringEngine) submit(b *batch) {
	e.inFlight++
	if !e.positional && e.inFlight > 1 {
		e.waiting = append(e.waiting, b)
		return
	}
	if e.positional {
		b.off = e.next
		e.next += int64(len(b.buf))
	}
	e.prepWrite(b, false)
}

// prepWrite queues a write of b.buf[b.done:] (submitted by the next flush).
func (e *uringEngine) prepWrite(b *batch, filler bool) {
	i := e.alloc()
	e.slots[i] = slot{b: b, filler: filler, used: true}
	off := ^uint64(0)
	if e.positional {
		off = uint64(b.off + int64(b.done))
	}
	sqe := e.sqe()
	sqe.PrepWrite(e.fd, b.buf[b.done:], off)
	sqe.UserData = uint64(i)
}

func (e *uringEngine) alloc() uint32 {
	for len(e.free) == 0 {
		// Cannot happen with the sizes newUringEngine picks, but never overwrite a slot.
		e.wait()
	}
	i := e.free[len(e.free)-1]
	e.free = e.free[:len(e.free)-1]
	return i
}

// sqe returns a free SQE, submitting what is queued to make room if needed.
func (e *uringEngine) sqe() *ring.SQE {
	for {
		if s := e.r.GetSQE(); s != nil {
			e.queued++
			return s
		}
		e.flush()
	}
}

// flush submits the queued SQEs. When the kernel says busy, it reaps and tries again.
func (e *uringEngine) flush() {
	for e.queued > 0 {
		n, err := e.r.Submit()
		e.queued -= n
		if err == nil {
			continue
		}
		if !errors.Is(err, ring.ErrBusy) && !errors.Is(err, syscall.EINTR) {
			e.failQueued(err)
			return
		}
		e.process()
		if e.queued > 0 && n == 0 {
			e.nt.WaitDeadline(time.Now().Add(time.Millisecond))
		}
	}
}

// failQueued gives up on SQEs the kernel refused outright (the ring is unusable). Their
// batches fail with err; we cannot take the SQEs back, so the ring is closed.
func (e *uringEngine) failQueued(err error) {
	err = &os.PathError{Op: "logger: io_uring submit write", Path: e.path, Err: err}
	for i := range e.slots {
		s := &e.slots[i]
		if !s.used {
			continue
		}
		if s.fsync {
			e.fsyncPending = false
			e.fsyncRes = -int32(syscall.EIO)
			e.fsyncDone = e.fsyncAsync
		} else if !s.filler {
			s.b.err = err
			e.finish(s.b)
		}
		e.release(uint32(i))
	}
	e.queued = 0
}

func (e *uringEngine) release(i uint32) {
	e.slots[i] = slot{}
	e.free = append(e.free, i)
}

// finish hands a batch back to the writer (through reap) and starts the next waiting one.
func (e *uringEngine) finish(b *batch) {
	e.inFlight--
	e.done = append(e.done, b)
	if len(e.waiting) > 0 {
		n := e.waiting[0]
		copy(e.waiting, e.waiting[1:])
		e.waiting[len(e.waiting)-1] = nil
		e.waiting = e.waiting[:len(e.waiting)-1]
		e.prepWrite(n, false)
	}
}

// process handles the completions that are ready, without waiting. The CQEs are copied out
// and their slots given back before any is handled, because handling one may submit again
// (a short write's rest), which may reap.
func (e *uringEngine) process() {
	for {
		k := e.r.PeekBatch(e.cqes)
		if k == 0 {
			return
		}
		e.results = e.results[:0]
		for _, c := range e.cqes[:k] {
			e.results = append(e.results, result{c.UserData, c.Res})
		}
		clear(e.cqes[:k])
		e.r.Advance(uint32(k))
		for _, r := range e.results {
			e.complete(r.ud, r.res)
		}
	}
}

type result struct {
	ud  uint64
	res int32
}

func (e *uringEngine) complete(ud uint64, res int32) {
	if ud >= uint64(len(e.slots)) || !e.slots[ud].used {
		return // not ours (cannot happen)
	}
	i := uint32(ud)
	s := e.slots[i]
	e.release(i)
	if res == -int32(syscall.ECANCELED) && e.probe != nil {
		e.probe.cancels.Add(1)
	}
	if s.fsync {
		e.fsyncPending = false
		e.fsyncRes = res
		e.fsyncDone = e.fsyncAsync
		return
	}
	b := s.b
	switch {
	case res > 0:
		b.done += int(res)
		if b.done < len(b.buf) {
			e.prepWrite(b, s.filler) // short write: the rest, at the right offset
			return
		}
		if e.positional {
			e.hiOK = max(e.hiOK, b.off+int64(len(b.buf)))
		}
	case res == -int32(syscall.EINTR) || res == -int32(syscall.EAGAIN):
		e.prepWrite(b, s.filler)
		return
	case res == -int32(syscall.ECANCELED) && b.kernelCancels < maxUnaskedCancels:
		// The engine never cancels a write: the kernel dropped it unrun (io-wq could not
		// start a worker, or the thread that submitted it exited; seen on 6.1). Again.
		b.kernelCancels++
		e.prepWrite(b, s.filler)
		return
	default:
		var err error = io.ErrShortWrite
		if res < 0 {
			err = ring.ResultError(ring.OpWrite, res)
		}
		b.err = &os.PathError{Op: "logger: write", Path: e.path, Err: err}
		if e.positional {
			e.hiOK = max(e.hiOK, b.off+int64(b.done)) // a partial record stays; the writer ends its line
			e.holes = append(e.holes, span{b.off + int64(b.done), b.off + int64(len(b.buf))})
		}
	}
	if !s.filler {
		e.finish(b)
	}
}

// wait submits what is queued and parks the goroutine in the netpoller until the ring posts
// a completion, then processes what is ready.
func (e *uringEngine) wait() {
	e.flush()
	e.process()
	if len(e.done) > 0 || (e.inFlight == 0 && !e.fsyncPending && !e.fillersInFlight()) {
		return
	}
	if err := e.nt.WaitDeadline(time.Time{}); err != nil {
		// The notifier broke (it should not); fall back to blocking in io_uring_enter.
		e.r.SubmitAndWait(1)
	}
	e.process()
}

func (e *uringEngine) fillersInFlight() bool {
	for i := range e.slots {
		if e.slots[i].used && e.slots[i].filler {
			return true
		}
	}
	return false
}

func (e *uringEngine) reap(done []*batch) []*batch {
	e.flush()
	e.process()
	for len(e.done) == 0 && (e.inFlight > 0 || e.fsyncAsync && e.fsyncPending) {
		e.wait()
	}
	if e.inFlight == 0 && len(e.holes) > 0 {
		e.fixHoles()
	}
	done = append(done, e.done...)
	clear(e.done)
	e.done = e.done[:0]
	return done
}

// fixHoles deals with the gaps failed writes left, once nothing is in flight: gaps past the
// last byte written are forgotten (the next batch is written there), gaps before it are
// filled with spaces and a newline.
func (e *uringEngine) fixHoles() {
	for _, h := range e.holes {
		if h.a >= e.hiOK {
			continue
		}
		n := h.b - h.a
		buf := make([]byte, n) // heap: the kernel reads it after prepWrite returns
		for i := range buf {
			buf[i] = ' '
		}
		buf[n-1] = '\n'
		e.prepWrite(&batch{buf: buf, off: h.a}, true)
	}
	e.holes = e.holes[:0]
	e.next = e.hiOK
	for e.fillersInFlight() {
		e.wait()
	}
}

func (e *uringEngine) fsync() error {
	if e.fsyncAsync {
		for e.fsyncPending {
			e.wait()
		}
		e.fsyncAsync, e.fsyncDone = false, false
	}
	e.prepFsync()
	for e.fsyncPending {
		e.wait()
	}
	return e.fsyncErr()
}

// startFsync queues an IORING_OP_FSYNC (submitted with the next writes or wait) and returns:
// the writer goes on taking and submitting batches while the kernel syncs. The fdatasync
// covers the writes that finished before it; writes in flight may or may not be included,
// and the writer starts another fsync once they finish.
func (e *uringEngine) startFsync() (bool, error) {
	if e.fsyncPending {
		return true, nil // one at a time (the writer never asks twice)
	}
	e.fsyncAsync, e.fsyncDone = true, false
	e.prepFsync()
	e.flush()
	return true, nil
}

func (e *uringEngine) fsyncResult() (bool, error) {
	if !e.fsyncAsync || !e.fsyncDone {
		return false, nil
	}
	e.fsyncAsync, e.fsyncDone = false, false
	return true, e.fsyncErr()
}

// prepFsync queues an fdatasync of the file.
func (e *uringEngine) prepFsync() {
	i := e.alloc()
	e.slots[i] = slot{fsync: true, used: true}
	sqe := e.sqe()
	sqe.PrepFsync(e.fd, ring.FsyncDatasync)
	sqe.UserData = uint64(i)
	e.fsyncPending = true
}

// fsyncErr is the error of the last fsync's result.
func (e *uringEngine) fsyncErr() error {
	switch res := e.fsyncRes; {
	case res >= 0, res == -int32(syscall.EINVAL), res == -int32(syscall.EROFS):
		return nil
	default:
		return &os.PathError{Op: "logger: fdatasync", Path: e.path, Err: ring.ResultError(ring.OpFsync, res)}
	}
}

func (e *uringEngine) close() error {
	err := e.nt.Close()
	if cerr := e.r.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("logger: io_uring close: %w", err)
	}
	return nil
}
