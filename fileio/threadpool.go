package fileio

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
)

// tpEngine is the threadpool engine: Options.Workers goroutines, each locked to its own OS
// thread, run every operation (open, stat, read, write, sync, close) with blocking system
// calls, taking them from one bounded channel. A File method sends its pooled Op and parks
// on the Op's channel; a Queue's Ops come back on the Queue's channel.
//
// GOMAXPROCS. Go runs Go code on at most GOMAXPROCS threads at once. A worker returning from
// pread needs one of those slots (a P) to run the few lines before its next system call; while
// every P is held by a thread in a system call, it waits until the runtime's monitor takes one
// back (at least 20 µs, once per tick), so a pool larger than GOMAXPROCS serialises on that
// monitor instead of on the disk. The engine therefore raises GOMAXPROCS by Workers while it
// is open (and lowers it again on Close), unless Options.KeepGOMAXPROCS: the price of a
// thread pool in Go, which the io_uring engine does not pay.
type tpEngine struct {
	p         *pool
	workers   int
	forceWalk bool
	noOpenat2 atomic.Bool
	procs     int // added to GOMAXPROCS
	closed    atomic.Bool
}

func newThreadPool(opts Options) (*tpEngine, error) {
	w := opts.Workers
	if w <= 0 {
		w = defaultWorkers()
	}
	ql := opts.QueueLen
	if ql <= 0 {
		ql = 4 * w
	}
	e := &tpEngine{p: newPool(w, ql, true, execSyscall), workers: w, forceWalk: opts.ForceWalk}
	if !opts.KeepGOMAXPROCS {
		e.procs = w
		addProcs(w)
	}
	return e, nil
}

// extraProcs is what threadpool engines added to GOMAXPROCS, over base.
var extraProcs struct {
	sync.Mutex
	base, extra int
}

func addProcs(n int) {
	extraProcs.Lock()
	defer extraProcs.Unlock()
	if extraProcs.extra == 0 {
		extraProcs.base = runtime.GOMAXPROCS(0)
	}
	extraProcs.extra += n
	runtime.GOMAXPROCS(extraProcs.base + extraProcs.extra)
}

func (e *tpEngine) Name() string       { return EngineThreadPool }
func (e *tpEngine) name() string       { return EngineThreadPool }
func (e *tpEngine) useOpenat2() bool   { return !e.forceWalk && !e.noOpenat2.Load() }
func (e *tpEngine) disableOpenat2()    { e.noOpenat2.Store(true) }
func (e *tpEngine) OpenMethod() string { return openMethod(e.useOpenat2()) }

// Workers is the number of worker threads.
func (e *tpEngine) Workers() int { return e.workers }

func (e *tpEngine) Open(ctx context.Context, dir *Dir, name string, flag int, perm os.FileMode) (*File, error) {
	return openFile(ctx, e, dir, name, flag, perm)
}

func (e *tpEngine) do(ctx context.Context, o *Op) bool {
	if err := ctx.Err(); err != nil {
		o.cause = err
		return true
	}
	o.state.Store(stQueued)
	if ctx.Done() == nil {
		o.fut.Store(futWaiting)
	}
	p := e.p
	p.mu.RLock()
	if p.closed {
		p.mu.RUnlock()
		o.state.Store(stIdle)
		o.fut.Store(futNone)
		if o.Code == opClose {
			execSyscall(o) // the workers are gone; still release the descriptor
			return true
		}
		o.cause = ErrClosed
		return true
	}
	select {
	case p.reqs <- o:
		p.posted()
	case <-ctx.Done():
		p.mu.RUnlock()
		o.state.Store(stIdle)
		o.cause = ctx.Err()
		return true
	}
	p.mu.RUnlock()
	if ctx.Done() == nil {
		// Nothing to watch: sleep in futex(2) until the worker says done, one wakeup like
		// a C thread pool's, rather than park in the Go scheduler, where the worker's
		// wakeup would leave this goroutine in the worker's run queue for another thread
		// to steal.
		// Sleep for as long as the word says sleeping: a wakeup that finds it so is stale (a
		// late futexWake meant for an earlier use of this pooled Op's word) or spurious, and
		// sleeps again rather than spin until the worker is done.
		o.futStale = 0
		o.fut.CompareAndSwap(futWaiting, futSleeping) // fails only if the worker is done
		for o.fut.Load() != futDone {
			futexWait(&o.fut, futSleeping) // returns at once once the word changed
			if o.fut.Load() != futDone {
				o.futStale++
			}
		}
		o.fut.Store(futNone)
		return true
	}
	select {
	case <-o.done:
		return true
	case <-ctx.Done():
		if o.state.CompareAndSwap(stQueued, stCancelled) {
			return false // no worker started it; the worker that dequeues it recycles it
		}
		<-o.done // a worker is in the system call: wait for it, and report what it did
		return true
	}
}

func (e *tpEngine) NewQueue(depth int, opts QueueOptions) (Queue, error) {
	if depth <= 0 {
		return nil, fmt.Errorf("fileio threadpool: queue depth %d: must be positive", depth)
	}
	return newPoolQueue(EngineThreadPool, e.p, false, depth, opts), nil
}

func (e *tpEngine) Close() error {
	if e.closed.Swap(true) {
		return nil
	}
	e.p.close()
	if e.procs > 0 {
		addProcs(-e.procs)
	}
	return nil
}
