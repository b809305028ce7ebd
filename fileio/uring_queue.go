package fileio

import (
	"errors"
	"fmt"
	"slices"
	"syscall"
	"time"

	"github.com/uringd/uringd/internal/token"
	"github.com/uringd/uringd/ring"
)

// uringQueue is a Queue with a ring of its own, used only by the goroutine that calls its
// methods: Submit prepares an SQE (no syscall unless QueueOptions.Batch says so), Flush and
// Reap submit everything prepared with one io_uring_enter, Reap reaps CQEs straight into the
// caller's Ops. Reap waits for completions inside io_uring_enter, as fio does (one thread,
// the Queue owner's, for however many operations are in flight); with QueueOptions.Park it
// parks on an eventfd in Go's netpoller instead. With QueueOptions.Notify a helper goroutine
// parks on the eventfd and calls Notify whenever the kernel posted completions.
//
// The Ops are the caller's; while one is in flight the queue's slot table references it,
// which keeps the Op, its buffers and its iovecs reachable until its CQE is reaped.
type uringQueue struct {
	r     *ring.Ring
	nt    *ring.Notifier // with Park or Notify: the eventfd
	depth int

	slots    []*Op
	gens     []uint32
	free     []uint32
	inflight int
	cqes     []*ring.CQE

	notify  func()
	ready   chan struct{} // Notify mode: the helper saw the eventfd
	helper  chan struct{} // closed when the helper exits
	inKern  bool
	batch   int
	closed  bool
	scratch []*Op
	// again holds Ops the kernel cancelled unasked, to be submitted again (maxKernelCancels);
	// they are in flight but in no SQE yet.
	again  []*Op
	inject cancelInjector
	stalls uint64 // resubmits that found the SQ full and the kernel refusing (for tests)
}

func (e *uringEngine) NewQueue(depth int, opts QueueOptions) (Queue, error) {
	if depth <= 0 {
		return nil, fmt.Errorf("fileio uring: queue depth %d: must be positive", depth)
	}
	if e.closed.Load() {
		return nil, fmt.Errorf("fileio uring: new queue: %w", ErrClosed)
	}
	entries := uint32(1)
	for entries < uint32(depth) {
		entries <<= 1
	}
	// The SQ holds every Op of the queue plus room for cancellations; the CQ (twice the SQ)
	// holds every completion, so it never overflows.
	r, err := ring.New(ring.Options{Entries: entries, KernelCompat: e.compat, Faults: e.faults})
	if err != nil {
		return nil, fmt.Errorf("fileio uring: queue ring of %d entries: %w", entries, err)
	}
	q := &uringQueue{r: r, depth: depth, slots: make([]*Op, depth), gens: make([]uint32, depth),
		free: make([]uint32, depth), cqes: make([]*ring.CQE, r.CQEntries()), notify: opts.Notify,
		inKern: !opts.Park && opts.Notify == nil, batch: max(0, opts.Batch), inject: cancelInjector{every: e.cancelEvery}}
	for i := range q.free {
		q.free[i] = uint32(depth - 1 - i)
	}
	if !q.inKern {
		if q.nt, err = ring.NewNotifier(r); err != nil {
			r.Close()
			return nil, fmt.Errorf("fileio uring: queue notifier: %w", err)
		}
	}
	if q.notify != nil {
		q.ready = make(chan struct{}, 1)
		q.helper = make(chan struct{})
		go q.watch()
	}
	return q, nil
}

// watch is the Notify helper: it parks on the eventfd and passes every wakeup on.
func (q *uringQueue) watch() {
	defer close(q.helper)
	for {
		if err := q.nt.WaitDeadline(time.Time{}); err != nil {
			return // closed
		}
		select {
		case q.ready <- struct{}{}:
		default:
		}
		q.notify()
	}
}

// complete makes uringQueue a completer (Op.q marks the Op as in flight on it); the ring
// completes Ops itself, in Reap.
func (q *uringQueue) complete(*Op) {}
func (q *uringQueue) started()     {}

func (q *uringQueue) Submit(o *Op) error {
	if err := validateQueueOp(EngineUring, o, q.closed, q.inflight, q.depth); err != nil {
		return err
	}
	s := q.sqe()
	if s == nil {
		return fmt.Errorf("fileio uring: submit %s %s: %w", o.Code, o.File.path, ring.ErrBusy)
	}
	slot := q.free[len(q.free)-1]
	q.free = q.free[:len(q.free)-1]
	q.gens[slot] = token.NextGen(q.gens[slot])
	q.slots[slot] = o
	o.q, o.slot, o.ud, o.res, o.cause, o.N, o.Err = q, slot, userData(slot, q.gens[slot]), 0, nil, 0, nil
	o.lcancel, o.lkcancels = false, 0
	q.inflight++
	q.prep(s, o)
	if q.batch > 0 && int(q.r.Pending()) >= q.batch {
		if _, err := q.r.Submit(); err != nil && !errors.Is(err, ring.ErrBusy) {
			// The SQE stays prepared: the next Flush or Reap submits it again.
			return nil
		}
	}
	return nil
}

// prep fills s for o; with Options.cancelEvery some become NOPs that complete as the
// kernel's unasked cancellations do.
func (q *uringQueue) prep(s *ring.SQE, o *Op) {
	prepSQE(s, o)
	q.inject.maybe(s, o)
	s.UserData = o.ud
}

// resubmit prepares again the Ops the kernel cancelled unasked, as far as the SQ has room.
func (q *uringQueue) resubmit() {
	for len(q.again) > 0 {
		s := q.r.GetSQE()
		if s == nil {
			// The SQ is full: submit to make room. Refused, the Ops wait in again for the
			// next Flush or Reap, which pauses first when nothing else can complete.
			if _, err := q.r.Submit(); err != nil {
				q.stalls++
				return
			}
			if s = q.r.GetSQE(); s == nil {
				q.stalls++
				return
			}
		}
		o := q.again[0]
		q.again[0] = nil
		q.again = q.again[1:]
		q.prep(s, o)
	}
}

// sqe returns a free SQE, submitting what is prepared to make room.
func (q *uringQueue) sqe() *ring.SQE {
	if s := q.r.GetSQE(); s != nil {
		return s
	}
	if _, err := q.r.Submit(); err != nil {
		return nil
	}
	return q.r.GetSQE()
}

func (q *uringQueue) Flush() error {
	if q.closed {
		return ErrClosed
	}
	q.resubmit()
	if q.r.Pending() == 0 {
		return nil
	}
	if _, err := q.r.Submit(); err != nil && !errors.Is(err, ring.ErrBusy) {
		return fmt.Errorf("fileio uring: submit: %w", err)
	}
	return nil
}

func (q *uringQueue) Reap(out []*Op, min int) (int, error) {
	if q.closed {
		return 0, ErrClosed
	}
	min = clampMin(min, q.inflight, len(out))
	n := 0
	for {
		if q.inKern && n < min && q.r.CQReady() == 0 && !q.noneInKernel() {
			// Submit and wait in one io_uring_enter, on this goroutine's thread.
			if _, err := q.r.SubmitAndWait(1); err != nil && !errors.Is(err, ring.ErrBusy) {
				// The Ops already finished still go back with the error: the caller may give
				// up on the queue, and should not have to reap again to learn of them.
				return n + q.peek(out[n:]), fmt.Errorf("fileio uring: submit and wait: %w", err)
			}
		} else if err := q.Flush(); err != nil {
			return n + q.peek(out[n:]), err
		}
		n += q.peek(out[n:])
		if n >= min {
			return n, nil
		}
		if q.r.CQReady() == 0 && q.noneInKernel() {
			// The kernel refused the SQEs (or took only some, and none of the Ops): no
			// completion will come to end a wait, so pause and submit them again.
			time.Sleep(resubmitPause)
			continue
		}
		if q.inKern || q.r.CQReady() > 0 {
			// Completions are still in the CQ when peek's batch, capped by out, went to
			// cancels': reap them rather than wait for a wakeup they already spent.
			continue
		}
		if q.notify != nil {
			<-q.ready
		} else if err := q.nt.WaitDeadline(time.Time{}); err != nil {
			return n, fmt.Errorf("fileio uring: wait: %w", err)
		}
	}
}

// noneInKernel reports whether every Op in flight may still sit in the SQ, not yet taken by
// the kernel (prepared cancels count as Ops here): then waiting for a completion could wait
// forever, as a wait after a refused submission (ErrBusy) does in the ring. With fewer SQEs
// pending than Ops in flight, at least one Op is the kernel's and will complete.
func (q *uringQueue) noneInKernel() bool { return int(q.r.Pending())+len(q.again) >= q.inflight }

// peek moves ready completions into out and returns how many Ops it finished.
func (q *uringQueue) peek(out []*Op) int {
	if len(out) == 0 {
		return 0
	}
	cqes := q.cqes
	if len(cqes) > len(out) {
		cqes = cqes[:len(out)]
	}
	k := q.r.PeekBatch(cqes)
	n := 0
	for _, c := range cqes[:k] {
		t := token.Token(c.UserData)
		if t.Kind() != kindOp || t.Slot() >= uint32(len(q.slots)) {
			continue // a cancel's completion
		}
		slot := t.Slot()
		o := q.slots[slot]
		if o == nil || o.ud != c.UserData {
			continue
		}
		res := c.Res
		if o.linject {
			o.linject, res = false, -int32(syscall.ECANCELED)
		}
		if res == -int32(syscall.ECANCELED) && !o.lcancel && o.lkcancels < maxKernelCancels {
			// The kernel cancelled it unasked (io-wq work it could not start a worker for):
			// it never ran, so it goes again, keeping its slot.
			o.lkcancels++
			q.again = append(q.again, o)
			continue
		}
		q.slots[slot] = nil
		q.free = append(q.free, slot)
		q.inflight--
		o.q = nil
		o.res = int64(res)
		o.finish(EngineUring)
		out[n] = o
		n++
	}
	q.r.Advance(uint32(k))
	return n
}

func (q *uringQueue) Cancel(o *Op) error {
	if o.q != q {
		return fmt.Errorf("fileio uring: cancel: the op is not in flight on this queue")
	}
	s := q.sqe()
	if s == nil {
		return fmt.Errorf("fileio uring: cancel %s %s: %w", o.Code, o.File.path, ring.ErrBusy)
	}
	o.lcancel = true // its ECANCELED is the caller's now, not to be submitted again
	s.PrepCancel(o.ud, 0)
	s.UserData = cancelUserData()
	return nil
}

func (q *uringQueue) InFlight() int { return q.inflight }

func (q *uringQueue) Close() error {
	if q.closed {
		return nil
	}
	if q.inflight > 0 {
		// Cancel what is in flight and reap it all: the ring is closed only once the kernel
		// is done with every Op's buffers. A cancel that finds the SQ full waits for the
		// next round; a refused submission is retried.
		if q.scratch == nil {
			q.scratch = make([]*Op, q.depth)
		}
		cancelled := make([]uint64, 0, q.inflight) // user_data of the Ops a cancel is prepared for
		failures := 0
		for q.inflight > 0 {
			for _, o := range q.slots {
				if o == nil || slices.Contains(cancelled, o.ud) {
					continue
				}
				if q.Cancel(o) != nil {
					break // no SQE free: reap first
				}
				cancelled = append(cancelled, o.ud)
			}
			if _, err := q.Reap(q.scratch, 1); err != nil {
				if failures++; failures > closeRetries {
					// The Ops are still the kernel's: leave the ring open (and the Ops in its
					// table) rather than let the kernel write into memory given back.
					clear(q.scratch)
					return fmt.Errorf("fileio uring: queue close: %d operations still in flight, ring left open: %w", q.inflight, err)
				}
				time.Sleep(resubmitPause)
			}
		}
		clear(q.scratch)
	}
	q.closed = true
	var err error
	if q.nt != nil {
		q.nt.Close()
	}
	if q.helper != nil {
		<-q.helper
	}
	if cerr := q.r.Close(); cerr != nil {
		err = cerr
	}
	return err
}

// closeRetries is how many failed reaps in a row Queue.Close takes (a pause apart) before
// it gives up on a ring that keeps refusing.
const closeRetries = 1000
