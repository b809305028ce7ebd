package logger

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/uringd/uringd/internal/token"
	"github.com/uringd/uringd/ring"
	"golang.org/x/sys/unix"
)

// uringEngine writes batches through an io_uring ring (package ring). Every batch is one
// IORING_OP_WRITE; all batches the writer hands over are submitted with one io_uring_enter
// and stay in flight together. While they are in flight the writer goroutine waits on a
// ring.Notifier, an eventfd read through Go's netpoller. (Writes the kernel cannot finish
// inline, and every fdatasync, are run by its io-wq workers, iou-wrk-* threads the kernel
// attaches to the submitting thread.)
//
// Threads. The kernel ties each request to the thread that submitted it and cancels the
// io-wq work of a thread that exits (ECANCELED). Go ends a thread when a goroutine locked to
// it exits, so a thread the writer submitted from could be taken over and ended by any code
// in the process. The writer therefore locks itself to its thread (pin) before it submits
// and unlocks (unpin) only once the kernel holds none of its requests: an idle logger holds
// no thread, a busy one holds exactly one. The kernel may still cancel queued io-wq work it
// cannot start a worker for; the engine submits those again (maxKernelCancels).
//
// Order. Writes in flight together may complete in any order, so on regular files the
// engine gives every batch its own offset (the file is opened without O_APPEND and the
// engine keeps the end-of-file position): each lands where it belongs whatever the order.
// The logger therefore owns its file's write position: another process appending to the same
// file, or logrotate's copytruncate, is not supported (use Reopen). Devices and FIFOs, which
// have no offsets, get one write in flight at a time at the current position.
//
// Memory. The kernel reads a batch's buffer from the io_uring_enter that takes its SQE until
// its completion is reaped. Buffers are heap memory owned by the queue (see batch); from
// submit until the engine hands the batch back from reap, the engine holds a pointer to it
// (pending, then its slot), and a slot is given back only when its CQE is reaped, or when
// the kernel never took its SQE and that SQE was turned into a NOP first. So no buffer goes
// back to the producers while an SQE that points at it can still reach the kernel. The
// eventfd counter is heap memory too; nothing the kernel touches is ever
// on a goroutine stack.
//
// Submission. Operations wait in pending until a slot and an SQE are free; they are given
// SQEs (dispatch) only in flush, never while completions are handled, so handling one never
// submits or reaps. The SQEs the kernel has not taken yet are remembered in order (sqSlots),
// so after a refused io_uring_enter the engine knows which ones the kernel holds (none of the
// refused) and retries them; after repeated hard failures it gives up on exactly those.
//
// Failures. A record is either wholly in the file or absent and counted as dropped: no torn
// line, no blank line, no hole. A write that fails (ENOSPC, EFBIG, EIO, a short write of 0)
// may have written part of its batch, ending mid-record, while the batches behind it, in
// flight at later offsets, may have landed beyond the gap. So batches are retired (handed
// back from reap) strictly in offset order, and only whole: a later one that finished waits
// in order until every earlier one has. Once a write in order fails, batches submitted
// meanwhile are parked (given no offset), and when no write of order is in the kernel any
// more, repair truncates the file just past the failed batch's last whole line (ftruncate:
// this drops its torn tail and whatever later batches wrote beyond it), retires it with the
// records it did not write counted as lost, drops the batches behind it that failed too, and
// writes the others behind it (written beyond the cut, or parked) again, in order, from the
// new end of the file. A batch that fails there is the next one repaired, so each repair
// retires at least one batch and a batch is tried at most QueueSize times. The caller's
// records are line-granular here: a Write of several lines may keep its first ones.
type uringEngine struct {
	r  *ring.Ring
	nt *ring.Notifier

	fd         int
	path       string
	positional bool
	next       int64 // offset of the next new batch (positional)
	// Positional files (see Failures above): order holds the batches submitted and not yet
	// retired, in offset order; base is where the first of them starts (the file holds
	// whole lines up to it); broken says a write of order failed and repair is due once
	// writing, the writes of order pending or in the kernel, is 0.
	base    int64
	order   []*batch
	broken  bool
	writing int

	slots   []slot   // operations with an SQE, indexed by their token's slot
	free    []uint32 // unused slot indexes
	pending []uop    // operations waiting for a slot and an SQE, oldest first
	// sqSlots[sqHead:sqTail] (modulo its length, the SQ's size) are the slots whose SQEs
	// are in the SQ and not yet taken by the kernel, in SQ order.
	sqSlots        []uint32
	sqHead, sqTail uint32
	kernel         int // slots whose SQE the kernel took and whose CQE is not reaped
	pinned         bool

	inFlight int      // batches submitted and not yet returned by reap
	waiting  []*batch // non-positional files: batches waiting for the one in flight
	done     []*batch // finished batches not yet returned by reap
	cqes     []*ring.CQE
	results  []result

	fsyncPending bool  // an fsync is pending or in flight
	fsyncRes     int32 // the result of the last one
	fsyncFail    error // ... or why it never reached the kernel
	fsyncAsync   bool  // the one in flight (or just finished) was started by startFsync
	fsyncDone    bool  // ... and it has finished, its result not yet collected

	probe       *uringProbe
	cancelEvery uint64 // see uringTuning
	writes      uint64 // write SQEs prepared, for cancelEvery
	enospcEvery uint64 // see uringTuning
	cuts        uint64 // new writes prepared, for enospcEvery
}

// uop is an operation waiting for an SQE: a write of b.buf[b.done:], or an fsync.
type uop struct {
	b        *batch
	fsync    bool
	kcancels uint8 // times the kernel cancelled it unasked (see maxKernelCancels)
	enospc   bool  // enospcEvery cut this write short: its rest fails with ENOSPC
}

// maxKernelCancels bounds how often an operation the kernel cancelled unasked is submitted
// again. The engine never cancels, and its thread is held, yet the kernel cancels the io-wq
// work it has queued when it cannot start a worker for it: seen on 6.1 while other threads of
// the process come and go (TestUringThreadExit). Such work never ran, so a write goes again
// to the same offset; an operation cancelled this many times in a row fails.
const maxKernelCancels = 8

// slot is one operation with an SQE. The batch pointer is what keeps the buffer the kernel
// reads alive; the slot is freed (and its generation moves on) when its CQE is reaped.
type slot struct {
	uop
	state slotState
	gen   uint32
	sqe   *ring.SQE // while queued: the SQE, so a refused one can be made a NOP
	// cancelled: the SQE is a NOP standing for a write the kernel cancelled (cancelEvery)
	cancelled bool
	fault     int32 // if not 0, the SQE is a NOP standing for a write failing so (enospcEvery)
}

type slotState uint8

const (
	slotFree   slotState = iota
	slotQueued           // its SQE is in the SQ, not taken by the kernel
	slotKernel           // the kernel took its SQE; its CQE is to come
)

// The kinds of the engine's tokens (internal/token).
const (
	kindWrite token.Kind = 1 + iota
	kindFsync
	kindVoid // an SQE the kernel refused, turned into a NOP after its operation failed
)

// Submit retries: a refused io_uring_enter (other than busy) is tried again this many
// times, with a growing pause, before the operations the kernel never took fail; busy is
// resolved by reaping and tried for longer.
const (
	maxHardRefusals = 8
	maxBusyRefusals = 1000
	maxRetryPause   = 16 * time.Millisecond
)

// uringTuning is the test-only part of Options for EngineUring (Options.uring).
type uringTuning struct {
	faults    *ring.Faults // injected io_uring_enter failures (ring.Options.Faults)
	sqEntries uint32       // SQ size instead of QueueSize+8 (tiny rings)
	genStart  uint32       // first generation of every slot (to force a wrap soon)
	probe     *uringProbe  // counts what tests want to see, if set
	// cancelEvery > 0 makes every cancelEvery-th write SQE a NOP whose completion reads
	// -ECANCELED: what the kernel's unasked cancellations look like (the write never ran).
	cancelEvery uint64
	// enospcEvery > 0 makes every enospcEvery-th new write what a disk filling up does to
	// it: the kernel writes the first half of it for real, and the rest (a NOP) fails with
	// -ENOSPC, while the writes around it go on succeeding.
	enospcEvery uint64
}

// uringProbe counts, for tests, what the engine saw; read after Close.
type uringProbe struct {
	cancels     atomic.Int64 // write or fsync completions with ECANCELED, injected ones included
	stale       atomic.Int64 // CQEs whose token matched no current use of a slot
	wraps       atomic.Int64 // slot generations that wrapped to 0
	refusals    atomic.Int64 // io_uring_enter calls that took none of the SQEs
	voided      atomic.Int64 // SQEs turned into NOPs after the engine gave up on them
	pinned      atomic.Int32 // 1 while the writer holds its OS thread
	resubmitted atomic.Int64 // operations submitted again after an unasked cancellation
	repairs     atomic.Int64 // failed writes repaired (truncated back to a whole line)
	rewritten   atomic.Int64 // batches behind a failed one written again by repair
	// foreign counts submits made from a thread other than the one the writer held: none
	// may be (the kernel ties io-wq work to the submitting thread).
	foreign atomic.Int64
	tid     int // the writer's thread since pin (writer goroutine only)
	// features is what the ring may use, capped by Options.KernelCompat (set by New).
	features *ring.Features
}

func newUringEngine(queueSize int, compat string, tune uringTuning) (engine, error) {
	entries := uint32(queueSize + 8)
	if tune.sqEntries > 0 {
		entries = tune.sqEntries
	}
	r, err := ring.New(ring.Options{Entries: entries, KernelCompat: compat, Faults: tune.faults})
	if err != nil {
		return nil, fmt.Errorf("logger: io_uring setup: %w", err)
	}
	if tune.probe != nil {
		tune.probe.features = r.Features()
	}
	nt, err := ring.NewNotifier(r)
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("logger: io_uring notifier: %w", err)
	}
	// One slot per CQ entry: every slot has at most one CQE to come, so the CQ never
	// overflows.
	n := int(r.CQEntries())
	e := &uringEngine{
		r:       r,
		nt:      nt,
		fd:      -1,
		slots:   make([]slot, n),
		free:    make([]uint32, 0, n),
		sqSlots: make([]uint32, r.SQEntries()),
		cqes:    make([]*ring.CQE, n),
		probe:   tune.probe,

		cancelEvery: tune.cancelEvery,
		enospcEvery: tune.enospcEvery,
	}
	for i := n - 1; i >= 0; i-- {
		e.slots[i].gen = tune.genStart & token.GenMask
		e.free = append(e.free, uint32(i))
	}
	return e, nil
}

func (e *uringEngine) start() error { return nil }

func (e *uringEngine) stop() {
	e.kernel = 0 // close ended the ring
	e.unpin()
}

func (e *uringEngine) attach(fd int, size int64, positional bool, path string) {
	e.fd, e.path, e.positional = fd, path, positional
	e.next, e.base = size, size
	e.broken = false
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
	if !e.positional {
		if e.inFlight > 1 {
			e.waiting = append(e.waiting, b)
			return
		}
		e.pending = append(e.pending, uop{b: b})
		return
	}
	e.order = append(e.order, b)
	if e.broken {
		b.off = -1 // parked: repair gives it its offset
		return
	}
	b.off = e.next
	e.next += int64(len(b.buf))
	e.writing++
	e.pending = append(e.pending, uop{b: b})
}

// dispatch gives pending operations slots and SQEs, as far as both are free. It only
// prepares SQEs; flush submits them.
func (e *uringEngine) dispatch() {
	k := 0
	for ; k < len(e.pending) && len(e.free) > 0; k++ {
		sqe := e.r.GetSQE()
		if sqe == nil {
			break
		}
		o := e.pending[k]
		i := e.free[len(e.free)-1]
		e.free = e.free[:len(e.free)-1]
		s := &e.slots[i]
		s.uop, s.state, s.sqe = o, slotQueued, sqe
		if o.fsync {
			sqe.PrepFsync(e.fd, ring.FsyncDatasync)
			sqe.UserData = uint64(token.Make(kindFsync, i, s.gen))
		} else {
			b := o.b
			off := ^uint64(0)
			if e.positional {
				off = uint64(b.off + int64(b.done))
			}
			sqe.PrepWrite(e.fd, b.buf[b.done:], off)
			if e.enospcEvery > 0 {
				e.injectENOSPC(s, sqe, off)
			}
			if e.cancelEvery > 0 {
				if e.writes++; e.writes%e.cancelEvery == 0 {
					sqe.PrepNop()
					s.cancelled = true
				}
			}
			sqe.UserData = uint64(token.Make(kindWrite, i, s.gen))
		}
		e.sqSlots[e.sqTail%uint32(len(e.sqSlots))] = i
		e.sqTail++
	}
	if k > 0 {
		n := copy(e.pending, e.pending[k:])
		clear(e.pending[n:])
		e.pending = e.pending[:n]
	}
}

// injectENOSPC applies enospcEvery (see uringTuning) to the write s is about to submit.
func (e *uringEngine) injectENOSPC(s *slot, sqe *ring.SQE, off uint64) {
	b := s.b
	if s.enospc {
		sqe.PrepNop()
		s.fault = -int32(syscall.ENOSPC)
		return
	}
	if rest := len(b.buf) - b.done; b.done == 0 && rest > 1 {
		if e.cuts++; e.cuts%e.enospcEvery == 0 {
			sqe.PrepWrite(e.fd, b.buf[:rest/2], off)
			s.enospc = true
		}
	}
}

// took records that the kernel took the n oldest SQEs in the SQ.
func (e *uringEngine) took(n int) {
	for range n {
		i := e.sqSlots[e.sqHead%uint32(len(e.sqSlots))]
		e.sqHead++
		s := &e.slots[i]
		s.state, s.sqe = slotKernel, nil
		e.kernel++
	}
}

func (e *uringEngine) sqLen() int { return int(e.sqTail - e.sqHead) }

// syncTaken records the SQEs the kernel took since the last look (the ring's SQ head is
// the truth, whatever io_uring_enter returned) and returns how many.
func (e *uringEngine) syncTaken() int {
	n := e.sqLen() - int(e.r.Pending())
	e.took(n)
	return n
}

// flush gives the pending operations SQEs and submits them, until everything is submitted
// or waits for slots that completions will free. When the kernel refuses, it reaps and tries
// again; after repeated refusals it fails the operations the kernel never took.
func (e *uringEngine) flush() {
	refusals := 0
	for {
		e.dispatch()
		if e.sqLen() == 0 {
			return
		}
		e.pin()
		if e.probe != nil && unix.Gettid() != e.probe.tid {
			e.probe.foreign.Add(1)
		}
		_, err := e.r.Submit()
		if taken := e.syncTaken(); taken > 0 {
			refusals = 0
			continue
		}
		if e.probe != nil {
			e.probe.refusals.Add(1)
		}
		refusals++
		busy := err == nil || errors.Is(err, ring.ErrBusy) || errors.Is(err, syscall.EINTR)
		if (busy && refusals >= maxBusyRefusals) || (!busy && refusals >= maxHardRefusals) {
			if err == nil {
				err = ring.ErrBusy
			}
			e.failUntaken(err)
			return
		}
		// Completions may make room (busy); a transient shortage (ENOMEM) may pass.
		e.process()
		pause := time.Millisecond
		if !busy {
			pause = min(time.Millisecond<<(refusals-1), maxRetryPause)
		}
		e.nt.WaitDeadline(time.Now().Add(pause))
	}
}

// failUntaken gives up on the operations the kernel never took: the SQEs still in the SQ
// become NOPs of kind kindVoid (their slots are freed when the NOPs complete, so a slot is
// never reused while an SQE naming it may still be submitted), and those operations and the
// pending ones fail with err. Writes the kernel took stay in flight until their CQEs.
func (e *uringEngine) failUntaken(err error) {
	err = &os.PathError{Op: "logger: io_uring submit", Path: e.path, Err: err}
	for h := e.sqHead; h != e.sqTail; h++ {
		i := e.sqSlots[h%uint32(len(e.sqSlots))]
		s := &e.slots[i]
		if s.b == nil && !s.fsync {
			continue // voided before
		}
		o := s.uop
		s.uop = uop{}
		s.sqe.PrepNop()
		s.sqe.UserData = uint64(token.Make(kindVoid, i, s.gen))
		if e.probe != nil {
			e.probe.voided.Add(1)
		}
		e.fail(o, err)
	}
	// Failing a write may make a waiting batch pending (non-positional files); that one
	// was never tried and stays pending.
	n := len(e.pending)
	for k := range n {
		e.fail(e.pending[k], err)
	}
	m := copy(e.pending, e.pending[n:])
	clear(e.pending[m:])
	e.pending = e.pending[:m]
}

// fail ends an operation that never reached the kernel.
func (e *uringEngine) fail(o uop, err error) {
	if o.fsync {
		e.fsyncPending = false
		e.fsyncFail = err
		e.fsyncDone = e.fsyncAsync
		return
	}
	e.failWrite(o, err)
}

// failWrite ends a write with err. On a positional file repair deals with what it left.
func (e *uringEngine) failWrite(o uop, err error) {
	o.b.err = err
	e.finish(o)
}

func (e *uringEngine) pin() {
	if !e.pinned {
		runtime.LockOSThread()
		e.pinned = true
		if e.probe != nil {
			e.probe.pinned.Store(1)
			e.probe.tid = unix.Gettid()
		}
	}
}

// unpin lets the writer's thread go once the kernel holds none of its requests.
func (e *uringEngine) unpin() {
	if e.pinned && e.kernel == 0 {
		e.pinned = false
		runtime.UnlockOSThread()
		if e.probe != nil {
			e.probe.pinned.Store(0)
		}
	}
}

func (e *uringEngine) release(i uint32) {
	s := &e.slots[i]
	gen := token.NextGen(s.gen)
	if gen == 0 && e.probe != nil {
		e.probe.wraps.Add(1)
	}
	*s = slot{gen: gen}
	e.free = append(e.free, i)
}

// finish ends an operation's write. On a positional file the batch waits in order for
// retire or repair; otherwise it goes back to the writer (through reap) and the next waiting
// one becomes pending.
func (e *uringEngine) finish(o uop) {
	if e.positional {
		e.writing--
		if o.b.err != nil {
			e.broken = true
		}
		e.retire()
		return
	}
	e.inFlight--
	e.done = append(e.done, o.b)
	if len(e.waiting) > 0 {
		n := e.waiting[0]
		copy(e.waiting, e.waiting[1:])
		e.waiting[len(e.waiting)-1] = nil
		e.waiting = e.waiting[:len(e.waiting)-1]
		e.pending = append(e.pending, uop{b: n})
	}
}

// process handles the completions that are ready, without waiting. The CQEs are copied out
// and advanced past before any is handled; handling one never submits or reaps (a short
// write's rest only becomes pending), so nothing here runs twice.
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
	t := token.Token(ud)
	i := t.Slot()
	if i >= uint32(len(e.slots)) || e.slots[i].state != slotKernel || e.slots[i].gen != t.Gen() ||
		t.Kind() != e.slots[i].kind() {
		if e.probe != nil {
			e.probe.stale.Add(1)
		}
		return // no current use of the slot: cannot happen
	}
	o := e.slots[i].uop
	if e.slots[i].cancelled {
		res = -int32(syscall.ECANCELED)
	}
	if f := e.slots[i].fault; f != 0 {
		res = f
	}
	e.kernel--
	e.release(i)
	if res == -int32(syscall.ECANCELED) {
		if e.probe != nil {
			e.probe.cancels.Add(1)
		}
		if t.Kind() != kindVoid && o.kcancels < maxKernelCancels {
			o.kcancels++
			if e.probe != nil {
				e.probe.resubmitted.Add(1)
			}
			e.pending = append(e.pending, o) // it never ran: again, at the same offset
			return
		}
	}
	switch {
	case t.Kind() == kindVoid:
		return
	case o.fsync:
		e.fsyncPending = false
		e.fsyncRes, e.fsyncFail = res, nil
		e.fsyncDone = e.fsyncAsync
		return
	}
	b := o.b
	switch {
	case res > 0:
		o.kcancels = 0
		b.done += int(res)
		if b.done < len(b.buf) {
			e.pending = append(e.pending, o) // short write: the rest, at the right offset
			return
		}
		e.finish(o)
	case res == -int32(syscall.EINTR) || res == -int32(syscall.EAGAIN):
		e.pending = append(e.pending, o)
	default:
		// ECANCELED included, once it came maxKernelCancels times in a row.
		var err error = io.ErrShortWrite
		if res < 0 {
			err = ring.ResultError(ring.OpWrite, res)
		}
		e.failWrite(o, &os.PathError{Op: "logger: write", Path: e.path, Err: err})
	}
}

// kind is the token kind of the slot's current operation.
func (s *slot) kind() token.Kind {
	switch {
	case s.fsync:
		return kindFsync
	case s.b == nil:
		return kindVoid
	}
	return kindWrite
}

// wait submits what is pending and parks the goroutine in the netpoller until the ring posts
// a completion, then processes what is ready. It parks only while the kernel holds a request,
// so a completion is sure to come.
func (e *uringEngine) wait() {
	e.flush()
	e.process()
	if len(e.done) > 0 || e.kernel == 0 {
		return
	}
	if err := e.nt.WaitDeadline(time.Time{}); err != nil {
		// The notifier broke (it should not); fall back to blocking in io_uring_enter,
		// which may submit what is queued.
		e.r.SubmitAndWait(1)
		e.syncTaken()
	}
	e.process()
}

func (e *uringEngine) reap(done []*batch) []*batch {
	e.flush()
	e.process()
	for len(e.done) == 0 && (e.inFlight > 0 || e.fsyncAsync && e.fsyncPending) {
		if e.broken && e.writing == 0 {
			e.repair()
			e.flush()
			continue
		}
		e.wait()
	}
	done = append(done, e.done...)
	clear(e.done)
	e.done = e.done[:0]
	e.unpin()
	return done
}

// retire hands back, in offset order, the batches at the head of order that were written
// whole.
func (e *uringEngine) retire() {
	k := 0
	for ; k < len(e.order); k++ {
		b := e.order[k]
		if b.off != e.base || b.err != nil || b.done != len(b.buf) {
			break
		}
		e.base += int64(len(b.buf))
		e.retireOne(b)
	}
	e.dropOrder(k)
}

func (e *uringEngine) retireOne(b *batch) {
	e.inFlight--
	e.done = append(e.done, b)
}

// dropOrder removes the first k batches of order.
func (e *uringEngine) dropOrder(k int) {
	if k == 0 {
		return
	}
	n := copy(e.order, e.order[k:])
	clear(e.order[n:])
	e.order = e.order[:n]
}

// repair runs after a write of order failed, once none of order is in the kernel (see
// Failures above). The head of order is the failed batch: everything before it was retired
// whole, so the file is whole lines up to base. It keeps the failed batch's whole lines,
// truncates the file after them and writes the batches behind it again from there.
func (e *uringEngine) repair() {
	e.broken = false
	if e.probe != nil {
		e.probe.repairs.Add(1)
	}
	pos := e.base
	cut := false
	keep := 0
	for _, b := range e.order {
		switch {
		case !cut && b.off == pos && b.err == nil && b.done == len(b.buf):
			pos += int64(len(b.buf)) // whole and in place (retire leaves none such at the head)
			e.base = pos
			e.retireOne(b)
		case !cut && b.off == pos:
			w := bytes.LastIndexByte(b.buf[:b.done], '\n') + 1
			if err := truncateFile(e.fd, pos+int64(w), e.path); err != nil {
				// The torn line stays (the writer ends it with "\n" before the next record);
				// the error says why.
				b.err = errors.Join(b.err, err)
				w = b.done
			}
			b.done = w
			pos += int64(w)
			e.base = pos
			cut = true
			e.retireOne(b)
		case b.err != nil:
			// Behind the failure and failed too: the file refused it already, so it is
			// lost like the failed one (whatever it wrote was cut off), not tried again.
			b.done = 0
			e.retireOne(b)
		default:
			// Behind the failure, written (at an offset now cut off) or parked: again, in
			// order, from the new end.
			b.off, b.done, b.err = pos, 0, nil
			pos += int64(len(b.buf))
			e.writing++
			e.pending = append(e.pending, uop{b: b})
			if e.probe != nil {
				e.probe.rewritten.Add(1)
			}
			e.order[keep] = b
			keep++
		}
	}
	clear(e.order[keep:])
	e.order = e.order[:keep]
	e.next = pos
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
	e.unpin()
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
	e.pending = append(e.pending, uop{fsync: true})
	e.fsyncPending = true
	e.fsyncFail = nil
}

// fsyncErr is the error of the last fsync.
func (e *uringEngine) fsyncErr() error {
	if e.fsyncFail != nil {
		return e.fsyncFail
	}
	switch res := e.fsyncRes; {
	case res >= 0, res == -int32(syscall.EINVAL), res == -int32(syscall.EROFS):
		return nil
	default:
		return &os.PathError{Op: "logger: fdatasync", Path: e.path, Err: ring.ResultError(ring.OpFsync, res)}
	}
}

// close releases the ring. The writer calls it with no batch in flight; what the kernel may
// still hold is NOPs of refused SQEs (no memory), which closing the ring cancels.
func (e *uringEngine) close() error {
	err := e.nt.Close()
	if cerr := e.r.Close(); err == nil {
		err = cerr
	}
	e.kernel = 0
	e.unpin()
	if err != nil {
		return fmt.Errorf("logger: io_uring close: %w", err)
	}
	return nil
}
