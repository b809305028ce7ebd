package bench

import (
	"fmt"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// StallOver is the wait that bench http's stall figures count beyond: the hot p99 that
// issue 14 asks for. A thread woken while its CPU is gone for longer cannot answer in time.
const StallOver = 2 * time.Millisecond

// stallTick is how long the probe sleeps between looks: short enough to see stalls of a
// couple of milliseconds, long enough to cost each CPU well under 1%.
const stallTick = time.Millisecond

// StallProbe tells what a machine does to every thread's latency, whatever the thread runs:
// on each CPU a thread of the lowest real-time priority (SCHED_FIFO 1, above every ordinary
// thread, so no server or client in the machine can hold it off) sleeps stallTick at a time
// and records how late it wakes. Only interrupt work and the CPU itself going away can make
// it late; on a virtual machine the second is the host running something else, often the
// emulation of the disk the guest is reading.
type StallProbe struct {
	start time.Time
	stop  chan struct{}
	done  chan stallCPU
	n     int
}

// StallFigures is what a StallProbe saw.
type StallFigures struct {
	Wall time.Duration
	Max  time.Duration // the latest wakeup on any CPU, beyond the tick slept
	// OverShare is the share of the CPUs' time, in percent, at which a thread running on
	// a CPU, or woken there, would wait more than StallOver for it: the sum over the late
	// wakeups of what they were late beyond StallOver, over the wall time, averaged over
	// the CPUs. The scheduler can move a waiting thread to another CPU, but not one caught
	// running, so where this is far above 1 a p99 of StallOver is out of any server's reach.
	OverShare float64
	Late      int // wakeups later than StallOver, on all the CPUs
	Samples   int
}

type stallCPU struct {
	max     time.Duration   // the latest wakeup
	late    []time.Duration // the lateness of each wakeup later than StallOver
	wall    time.Duration
	samples int
	err     error
}

// StartStallProbe starts a probe thread on each CPU this process may run on. It needs
// CAP_SYS_NICE (root) for the real-time class; without it the error says so.
//
// The probe runs inside a Go process, so a wakeup also waits for its goroutine's P: beside
// goroutines that keep every P of the process busy, it would count Go's own time slices as
// stalls. bench http runs it beside its fixed-rate client only, which keeps the Ps mostly
// idle (a probe in a process of its own read the same share through a mixed run).
func StartStallProbe() (*StallProbe, error) {
	var mask unix.CPUSet
	if err := unix.SchedGetaffinity(0, &mask); err != nil {
		return nil, fmt.Errorf("bench http: stall probe: the CPUs this process may use: %w", err)
	}
	var cpus []int
	for cpu := 0; cpu < len(mask)*64; cpu++ {
		if mask.IsSet(cpu) {
			cpus = append(cpus, cpu)
		}
	}
	p := &StallProbe{start: time.Now(), stop: make(chan struct{}), done: make(chan stallCPU), n: len(cpus)}
	ready := make(chan error)
	for _, cpu := range cpus {
		go p.run(cpu, ready)
	}
	var errs []error
	for range cpus {
		if err := <-ready; err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		p.Stop()
		return nil, fmt.Errorf("bench http: stall probe: %w", errs[0]) // the same on every CPU, as a rule
	}
	return p, nil
}

func (p *StallProbe) run(cpu int, ready chan<- error) {
	// The thread stays locked: it ends with the goroutine, so no other goroutine ever runs
	// on a thread pinned and in the real-time class.
	runtime.LockOSThread()
	var set unix.CPUSet
	set.Set(cpu)
	err := unix.SchedSetaffinity(0, &set)
	if err != nil {
		err = fmt.Errorf("pinning a thread to CPU %d: %w", cpu, err)
	} else if e := unix.SchedSetAttr(0, &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_FIFO, Priority: 1}, 0); e != nil {
		err = fmt.Errorf("SCHED_FIFO on CPU %d (needs CAP_SYS_NICE): %w", cpu, e)
	}
	ready <- err
	if err != nil {
		p.done <- stallCPU{err: err}
		return
	}
	var r stallCPU
	start := time.Now()
	ts := unix.NsecToTimespec(int64(stallTick))
	for {
		select {
		case <-p.stop:
			r.wall = time.Since(start)
			p.done <- r
			return
		default:
		}
		t0 := time.Now()
		// A signal's EINTR only ends this sleep early, which records nothing late.
		_ = unix.Nanosleep(&ts, nil)
		late := time.Since(t0) - stallTick
		r.max = max(r.max, late)
		if late > StallOver {
			r.late = append(r.late, late)
		}
		r.samples++
	}
}

// Stop ends the probe threads and returns what they saw.
func (p *StallProbe) Stop() StallFigures {
	close(p.stop)
	cpus := make([]stallCPU, 0, p.n)
	for i := 0; i < p.n; i++ {
		cpus = append(cpus, <-p.done)
	}
	return stallSummary(cpus)
}

// stallSummary reduces each CPU's late wakeups to StallFigures.
func stallSummary(cpus []stallCPU) StallFigures {
	var f StallFigures
	var share float64
	n := 0
	for _, c := range cpus {
		if c.err != nil || c.wall <= 0 {
			continue
		}
		n++
		f.Wall = max(f.Wall, c.wall)
		f.Samples += c.samples
		f.Max = max(f.Max, c.max)
		var over time.Duration
		for _, l := range c.late {
			f.Late++
			over += l - StallOver
		}
		share += 100 * over.Seconds() / c.wall.Seconds()
	}
	if n > 0 {
		f.OverShare = share / float64(n)
	}
	return f
}
