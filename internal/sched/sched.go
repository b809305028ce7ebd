// Package sched keeps goroutines that live in system calls visible to the Go scheduler.
//
// uringd's event loops, file IO workers and log writers are goroutines locked to their OS
// threads that leave Go code only for system calls (io_uring_enter, pread, futex) and never
// block in Go. The runtime's sysmon thread cannot tell such a goroutine from one that refuses
// to yield: after 10ms on the same scheduling tick it retakes the goroutine's P in every
// system call, and each retake resets sysmon's own sleep to 20µs. Under load that keeps
// sysmon itself busy, and the retaken Ps make every syscall exit slower (measured: see
// docs/results). A Yielder passes the goroutine through the scheduler every few milliseconds,
// which costs a couple of thread switches and keeps sysmon asleep.
package sched

import (
	"runtime"
	"time"
)

// Every is how often a Yielder yields: well inside the runtime's 10ms time slice.
const Every = 5 * time.Millisecond

// Yielder calls runtime.Gosched at most once per Every. The zero value is ready; it is
// owned by one goroutine.
type Yielder struct {
	last time.Time
}

// Maybe yields if Every has passed since the last yield. now is the caller's current time,
// passed in because callers on hot paths have it already.
func (y *Yielder) Maybe(now time.Time) {
	if now.Sub(y.last) >= Every {
		y.last = now
		runtime.Gosched()
	}
}
