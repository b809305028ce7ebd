package ring

import (
	"sync/atomic"
	"syscall"
	"unsafe"
)

// Faults make io_uring_enter fail or submit short on purpose, so that tests of the code
// above ring can drive it through what the kernel rarely does: a refused submission
// (EAGAIN, EBUSY), no memory (ENOMEM), lost completions (EBADR), an interrupted wait (EINTR)
// and a submission that takes fewer SQEs than it was given. A ring without Faults (the
// default) pays one nil check per io_uring_enter.
type Faults struct {
	// Enter is asked before each io_uring_enter of the ring and says what to do instead.
	// It runs on the ring's owner goroutine; a Faults shared by rings on several goroutines
	// must be safe for concurrent use.
	Enter func(EnterCall) Fault
}

// EnterCall describes an io_uring_enter about to be made.
type EnterCall struct {
	ToSubmit    uint32 // SQEs the call would submit
	MinComplete uint32 // completions it would wait for
	Flags       uint32 // IORING_ENTER_* flags
}

// Fault is what an injected io_uring_enter does.
type Fault struct {
	// Errno, when not zero, is returned without entering the kernel: nothing is submitted
	// and nothing is waited for, as when the kernel refuses the call.
	Errno syscall.Errno
	// Short, when set, submits at most Submit of the SQEs (0 included): the rest stay
	// queued in the SQ, and the call returns without waiting, as the kernel's
	// io_uring_enter does when it submitted fewer than it was asked to.
	Short  bool
	Submit uint32
}

// enter makes io_uring_enter through the ring's Faults, if it has any.
func (r *Ring) sysEnter(toSubmit, minComplete, flags uint32, arg unsafe.Pointer, argSz uintptr) (int, syscall.Errno) {
	r.stats.Enters++
	if atomic.LoadUint32(r.sq.kflags)&sqCQOverflow != 0 {
		r.stats.CQOverflows++
	}
	if f := r.faults; f != nil && f.Enter != nil {
		ft := f.Enter(EnterCall{ToSubmit: toSubmit, MinComplete: minComplete, Flags: flags})
		if ft.Errno != 0 {
			return 0, ft.Errno
		}
		if ft.Short && ft.Submit < toSubmit {
			toSubmit, minComplete = ft.Submit, 0
			flags &^= enterGetEvents
		}
	}
	return sysEnter(r.fd, toSubmit, minComplete, flags, arg, argSz)
}

// EveryNth returns Faults that make every nth io_uring_enter which submits something fail
// with the next errno of errnos in turn; an errno of 0 in the list stands for a short
// submit of half the SQEs instead (of two or more). n below 1 is taken as 1. The returned Faults are safe for
// concurrent use and count the faults they injected in *injected, when it is not nil.
func EveryNth(n int, injected *atomic.Int64, errnos ...syscall.Errno) *Faults {
	if n < 1 {
		n = 1
	}
	var calls atomic.Uint64
	return &Faults{Enter: func(c EnterCall) Fault {
		if c.ToSubmit == 0 || len(errnos) == 0 {
			return Fault{}
		}
		e := errnos[calls.Load()/uint64(n)%uint64(len(errnos))]
		if e == 0 && c.ToSubmit < 2 {
			// A short submit of one SQE would take none and make no progress.
			return Fault{}
		}
		k := calls.Add(1)
		if k%uint64(n) != 0 {
			return Fault{}
		}
		if injected != nil {
			injected.Add(1)
		}
		if e == 0 {
			return Fault{Short: true, Submit: c.ToSubmit / 2}
		}
		return Fault{Errno: e}
	}}
}
