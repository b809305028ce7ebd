package netio

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/uringd/uringd/internal/sched"
	"github.com/uringd/uringd/internal/token"
	"github.com/uringd/uringd/netio/internal/http1"
	"github.com/uringd/uringd/ring"
)

const (
	recvBufSize   = 4096      // provided receive buffers
	recvBufCount  = 1024      // per loop
	outBufSize    = 256 << 10 // per busy connection: head and file bytes for one send
	outSmallSize  = 16 << 10  // the same for replies that fit: most static files are small
	maxInBuffered = 256 << 10 // unanswered input beyond this, while receiving, closes the connection
	inHighWater   = 64 << 10  // unanswered (pipelined) input at which a connection stops receiving
	inLowWater    = 16 << 10  // ... and below which it receives again
	inCompactAt   = 16 << 10  // consumed input at which the rest moves to the front of c.in
	tick          = 250 * time.Millisecond
	// acceptPause is how long a loop stops accepting after the process or the system ran out
	// of file descriptors (nginx waits 500 ms too): accepting again at once only spins on
	// EMFILE while the connections being served cannot get the fds they need.
	acceptPause = 500 * time.Millisecond
)

// loop is one event loop: a goroutine locked to its OS thread that owns one ring, its
// listener's accepts, its connections, its open-file cache. Nothing in it is shared with
// other loops except the Server's counters, so it takes no locks.
type loop struct {
	s  *Server
	id int
	// iowqPrev holds this thread's io-wq limits from before Config.IOWQMaxWorkers, to restore.
	iowqPrev [2]uint32
	r        *ring.Ring
	f        *ring.Features
	lns      []loopListener // the listeners this loop accepts on, one armed ACCEPT each
	bufs     *ring.BufferGroup

	conns   []*conn
	free    []int32
	starved []int32 // conns whose receive found no free buffer
	files   fileCache
	// opening holds, per path whose open is in flight, the connections that asked for it
	// meanwhile: they wait for that open instead of each opening the file (coalesced misses).
	opening map[string][]openWaiter
	plan    planner
	pool    *poolIO // threadpool file IO, nil in uring mode

	cqes     []*ring.CQE
	done     []cqe // the CQEs of one reap pass, copied out before their handlers run
	rate     cqeRate
	chainMax int // SQEs of the longest link chain: its READs and the SEND

	// Work that found the SQ full waits here, oldest first, for drainUnqueued.
	unqueued                               []unqueued
	toRecycle                              []uint16 // receive buffers to give back (PROVIDE_BUFFERS)
	wantAccept, wantWake, wantCancelAccept bool
	nomemAt                                time.Time // last ENOMEM from io_uring_enter that was logged
	nomemSince                             time.Time // first ENOMEM of the current run of them
	now                                    time.Time
	nextTick                               time.Time
	yield                                  sched.Yielder
	stopping                               bool
	acceptResume                           time.Time        // accepting is paused until then (out of fds)
	fdFailures                             int              // accepts that failed for want of fds since the last log line
	listenerShut                           bool             // drainListeners has run
	skipRead                               bool             // READs carry CQE_SKIP_SUCCESS
	large                                  largePath        // how file pieces of largeMin bytes and more are sent (Config.LargeFiles)
	cstat                                  unix.Cachestat_t // cachestat(2)'s answer (synchronous: no ownership across calls)
	crange                                 unix.CachestatRange

	inbox      inbox
	entry      AccessEntry
	wakeFd     int
	wakeMu     sync.RWMutex // wakeups hold it shared; closeWake takes it
	wakeClosed bool
	wakeBuf    *[8]byte
	wakeArm    bool
	pipes      []pipePair // empty splice pipes of finished replies, for the next (--large-files splice)
	injectN    uint64     // OPENAT2s and chains prepared, for ringTuning.cancelEvery
	// specialLogged is when a missing fallback or error page was last logged.
	specialLogged time.Time
	outPool       sync.Pool // outBufSize send buffers
	fixed         fixedBufs // outBufSize send buffers registered with the ring (fixed.go)
	smallPool     sync.Pool // outSmallSize send buffers

	counts   loopCounters // this loop's counts, for Server.Stats (stats.go)
	statsBox statsBox
}

func newLoop(s *Server, id int, lns []loopListener) (*loop, error) {
	l := &loop{s: s, id: id, lns: lns, cqes: make([]*ring.CQE, 256), done: make([]cqe, 256), wakeBuf: new([8]byte)}
	l.outPool.New = func() any { b := make([]byte, outBufSize); return &b }
	l.smallPool.New = func() any { b := make([]byte, outSmallSize); return &b }
	l.files.init(fileCacheSize(s.cfg.OpenFileCache, s.cfg.Loops), s.cfg.OpenFileCacheTTL)
	l.files.rules = s.hdrRules
	l.plan.setCORS(s.cfg.CORS)
	var err error
	l.wakeFd, err = unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("netio: eventfd: %w", err)
	}
	if s.cfg.FileIO == "threadpool" {
		if l.pool, err = newPoolIO(l); err != nil {
			l.closeWake()
			return nil, fmt.Errorf("netio: loop %d: file IO queue: %w", id, err)
		}
	}
	return l, nil
}

// setupRing runs on the loop's own locked thread, so SINGLE_ISSUER (6.0+) can be used.
func (l *loop) setupRing() error {
	f := l.s.features
	opts := ring.Options{Entries: 4096, CQEntries: 16384, KernelCompat: l.s.cfg.KernelCompat}
	if t := l.s.tune; t.sqEntries > 0 {
		opts.Entries, opts.CQEntries = t.sqEntries, t.cqEntries
	}
	opts.Faults = l.s.tune.faults
	if f.SingleIssuer {
		opts.SingleIssuer = true
		if f.DeferTaskrun {
			opts.DeferTaskrun = true
		}
	} else if f.CoopTaskrun {
		opts.CoopTaskrun = true
	}
	r, err := ring.New(opts)
	if err != nil {
		return fmt.Errorf("netio: loop %d: %w", l.id, err)
	}
	l.r, l.f = r, r.Features()
	if f := l.s.tune.loopThread; f != nil {
		f(l.id, unix.Gettid())
	}
	if n := l.s.cfg.IOWQMaxWorkers; n > 0 {
		// The limit is the calling thread's io-wq's: this loop's, since it submits here.
		if !l.f.IOWQMaxWorkers {
			if l.id == 0 {
				l.s.cfg.Logf("io-wq workers: no cap (IORING_REGISTER_IOWQ_MAX_WORKERS needs Linux 5.15+, kernel here %s)", l.f.Effective())
			}
		} else if b, u, err := r.SetIOWQMaxWorkers(uint32(n), uint32(n)); err != nil {
			r.Close()
			return fmt.Errorf("netio: loop %d: %w", l.id, err)
		} else {
			l.iowqPrev = [2]uint32{b, u}
		}
	}
	// A chain must fit the SQ whole, with the SQE an injected cancellation puts ahead of it
	// (tests): on a tiny ring, a chain one SQE too long waited for room forever.
	l.chainMax = min(maxChainReads, int(r.SQEntries())-1-l.injectRoom()) + 1
	l.skipRead = l.f.CQESkip
	l.large = l.s.largePath(l.f, l.pool != nil)
	if l.bufs, err = r.NewBufferGroup(uint16(l.id), recvBufCount, recvBufSize); err != nil {
		r.Close()
		return fmt.Errorf("netio: loop %d: receive buffers: %w", l.id, err)
	}
	l.setupFixed()
	return nil
}

// close tears the loop down. The ring goes first: closing it cancels what is still in
// flight, so no operation can meet a socket or file fd that was closed and reused. The
// kernel may still finish a cancelled operation's work after that, so when anything was
// still in flight (a forced shutdown) the loop's buffers stay mapped and reachable from
// the Server instead of going back to a pool.
func (l *loop) close() {
	l.opening = nil // releasing an opener below must not start lookups on a closed ring
	if l.r != nil {
		if l.iowqPrev != [2]uint32{} {
			// The cap belongs to this OS thread's io-wq, and the thread outlives the loop in
			// Go's pool: give it back its limits so later rings on it are not capped.
			l.r.SetIOWQMaxWorkers(l.iowqPrev[0], l.iowqPrev[1])
		}
		l.r.Close()
	}
	if l.pool != nil {
		l.pool.close()
	}
	l.closeInbox()
	for i := range l.inbox.done {
		if f := l.inbox.done[i].file; f != nil {
			f.Close()
		}
	}
	stuck := false
	for _, c := range l.conns {
		if c == nil || c.fd < 0 {
			continue
		}
		if c.inflight > 0 {
			stuck = true
			out, box := c.out, c.outBox
			c.out, c.outBox = nil, nil // not back to the pool: the kernel may still write it
			l.release(c)
			c.out, c.outBox = out, box
			continue
		}
		l.release(c)
	}
	l.files.closeAll()
	for _, pp := range l.pipes { // the ring is closed: nothing splices through them
		unix.Close(pp.fds[0])
		unix.Close(pp.fds[1])
	}
	l.pipes = nil
	if stuck {
		l.s.keepFailed(l)
	} else {
		if l.bufs != nil {
			l.bufs.Close()
		}
		l.fixed.unmap()
	}
	l.closeWake()
}

// wakeup makes the loop run an iteration soon (threadpool completions, listings). Other
// goroutines call it, so it writes under wakeMu: once closeWake has run, the fd number may
// belong to someone else.
func (l *loop) wakeup() {
	var one = [8]byte{1}
	l.wakeMu.RLock()
	if !l.wakeClosed {
		unix.Write(l.wakeFd, one[:])
	}
	l.wakeMu.RUnlock()
}

// closeWake closes the eventfd once no wakeup can be writing to it.
func (l *loop) closeWake() {
	l.wakeMu.Lock()
	if !l.wakeClosed {
		l.wakeClosed = true
		unix.Close(l.wakeFd)
	}
	l.wakeMu.Unlock()
}

// run is the loop, on the shape of TigerBeetle's: submit and wait in one place, copy a batch
// of CQEs out and advance the CQ, then run their handlers, which prepare SQEs but never
// submit or reap; work that finds the SQ full waits on the unqueued FIFO for the next pass.
func (l *loop) run() error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer l.publishStats(true) // last: after close, so the counts are final
	if err := l.setupRing(); err != nil {
		l.closeWake()
		return err
	}
	defer l.close()
	l.now = time.Now()
	l.nextTick = l.now.Add(tick)
	l.armAccept()
	l.armWake()
	for {
		if l.busy() {
			// Make room first, then give it to what waited for it.
			if _, err := l.r.Submit(); err != nil && !l.transient(err) {
				return fmt.Errorf("netio: loop %d: %w", l.id, err)
			}
			l.drainUnqueued()
		}
		wait := time.Until(l.nextTick)
		if wait < 0 || l.busy() {
			wait = 0
		}
		if _, err := l.r.SubmitAndWaitBatch(l.batchTarget(), l.s.cfg.BatchWait, wait); err != nil && !errors.Is(err, ring.ErrTimeout) && !l.transient(err) {
			return fmt.Errorf("netio: loop %d: %w", l.id, err)
		}
		// Handlers set deadlines from l.now: not from before a wait of up to a tick.
		l.now = time.Now()
		got := l.reap()
		if got > 0 {
			l.nomemSince = time.Time{} // completions come in: the loop is not stuck
		}
		if l.s.cfg.BatchWait > 0 {
			l.rate.add(got, l.now) // only batched waits use it
		}
		l.drainUnqueued()
		l.rearmStarved()
		l.now = time.Now()
		l.yield.Maybe(l.now) // see package internal/sched: keeps sysmon from retaking our P
		if !l.now.Before(l.nextTick) {
			l.nextTick = l.now.Add(tick)
			l.timeouts()
			l.files.expire(l.now, l)
		}
		if l.statsBox.want.Load() {
			l.publishStats(false)
		}
		if l.s.stopping.Load() && l.stopDue() && l.shutdownStep() {
			return nil
		}
	}
}

// stopDue reports whether the loop takes up the requested stop now: at once, unless a test
// holds it back (ringTuning.stopDelay).
func (l *loop) stopDue() bool {
	d := l.s.tune.stopDelay
	return d <= 0 || l.now.UnixNano() >= l.s.stopAt.Load()-int64(l.s.cfg.ShutdownTimeout)+int64(d)
}

// transient reports whether a failed io_uring_enter left everything as it was, to be tried
// again: the SQEs are still queued (busy, no memory) and no completion was lost. Anything
// else (EBADR: the kernel dropped completions) leaves the loop unable to account for what
// is in flight, and ends it.
func (l *loop) transient(err error) bool {
	switch {
	case errors.Is(err, ring.ErrBusy), errors.Is(err, syscall.EINTR):
		return true
	case errors.Is(err, syscall.ENOMEM):
		// The kernel could not allocate for the submission: retried, but a loop that gets
		// nothing in for nomemLimit is not coming back, and says so by ending.
		now := time.Now()
		if l.nomemSince.IsZero() {
			l.nomemSince = now
		}
		if now.Sub(l.nomemAt) >= time.Second {
			l.nomemAt = now
			l.s.cfg.Logf("loop %d: submit: %v (retrying)", l.id, err)
		}
		return now.Sub(l.nomemSince) < nomemLimit
	}
	return false
}

// nomemLimit is how long a loop retries submissions the kernel refuses with ENOMEM.
const nomemLimit = 2 * time.Second

// cqe is a completion copied out of the CQ.
type cqe struct {
	ud    uint64
	res   int32
	flags uint32
}

// reap copies each batch of CQEs out, gives their slots back to the kernel, and only then
// runs their handlers, so a handler can never see or advance the CQ it was called from. It
// returns how many it handled.
func (l *loop) reap() int {
	total := 0
	for {
		n := l.r.PeekBatch(l.cqes)
		if n == 0 {
			return total
		}
		total += n
		for i, c := range l.cqes[:n] {
			l.done[i] = cqe{c.UserData, c.Res, c.Flags}
		}
		l.r.Advance(uint32(n))
		l.now = time.Now()
		for _, d := range l.done[:n] {
			l.complete(d.ud, d.res, d.flags)
		}
	}
}

// batchTarget is how many completions a wait aims for: as many as came in over the last
// BatchWait at the loop's recent rate, and no more than half the loop's share of the open
// connections, or 64. Config.BatchWait bounds how long it waits for them. Below two it is
// a plain wait: waiting for completions that are not coming only delays the ones that are
// (a few busy clients among idle or disk-bound connections would wait on every pass).
func (l *loop) batchTarget() uint32 {
	n := uint32(l.s.conns.Load()) / uint32(l.s.cfg.Loops) / 2
	return min(n, 64, l.rate.expected(l.s.cfg.BatchWait))
}

// cqeRate follows how many completions a loop reaps per second, smoothed over windows of
// rateWindow.
type cqeRate struct {
	perSec     float64 // smoothed
	n          int     // reaped in the current window
	windowFrom time.Time
}

const rateWindow = time.Millisecond

// add counts n completions reaped at now.
func (r *cqeRate) add(n int, now time.Time) {
	r.n += n
	if r.windowFrom.IsZero() {
		r.windowFrom = now
		return
	}
	d := now.Sub(r.windowFrom)
	if d < rateWindow {
		return
	}
	// Each window weighs by its length, so one long idle wait pulls the rate down at once.
	w := min(1, float64(d)/float64(8*rateWindow))
	r.perSec += (float64(r.n)/d.Seconds() - r.perSec) * w
	r.n, r.windowFrom = 0, now
}

// expected is how many completions the rate brings in d.
func (r *cqeRate) expected(d time.Duration) uint32 {
	if d <= 0 {
		return 0
	}
	return uint32(min(r.perSec*d.Seconds(), 1<<16))
}

// armAccept arms an accept on each listener that has none armed.
func (l *loop) armAccept() {
	l.wantAccept = false
	if l.stopping || !l.acceptResume.IsZero() {
		return
	}
	flags := unix.SOCK_CLOEXEC
	if l.f.FastPoll {
		flags |= unix.SOCK_NONBLOCK
	}
	for i := range l.lns {
		ln := &l.lns[i]
		if ln.accepting {
			continue
		}
		if !l.reserve(1) {
			l.wantAccept = true
			return
		}
		sqe, _ := l.prep(opAccept, nil)
		if l.f.MultishotAccept {
			sqe.PrepMultishotAccept(ln.fd, flags)
		} else {
			sqe.PrepAccept(ln.fd, nil, nil, flags)
		}
		sqe.UserData = ud(opAccept, int32(i), 0) // the slot names the listener
		ln.accepting, ln.cancelled = true, false
	}
}

// accepting reports whether an accept is armed on any listener.
func (l *loop) accepting() bool {
	for i := range l.lns {
		if l.lns[i].accepting {
			return true
		}
	}
	return false
}

// armWake polls the loop's eventfd (threadpool completions, shutdown).
func (l *loop) armWake() {
	l.wantWake = false
	if l.wakeArm {
		return
	}
	if !l.reserve(1) {
		l.wantWake = true
		return
	}
	sqe, u := l.prep(opWake, nil)
	sqe.PrepPollAdd(l.wakeFd, unix.POLLIN)
	sqe.UserData = u
	l.wakeArm = true
}

// complete handles one CQE. The op table (ops.go) decides what it uncounts; handlers only
// act on the result.
func (l *loop) complete(u uint64, res int32, flags uint32) {
	t := token.Token(u)
	op := t.Kind()
	switch op {
	case opAccept:
		if i := t.Slot(); int(i) < len(l.lns) {
			l.onAccept(&l.lns[i], res, flags)
		}
		return
	case opWake:
		l.wakeArm = false
		unix.Read(l.wakeFd, l.wakeBuf[:])
		l.drainInbox()
		l.armWake()
		return
	case opCancel:
		return
	}
	if op == 0 || op >= numOps || int(t.Slot()) >= len(l.conns) {
		return
	}
	c := l.conns[t.Slot()]
	if c == nil || c.gen != t.Gen() {
		return
	}
	if ops[op].tail {
		if !c.sendArmed {
			return // the chain it ended was already taken as broken (see chainFailed)
		}
		c.sendArmed = false
	}
	if l.counted(op) && (!ops[op].multishot || flags&ring.CQEFMore == 0) {
		c.inflight--
	}
	switch op {
	case opRecv:
		l.onRecv(c, res, flags)
	case opPoll:
		l.onPoll(c, res)
	case opInject:
		// With CQE_SKIP_SUCCESS the chain's own CQEs are skipped: this stands for its first.
		if l.skipRead && !l.chainCancelled(c, -int32(syscall.ECANCELED)) {
			c.readFailed = true
			l.chainFailed(c, -int32(syscall.ECANCELED))
		}
	case opSpliceIn:
		if l.chainCancelled(c, res) {
			break
		}
		if res < 0 {
			c.readFailed = true
			if !c.closing {
				l.s.cfg.Logf("loop %d: splice %s: %v", l.id, c.key, syscall.Errno(-res))
			}
		} else if int(res) < c.spliceLeft {
			c.spliceShort = true // the file shrank: the link is broken (see onSpliceOut)
		}
		l.chainFailed(c, res)
	case opSpliceOut:
		l.onSpliceOut(c, res)
	case opPollOut:
		l.onPollOut(c, res)
	case opRead:
		l.onRead(c, res)
	case opSend:
		l.onSend(c, res)
	case opOpen:
		l.onOpen(c, res)
	}
	l.maybeRelease(c)
}

func (l *loop) onAccept(ln *loopListener, res int32, flags uint32) {
	if flags&ring.CQEFMore == 0 {
		ln.accepting = false
	}
	if res < 0 && (l.stopping || l.s.stopping.Load()) {
		return // the listener was shut for the shutdown: nothing to say or re-arm
	}
	if res < 0 {
		switch syscall.Errno(-res) {
		case syscall.ECANCELED, syscall.EAGAIN, syscall.EINTR, syscall.ECONNABORTED:
		case syscall.EMFILE, syscall.ENFILE:
			l.outOfFds(syscall.Errno(-res))
			return
		default:
			l.s.cfg.Logf("loop %d: accept: %v", l.id, syscall.Errno(-res))
		}
		l.armAccept()
		return
	}
	fd := int(res)
	if l.stopping || l.s.stopping.Load() {
		// The client connected before the listener was shut: serve its request, as one taken
		// from the queue at shutdown. That includes a connection accepted after the stop was
		// asked for and before this loop took it up, which would otherwise look idle to
		// shutdownStep and be closed unanswered.
		l.adopt(fd, true, ln.tcp)
		return
	}
	l.armAccept()
	l.adopt(fd, false, ln.tcp)
}

// outOfFds pauses accepting for acceptPause: the connections being served keep the fds
// there are (and get the ones that free up) instead of the loop spinning on EMFILE. It logs
// once per pause, with the count of failed accepts since the last line; timeouts resumes.
func (l *loop) outOfFds(err syscall.Errno) {
	l.fdFailures++
	if l.acceptResume.IsZero() {
		l.s.cfg.Logf("loop %d: accept: %v: not accepting for %v (%d failed accepts since the last such line; raise the open file limit: ulimit -n)",
			l.id, err, acceptPause, l.fdFailures)
		l.fdFailures = 0
	}
	l.acceptResume = l.now.Add(acceptPause)
	if l.accepting() { // a multishot accept still armed would post the same error again
		l.cancelAccept()
	}
}

// adopt makes an accepted socket a connection, or answers 503 above MaxConns.
func (l *loop) adopt(fd int, atStop, tcp bool) {
	if l.s.conns.Load() >= l.s.maxConns {
		// Refuse cleanly: a 503 the client can read, then close; existing connections
		// are not disturbed.
		unix.Write(fd, overloaded)
		unix.Shutdown(fd, unix.SHUT_WR)
		unix.Close(fd)
		l.counts.refused++
		return
	}
	if tcp {
		unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	}
	c := l.newConn(fd)
	c.deadline = l.now.Add(l.s.cfg.ReadHeaderTimeout)
	c.reqStart = l.now
	c.queuedAtStop = atStop
	if l.s.cfg.AccessLog != nil {
		// Now: once the client has reset the connection getpeername fails (ENOTCONN), and
		// its log line would have no address.
		l.peerAddr(c)
	}
	l.armRecv(c)
}

// peerAddr stores c's peer address for the access log.
func (l *loop) peerAddr(c *conn) {
	if sa, err := unix.Getpeername(c.fd); err == nil {
		c.remoteN = len(appendAddr(c.remote[:0], sa))
	}
}

// drainListeners runs once at shutdown, after the loop's accepts are cancelled: it takes
// every connection already waiting in the queue of each listener it owns (they are served,
// each its request) and then shuts the listener, which leaves its SO_REUSEPORT group at
// once, so new connections go to a uringd that joined the port or are refused, instead of
// queueing where nobody accepts them until the drain ends. Only a connection completing its
// handshake between the last accept and the shutdown can still be reset. A handed-in
// listener (socket activation) is drained but not shut: systemd keeps it listening, and
// what comes later waits for the next start.
func (l *loop) drainListeners() {
	l.listenerShut = true
	flags := unix.SOCK_CLOEXEC
	if l.f.FastPoll {
		flags |= unix.SOCK_NONBLOCK
	}
	for i := range l.lns {
		ln := &l.lns[i]
		if !ln.owns {
			continue
		}
		if err := unix.SetNonblock(ln.fd, true); err == nil {
			for {
				fd, _, err := unix.Accept4(ln.fd, flags)
				if err == syscall.EINTR || err == syscall.ECONNABORTED {
					continue
				}
				if err != nil {
					break
				}
				l.adopt(fd, true, ln.tcp)
			}
		}
		if !ln.handed {
			unix.Shutdown(ln.fd, unix.SHUT_RDWR)
		}
	}
}

var overloaded = []byte("HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n" +
	"Content-Length: 24\r\nConnection: close\r\n\r\n503 Service Unavailable\n")

func (l *loop) newConn(fd int) *conn {
	var c *conn
	if n := len(l.free); n > 0 {
		c = l.conns[l.free[n-1]]
		l.free = l.free[:n-1]
	} else {
		c = &conn{slot: int32(len(l.conns))}
		l.conns = append(l.conns, c)
	}
	c.open(fd)
	l.s.conns.Add(1)
	return c
}

// armRecv arms the connection's receive. With buffer rings (5.19+) a waiting RECV holds no
// buffer, so it is armed right away (multishot from 6.0). Without them, a RECV with
// PROVIDE_BUFFERS buffers takes its buffer before it waits for data (5.10 does this), so idle
// connections would pin every buffer: there the loop polls for readability first and
// receives only once data is there.
func (l *loop) armRecv(c *conn) {
	if c.recvArmed || c.closing || c.recvPaused {
		return
	}
	if !l.reserve(1) {
		c.wantRecv = true
		l.wait(c)
		return
	}
	switch {
	case l.f.MultishotRecv && l.bufs.Ring():
		sqe, u := l.prep(opRecv, c)
		sqe.PrepRecvMultishot(c.fd, l.bufs.Group(), 0)
		sqe.UserData = u
	case l.bufs.Ring() || c.readable:
		sqe, u := l.prep(opRecv, c)
		sqe.PrepRecvSelect(c.fd, l.bufs.Group(), recvBufSize, 0)
		sqe.UserData = u
	default:
		sqe, u := l.prep(opPoll, c)
		sqe.PrepPollAdd(c.fd, unix.POLLIN|unix.POLLRDHUP)
		sqe.UserData = u
	}
	c.readable = false
	c.recvArmed = true
}

// onPoll: the socket is readable (or closed); receive now.
func (l *loop) onPoll(c *conn, res int32) {
	c.recvArmed = false
	if c.closing {
		return
	}
	if res < 0 {
		l.closeConn(c)
		return
	}
	c.readable = true
	l.armRecv(c)
}

func (l *loop) onRecv(c *conn, res int32, flags uint32) {
	more := flags&ring.CQEFMore != 0
	if !more {
		c.recvArmed = false
	}
	if bid, ok := (&ring.CQE{Flags: flags}).BufferID(); ok {
		if res > 0 && !c.closing {
			c.in = append(c.in, l.bufs.Buffer(bid)[:res]...)
		}
		l.recycle(bid)
	}
	switch {
	case res > 0:
		if c.closing {
			return
		}
		// What a multishot receive took before its cancellation landed may go past
		// maxInBuffered (at most the buffer group): only a peer that is still being read
		// from is cut there.
		if len(c.in)-c.inOff > maxInBuffered && !c.recvPaused {
			l.closeConn(c)
			return
		}
		if len(c.in)-c.inOff >= inHighWater && !c.recvPaused {
			l.pauseRecv(c, more)
		}
		if !more {
			l.armRecv(c)
		}
		if c.state == stateIdle {
			l.process(c)
		}
	case res == 0:
		c.eof = true
		if c.state == stateIdle {
			l.closeConn(c)
		}
	default:
		switch syscall.Errno(-res) {
		case syscall.ECANCELED: // pauseRecv's cancel, or closeConn's
			l.armRecv(c) // unless paused or closing
		case syscall.ENOBUFS:
			// Every receive buffer is taken: re-arm once this iteration has recycled some.
			if !c.recvStarved {
				c.recvStarved = true
				l.starved = append(l.starved, c.slot)
			}
		default:
			l.closeConn(c)
		}
	}
}

// pauseRecv stops receiving from c: it holds inHighWater bytes of requests not yet
// answered, and a client that pipelines faster than it reads its answers must wait (TCP's
// window does the rest) instead of filling the server's memory or being cut. A single-shot
// receive is simply not armed again; a multishot one is cancelled (if the SQ has no room,
// the next receive tries again). process resumes below inLowWater.
func (l *loop) pauseRecv(c *conn, multishot bool) {
	if multishot {
		if !l.reserve(1) {
			return
		}
		l.cancel(ud(opRecv, c.slot, c.gen))
	}
	c.recvPaused = true
}

// process serves what c's input holds, then receives again if it was paused and enough of
// it has been answered.
func (l *loop) process(c *conn) {
	if c.state == stateIdle && !c.inBody && c.inOff >= inCompactAt {
		// Nothing refers to the consumed prefix now (the last request is answered, and a
		// partial head is scanned relative to inOff): move the rest to the front, so a
		// client that always keeps some requests unanswered does not grow c.in forever.
		c.in = c.in[:copy(c.in, c.in[c.inOff:])]
		c.inOff = 0
	}
	l.serveInput(c)
	if !c.recvPaused || c.closing || len(c.in)-c.inOff >= inLowWater {
		return
	}
	c.recvPaused = false
	l.armRecv(c)
}

// serveInput parses and serves requests from c's input while c is idle.
func (l *loop) serveInput(c *conn) {
	for c.state == stateIdle && !c.closing {
		if c.skip > 0 {
			n := int64(len(c.in) - c.inOff)
			if n > c.skip {
				n = c.skip
			}
			c.inOff += int(n)
			c.skip -= n
			if c.skip > 0 {
				return
			}
		}
		if c.inBody {
			k, done, err := c.body.Decode(c.in[c.inOff:])
			c.inOff += k
			if err != nil { // 400 or 413: the framing is lost, answer and close
				c.waitHead, c.reqStart = false, l.now
				l.plan.planError(&c.rep, l.now, errorReply{Status: err.(http1.Error).Status(), Close: true})
				l.startReply(c)
				return
			}
			if !done {
				// Drop the discarded body bytes; c.req's head (c.in[:c.inOff]) stays put.
				c.in = c.in[:c.inOff-k]
				c.inOff = len(c.in)
				if c.eof {
					l.closeConn(c)
				} else if !c.waitHead {
					c.waitHead, c.deadline = true, l.now.Add(l.s.cfg.ReadHeaderTimeout)
				}
				return
			}
			c.inBody, c.waitHead = false, false
			l.serve(c)
			continue
		}
		if c.inOff == len(c.in) {
			c.in, c.inOff = c.in[:0], 0
			if c.eof {
				l.closeConn(c)
			}
			return
		}
		// The scanner resumes where the last receive's scan stopped (a head sent a byte at
		// a time is scanned once), and parses the head once it is whole.
		before := c.scan.Examined()
		n, err := c.scan.Parse(c.in[c.inOff:], &c.req, l.s.limits)
		if err == http1.ErrNeedMore || c.waitHead {
			// Only heads that came in pieces are counted: the shared counter stays off
			// the path of a head that arrives whole.
			l.s.pressure.headExamined.Add(c.scan.Examined() - before)
		}
		if err == http1.ErrNeedMore {
			if c.eof {
				l.closeConn(c)
			} else if !c.waitHead {
				c.waitHead = true
				c.deadline = l.now.Add(l.s.cfg.ReadHeaderTimeout)
			}
			return
		}
		c.waitHead = false
		c.reqStart = l.now
		if err != nil {
			e := err.(http1.Error)
			head := c.req.Method == http1.MethodHEAD
			close := e.Close() || !c.req.KeepAlive
			if n > 0 {
				c.inOff += n
				c.skip = c.req.ContentLength
			}
			l.plan.planError(&c.rep, l.now, errorReply{Status: e.Status(), Head: head && !e.Close(), Close: close, Allow: e == http1.ErrMethodNotAllowed})
			l.startReply(c)
			return
		}
		c.inOff += n
		c.skip = c.req.ContentLength

		if c.req.Chunked { // served after its body, so a bad or oversized one still gets 400/413
			c.body.Reset(l.s.limits)
			c.inBody = true
			continue
		}
		l.serve(c)
	}
}

// serve answers a parsed GET or HEAD: find the file (cache, else OPENAT2 in the ring, then statx).
func (l *loop) serve(c *conn) {
	c.fellBack = false
	if c.req.Method == http1.MethodOPTIONS { // parsed only with CORS on: a preflight
		l.plan.planPreflight(&c.rep, l.now, &c.req)
		l.startReply(c)
		return
	}
	c.state = stateOpening
	c.indexTry = false
	c.key = append(c.key[:0], c.req.Path...)
	l.lookup(c)
}

func (l *loop) lookup(c *conn) {
	if e := l.files.get(c.key, l.now); e != nil {
		l.counts.cacheHits++
		l.haveFile(c, e)
		return
	}
	l.counts.cacheMisses++
	if l.files.max > 0 {
		if ws, ok := l.opening[string(c.key)]; ok {
			l.opening[string(c.key)] = append(ws, openWaiter{c, c.gen})
			return
		}
		if l.opening == nil {
			l.opening = make(map[string][]openWaiter)
		}
		l.opening[string(c.key)] = nil
		c.opener = true
	}
	// Open relative to the root, never above it: RESOLVE_BENEATH refuses "..", absolute
	// paths and symlinks that lead out. O_NONBLOCK keeps a FIFO from blocking the open;
	// regular files get it cleared before they are read.
	rel := c.key[1:]
	if len(rel) == 0 {
		rel = dotPath
	}
	c.pathz = append(append(c.pathz[:0], rel...), 0)
	c.how.Flags = unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NONBLOCK | unix.O_NOCTTY
	c.how.Resolve = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS
	if l.pool != nil {
		l.pool.open(c)
		return
	}
	l.openInRing(c)
}

// openInRing opens c.pathz beneath the root with OPENAT2; c.pathz and c.how stay in the
// conn until its CQE.
func (l *loop) openInRing(c *conn) {
	if !l.reserve(1) {
		l.deferStep(c, stepOpen)
		return
	}
	sqe, u := l.prep(opOpen, c)
	sqe.PrepOpenat2(l.s.rootFd, &c.pathz[0], c.how)
	l.injectCancel(sqe, c)
	sqe.UserData = u
	l.s.pressure.opens.Add(1)
}

var dotPath = []byte(".")

// maxKernelCancels bounds how often an OPENAT2 the kernel cancelled unasked is submitted
// again. An uncached one always runs on an io-wq worker, and the kernel cancels queued io-wq work
// it cannot start a worker for while other threads of the process come and go (seen on 6.1:
// "open /odd.bin: operation canceled", a 500), though the loop's thread lives on; such work
// never ran. The loop never cancels these itself (closeConn cancels only receives and polls).
const maxKernelCancels = 8

// cancelledUnasked reports whether res is such a cancellation of c's open, to be
// submitted again; any other result ends the run of them.
func (l *loop) cancelledUnasked(c *conn, res int32) bool {
	if res != -int32(syscall.ECANCELED) || c.kcancels >= maxKernelCancels {
		c.kcancels = 0
		return false
	}
	c.kcancels++
	return true
}

// openWaiter is a connection waiting for another's open of the same path.
type openWaiter struct {
	c   *conn
	gen uint32
}

// openDone ends c's open of c.key, whatever its outcome, before c moves on (or, if c was
// closed before its open ran, when it is released):
// those that waited for it look the path up again, now mostly a cache hit (after a failure
// one of them opens it again).
func (l *loop) openDone(c *conn) {
	if !c.opener {
		return
	}
	c.opener = false
	key := c.key
	ws, ok := l.opening[string(key)]
	if !ok {
		return
	}
	delete(l.opening, string(key))
	for _, w := range ws {
		if w.c.gen == w.gen && !w.c.closing && w.c.fd >= 0 {
			l.lookup(w.c)
		}
	}
}

// injectCancel turns sqe into a NOP standing for a cancelled one (tests: cancelEvery).
func (l *loop) injectCancel(sqe *ring.SQE, c *conn) {
	if l.s.tune.cancelEvery == 0 || l.injectSpares(c) {
		return
	}
	if l.injectN++; l.injectN%l.s.tune.cancelEvery == 0 {
		sqe.PrepNop()
		c.injected = true
	}
}

// injectSpares reports whether c's op, already cancelled twice in a row, is spared the
// injection (unless every op is cancelled). A cancellation every Nth op can fall in step
// with a loop that issues N ops per retry (12 clients coalesced on one open, under
// TestPrecompressedUnderPressure): then one request is cancelled past maxKernelCancels, a
// 500 that the kernel's cancellations, which are not periodic, would hardly ever give.
func (l *loop) injectSpares(c *conn) bool {
	return l.s.tune.cancelEvery > 1 && c.kcancels >= 2
}

// injectRoom is the SQE a chain may need for injectChainCancel.
func (l *loop) injectRoom() int {
	if l.s.tune.cancelEvery > 0 {
		return 1
	}
	return 0
}

// injectChainCancel (tests: cancelEvery) puts, ahead of the chain about to be prepared, a
// READ of 1 byte from the loop's eventfd linked to it: it fails when it runs (EINVAL), so
// the kernel cancels the rest of the chain as it does work it cannot start, and the CQEs
// that come are those of a chain whose first op the kernel cancelled.
func (l *loop) injectChainCancel(c *conn) {
	if l.s.tune.cancelEvery == 0 || l.injectSpares(c) {
		return
	}
	if l.injectN++; l.injectN%l.s.tune.cancelEvery != 0 {
		return
	}
	sqe, u := l.prep(opInject, c)
	sqe.PrepRead(l.wakeFd, l.wakeBuf[:1], 0)
	sqe.UserData = u
	l.link(sqe)
}

// injectedResult is res, or -ECANCELED for an injected cancellation's NOP.
func injectedResult(c *conn, res int32) int32 {
	if c.injected {
		c.injected = false
		return -int32(syscall.ECANCELED)
	}
	return res
}

func (l *loop) onOpen(c *conn, res int32) {
	res = injectedResult(c, res)
	if c.closing {
		if res >= 0 {
			unix.Close(int(res))
		}
		l.openDone(c)
		return
	}
	if l.cancelledUnasked(c, res) {
		l.openInRing(c) // it never ran: again
		return
	}
	if res < 0 {
		l.openDone(c)
		l.openFailed(c, syscall.Errno(-res))
		return
	}
	l.statOpened(c, int(res))
}

// statxMask is what a file's entry needs of its statx.
const statxMask = unix.STATX_TYPE | unix.STATX_SIZE | unix.STATX_MTIME

var emptyPath = []byte{0}

// statOpened stats fd, just opened for c, on the loop's thread and makes its cache entry. An
// open fd's inode is in memory, so the stat reads no disk, and AT_STATX_DONT_SYNC keeps a
// network file system from asking its server. IORING_OP_STATX always runs on an io-wq worker:
// that thread hop on every uncached open slowed the cold load beside a hot client (measured:
// docs/results).
func (l *loop) statOpened(c *conn, fd int) {
	errno := l.s.tune.statErr
	if errno == 0 {
		_, _, errno = unix.Syscall6(unix.SYS_STATX, uintptr(fd), uintptr(unsafe.Pointer(&emptyPath[0])),
			unix.AT_EMPTY_PATH|unix.AT_STATX_DONT_SYNC, statxMask, uintptr(unsafe.Pointer(c.stx)), 0)
	}
	if errno != 0 {
		unix.Close(fd)
		l.openDone(c)
		l.openFailed(c, errno)
		return
	}
	e, errno := l.files.add(c.key, fd, c.stx, l.now)
	l.openDone(c)
	if errno != 0 {
		l.openFailed(c, errno)
		return
	}
	l.haveFile(c, e)
}

func (l *loop) openFailed(c *conn, errno syscall.Errno) {
	l.answer(c, lookup{errno: errno, indexTry: c.indexTry}, nil)
}

// haveFile: the lookup found e (the cache refuses what is neither a regular file nor a
// directory, as EACCES).
func (l *loop) haveFile(c *conn, e *fileEntry) {
	l.answer(c, lookup{dir: e.meta.isDir, regular: !e.meta.isDir, indexTry: c.indexTry}, e)
}

// answer acts on resolve's verdict for c's lookup; e is the file found, if any.
func (l *loop) answer(c *conn, lk lookup, e *fileEntry) {
	if c.sib >= 0 {
		l.siblingFound(c, e, lk.errno)
		return
	}
	if c.special != specialNone {
		l.specialFound(c, lk, e)
		return
	}
	req := &c.req
	head := req.Method == http1.MethodHEAD
	switch resolve(req, lk) {
	case vListing:
		l.listDir(c)
		return
	case vTryIndex:
		c.indexTry = true
		if len(c.key) > 1 {
			c.key = append(c.key, '/')
		}
		c.key = append(c.key, http1.IndexFile...)
		l.lookup(c)
		return
	case vOpenFailed:
		if lk.errno != syscall.ENOENT {
			l.s.cfg.Logf("loop %d: open %s: %v", l.id, c.key, lk.errno)
		}
		if l.trySpecial(c, statusForOpenError(lk.errno), lk.errno) {
			return
		}
		l.plan.planError(&c.rep, l.now, errorReply{Status: statusForOpenError(lk.errno), Head: head, Close: !req.KeepAlive})
	case vForbidden:
		if l.trySpecial(c, 403, 0) {
			return
		}
		l.plan.planError(&c.rep, l.now, errorReply{Status: 403, Head: head, Close: !req.KeepAlive})
	case vAddSlash:
		c.scr = append(http1.AppendEscapedPath(c.scr[:0], req.Path), '/')
		l.plan.planRedirect(&c.rep, l.now, req, c.scr)
	case vDropSlash:
		c.scr = http1.AppendEscapedPath(c.scr[:0], req.Path)
		l.plan.planRedirect(&c.rep, l.now, req, c.scr)
	case vFile:
		c.file = e
		e.refs++
		if l.sibling(c) {
			return
		}
		l.planPlain(c)
	}
	l.startReply(c)
}

// wrote counts the n bytes of c's reply a write sent, and moves c's write deadline on:
// WriteTimeout bounds the time between two writes (as nginx's send_timeout does), not the
// whole response, so a long download that keeps moving is never cut.
func (l *loop) wrote(c *conn, n int64) {
	c.deadline = l.now.Add(l.s.cfg.WriteTimeout)
	l.counts.bytesSent += uint64(n)
}

// startReply begins sending c.rep.
func (l *loop) startReply(c *conn) {
	c.state = stateSending
	c.queuedAtStop = false
	c.piece, c.pieceDone, c.cachedOff, c.cachedEnd = 0, 0, 0, 0
	c.deadline = l.now.Add(l.s.cfg.WriteTimeout)
	l.fillAndSend(c)
}

// fillAndSend packs the next chunk of the reply into c.out: literal bytes copied, file bytes
// read by READ SQEs straight into place, then one SEND of the whole chunk. In uring mode the
// READs are linked to the SEND (IOSQE_IO_LINK), so the chunk takes one io_uring_enter and a
// short or failed read cancels the send instead of sending garbage.
func (l *loop) fillAndSend(c *conn) {
	// The whole chain is reserved up front: its SQEs must reach the kernel in one
	// io_uring_enter, since a link does not carry over to the next one.
	if !l.reserve(l.chainMax + l.injectRoom()) {
		l.deferStep(c, stepFill)
		return
	}
	rep := &c.rep
	c.chunkPiece, c.chunkPieceDone, c.chainRetry, c.spliceShort = c.piece, c.pieceDone, false, false
	c.outLen, c.outSent, c.readsPending, c.readFailed, c.directRead = 0, 0, 0, false, 0
	fd := -1
	if c.file != nil {
		fd = c.file.fd
	}
	c.more = false
	// uncached: the large piece at c.piece was not (all) in the page cache; sendfile says so.
	uncached, readLarge := false, false
	if l.large != largeRead && c.piece < len(rep.pieces) {
		if p := &rep.pieces[c.piece]; p.file && p.n >= largeMin {
			// Nothing in flight uses c.out between chunks, and sendfile and splice do not
			// use it at all: a buffer kept from the head's chunk goes back to the pool for
			// as long as the body takes.
			l.putOut(c)
			if l.sendLarge(c, fd, p) {
				return
			}
			uncached, readLarge = l.large == largeSendfile, true
		}
	}
	l.sizeOut(c, l.chunkBytes(c, readLarge))
	var reads [maxChainReads]struct {
		lo, n         int
		off           int64
		direct, large bool
	}
	nreads := 0
	for c.piece < len(rep.pieces) && c.outLen < len(c.out) && nreads < l.chainMax-1 {
		p := &rep.pieces[c.piece]
		if l.large != largeRead && p.file && p.n >= largeMin && c.outLen > 0 {
			// Send what is gathered (the head); the large piece goes by sendfile or splice
			// next. MSG_MORE keeps the head in the socket until the body joins it: sent
			// alone it is a small segment of its own, which costs large-file throughput
			// (the receiver then acks more, and the sender's segments go out from the
			// receiver's ACK processing; measured: see docs/results).
			c.more = true
			break
		}
		space := len(c.out) - c.outLen
		if !p.file {
			n := copy(c.out[c.outLen:], rep.buf[p.lo+int(c.pieceDone):p.hi])
			c.outLen += n
			c.pieceDone += int64(n)
			if c.pieceDone == int64(p.hi-p.lo) {
				c.piece, c.pieceDone = c.piece+1, 0
			}
			continue
		}
		n := p.n - c.pieceDone
		if n > int64(space) {
			n = int64(space)
		}
		direct := false
		if uncached && nreads == 0 && p.n >= largeMin {
			// The bulk of an uncached large piece goes by O_DIRECT, the unaligned rest (a
			// tail under a block) by the buffered READ the next turn of this loop adds.
			if d := l.directLen(c, p.off+c.pieceDone, n); d > 0 {
				n, direct = d, true
				c.directRead = d
				l.s.large[largeDirect].Add(n)
			}
		}
		if p.n >= largeMin && !direct {
			l.s.large[largeRead].Add(n)
		}
		reads[nreads] = struct {
			lo, n         int
			off           int64
			direct, large bool
		}{c.outLen, int(n), p.off + c.pieceDone, direct, p.n >= largeMin}
		nreads++
		c.outLen += int(n)
		c.pieceDone += n
		if c.pieceDone == p.n {
			c.piece, c.pieceDone = c.piece+1, 0
		}
	}
	if l.pool != nil {
		if nreads == 0 {
			l.send(c)
			return
		}
		c.readsPending = nreads
		if c.ops == nil {
			c.ops = new(poolOps) // kept with the conn: its slot is reused, and so are they
		}
		for i, rd := range reads[:nreads] {
			l.pool.read(c, &c.ops[i], c.file.ff, c.out[rd.lo:rd.lo+rd.n], rd.off)
		}
		return
	}
	if nreads > 0 {
		l.injectChainCancel(c)
	}
	for _, rd := range reads[:nreads] {
		sqe, u := l.prep(opRead, c)
		rfd, buf := fd, c.out[rd.lo:rd.lo+rd.n]
		if rd.direct {
			rfd = c.file.dfd
			if l.s.tune.misalignDirect {
				buf = buf[1:]
			}
		}
		if c.outSlot > 0 {
			sqe.PrepReadFixed(rfd, buf, uint64(rd.off), uint16(c.outSlot-1))
			if rd.large {
				l.s.large[largeFixed].Add(int64(rd.n))
			}
		} else {
			sqe.PrepRead(rfd, buf, uint64(rd.off))
		}
		sqe.UserData = u
		l.link(sqe)
	}
	l.send(c)
}

// link links sqe, a file operation, to the SQE prepared after it (the SEND, or the splice
// into the socket), so a short or failed read cancels it; where the kernel allows, a
// successful read posts no completion of its own (and is not counted: see ops.go).
func (l *loop) link(sqe *ring.SQE) {
	sqe.Flags |= ring.SQEIOLink
	if l.skipRead {
		sqe.Flags |= ring.SQECQESkipSuccess
	}
}

// send sends c.out[c.outSent:c.outLen]. Inside fillAndSend's chain its SQE is reserved.
func (l *loop) send(c *conn) {
	if !l.reserve(1) {
		l.deferStep(c, stepSend)
		return
	}
	sqe, u := l.prep(opSend, c)
	flags := unix.MSG_NOSIGNAL
	if c.more {
		flags |= unix.MSG_MORE
	}
	sqe.PrepSend(c.fd, c.out[c.outSent:c.outLen], flags)
	sqe.UserData = u
}

func (l *loop) onRead(c *conn, res int32) {
	if l.directRefused(c, res) {
		return
	}
	if l.chainCancelled(c, res) {
		return // the SEND's ECANCELED (or, with CQE_SKIP_SUCCESS, this) sends the chunk again
	}
	if res < 0 {
		c.readFailed = true
		if !c.closing {
			l.s.cfg.Logf("loop %d: read %s: %v", l.id, c.key, syscall.Errno(-res))
		}
	}
	// A short read (the file shrank) also breaks the link.
	l.chainFailed(c, res)
}

// directRefused reports whether res is an O_DIRECT READ of c's chain refused with EINVAL (an
// alignment the file system wants and the page does not give): the file reads buffered from
// now on, and the chunk is sent again from where it began, as for an unasked cancellation.
func (l *loop) directRefused(c *conn, res int32) bool {
	if res != -int32(syscall.EINVAL) || c.directRead == 0 || c.chainRetry || c.closing || c.file == nil || (c.file.direct != 1 && c.file.direct != -2) {
		return false
	}
	if c.file.direct == 1 {
		c.file.direct = -2 // the fd may still be in other chains: closed with the entry
		l.s.cfg.Logf("loop %d: O_DIRECT read %s: %v; reading it through the page cache", l.id, c.key, syscall.Errno(-res))
	}
	l.s.large[largeDirect].Add(-c.directRead) // not sent that way after all
	if c.outSlot > 0 {
		l.s.large[largeFixed].Add(-c.directRead) // read again, and counted, buffered
	}
	c.chainRetry = true
	if l.skipRead {
		l.chainFailed(c, res) // no CQE comes for the rest: retry now
	}
	return true
}

// chainFailed handles the CQE of a linked file operation. Without CQE_SKIP_SUCCESS every
// one posts a CQE and a broken link shows as the SEND's -ECANCELED. With it, a CQE comes
// only from a read that failed or came up short, and the kernel posts none for the rest of
// the chain (a failed CQE_SKIP_SUCCESS request takes its links' CQEs with it): the chain's
// SEND is uncounted here, and the connection closed, since the length it announced is
// wrong now.
func (l *loop) chainFailed(c *conn, res int32) {
	if !l.skipRead || !c.sendArmed {
		return
	}
	c.sendArmed = false
	c.inflight--
	if c.chainRetry && !c.closing {
		l.retryChain(c) // the kernel posts nothing more for this chain
		return
	}
	if !c.closing && res >= 0 {
		l.fileChanged(c)
	}
	l.closeConn(c)
}

// chainCancelled reports whether res is the kernel's unasked cancellation of a READ or
// SPLICE of c's chain (io-wq work it could not start a worker for; it never ran), with
// tries left: the chunk is then sent again from where it began (retryChain), once the
// chain's last CQE is in. Later ops of the same chain, cancelled by the broken link, are
// part of the same retry.
func (l *loop) chainCancelled(c *conn, res int32) bool {
	if c.chainRetry {
		return res == -int32(syscall.ECANCELED) || res >= 0
	}
	if res != -int32(syscall.ECANCELED) || c.closing || c.readFailed || c.kcancels >= maxKernelCancels {
		return false
	}
	c.kcancels++
	c.chainRetry = true
	if l.skipRead {
		l.chainFailed(c, res) // no CQE comes for the rest: retry now
	}
	return true
}

// retryChain sends c's chunk again from its first byte; nothing of it reached the socket.
func (l *loop) retryChain(c *conn) {
	c.chainRetry = false
	c.piece, c.pieceDone, c.spliceLeft = c.chunkPiece, c.chunkPieceDone, 0
	l.fillAndSend(c)
}

// fileChanged says that c's file came up short (it shrank while cached or being sent) and
// drops it from the cache, so the next request sees the file as it is now. The caller
// closes the connection: the length it announced is wrong.
func (l *loop) fileChanged(c *conn) {
	l.s.cfg.Logf("loop %d: %s changed while being sent; closing the connection", l.id, c.key)
	l.files.forget(c.file)
}

func (l *loop) onSend(c *conn, res int32) {
	if c.closing {
		return
	}
	if res < 0 {
		if syscall.Errno(-res) == syscall.ECANCELED {
			if c.chainRetry {
				l.retryChain(c) // a READ before it was cancelled unasked
				return
			}
			if !c.readFailed {
				l.fileChanged(c)
			}
		}
		l.closeConn(c)
		return
	}
	c.outSent += int(res)
	l.wrote(c, int64(res))
	if c.outSent < c.outLen {
		l.send(c) // a partial send: the rest of the chunk
		return
	}
	l.nextChunk(c)
}

// nextChunk sends the next part of c's reply, or finishes the reply when all is sent.
func (l *loop) nextChunk(c *conn) {
	c.kcancels = 0
	if c.piece < len(c.rep.pieces) {
		l.fillAndSend(c)
		return
	}
	l.finishReply(c)
}

func (l *loop) finishReply(c *conn) {
	l.s.requests.Add(1)
	l.countResponse(c)
	if al := l.s.cfg.AccessLog; al != nil {
		l.logAccess(c)
	}
	if c.file != nil {
		c.file.refs--
		l.files.unpin(c.file, l)
		c.file = nil
	}
	l.putOut(c)
	l.putPipe(c)
	if c.rep.close || l.stopping {
		l.closeConn(c)
		return
	}
	c.state = stateIdle
	c.deadline = l.now.Add(l.s.cfg.IdleTimeout)
	if c.inOff == len(c.in) {
		c.in, c.inOff = c.in[:0], 0
		if c.eof {
			l.closeConn(c)
			return
		}
		if cap(c.in) > 2*recvBufSize {
			c.in = nil // idle connections hold no input buffer
		}
		return
	}
	l.process(c)
}

// chunkBytes returns how many bytes the chunk starting at c.piece gathers in c.out, counting
// up to outSmallSize+1: literal bytes and file pieces up to the next large piece that goes by
// sendfile or splice, and that piece too when it is the first and is read (readFirst).
func (l *loop) chunkBytes(c *conn, readFirst bool) int {
	n := int64(0)
	for i := c.piece; i < len(c.rep.pieces) && n <= outSmallSize; i++ {
		p := &c.rep.pieces[i]
		if l.large != largeRead && p.file && p.n >= largeMin && !(i == c.piece && readFirst) {
			break
		}
		size := p.n
		if !p.file {
			size = int64(p.hi - p.lo)
		}
		if i == c.piece {
			size -= c.pieceDone
		}
		n += size
	}
	return int(min(n, outSmallSize+1))
}

// sizeOut gives c a send buffer for a chunk of need bytes: the small one when it holds them
// (a head before sendfile needs no large buffer, and every busy connection would hold one),
// else the large one. Called between chunks, when no SQE uses c.out.
func (l *loop) sizeOut(c *conn, need int) {
	if c.out != nil && (cap(c.out) != outSmallSize || need <= outSmallSize) {
		return
	}
	l.putOut(c)
	if need <= outSmallSize {
		c.outBox = l.smallPool.Get().(*[]byte)
	} else if c.out, c.outSlot = l.fixed.get(); c.outSlot > 0 {
		return
	} else {
		c.outBox = l.outPool.Get().(*[]byte)
	}
	c.out = *c.outBox
}

// putOut returns c's send buffer to its pool; only called when no SQE uses it any more.
func (l *loop) putOut(c *conn) {
	if c.out == nil {
		return
	}
	if c.outSlot > 0 {
		l.fixed.put(c.outSlot)
		c.out, c.outSlot = nil, 0
		return
	}
	// The pool gets back the pointer it gave: a new &out would be an allocation a reply.
	if cap(c.out) == outSmallSize {
		l.smallPool.Put(c.outBox)
	} else {
		l.outPool.Put(c.outBox)
	}
	c.out, c.outBox = nil, nil
}

// closeConn shuts the socket down so its armed receive ends, and cancels what waits on it.
// Everything the connection holds is freed by release, once nothing in flight refers to it.
func (l *loop) closeConn(c *conn) {
	if c.closing {
		return
	}
	c.closing = true
	unix.Shutdown(c.fd, unix.SHUT_RDWR)
	l.cancelConn(c)
	l.maybeRelease(c)
}

// cancelConn cancels c's armed receive (or poll) and its poll for writability.
func (l *loop) cancelConn(c *conn) {
	n := 0
	if c.recvArmed {
		n += 2 // shutdown() ends an armed recv or poll on most kernels; cancel both to be sure
	}
	if c.pollOut {
		n++
	}
	if n == 0 {
		return
	}
	if !l.reserve(n) {
		c.wantCancel = true
		l.wait(c)
		return
	}
	if c.recvArmed {
		l.cancel(ud(opRecv, c.slot, c.gen))
		l.cancel(ud(opPoll, c.slot, c.gen))
	}
	if c.pollOut {
		l.cancel(ud(opPollOut, c.slot, c.gen))
	}
}

// cancel prepares an ASYNC_CANCEL of target; the caller reserved its SQE.
func (l *loop) cancel(target uint64) {
	sqe, u := l.prep(opCancel, nil)
	sqe.PrepCancel(target, 0)
	sqe.UserData = u
}

func (l *loop) maybeRelease(c *conn) {
	if !c.closing || c.inflight > 0 || c.poolBusy > 0 || c.fd < 0 {
		return // a pool worker or listing goroutine may still use the conn's buffers
	}
	l.release(c)
}

// release frees everything a connection holds, in one place: its socket, its file
// reference, a file opened for it, its send buffer and its pipe. It runs once nothing in
// flight refers to any of them (or after the ring is closed), so no fd is closed under an
// operation that could meet its number reused by an accept, and no buffer goes back to a
// pool while the kernel may write it.
func (l *loop) release(c *conn) {
	if c.fd < 0 {
		return
	}
	unix.Close(c.fd)
	c.fd = -1
	l.openDone(c) // closed before its open ran: who waited for it looks again
	if c.file != nil {
		c.file.refs--
		l.files.unpin(c.file, l)
		c.file = nil
	}
	l.putOut(c)
	c.in = nil
	if c.pipe[0] > 0 { // it may hold part of a file: never reused
		unix.Close(c.pipe[0])
		unix.Close(c.pipe[1])
		c.pipe = [2]int{}
	}
	c.queued, c.wantRecv, c.wantCancel, c.step, c.sendArmed = false, false, false, stepNone, false
	c.gen = token.NextGen(c.gen)
	l.free = append(l.free, c.slot)
	l.s.conns.Add(-1)
}

// rearmStarved re-arms receives that found no free buffer.
func (l *loop) rearmStarved() {
	for _, slot := range l.starved {
		if c := l.conns[slot]; c.recvStarved && c.fd >= 0 && !c.closing {
			c.recvStarved = false
			l.armRecv(c)
		}
	}
	l.starved = l.starved[:0]
}

// timeouts closes connections past their deadline and re-arms starved receives, and
// accepts again once an fd shortage's pause is over.
func (l *loop) timeouts() {
	if !l.acceptResume.IsZero() && !l.now.Before(l.acceptResume) && !l.stopping {
		l.acceptResume = time.Time{}
		l.armAccept()
	}
	forced := l.stopping && l.now.UnixNano() > l.s.stopAt.Load()

	for _, c := range l.conns {
		if c == nil || c.fd < 0 || c.closing {
			continue
		}
		if forced || l.now.After(c.deadline) {
			l.closeConn(c)
			continue
		}
		if c.recvStarved && !c.recvArmed {
			c.recvStarved = false
			l.armRecv(c)
		}
	}
}

// cancelAccept cancels the armed accepts (shutdown, out of fds).
func (l *loop) cancelAccept() {
	l.wantCancelAccept = false
	for i := range l.lns {
		ln := &l.lns[i]
		if !ln.accepting || ln.cancelled {
			continue
		}
		if !l.reserve(1) {
			l.wantCancelAccept = true
			return
		}
		l.cancel(ud(opAccept, int32(i), 0))
		ln.cancelled = true
	}
}

// shutdownStep stops accepting, closes idle connections, and reports whether the loop is
// done (every connection closed).
func (l *loop) shutdownStep() bool {
	if !l.stopping {
		l.stopping = true
		l.cancelAccept()
	}
	if !l.accepting() && !l.listenerShut {
		l.drainListeners()
	}
	open := 0
	for _, c := range l.conns {
		if c == nil || c.fd < 0 {
			continue
		}
		// Idle keep-alive connections go now; one taken from the queue at shutdown waits for
		// its first request (its read-header deadline bounds that).
		if c.state == stateIdle && c.inOff == len(c.in) && !c.queuedAtStop {
			l.closeConn(c)
		}
		if c.fd >= 0 {
			open++
		}
	}
	if l.now.UnixNano() > l.s.stopAt.Load() {
		l.timeouts()
	}
	if open == 0 && !l.accepting() && l.listenerShut {
		return true
	}
	// Past the shutdown timeout and a second's grace, leave anyway: closing the ring
	// cancels whatever is left, and close() then releases the connections. Say what was stuck.
	if l.now.UnixNano() > l.s.stopAt.Load()+int64(time.Second) {
		for _, c := range l.conns {
			if c != nil && c.fd >= 0 {
				l.s.cfg.Logf("loop %d: shutdown timeout: closing connection %d (state %d, closing %v, %d ops in flight, %d pool ops)",
					l.id, c.slot, c.state, c.closing, c.inflight, c.poolBusy)
			}
		}
		if l.accepting() {
			l.s.cfg.Logf("loop %d: shutdown timeout: accept still armed", l.id)
		}
		return true
	}
	return false
}

// logAccess hands one entry to the access logger. The peer address was looked up at accept
// (or here, for a connection that had none).
func (l *loop) logAccess(c *conn) {
	if c.remoteN == 0 {
		l.peerAddr(c)
	}
	e := &l.entry
	*e = AccessEntry{
		Time:      c.reqStart,
		Remote:    c.remote[:c.remoteN],
		Method:    c.req.MethodRaw,
		Target:    c.req.Target,
		Proto:     protoName(c.req.Version),
		Status:    c.rep.status,
		Bytes:     c.rep.bodyBytes,
		Referer:   c.req.Referer,
		UserAgent: c.req.UserAgent,
		Duration:  l.now.Sub(c.reqStart),
	}
	l.s.cfg.AccessLog.Log(e)
}

func protoName(v http1.Version) string {
	if v == http1.Version10 {
		return "HTTP/1.0"
	}
	return "HTTP/1.1"
}

func appendAddr(b []byte, sa unix.Sockaddr) []byte {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrFrom4(a.Addr).AppendTo(b)
	case *unix.SockaddrInet6:
		return netip.AddrFrom16(a.Addr).Unmap().AppendTo(b)
	case *unix.SockaddrUnix:
		return append(b, unixRemote...) // a unix peer has no address worth logging
	}
	return b
}

func errnoOf(err error) syscall.Errno {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	if errors.Is(err, os.ErrNotExist) {
		return syscall.ENOENT
	}
	if errors.Is(err, os.ErrPermission) {
		return syscall.EACCES
	}
	// os.Root refuses paths that lead out of the root with an unexported error; it is the
	// std engine's equivalent of RESOLVE_BENEATH's EXDEV.
	if strings.Contains(err.Error(), "path escapes from parent") {
		return syscall.EXDEV
	}
	return syscall.EIO
}
