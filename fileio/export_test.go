package fileio

import "github.com/uringd/uringd/ring"

// WithRingFaults sets the test-only ring options of opts for the package's external tests:
// faults injected into every io_uring_enter of the uring engine, and the completion queue
// size of its loops' rings (0: twice RingEntries).
func WithRingFaults(opts *Options, f *ring.Faults, cqEntries uint32) {
	opts.faults, opts.cqEntries = f, cqEntries
}

// WithKernelCancels makes every nth operation of the uring engine's loops complete as if
// the kernel had cancelled it unasked (-ECANCELED, the operation never run).
func WithKernelCancels(opts *Options, n uint64) { opts.cancelEvery = n }

// QueueResubmitStalls is how often a uring Queue had Ops the kernel cancelled unasked to
// submit again and found the SQ full with the kernel refusing to take it.
func QueueResubmitStalls(q Queue) uint64 { return q.(*uringQueue).stalls }

// QueueCQReady is how many completions wait in a uring Queue's completion queue.
func QueueCQReady(q Queue) uint32 { return q.(*uringQueue).r.CQReady() }
