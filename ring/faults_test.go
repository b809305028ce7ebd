package ring

import (
	"errors"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Each injected errno reaches the caller as the ring documents: EAGAIN and EBUSY as ErrBusy
// with the SQEs still queued, EINTR retried, ENOMEM and EBADR wrapped; nothing is lost, and
// the queued SQEs complete once the faults stop.
func TestFaultsEnterErrors(t *testing.T) {
	kernels(t, func(t *testing.T, compat string) {
		for _, tc := range []struct {
			errno syscall.Errno
			busy  bool // reported as ErrBusy
			retry bool // retried inside the ring, invisible to the caller
		}{
			{unix.EAGAIN, true, false},
			{unix.EBUSY, true, false},
			{unix.EINTR, false, true},
			{unix.ENOMEM, false, false},
			{unix.EBADR, false, false},
		} {
			t.Run(tc.errno.Error(), func(t *testing.T) {
				var fail atomic.Int32
				fail.Store(1)
				r := newRing(t, Options{Entries: 8, KernelCompat: compat, Faults: &Faults{Enter: func(c EnterCall) Fault {
					if c.ToSubmit > 0 && fail.Add(-1) >= 0 {
						return Fault{Errno: tc.errno}
					}
					return Fault{}
				}}})
				for i := 0; i < 4; i++ {
					sqe := mustSQE(t, r)
					sqe.PrepNop()
					sqe.UserData = uint64(i)
				}
				n, err := r.Submit()
				switch {
				case tc.retry:
					if err != nil || n != 4 {
						t.Fatalf("Submit with %v injected = %d, %v; want 4, nil (retried)", tc.errno, n, err)
					}
				case tc.busy:
					if !errors.Is(err, ErrBusy) || !errors.Is(err, tc.errno) || n != 0 {
						t.Fatalf("Submit with %v injected = %d, %v; want 0, ErrBusy", tc.errno, n, err)
					}
				default:
					if err == nil || errors.Is(err, ErrBusy) || !errors.Is(err, tc.errno) || n != 0 {
						t.Fatalf("Submit with %v injected = %d, %v; want 0 and an error wrapping it", tc.errno, n, err)
					}
				}
				if !tc.retry && r.Pending() != 4 {
					t.Fatalf("after a refused submit %d SQEs pending, want 4", r.Pending())
				}
				if _, err := r.SubmitAndWaitTimeout(4, 5*time.Second); err != nil {
					t.Fatalf("SubmitAndWaitTimeout after the fault: %v", err)
				}
				got := reap(t, r, 4)
				for i, c := range got {
					if c.UserData != uint64(i) || c.Res != 0 {
						t.Fatalf("CQE %d = %+v", i, c)
					}
				}
			})
		}
	})
}

// A short submit leaves the rest in the SQ; the next submit sends it, in order.
func TestFaultsShortSubmit(t *testing.T) {
	kernels(t, func(t *testing.T, compat string) {
		var injected atomic.Int64
		r := newRing(t, Options{Entries: 16, KernelCompat: compat, Faults: EveryNth(1, &injected, 0)})
		for i := 0; i < 8; i++ {
			sqe := mustSQE(t, r)
			sqe.PrepNop()
			sqe.UserData = uint64(i)
		}
		n, err := r.Submit()
		if err != nil || n != 4 || r.Pending() != 4 {
			t.Fatalf("short Submit = %d, %v with %d pending; want 4, nil, 4", n, err, r.Pending())
		}
		for r.Pending() > 0 {
			if _, err := r.Submit(); err != nil {
				t.Fatalf("Submit: %v", err)
			}
		}
		got := reap(t, r, 8)
		for i, c := range got {
			if c.UserData != uint64(i) {
				t.Fatalf("CQE %d has user_data %d: out of order", i, c.UserData)
			}
		}
		if injected.Load() != 3 { // 8 -> 4 -> 2 -> 1, and one SQE is never cut short
			t.Fatalf("only %d faults injected", injected.Load())
		}
	})
}

func TestEveryNthCycles(t *testing.T) {
	var injected atomic.Int64
	f := EveryNth(2, &injected, unix.EAGAIN, 0)
	var got []Fault
	for i := 0; i < 6; i++ {
		got = append(got, f.Enter(EnterCall{ToSubmit: 6}))
	}
	want := []Fault{{}, {Errno: unix.EAGAIN}, {}, {Short: true, Submit: 3}, {}, {Errno: unix.EAGAIN}}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("call %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	if f.Enter(EnterCall{}) != (Fault{}) || injected.Load() != 3 {
		t.Fatalf("a call that submits nothing was faulted, or injected = %d (want 3)", injected.Load())
	}
}

// A submit refused with EAGAIN while nothing is in flight returns ErrBusy instead of
// waiting for a completion that can never come.
func TestWaitAfterEAGAINWithNothingInFlight(t *testing.T) {
	kernels(t, func(t *testing.T, compat string) {
		var fail atomic.Int32
		fail.Store(1)
		r := newRing(t, Options{Entries: 8, KernelCompat: compat, Faults: &Faults{Enter: func(c EnterCall) Fault {
			if c.ToSubmit > 0 && fail.Add(-1) >= 0 {
				return Fault{Errno: unix.EAGAIN}
			}
			return Fault{}
		}}})
		sqe := mustSQE(t, r)
		sqe.PrepNop()
		sqe.UserData = 7
		done := make(chan error, 1)
		go func() { _, err := r.SubmitAndWait(1); done <- err }()
		select {
		case err := <-done:
			if !errors.Is(err, ErrBusy) {
				t.Fatalf("SubmitAndWait after EAGAIN = %v, want ErrBusy", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("SubmitAndWait after an EAGAIN with nothing in flight did not return")
		}
		if _, err := r.SubmitAndWait(1); err != nil {
			t.Fatalf("SubmitAndWait again: %v", err)
		}
		if c := reap(t, r, 1); c[0].UserData != 7 {
			t.Fatalf("CQE %+v", c[0])
		}
	})
}

// TestBufferGroupSetupRidesOutENOMEM: a buffer group made by PROVIDE_BUFFERS (5.10) waits
// for its request's completion; io_uring_enter refused with ENOMEM, a transient shortage,
// is tried again rather than failing the group (and with it a netio loop at start: the 5.10
// VM's "receive buffers: ... cannot allocate memory", which stopped the server).
func TestBufferGroupSetupRidesOutENOMEM(t *testing.T) {
	var refused atomic.Int64
	faults := &Faults{Enter: func(c EnterCall) Fault {
		if c.ToSubmit > 0 && refused.Add(1) <= 3 {
			return Fault{Errno: unix.ENOMEM}
		}
		return Fault{}
	}}
	r := newRing(t, Options{Entries: 8, KernelCompat: "5.10", Faults: faults})
	g, err := r.NewBufferGroup(5, 4, 64)
	if err != nil {
		t.Fatalf("buffer group with 3 ENOMEM refusals: %v", err)
	}
	defer g.Close()
	if refused.Load() < 3 {
		t.Fatalf("only %d refusals injected", refused.Load())
	}
}
