package fileio

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// pool is a set of worker goroutines fed by a bounded channel: the threadpool engine's
// (locked to OS threads) and the std engine's Queue (plain goroutines).
//
// Idle workers sleep in futex(2), each on a word of its own, on a stack of idle workers, not
// in a channel receive: a goroutine locked to its thread that parks in the Go scheduler costs
// two thread handoffs per wakeup (the P is handed to the locked thread and back), while a
// futex wakeup is one, as in a C thread pool. The channel stays the bounded FIFO; a count
// (avail) says how many of its Ops are not claimed yet, and a worker receives only after it
// claimed one, so the receive never parks. Whoever posts Ops wakes as many idle workers as
// there are Ops no searching worker will take (see wake).
//
// Spinning. A worker that has just run an Op looks for the next one for a while (spinFor,
// yielding its CPU in between) before it sleeps, and so does a Reap that waits for a
// completion (see poolQueue.Reap). A queue's owner resubmits as it reaps, so the next Op
// usually arrives within microseconds; a worker asleep by then costs a futex wake and a
// context switch per Op, and on a VM whose idle vCPUs halt, an exit to the hypervisor as well.
// Every worker that has just run an Op spins this way, however many there are: a spinner
// yields between looks, so spinners beyond the CPU count cost sched_yield calls, not CPUs,
// and whenever one is around, a posted Op needs no futex wake (a cap of one spinner per CPU
// made a pool larger than the CPU count pay futex wakes again; measured: see docs/results).
// A spinning worker counts as searching, so submitters wake no sleeper for the Op it will take.
type pool struct {
	workers   int
	reqs      chan *Op
	exec      func(*Op)
	locked    bool
	avail     atomic.Int32 // Ops in reqs that no worker has claimed
	searching atomic.Int32 // workers awake (or woken) and not running an Op
	stop      atomic.Bool
	wg        sync.WaitGroup

	// Idle workers (locked pools): a stack of worker indexes, each asleep on its own futex
	// word, so that a waker wakes one particular worker and counts it as searching before it
	// runs (see wake).
	ws       []poolWorker
	idleHead atomic.Uint64 // version<<32 | (index+1) of the top idle worker; 0 in the low half: none

	mu     sync.RWMutex // senders hold it shared; close takes it
	closed bool

	// Queues with Notify whose Ops wait in their backlog because reqs was full. A queue's
	// backlog moves only when its owner calls Flush or Reap, and an owner that has nothing
	// of its own in reqs gets no completion to make it do so: a worker that takes an Op
	// (making room) notifies them instead.
	backlogged atomic.Int32
	blMu       sync.Mutex
	blQueues   []*poolQueue
}

// noteBacklog lists q to be notified when reqs has room.
func (p *pool) noteBacklog(q *poolQueue) {
	if q.notify == nil || q.listed.Swap(true) {
		return
	}
	p.blMu.Lock()
	p.blQueues = append(p.blQueues, q)
	p.blMu.Unlock()
	p.backlogged.Add(1)
}

// notifyBacklogged tells every listed queue's owner that reqs has room.
func (p *pool) notifyBacklogged() {
	p.blMu.Lock()
	qs := p.blQueues
	p.blQueues = nil
	p.backlogged.Add(-int32(len(qs)))
	p.blMu.Unlock()
	for _, q := range qs {
		q.listed.Store(false)
		q.notify()
	}
}

func newPool(workers, queueLen int, locked bool, exec func(*Op)) *pool {
	p := &pool{workers: workers, reqs: make(chan *Op, queueLen), exec: exec, locked: locked}
	if locked {
		p.ws = make([]poolWorker, workers)
	}
	p.wg.Add(workers)
	for i := range workers {
		go p.worker(i)
	}
	return p
}

// poolWorker is a locked pool's worker as the idle stack sees it.
type poolWorker struct {
	woken atomic.Int32 // futex word: 0 while idle, 1 once a waker took it off the stack
	next  atomic.Int32 // index+1 of the worker below it on the idle stack
}

// pushIdle puts worker i on the idle stack.
func (p *pool) pushIdle(i int) {
	w := &p.ws[i]
	for {
		h := p.idleHead.Load()
		w.next.Store(int32(uint32(h)))
		if p.idleHead.CompareAndSwap(h, (h>>32+1)<<32|uint64(i+1)) {
			return
		}
	}
}

// popIdle takes the top worker off the idle stack; -1 when it is empty. The version in the
// head's upper half makes a stale next harmless (ABA).
func (p *pool) popIdle() int {
	for {
		h := p.idleHead.Load()
		top := int(uint32(h))
		if top == 0 {
			return -1
		}
		next := uint64(uint32(p.ws[top-1].next.Load()))
		if p.idleHead.CompareAndSwap(h, (h>>32+1)<<32|next) {
			return top - 1
		}
	}
}

func (p *pool) worker(id int) {
	defer p.wg.Done()
	if !p.locked {
		// Plain goroutines (the std engine's Queue) park in the Go scheduler as usual.
		for o := range p.reqs {
			p.run(o)
		}
		return
	}
	// Never unlocked: when the pool closes the goroutine exits locked and the runtime ends
	// its thread with it, so the threads go away with the pool.
	runtime.LockOSThread()
	w := &p.ws[id]
	var lastSched time.Time
	p.searching.Add(1)
	ran := false // ran an Op since it last slept: more are likely on their way
	for {
		v := p.avail.Load()
		if v > 0 {
			if !p.avail.CompareAndSwap(v, v-1) {
				continue
			}
			o, ok := <-p.reqs
			p.searching.Add(-1)
			if !ok {
				return // closed
			}
			// Stopping searching, look again: Ops posted while we were a searcher woke
			// nobody, counting on us.
			p.wake()
			p.run(o)
			if now := time.Now(); now.Sub(lastSched) >= schedEvery {
				lastSched = now
				runtime.Gosched()
			}
			ran = true
			p.searching.Add(1)
			continue
		}
		if p.stop.Load() {
			p.searching.Add(-1)
			return
		}
		if ran {
			ran = false
			if p.spin() {
				continue
			}
		}
		// Sleep. On the idle stack first, then no longer searching, then look again: a
		// poster that still counted us woke nobody, one that did not finds us on the stack.
		w.woken.Store(0)
		p.pushIdle(id)
		p.searching.Add(-1)
		if p.stop.Load() {
			p.wakeIdle()
		} else {
			p.wake()
		}
		for w.woken.Load() == 0 {
			futexWait(&w.woken, 0)
		}
		// Whoever woke us counted us as searching already.
	}
}

// schedEvery is how often a busy worker passes through the Go scheduler (runtime.Gosched,
// after an Op, never while one waits for it). A locked worker otherwise never does: its P's
// scheduling tick stands still, and after 10ms the runtime's monitor (sysmon) treats it as
// a goroutine that refuses to yield, takes its P away in every pread, and polls every 20µs
// instead of backing off (see package internal/sched). A Gosched costs a locked goroutine
// two thread handoffs, so it comes as rarely as it can: just inside the 10ms (rather than
// internal/sched.Every's shorter period; measured: see docs/results).
const schedEvery = 9 * time.Millisecond

// spinFor is how long a worker or a Reap looks for work before it sleeps in futex(2): a few
// times what the queue's owner needs to reap a completion and resubmit.
const spinFor = 50 * time.Microsecond

// spin waits up to spinFor for an Op to be posted; true when one was. The caller still counts
// as searching, so posting wakes nobody.
func (p *pool) spin() bool {
	return spinUntil(func() bool { return p.avail.Load() > 0 || p.stop.Load() })
}

// spinUntil polls cond for up to spinFor, giving the CPU to any other runnable thread between
// polls (sched_yield: a CPU busy with a spinner does not halt, so a thread woken on it runs
// at once). It makes no blocking system call, so it keeps its P, as a worker in its loop
// does; it returns whether cond became true.
func spinUntil(cond func() bool) bool {
	var deadline time.Time
	for i := 0; ; i++ {
		if cond() {
			return true
		}
		if i%8 == 0 {
			now := time.Now()
			if i == 0 {
				deadline = now.Add(spinFor)
			} else if now.After(deadline) {
				return false
			}
		}
		unix.RawSyscall(unix.SYS_SCHED_YIELD, 0, 0, 0)
	}
}

func (p *pool) run(o *Op) {
	if o.q != nil {
		o.q.started()
	}
	if p.backlogged.Load() > 0 {
		p.notifyBacklogged()
	}
	if !o.state.CompareAndSwap(stQueued, stRunning) {
		// Cancelled while it waited in the channel.
		if o.q == nil {
			putOp(o) // a File method's Op, given up by its caller: ours to recycle
			return
		}
		o.res, o.cause = -int64(syscall.ECANCELED), nil
		o.q.complete(o)
		return
	}
	p.exec(o)
	o.state.Store(stIdle)
	switch {
	case o.q != nil:
		o.q.complete(o)
	case p.locked && o.fut.Load() != futNone:
		if o.fut.Swap(futDone) == futSleeping {
			futexWake(&o.fut, 1)
		}
	default:
		o.done <- struct{}{}
	}
}

// States of Op.fut, for a caller that waits in futex(2) (see tpEngine.do).
const (
	futNone     int32 = iota // the caller waits on Op.done
	futWaiting               // the caller will wait on fut
	futSleeping              // the caller sleeps in futex_wait
	futDone                  // the worker finished the Op
)

// posted counts an Op just put into reqs and makes sure a worker will look for it.
func (p *pool) posted() {
	if !p.locked {
		return
	}
	p.avail.Add(1)
	p.wake()
}

// wake wakes idle workers while fewer workers search than Ops wait unclaimed: a burst of
// Ops wakes as many workers at once, rather than one that wakes the next, each wakeup's
// latency adding up. A woken worker counts as searching from the moment it is chosen, so
// a burst wakes no more workers than it has Ops. It is safe because every worker that
// stops searching, to sleep or to run an Op, looks at the count again after it stopped
// counting as a searcher (and a sleeper is on the idle stack before that).
func (p *pool) wake() {
	for {
		s := p.searching.Load()
		if s >= p.avail.Load() {
			return
		}
		if !p.searching.CompareAndSwap(s, s+1) {
			continue
		}
		if !p.wakeIdle() {
			p.searching.Add(-1) // every worker is busy or searching
			return
		}
	}
}

// wakeIdle wakes the top idle worker, false when there is none. The caller counted it as
// searching.
func (p *pool) wakeIdle() bool {
	i := p.popIdle()
	if i < 0 {
		return false
	}
	w := &p.ws[i]
	w.woken.Store(1)
	futexWake(&w.woken, 1)
	return true
}

// trySend hands o to a worker without blocking; false when the channel is full.
func (p *pool) trySend(o *Op) (bool, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return false, ErrClosed
	}
	select {
	case p.reqs <- o:
		p.posted()
		return true, nil
	default:
		return false, nil
	}
}

// close stops the workers once they have run what is queued, and waits for them. Closing
// reqs, bumping avail and waking every idle worker reaches every worker: an awake one claims,
// receives from the closed channel, and exits; one that goes idle later sees stop and wakes
// itself (or another idle worker, which exits and so on).
func (p *pool) close() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		close(p.reqs)
		p.stop.Store(true)
		p.avail.Add(1 << 30)
		if p.locked {
			for {
				p.searching.Add(1)
				if !p.wakeIdle() {
					p.searching.Add(-1)
					break
				}
			}
		}
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// futex(2) operations (linux/futex.h): FUTEX_WAIT and FUTEX_WAKE with FUTEX_PRIVATE_FLAG.
const (
	futexWaitPrivate = 0 | 128
	futexWakePrivate = 1 | 128
)

func futexWait(addr *atomic.Int32, val int32) {
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), futexWaitPrivate,
		uintptr(uint32(val)), 0, 0, 0)
}

func futexWake(addr *atomic.Int32, n int) {
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), futexWakePrivate,
		uintptr(n), 0, 0, 0)
}

// poolQueue is the Queue of the threadpool and std engines: Submit hands Ops to the pool's
// workers, which return them on done.
type poolQueue struct {
	engine   string
	p        *pool
	ownPool  bool // the std engine's private pool: closed with the queue
	depth    int
	inflight int
	done     chan *Op
	backlog  []*Op // submitted while the pool's channel was full, oldest first
	head     int
	notify   func()
	closed   bool

	// With a locked pool (threadpool), Reap sleeps in futex(2) on seq rather than parking on
	// done: a goroutine readied by a locked worker lands in that worker's run queue and
	// waits there until another thread steals it, while the worker sits in its next system
	// call.
	futex    bool
	sleeping atomic.Int32 // 1 while Reap is (about to be) asleep; futex word
	queued   atomic.Int32 // the queue's Ops in the pool's channel, not started yet
	workers  int32
	listed   atomic.Bool // on the pool's list of queues to notify when reqs has room
}

func newPoolQueue(engine string, p *pool, own bool, depth int, opts QueueOptions) *poolQueue {
	return &poolQueue{engine: engine, p: p, ownPool: own, depth: depth, done: make(chan *Op, depth),
		backlog: make([]*Op, 0, depth), notify: opts.Notify, futex: p.locked, workers: int32(p.workers)}
}

// wakeReaper wakes Reap if it sleeps. The futex word is the flag itself: a late waker that
// clears it before Reap sleeps makes futex_wait return at once instead of leaving Reap asleep.
func (q *poolQueue) wakeReaper() {
	if q.sleeping.Load() == 1 && q.sleeping.Swap(0) == 1 {
		futexWake(&q.sleeping, 1)
	}
}

// started runs on a worker that takes one of the queue's Ops from the channel. Completions
// wake Reap only while fewer of the queue's Ops wait in the channel than the pool has
// workers: with more queued, the workers stay busy without the reaper, and it is woken
// (here) once they are about to run out, with every completion so far ready at once,
// instead of once per completion (each wakeup is a context switch, and in a VM an exit).
func (q *poolQueue) started() {
	if q.futex && q.queued.Add(-1) < q.workers && len(q.done) > 0 {
		q.wakeReaper()
	}
}

// complete runs on a worker.
func (q *poolQueue) complete(o *Op) {
	q.done <- o // never blocks: at most depth Ops are in flight
	if q.futex && q.queued.Load() < q.workers {
		q.wakeReaper()
	}
	if q.notify != nil {
		q.notify()
	}
}

func (q *poolQueue) Submit(o *Op) error {
	if err := validateQueueOp(q.engine, o, q.closed, q.inflight, q.depth); err != nil {
		return err
	}
	o.q, o.res, o.cause, o.N, o.Err = q, 0, nil, 0, nil
	o.state.Store(stQueued)
	q.inflight++
	if q.head < len(q.backlog) {
		q.backlog = append(q.backlog, o) // keep the order
		q.p.noteBacklog(q)
		return nil
	}
	q.queued.Add(1)
	sent, err := q.p.trySend(o)
	if err != nil {
		q.queued.Add(-1)
		q.inflight--
		return err
	}
	if !sent {
		q.queued.Add(-1)
		q.backlog = append(q.backlog, o)
		q.p.noteBacklog(q)
		// Room may have come between the full channel and the listing, with no worker
		// left to see the list: try once more.
		return q.Flush()
	}
	return nil
}

func (q *poolQueue) Flush() error {
	for q.head < len(q.backlog) {
		q.queued.Add(1)
		sent, err := q.p.trySend(q.backlog[q.head])
		if err != nil || !sent {
			q.queued.Add(-1)
			if err == nil {
				q.p.noteBacklog(q)
			}
			return err
		}
		q.popBacklog()
	}
	return nil
}

func (q *poolQueue) popBacklog() {
	q.backlog[q.head] = nil
	q.head++
	if q.head == len(q.backlog) {
		q.backlog, q.head = q.backlog[:0], 0
	}
}

func (q *poolQueue) Reap(out []*Op, min int) (int, error) {
	if q.closed {
		return 0, ErrClosed
	}
	if err := q.Flush(); err != nil {
		return 0, err
	}
	min = clampMin(min, q.inflight, len(out))
	n := 0
	for n < len(out) {
		var o *Op
		switch {
		case n >= min:
			select {
			case o = <-q.done:
			default:
				return n, nil
			}
		case q.head < len(q.backlog):
			// Waiting: push the backlog as workers free up, and take completions meanwhile.
			q.p.mu.RLock()
			if q.p.closed {
				q.p.mu.RUnlock()
				return n, ErrClosed
			}
			q.queued.Add(1)
			select {
			case q.p.reqs <- q.backlog[q.head]:
				q.p.posted()
				q.popBacklog()
			case o = <-q.done:
				q.queued.Add(-1)
			}
			q.p.mu.RUnlock()
			if o == nil {
				continue
			}
		case q.futex:
			select {
			case o = <-q.done:
			default:
				// A worker is about to finish one of ours, or the next Op completes soon:
				// look for a while before sleeping (see pool).
				spinUntil(func() bool { return len(q.done) > 0 })
				q.sleeping.Store(1) // see wakeReaper
				select {
				case o = <-q.done:
					q.sleeping.Store(0)
				default:
					futexWait(&q.sleeping, 1)
				}
			}
			if o == nil {
				continue
			}
		default:
			o = <-q.done
		}
		q.inflight--
		o.q = nil
		o.finish(q.engine)
		out[n] = o
		n++
	}
	return n, nil
}

func (q *poolQueue) Cancel(o *Op) error {
	if o.q != q {
		return fmt.Errorf("fileio %s: cancel: the op is not in flight on this queue", q.engine)
	}
	o.state.CompareAndSwap(stQueued, stCancelled) // a worker already on it finishes it
	return nil
}

func (q *poolQueue) InFlight() int { return q.inflight }

func (q *poolQueue) Close() error {
	if q.closed {
		return nil
	}
	// Ops still in the backlog never reached a worker: they are simply dropped.
	for q.head < len(q.backlog) {
		o := q.backlog[q.head]
		o.q = nil
		o.state.Store(stIdle)
		q.popBacklog()
		q.inflight--
	}
	for ; q.inflight > 0; q.inflight-- {
		o := <-q.done
		o.q = nil
	}
	q.closed = true
	if q.ownPool {
		q.p.close()
	}
	return nil
}

// validateQueueOp checks an Op before a Queue takes it.
func validateQueueOp(engine string, o *Op, closed bool, inflight, depth int) error {
	if closed {
		return ErrClosed
	}
	if o.File == nil {
		return fmt.Errorf("fileio %s: submit %s: no File", engine, o.Code)
	}
	if o.Code < OpRead || o.Code > OpFdatasync {
		return fmt.Errorf("fileio %s: submit: op code %d is not a Queue operation", engine, o.Code)
	}
	if o.q != nil {
		return fmt.Errorf("fileio %s: submit %s %s: the op is already in flight", engine, o.Code, o.File.path)
	}
	if inflight >= depth {
		return ErrQueueFull
	}
	if o.Off < 0 {
		return o.File.err(o.Code, o.Off, errNegativeOffset)
	}
	if o.Code == OpReadv || o.Code == OpWritev {
		o.buildIov(o.Bufs, 0)
	}
	if o.File.direct {
		return o.File.checkAlign(o.Code, o.Buf, o.Bufs, o.Off)
	}
	return nil
}

func clampMin(min, inflight, outLen int) int {
	if min > inflight {
		min = inflight
	}
	if min > outLen {
		min = outLen
	}
	if min < 0 {
		min = 0
	}
	return min
}
