package ring

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// User data values from udInternal up mark CQEs of operations the ring submits for itself:
// the TIMEOUT of a timed wait without EXT_ARG, PROVIDE_BUFFERS recycling on kernels without
// buffer rings. They are consumed by PeekBatch and the waits and never shown to the caller,
// so callers must not use these three values as their own user_data.
const (
	udSeen     = ^uint64(0) - 2 // a housekeeping CQE whose result was already taken
	udInternal = ^uint64(0) - 1 // PROVIDE_BUFFERS and other housekeeping
	udTimer    = ^uint64(0)     // the fallback wait TIMEOUT
)

// Options configure a Ring. The zero value is a 256-entry ring with no special flags.
type Options struct {
	Entries   uint32 // submission queue entries (rounded up to a power of two); default 256
	CQEntries uint32 // completion queue entries; 0 means the kernel's default of 2×Entries
	Clamp     bool   // IORING_SETUP_CLAMP: clamp sizes to the kernel's maximum instead of failing

	SQPoll       bool          // IORING_SETUP_SQPOLL: a kernel thread polls the SQ
	SQThreadIdle time.Duration // how long the SQPOLL thread spins idle before sleeping
	SQAffinity   bool          // pin the SQPOLL thread to SQThreadCPU (IORING_SETUP_SQ_AFF)
	SQThreadCPU  int           // the CPU for SQAffinity

	// SingleIssuer (6.0+) promises only one thread submits. In Go that means the goroutine
	// that calls New must have called runtime.LockOSThread and must be the only one to submit.
	SingleIssuer bool
	// DeferTaskrun (6.1+, needs SingleIssuer) runs completion work only when the owner waits
	// or submits with GETEVENTS: fewer interrupts, but an eventfd Notifier then fires only
	// after the owner enters the kernel, so do not combine it with a Notifier.
	DeferTaskrun bool
	// CoopTaskrun (5.19+) stops the kernel interrupting the owner thread to run completion
	// work; the ring sets TASKRUN_FLAG with it so PeekBatch knows when to enter the kernel.
	CoopTaskrun bool
	SubmitAll   bool // IORING_SETUP_SUBMIT_ALL (5.18+): keep submitting after a failing SQE

	// Faults, for tests only, injects failures into io_uring_enter (see Faults).
	Faults *Faults

	// KernelCompat caps the features to those of an older kernel, e.g. "5.10"; empty means
	// $URINGD_KERNEL_COMPAT, and when that is empty too, no cap. Asking for a setup flag the
	// capped version lacks fails with ErrUnsupported.
	KernelCompat string
}

// Ring is one io_uring instance: its submission queue (SQ), completion queue (CQ) and the
// kernel state behind its file descriptor.
//
// A Ring is owned by one goroutine at a time and takes no locks: GetSQE, the Prep methods,
// Submit*, PeekBatch and Advance must not be called concurrently. Other goroutines learn of
// completions through a Notifier, or hand work to the owner through their own queue.
type Ring struct {
	fd       int
	flags    uint32 // IORING_SETUP_* in effect
	features *Features
	closed   bool

	sq submissionQueue
	cq completionQueue

	// mmap'd regions; cqMem aliases sqMem when the kernel has FEAT_SINGLE_MMAP.
	sqMem, cqMem, sqeMem []byte

	// Kernel-read arguments of waits. They live here, in the heap-allocated Ring, never on a
	// goroutine stack, and are only read by the kernel during the syscall that passes them.
	waitArg getEventsArg
	waitTS  Timespec

	faults          *Faults       // test-only failures of io_uring_enter; nil in production
	internalOps     bool          // the ring has queued operations of its own; skip their CQEs
	inlineHits      bool          // the last submit found its completions ready at once
	minWait         time.Duration // SubmitAndWaitBatch's grace period (min_wait_usec)
	waits           uint32
	timers          int       // fallback wait TIMEOUTs in flight
	timerDeadline   time.Time // the earliest deadline among them, roughly
	internalErrs    int       // the ring's own operations that failed
	lastInternalErr int32     // the last such failure's result
	stats           Stats     // see Stats; CQDropped is read from the kernel, and kept at Close
}

type submissionQueue struct {
	khead, ktail, kflags, kdropped *uint32 // in the mmap'd SQ ring
	array                          []uint32
	sqes                           []SQE
	mask, entries                  uint32
	sqeTail                        uint32 // next SQE to hand out (local)
	sqeHead                        uint32 // SQEs before this were published to ktail
}

type completionQueue struct {
	khead, ktail, koverflow, kflags *uint32
	cqes                            []CQE
	mask, entries                   uint32
	head                            uint32 // local copy of *khead: the ring is its only writer
}

// New sets up a ring. When io_uring cannot be used here it returns an *UnavailableError
// that says why and what to do.
func New(opts Options) (*Ring, error) {
	release, kernel, err := KernelRelease()
	if err != nil {
		return nil, err
	}
	cap, err := compat(opts.KernelCompat)
	if err != nil {
		return nil, err
	}
	eff := kernel
	if cap != (Version{}) && cap.Less(kernel) {
		eff = cap
	}
	if eff.Less(minKernel) {
		return nil, &UnavailableError{Reason: TooOld,
			Detail: fmt.Sprintf("kernel %s lacks the io_uring opcodes uringd needs (%s or newer)", eff, minKernel),
			Remedy: "run on Linux " + minKernel.String() + " or newer, or use the non-io_uring fallback"}
	}
	entries := opts.Entries
	if entries == 0 {
		entries = 256
	}
	var p params
	if opts.CQEntries > 0 {
		p.flags |= SetupCQSize
		p.cqEntries = opts.CQEntries
	}
	if opts.Clamp {
		p.flags |= SetupClamp
	}
	if opts.SQPoll {
		p.flags |= SetupSQPoll
		p.sqThreadIdle = uint32(opts.SQThreadIdle / time.Millisecond)
		if opts.SQAffinity {
			p.flags |= SetupSQAff
			p.sqThreadCPU = uint32(opts.SQThreadCPU)
		}
	}
	if opts.SingleIssuer {
		p.flags |= SetupSingleIssuer
	}
	if opts.DeferTaskrun {
		p.flags |= SetupDeferTaskrun | SetupTaskrunFlag
	}
	if opts.CoopTaskrun {
		p.flags |= SetupCoopTaskrun | SetupTaskrunFlag
	}
	if opts.SubmitAll {
		p.flags |= SetupSubmitAll
	}
	capped := &Features{Kernel: kernel, Compat: cap}
	if !capped.SetupFlagSupported(p.flags) {
		return nil, fmt.Errorf("io_uring_setup flags %#x with kernel %s: %w", p.flags, capped.Effective(), ErrUnsupported)
	}

	fd, errno := sysSetup(entries, &p)
	if errno != 0 {
		if errno == unix.EINVAL && p.flags != 0 {
			return nil, fmt.Errorf("io_uring_setup(%d entries, flags %#x) on kernel %s: %w (a flag this kernel lacks?)",
				entries, p.flags, release, errno)
		}
		return nil, classifySetupError(errno, entries, kernel)
	}
	r := &Ring{fd: fd, flags: p.flags, faults: opts.Faults}
	if err := r.mmap(&p); err != nil {
		unix.Close(fd)
		return nil, err
	}
	var probe *probeArg
	if !eff.Less(sinceRegisterProbe) {
		probe = new(probeArg)
		if _, errno := sysRegister(fd, regProbe, unsafe.Pointer(probe), uint32(len(probe.ops))); errno != 0 {
			probe = nil
		}
	}
	r.features = buildFeatures(release, kernel, cap, p.features, probe)
	return r, nil
}

// mmap maps the SQ ring, the CQ ring (the same mapping with FEAT_SINGLE_MMAP) and the SQE array.
func (r *Ring) mmap(p *params) error {
	sqSize := uintptr(p.sqOff.array) + uintptr(p.sqEntries)*4
	cqSize := uintptr(p.cqOff.cqes) + uintptr(p.cqEntries)*sizeofCQE
	single := p.features&FeatSingleMmap != 0
	if single && cqSize > sqSize {
		sqSize = cqSize
	}
	var err error
	r.sqMem, err = unix.Mmap(r.fd, offSQRing, int(sqSize), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return fmt.Errorf("mmap io_uring SQ ring (%d bytes): %w", sqSize, err)
	}
	r.cqMem = r.sqMem
	if !single {
		r.cqMem, err = unix.Mmap(r.fd, offCQRing, int(cqSize), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
		if err != nil {
			r.unmap()
			return fmt.Errorf("mmap io_uring CQ ring (%d bytes): %w", cqSize, err)
		}
	}
	sqeSize := int(p.sqEntries) * int(sizeofSQE)
	r.sqeMem, err = unix.Mmap(r.fd, offSQEs, sqeSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		r.unmap()
		return fmt.Errorf("mmap io_uring SQE array (%d bytes): %w", sqeSize, err)
	}

	sq, cq := &r.sq, &r.cq
	u32 := func(mem []byte, off uint32) *uint32 { return (*uint32)(unsafe.Pointer(&mem[off])) }
	sq.khead = u32(r.sqMem, p.sqOff.head)
	sq.ktail = u32(r.sqMem, p.sqOff.tail)
	sq.kflags = u32(r.sqMem, p.sqOff.flags)
	sq.kdropped = u32(r.sqMem, p.sqOff.dropped)
	sq.mask = *u32(r.sqMem, p.sqOff.ringMask)
	sq.entries = *u32(r.sqMem, p.sqOff.ringEntries)
	sq.array = unsafe.Slice(u32(r.sqMem, p.sqOff.array), sq.entries)
	sq.sqes = unsafe.Slice((*SQE)(unsafe.Pointer(&r.sqeMem[0])), sq.entries)
	// SQE i always sits in array slot i, so the array is written once here and only the
	// tail moves afterwards.
	for i := range sq.array {
		sq.array[i] = uint32(i)
	}
	sq.sqeHead = atomic.LoadUint32(sq.khead)
	sq.sqeTail = sq.sqeHead

	cq.khead = u32(r.cqMem, p.cqOff.head)
	cq.ktail = u32(r.cqMem, p.cqOff.tail)
	cq.koverflow = u32(r.cqMem, p.cqOff.overflow)
	if p.cqOff.flags != 0 {
		cq.kflags = u32(r.cqMem, p.cqOff.flags)
	}
	cq.mask = *u32(r.cqMem, p.cqOff.ringMask)
	cq.entries = *u32(r.cqMem, p.cqOff.ringEntries)
	cq.cqes = unsafe.Slice((*CQE)(unsafe.Pointer(&r.cqMem[p.cqOff.cqes])), cq.entries)
	cq.head = atomic.LoadUint32(cq.khead)
	return nil
}

func (r *Ring) unmap() {
	if r.sqeMem != nil {
		unix.Munmap(r.sqeMem)
	}
	if r.cqMem != nil && &r.cqMem[0] != &r.sqMem[0] {
		unix.Munmap(r.cqMem)
	}
	if r.sqMem != nil {
		unix.Munmap(r.sqMem)
	}
	r.sqMem, r.cqMem, r.sqeMem = nil, nil, nil
}

// Close unmaps the queues and closes the ring. The kernel cancels what is still in flight;
// memory those operations referenced must stay valid until Close returns. Calling Close
// again returns nil.
func (r *Ring) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	r.stats.CQDropped = atomic.LoadUint32(r.cq.koverflow)
	r.unmap()
	r.sq = submissionQueue{}
	r.cq = completionQueue{}
	if err := unix.Close(r.fd); err != nil {
		return fmt.Errorf("close io_uring fd %d: %w", r.fd, err)
	}
	return nil
}

// Fd is the ring's file descriptor.
func (r *Ring) Fd() int { return r.fd }

// Features is what this ring may use: probed from the kernel, capped by KernelCompat.
func (r *Ring) Features() *Features { return r.features }

// SQEntries is the submission queue size the kernel granted (Options.Entries rounded up to
// a power of two, or clamped with Options.Clamp).
func (r *Ring) SQEntries() uint32 { return r.sq.entries }

// CQEntries is the completion queue size the kernel granted.
func (r *Ring) CQEntries() uint32 { return r.cq.entries }

// Flags are the IORING_SETUP_* flags the ring was set up with.
func (r *Ring) Flags() uint32 { return r.flags }

// GetSQE hands out the next free submission queue entry, or nil when the SQ is full (Submit,
// then ask again). Fill it with one Prep method, then set UserData and Flags: a Prep method
// overwrites the whole entry. Nothing reaches the kernel before Submit.
func (r *Ring) GetSQE() *SQE {
	sq := &r.sq
	next := sq.sqeTail + 1
	if next-atomic.LoadUint32(sq.khead) > sq.entries {
		return nil
	}
	sqe := &sq.sqes[sq.sqeTail&sq.mask]
	sq.sqeTail = next
	return sqe
}

// SQSpace is how many SQEs GetSQE can still hand out before the next Submit.
func (r *Ring) SQSpace() uint32 {
	return r.sq.entries - (r.sq.sqeTail - atomic.LoadUint32(r.sq.khead))
}

// Pending is how many prepared SQEs the kernel has not consumed yet.
func (r *Ring) Pending() uint32 { return r.sq.sqeTail - atomic.LoadUint32(r.sq.khead) }

// flush publishes prepared SQEs to the kernel and returns how many it has not consumed.
func (r *Ring) flush() uint32 {
	sq := &r.sq
	if sq.sqeHead != sq.sqeTail {
		r.stats.SQEs += uint64(sq.sqeTail - sq.sqeHead)
		sq.sqeHead = sq.sqeTail
		atomic.StoreUint32(sq.ktail, sq.sqeTail)
	}
	return sq.sqeTail - atomic.LoadUint32(sq.khead)
}

// needsFlush reports whether the kernel holds completions back: overflowed CQEs (NODROP) or,
// with COOP/DEFER_TASKRUN, task work that only an io_uring_enter runs.
func (r *Ring) needsFlush() bool {
	return atomic.LoadUint32(r.sq.kflags)&(sqCQOverflow|sqTaskrun) != 0
}

// Submit hands the prepared SQEs to the kernel without waiting and returns how many it took.
// With SQPOLL it enters the kernel only to wake a sleeping poller. ErrBusy (EBUSY, EAGAIN)
// means: reap completions, then submit again; the SQEs stay queued.
func (r *Ring) Submit() (int, error) {
	if r.closed {
		return 0, ErrClosed
	}
	pending := r.flush()
	var flags uint32
	if r.flags&SetupSQPoll != 0 {
		if atomic.LoadUint32(r.sq.kflags)&sqNeedWakeup == 0 {
			return int(pending), nil
		}
		flags |= enterSQWakeup
	} else if pending == 0 && !r.needsFlush() {
		return 0, nil
	}
	if r.needsFlush() {
		flags |= enterGetEvents
	}
	return r.enter(pending, 0, flags)
}

// SubmitAndWait submits the prepared SQEs and waits until at least n completions are ready
// to peek (completions from earlier submissions count), in one io_uring_enter when it has to
// wait. It blocks the calling OS thread, as any blocking syscall does; Go's scheduler runs
// other goroutines meanwhile.
func (r *Ring) SubmitAndWait(n uint32) (int, error) {
	return r.submitAndWait(n, time.Time{})
}

// SubmitAndWaitTimeout is SubmitAndWait with a time limit: it returns ErrTimeout when fewer
// than n completions are ready after d. With IORING_FEAT_EXT_ARG (5.11+) the timeout rides on
// the same io_uring_enter; before that, the ring queues a TIMEOUT SQE of its own and consumes
// its CQE.
func (r *Ring) SubmitAndWaitTimeout(n uint32, d time.Duration) (int, error) {
	return r.submitAndWait(n, time.Now().Add(d))
}

// SubmitAndWaitBatch submits and waits for a batch: it returns once n completions are ready,
// or once at least one is and minWait has passed since, or at the timeout (ErrTimeout, with
// none ready). Event loops use it to wake once per batch of completions instead of once per
// completion. Kernels without IORING_FEAT_MIN_TIMEOUT (6.12) wait for one completion instead.
func (r *Ring) SubmitAndWaitBatch(n uint32, minWait, timeout time.Duration) (int, error) {
	if !r.features.MinTimeout || n <= 1 || minWait <= 0 {
		return r.submitAndWait(1, time.Now().Add(timeout))
	}
	r.minWait = minWait
	submitted, err := r.submitAndWait(n, time.Now().Add(timeout))
	r.minWait = 0
	if errors.Is(err, ErrTimeout) && r.CQReady() > 0 {
		err = nil
	}
	return submitted, err
}

func (r *Ring) submitAndWait(n uint32, deadline time.Time) (int, error) {
	if r.closed {
		return 0, ErrClosed
	}
	// Two ways to submit and wait. A blocking io_uring_enter that does both costs Go's
	// syscall bookkeeping (entersyscall/exitsyscall) even when the completions are already
	// there by the time the kernel returns, as they are for work that completes inline
	// (NOPs, cached reads). A non-blocking submit first, then a wait only if still needed,
	// costs a second syscall whenever the completions are not there yet (sockets). The ring
	// learns which case it is in: after an inline success it keeps submitting first; after a
	// miss it submits and waits in one call, and tries the other way every 64 waits.
	r.waits++
	if r.flags&SetupSQPoll != 0 || r.inlineHits || r.waits%64 == 0 ||
		(!r.internalOps && r.cq.ready() >= n && !r.needsFlush()) {
		submitted, err := r.Submit()
		if err != nil && !errors.Is(err, ErrBusy) {
			return submitted, err
		}
		r.inlineHits = !r.internalOps && r.cq.ready() >= n
		_, err = r.wait(n, deadline, false)
		return submitted, err
	}
	return r.wait(n, deadline, true)
}

// wait blocks until n caller-visible completions are ready, or until deadline when it is
// not zero; with submit, its first io_uring_enter also submits the prepared SQEs. A
// submission refused with EBUSY is resolved by the completions the wait returns: the caller
// reaps them and submits again. One refused with EAGAIN returns ErrBusy at once.
func (r *Ring) wait(n uint32, deadline time.Time, submit bool) (int, error) {
	submitted := 0
	for {
		if r.internalOps {
			r.dropInternalHead()
		}
		ready := r.cq.ready()
		user := ready
		if r.internalOps {
			user = r.userReady()
		}
		var toSubmit uint32
		if submit {
			toSubmit = r.flush()
		}
		if user >= n && toSubmit == 0 {
			return submitted, nil
		}
		want := ready - user + n // CQ entries that hold n of the caller's completions
		if user >= n || (r.minWait > 0 && user > 0) {
			want = 0 // only submitting
		}
		var got int
		var err error
		switch {
		case deadline.IsZero() || want == 0:
			got, err = r.enter(toSubmit, want, enterGetEvents)
		case time.Until(deadline) <= 0:
			if toSubmit > 0 {
				got, err = r.enter(toSubmit, 0, enterGetEvents)
				submitted += got
			}
			if err == nil {
				err = ErrTimeout
			}
			return submitted, err
		case r.features.ExtArg:
			got, err = r.enterTimeout(toSubmit, want, time.Until(deadline))
		default:
			// A TIMEOUT SQE that completes after one more completion or at the deadline,
			// whichever comes first, so that waiting for one more CQE never oversleeps.
			// A TIMEOUT's own completion does not count toward another's count, so a
			// leftover timer may fire later than this wait's deadline: arm one of ours then.
			if r.timers == 0 || r.timerDeadline.After(deadline) {
				if err := r.armTimer(time.Until(deadline)); err != nil {
					return submitted, err
				}
				r.timerDeadline = deadline
			}
			got, err = r.enter(r.flush(), ready+1, enterGetEvents)
		}
		submitted += got
		if err == nil && r.minWait > 0 && r.cq.ready() > 0 {
			return submitted, nil // a batch wait settles for what came within the grace period
		}
		if err != nil {
			if errors.Is(err, ErrBusy) {
				if r.CQReady() > 0 {
					return submitted, nil
				}
				if errors.Is(err, unix.EAGAIN) {
					// The kernel could not allocate for the submission: the caller may have
					// nothing in flight to wait for, so it decides when to try again.
					return submitted, err
				}
				submit = false // EBUSY: completions are due; wait for them to make room, then let the caller retry
				continue
			}
			return submitted, err
		}
		if submit && r.flush() == 0 {
			submit = false
		}
	}
}

// armTimer queues the fallback wait TIMEOUT (for kernels without EXT_ARG).
func (r *Ring) armTimer(d time.Duration) error {
	sqe := r.GetSQE()
	if sqe == nil {
		if _, err := r.Submit(); err != nil && !errors.Is(err, ErrBusy) {
			return err
		}
		if sqe = r.GetSQE(); sqe == nil {
			return fmt.Errorf("io_uring wait: no free SQE for the timeout: %w", ErrBusy)
		}
	}
	r.waitTS = Timespec{Sec: int64(d / time.Second), Nsec: int64(d % time.Second)}
	sqe.PrepTimeout(&r.waitTS, 1, 0)
	sqe.UserData = udTimer
	r.timers++
	r.internalOps = true
	return nil
}

// enterTimeout submits toSubmit SQEs and waits for want CQEs or d, in one io_uring_enter
// with IORING_ENTER_EXT_ARG.
func (r *Ring) enterTimeout(toSubmit, want uint32, d time.Duration) (int, error) {
	r.waitTS = Timespec{Sec: int64(d / time.Second), Nsec: int64(d % time.Second)}
	r.waitArg = getEventsArg{ts: uint64(uintptr(unsafe.Pointer(&r.waitTS))), minWait: uint32(r.minWait / time.Microsecond)}
	n, errno := r.sysEnter(toSubmit, want, enterGetEvents|enterExtArg, unsafe.Pointer(&r.waitArg), sizeofGetEventsArg)
	switch errno {
	case 0:
		return n, nil
	case unix.EINTR, unix.ETIME:
		return 0, nil // the caller's loop rechecks the count and the deadline
	case unix.EBUSY, unix.EAGAIN:
		return 0, &busyError{errno}
	}
	return 0, fmt.Errorf("io_uring_enter(submit %d, wait %d, timeout %v): %w", toSubmit, want, d, errno)
}

// enter wraps io_uring_enter: EINTR is retried (Go's runtime signals threads for preemption
// all the time), EBUSY and EAGAIN become ErrBusy, everything else is wrapped.
func (r *Ring) enter(toSubmit, minComplete, flags uint32) (int, error) {
	if minComplete > 0 {
		flags |= enterGetEvents
	}
	for {
		n, errno := r.sysEnter(toSubmit, minComplete, flags, nil, 0)
		switch errno {
		case 0:
			return n, nil
		case unix.EINTR:
			if minComplete > 0 && r.cq.ready() >= minComplete {
				return 0, nil
			}
			continue
		case unix.EBUSY, unix.EAGAIN:
			return 0, &busyError{errno}
		}
		return 0, fmt.Errorf("io_uring_enter(submit %d, wait %d): %w", toSubmit, minComplete, errno)
	}
}

// ready is how many CQEs sit between head and tail, internal ones included.
func (cq *completionQueue) ready() uint32 { return atomic.LoadUint32(cq.ktail) - cq.head }

// CQReady is how many completions are ready. While the ring has operations of its own in
// flight (see Options on older kernels) it may count one that PeekBatch will skip.
func (r *Ring) CQReady() uint32 {
	if r.closed {
		return 0
	}
	return r.cq.ready()
}

// userReady counts ready CQEs that are not the ring's own.
func (r *Ring) userReady() uint32 {
	cq := &r.cq
	tail := atomic.LoadUint32(cq.ktail)
	var n uint32
	for h := cq.head; h != tail; h++ {
		if !isInternal(cq.cqes[h&cq.mask].UserData) {
			n++
		}
	}
	return n
}

func isInternal(ud uint64) bool { return ud >= udSeen }

// consumeInternal accounts for one of the ring's own CQEs at the head and drops it.
func (r *Ring) consumeInternal(c *CQE) {
	if c.UserData == udTimer {
		r.timers--
	} else if c.UserData == udInternal && c.Res < 0 {
		r.internalErrs++
		r.lastInternalErr = c.Res
	}
	r.cq.head++
	atomic.StoreUint32(r.cq.khead, r.cq.head)
}

// dropInternalHead consumes the ring's own CQEs at the head of the CQ.
func (r *Ring) dropInternalHead() {
	cq := &r.cq
	tail := atomic.LoadUint32(cq.ktail)
	for cq.head != tail {
		c := &cq.cqes[cq.head&cq.mask]
		if !isInternal(c.UserData) {
			return
		}
		r.consumeInternal(c)
	}
}

// PeekBatch fills cqes with pointers to ready completions, oldest first, and returns how many.
// It does not wait. The pointed-to CQEs belong to the ring: read them, then call Advance(n)
// to give their slots back to the kernel; they may be overwritten after that. When the CQ
// is empty but the kernel holds completions back (overflow, deferred task work), PeekBatch
// enters the kernel to flush them, so no completion is ever lost.
func (r *Ring) PeekBatch(cqes []*CQE) int {
	if r.closed {
		return 0
	}
	cq := &r.cq
	tail := atomic.LoadUint32(cq.ktail)
	if tail == cq.head && r.needsFlush() {
		_, _ = r.enter(0, 0, enterGetEvents)
		tail = atomic.LoadUint32(cq.ktail)
	}
	n := 0
	for h := cq.head; h != tail && n < len(cqes); h++ {
		c := &cq.cqes[h&cq.mask]
		if r.internalOps && isInternal(c.UserData) {
			if n > 0 {
				break // consumed at the head on the next call
			}
			r.consumeInternal(c)
			continue
		}
		cqes[n] = c
		n++
	}
	return n
}

// PeekCQE returns the oldest ready completion, or nil. Call Advance(1) when done with it.
func (r *Ring) PeekCQE() *CQE {
	var one [1]*CQE
	if r.PeekBatch(one[:]) == 0 {
		return nil
	}
	return one[0]
}

// WaitCQE returns the oldest ready completion, first submitting the prepared SQEs and
// waiting (as SubmitAndWait(1) does) when none is ready; call Advance(1) when done with it.
func (r *Ring) WaitCQE() (*CQE, error) {
	for {
		if c := r.PeekCQE(); c != nil {
			return c, nil
		}
		if _, err := r.SubmitAndWait(1); err != nil {
			return nil, err
		}
	}
}

// Advance marks n peeked completions as consumed: one store to the kernel's CQ head.
func (r *Ring) Advance(n uint32) {
	if n == 0 || r.closed {
		return
	}
	r.cq.head += n
	atomic.StoreUint32(r.cq.khead, r.cq.head)
}

// Overflowed is the kernel's count of completions it could not post and dropped. With
// IORING_FEAT_NODROP (5.5+) completions are kept instead, so this stays 0.
func (r *Ring) Overflowed() uint32 {
	if r.closed {
		return 0
	}
	return atomic.LoadUint32(r.cq.koverflow)
}

// Dropped is the kernel's count of invalid SQEs it skipped.
func (r *Ring) Dropped() uint32 {
	if r.closed {
		return 0
	}
	return atomic.LoadUint32(r.sq.kdropped)
}

// Err returns nil when the CQE succeeded, else an *OpError for op (the CQE does not record
// its opcode: pass the one the caller submitted).
func (c *CQE) Err(op Op) error { return ResultError(op, c.Res) }

// BufferID returns the provided buffer the kernel picked, if IORING_CQE_F_BUFFER is set.
func (c *CQE) BufferID() (uint16, bool) {
	return uint16(c.Flags >> cqeBufferShift), c.Flags&CQEFBuffer != 0
}

// More reports IORING_CQE_F_MORE: a multishot SQE will post more CQEs.
func (c *CQE) More() bool { return c.Flags&CQEFMore != 0 }

func atomicStore32(p *uint32, v uint32) { atomic.StoreUint32(p, v) }
