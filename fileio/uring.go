package fileio

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/uringd/uringd/internal/token"
	"github.com/uringd/uringd/ring"
)

// uringEngine runs File methods through rings, each owned by one loop goroutine.
//
// A caller (any goroutine) takes a pooled Op, pushes it onto a loop's intrusive FIFO under
// the loop's mutex, wakes the loop only if it is parked, and parks on the Op's channel.
// The loop takes everything queued at once, turns it into SQEs (user_data is the Op's slot
// in the loop's table and a generation, never a Go pointer), submits them with one
// io_uring_enter (or one per Options.SubmitBatch SQEs), reaps completions into the Ops,
// and only after the CQ pass signals the callers. With nothing to do it parks on its ring.Notifier: an eventfd the kernel signals
// when it posts a CQE, read through Go's netpoller, so no OS thread waits for any IO (the
// loop's own thread, to which it is locked, sleeps while it parks; see run).
// When the ring's table or SQ is full, Ops wait in the loop's FIFO: they never fail.
//
// Cancellation: when the caller's context is done it pushes a cancel request; the loop
// submits IORING_OP_ASYNC_CANCEL for the Op's user_data (or drops the Op if it was not
// submitted yet) and acknowledges on the Op's channel. The caller waits for both the
// acknowledgement and the Op's completion, so the buffer is the caller's again only once the
// kernel is done with it, and the loop never holds a stale reference to a recycled Op.
type uringEngine struct {
	loops   []*loop
	feat    *ring.Features
	openat2 bool
	compat  string
	batch   int
	faults  *ring.Faults // Options.faults
	// cancelEvery is Options.cancelEvery, for the Queues' rings (the loops keep their own).
	cancelEvery uint64
	closed      atomic.Bool
}

// The user_data kinds of the engine's rings (internal/token). An Op's token can never equal
// a cancel's, however far a slot's generation has run: the kinds differ.
const (
	kindOp     token.Kind = 1 + iota // an Op: its slot in the table and the slot's generation
	kindCancel                       // the engine's own ASYNC_CANCEL
)

// userData is the token of the Op in slot at generation gen.
func userData(slot, gen uint32) uint64 { return uint64(token.Make(kindOp, slot, gen)) }

// cancelUserData is the token of every ASYNC_CANCEL the engine submits.
func cancelUserData() uint64 { return uint64(token.Make(kindCancel, 0, 0)) }

func newUring(opts Options) (*uringEngine, error) {
	n := opts.Rings
	if n <= 0 {
		n = 1
	}
	entries := opts.RingEntries
	if entries == 0 {
		entries = 256
	}
	e := &uringEngine{compat: opts.KernelCompat, batch: max(0, opts.SubmitBatch), faults: opts.faults, cancelEvery: opts.cancelEvery}
	for range n {
		l, err := newLoop(e, entries, opts.cqEntries)
		if l != nil {
			l.inject.every = opts.cancelEvery
		}
		if err != nil {
			for _, l := range e.loops { // not started yet: nothing in flight
				l.nt.Close()
				l.r.Close()
			}
			return nil, fmt.Errorf("fileio uring: %w", err)
		}
		e.loops = append(e.loops, l)
	}
	e.feat = e.loops[0].r.Features()
	e.openat2 = !opts.ForceWalk && e.feat.Supports(ring.OpOpenat2)
	for _, l := range e.loops {
		go l.run()
	}
	return e, nil
}

func (e *uringEngine) Name() string       { return EngineUring }
func (e *uringEngine) name() string       { return EngineUring }
func (e *uringEngine) useOpenat2() bool   { return e.openat2 }
func (e *uringEngine) OpenMethod() string { return openMethod(e.openat2) }

// Features is what the engine's rings may use.
func (e *uringEngine) Features() *ring.Features { return e.feat }

func (e *uringEngine) Open(ctx context.Context, dir *Dir, name string, flag int, perm os.FileMode) (*File, error) {
	return openFile(ctx, e, dir, name, flag, perm)
}

func (e *uringEngine) pick() *loop {
	if len(e.loops) == 1 {
		return e.loops[0]
	}
	return e.loops[rand.IntN(len(e.loops))]
}

func (e *uringEngine) do(ctx context.Context, o *Op) bool {
	if err := ctx.Err(); err != nil {
		o.cause = err
		return true
	}
	o.cause = nil
	if o.Code == opStat {
		// statx of an open descriptor as a plain system call: IORING_OP_STATX is always
		// punted to an io-wq worker (a kernel thread hop per call), while statx on an open
		// file only reads its in-memory inode on local filesystems and does not block.
		execSyscall(o)
		return true
	}
	l := e.pick()
	if !l.push(o) {
		if o.Code == opClose {
			execSyscall(o) // the loops are gone; still release the descriptor
			return true
		}
		o.cause = ErrClosed
		return true
	}
	done := ctx.Done()
	if done == nil {
		<-o.done
		return true
	}
	select {
	case <-o.done:
		return true
	case <-done:
	}
	acked := l.requestCancel(o)
	<-o.done // the completion: from here on the kernel no longer touches o's memory
	if acked {
		<-o.done // the loop has let go of o
	}
	if o.cause == nil && (o.res == -int64(syscall.ECANCELED) || o.res == -int64(syscall.EINTR)) {
		o.res, o.cause = 0, ctx.Err()
	}
	return true
}

func (e *uringEngine) Close() error {
	if e.closed.Swap(true) {
		return nil
	}
	var errs []error
	for _, l := range e.loops {
		if err := l.close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Loop states of an Op (lstate), owned by the loop goroutine.
const (
	lsNone uint8 = iota
	lsPending
	lsInflight
	lsDone
)

type loop struct {
	r  *ring.Ring
	nt *ring.Notifier

	mu       sync.Mutex
	inHead   *Op   // pushed by callers, not yet taken by the loop
	inTail   *Op   //
	cancels  []*Op // cancel requests
	sleeping bool  // the loop is parked (or about to): the next push wakes it
	closing  bool
	gone     bool // the loop has exited: no more acknowledgements

	// Owned by the loop goroutine.
	pendHead, pendTail *Op      // taken, waiting for a slot or an SQE
	slots              []*Op    // in flight, by slot
	gens               []uint32 // generation of each slot, part of user_data (token.NextGen)
	free               []uint32
	inflight           int
	toCancel           []uint64 // user_data of Ops to cancel, cancel SQE not prepared yet
	cqes               []*ring.CQE
	finished           []*Op // completed in this pass, to be signalled after it
	spare              []*Op
	closeSeen          bool
	batch              int // Options.SubmitBatch
	exited             chan struct{}
	inject             cancelInjector
}

// maxKernelCancels bounds how often the loop submits again an Op the kernel cancelled
// unasked (not by Cancel or Close). Its thread is the loop's own, yet the kernel cancels the
// io-wq work it has queued when it cannot start a worker for it, as 6.1 does while other
// threads of the process come and go; that work never ran. Cancelled this many times in a
// row, the Op completes with ECANCELED.
const maxKernelCancels = 8

func newLoop(e *uringEngine, entries, cqEntries uint32) (*loop, error) {
	r, err := ring.New(ring.Options{Entries: entries, CQEntries: cqEntries, KernelCompat: e.compat, Faults: e.faults})
	if err != nil {
		return nil, err
	}
	nt, err := ring.NewNotifier(r)
	if err != nil {
		r.Close()
		return nil, err
	}
	n := int(r.CQEntries()) // never more in flight than the CQ holds
	l := &loop{r: r, nt: nt, slots: make([]*Op, n), gens: make([]uint32, n), free: make([]uint32, n),
		cqes: make([]*ring.CQE, n), batch: e.batch, exited: make(chan struct{})}
	for i := range l.free {
		l.free[i] = uint32(n - 1 - i)
	}
	return l, nil
}

// push queues o for the loop; false when the loop is closing.
func (l *loop) push(o *Op) bool {
	o.next = nil
	l.mu.Lock()
	if l.closing {
		l.mu.Unlock()
		return false
	}
	if l.inTail == nil {
		l.inHead = o
	} else {
		l.inTail.next = o
	}
	l.inTail = o
	l.unlockAndWake()
	return true
}

// requestCancel asks the loop to cancel o. It reports whether the loop will acknowledge
// (a token on o.done besides the completion's).
func (l *loop) requestCancel(o *Op) bool {
	l.mu.Lock()
	if l.gone {
		l.mu.Unlock()
		return false
	}
	l.cancels = append(l.cancels, o)
	l.unlockAndWake()
	return true
}

// unlockAndWake releases mu and wakes the loop if it sleeps: new work was posted under mu.
func (l *loop) unlockAndWake() {
	wake := l.sleeping
	l.sleeping = false
	l.mu.Unlock()
	if wake {
		l.nt.Wake()
	}
}

func (l *loop) close() error {
	l.mu.Lock()
	l.closing = true
	l.sleeping = false
	l.mu.Unlock()
	l.nt.Wake()
	<-l.exited
	return nil
}

// run is the loop goroutine: take, prepare, submit, reap, signal, park.
//
// It stays on one OS thread for its whole life: the kernel ties the io-wq work of a request
// to the thread that submitted it and cancels that work when the thread exits (the request
// then completes with ECANCELED, or -ERESTARTSYS for one interrupted while it blocked), and
// the Go runtime ends a thread whenever a goroutine locked to it exits, as the threadpool
// engine's workers do. Locked, the loop's thread runs nothing else, so it ends only with the
// loop (it is never unlocked), once nothing is in flight.
func (l *loop) run() {
	runtime.LockOSThread()
	defer close(l.exited)
	for {
		l.mu.Lock()
		in := l.inHead
		l.inHead, l.inTail = nil, nil
		cancels := l.cancels
		l.cancels = l.spare[:0]
		closing := l.closing
		l.sleeping = false
		l.mu.Unlock()

		busy := in != nil || len(cancels) > 0
		for o := in; o != nil; {
			next := o.next
			o.next = nil
			l.enqueue(o)
			o = next
		}
		for i, o := range cancels {
			l.cancelOp(o)
			o.done <- struct{}{} // acknowledged: the loop keeps no reference for this request
			cancels[i] = nil
		}
		l.spare = cancels[:0]
		if closing && !l.closeSeen {
			l.closeSeen = true
			for o := l.pendHead; o != nil; o = o.next {
				o.lclosed = true
			}
			for _, o := range l.slots {
				if o != nil {
					o.lclosed = true
					l.toCancel = append(l.toCancel, o.ud)
				}
			}
		}

		l.dispatch()
		if l.r.Pending() > 0 {
			// A refusal (EAGAIN, EBUSY, ENOMEM, EBADR, ...) or a short submit leaves SQEs in the
			// SQ: they stay prepared, and the park below retries them (see resubmitPause).
			l.r.Submit()
		}
		reaped := l.reap()
		l.signal()

		if closing && l.inflight == 0 && l.pendHead == nil && l.r.Pending() == 0 {
			l.exit()
			return
		}
		if busy || reaped > 0 {
			continue
		}
		l.mu.Lock()
		if l.inHead != nil || len(l.cancels) > 0 || l.closing != closing {
			l.mu.Unlock()
			continue
		}
		l.sleeping = true
		l.mu.Unlock()
		if l.r.CQReady() == 0 {
			var deadline time.Time
			if l.r.Pending() > 0 {
				// SQEs the kernel did not take: no completion may come to wake the loop
				// (nothing else in flight), so it wakes itself to submit them again.
				deadline = time.Now().Add(resubmitPause)
			}
			l.nt.WaitDeadline(deadline)
		}
	}
}

// resubmitPause is how long the loop waits before it submits again SQEs the kernel refused
// or left in the SQ (a short submit), when no completion or new Op wakes it sooner: a pause
// rather than a spin while the kernel is short of something.
const resubmitPause = time.Millisecond

func (l *loop) exit() {
	l.mu.Lock()
	l.gone = true
	cancels := l.cancels
	l.cancels = nil
	l.mu.Unlock()
	for _, o := range cancels {
		o.done <- struct{}{} // all completed: nothing left to cancel
	}
	l.nt.Close()
	l.r.Close()
}

func (l *loop) enqueue(o *Op) {
	o.lstate = lsPending
	if l.pendTail == nil {
		l.pendHead = o
	} else {
		l.pendTail.next = o
	}
	l.pendTail = o
}

func (l *loop) cancelOp(o *Op) {
	switch o.lstate {
	case lsPending:
		o.lcancel = true // dropped when its turn comes, without reaching the kernel
	case lsInflight:
		o.lcancel = true
		l.toCancel = append(l.toCancel, o.ud)
	}
}

// sqe returns a free SQE, submitting what is prepared to make room; nil if the SQ stays full.
func (l *loop) sqe() *ring.SQE {
	if s := l.r.GetSQE(); s != nil {
		return s
	}
	if _, err := l.r.Submit(); err != nil {
		return nil
	}
	return l.r.GetSQE()
}

// dispatch prepares cancellations, then pending Ops while slots and SQEs last.
func (l *loop) dispatch() {
	// A cancellation is recorded by user_data, never by Op: once the Op completes, its
	// caller may reuse it at once, so only the loop's own table says whether it is still
	// the one in flight.
	for len(l.toCancel) > 0 {
		ud := l.toCancel[len(l.toCancel)-1]
		if o := l.slots[uint32(ud)]; o != nil && o.ud == ud {
			s := l.sqe()
			if s == nil {
				break
			}
			s.PrepCancel(ud, 0)
			s.UserData = cancelUserData()
		}
		l.toCancel = l.toCancel[:len(l.toCancel)-1]
	}
	for l.pendHead != nil {
		o := l.pendHead
		if o.lcancel || o.lclosed {
			l.popPending()
			o.res = -int64(syscall.ECANCELED)
			if o.lclosed {
				o.cause = ErrClosed
			}
			o.lstate = lsDone
			l.finished = append(l.finished, o)
			continue
		}
		if len(l.free) == 0 {
			return
		}
		s := l.sqe()
		if s == nil {
			return
		}
		l.popPending()
		slot := l.free[len(l.free)-1]
		l.free = l.free[:len(l.free)-1]
		l.gens[slot] = token.NextGen(l.gens[slot])
		l.slots[slot] = o
		o.slot, o.ud, o.lstate = slot, userData(slot, l.gens[slot]), lsInflight
		l.inflight++
		prepSQE(s, o)
		l.inject.maybe(s, o)
		s.UserData = o.ud
		if l.batch > 0 && int(l.r.Pending()) >= l.batch {
			l.r.Submit()
		}
	}
}

func (l *loop) popPending() {
	o := l.pendHead
	l.pendHead = o.next
	if l.pendHead == nil {
		l.pendTail = nil
	}
	o.next = nil
}

// reap moves completions into their Ops; they are signalled after the CQ pass.
func (l *loop) reap() int {
	total := 0
	for {
		n := l.r.PeekBatch(l.cqes)
		if n == 0 {
			return total
		}
		for _, c := range l.cqes[:n] {
			t := token.Token(c.UserData)
			if t.Kind() != kindOp || t.Slot() >= uint32(len(l.slots)) {
				continue // a cancel's completion (its target reports for itself)
			}
			slot := t.Slot()
			o := l.slots[slot]
			if o == nil || o.ud != c.UserData {
				continue // cannot happen: every in-flight user_data is in the table
			}
			l.slots[slot] = nil
			l.free = append(l.free, slot)
			l.inflight--
			res := c.Res
			if o.linject {
				o.linject, res = false, -int32(syscall.ECANCELED)
			}
			if res == -int32(syscall.ECANCELED) && !o.lcancel && !o.lclosed && o.lkcancels < maxKernelCancels {
				o.lkcancels++
				l.enqueue(o) // it never ran: again
				continue
			}
			o.lkcancels = 0
			o.res = int64(res)
			if o.lclosed && res == -int32(syscall.ECANCELED) {
				o.cause = ErrClosed
			}
			o.lstate = lsDone
			l.finished = append(l.finished, o)
		}
		l.r.Advance(uint32(n))
		total += n
	}
}

// signal wakes the callers of the Ops finished in this pass. After the send the Op is the
// caller's: the loop does not touch it again.
func (l *loop) signal() {
	for i, o := range l.finished {
		o.done <- struct{}{}
		l.finished[i] = nil
	}
	l.finished = l.finished[:0]
}

// emptyPath is the "" path of statx with AT_EMPTY_PATH: static memory, never on a stack.
var emptyPath = [1]byte{0}

// prepSQE fills s for o. Every pointer it hands the kernel is reachable from o.
func prepSQE(s *ring.SQE, o *Op) {
	f := o.File
	off := uint64(o.Off)
	if f != nil && f.stream {
		off = ^uint64(0) // pipes and the like: the current position
	}
	switch o.Code {
	case OpRead:
		s.PrepRead(f.fd, o.Buf, off)
	case OpWrite:
		s.PrepWrite(f.fd, o.Buf, off)
	case OpReadv:
		s.PrepReadv(f.fd, o.iov, off)
	case OpWritev:
		s.PrepWritev(f.fd, o.iov, off)
	case OpFsync:
		s.PrepFsync(f.fd, 0)
	case OpFdatasync:
		s.PrepFsync(f.fd, ring.FsyncDatasync)
	case opStat:
		s.PrepStatx(o.fd, &emptyPath[0], unix.AT_EMPTY_PATH|unix.AT_STATX_SYNC_AS_STAT, o.mode, o.stx)
	case opOpen:
		s.PrepOpenat2(o.dirfd, &o.path[0], &o.how)
	case opOpenat:
		s.PrepOpenat(o.dirfd, &o.path[0], o.flags, o.mode)
	case opClose:
		s.PrepClose(o.fd)
	default:
		s.PrepNop()
	}
}

// cancelInjector turns every Options.cancelEvery-th Op a ring prepares into a NOP standing
// for the kernel's unasked cancellation (tests). Only first tries count and are injected
// (every try, with 1): with cancelEvery Ops cycling, a retried Op would be every
// cancelEvery-th each time and run out of tries, as no kernel does.
type cancelInjector struct {
	every    uint64 // Options.cancelEvery; 0: none
	prepared uint64 // first tries prepared
}

// maybe makes s, just prepared for o, such a NOP if o's turn has come.
func (c *cancelInjector) maybe(s *ring.SQE, o *Op) {
	if c.every == 0 || c.every > 1 && o.lkcancels != 0 {
		return
	}
	if c.prepared++; c.prepared%c.every == 0 {
		s.PrepNop()
		o.linject = true
	}
}
