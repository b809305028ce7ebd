package ring

import "sync/atomic"

// Stats counts what a ring did since New. Like every method of a Ring but Close, Stats is
// for the ring's own goroutine: the counts are plain fields that the submit and wait paths
// bump without atomics, so an event loop publishes them to others itself.
type Stats struct {
	// SQEs is the number of SQEs handed to the kernel (published at the SQ tail), the
	// ring's own wait timers included.
	SQEs uint64
	// Enters is the number of io_uring_enter calls, EINTR retries included.
	Enters uint64
	// CQOverflows counts io_uring_enter calls made while the kernel held completions that
	// did not fit in the CQ (IORING_SQ_CQ_OVERFLOW): each is a time the CQ was found full.
	// With NODROP (5.5+) such completions are kept and flushed to the CQ later.
	CQOverflows uint64
	// CQDropped is the kernel's count of completions it could not keep (the CQ ring's
	// overflow field): 0 with NODROP unless the kernel ran out of memory.
	CQDropped uint32
}

// Add returns the sum of s and o, for totals over several rings.
func (s Stats) Add(o Stats) Stats {
	return Stats{SQEs: s.SQEs + o.SQEs, Enters: s.Enters + o.Enters,
		CQOverflows: s.CQOverflows + o.CQOverflows, CQDropped: s.CQDropped + o.CQDropped}
}

// Stats returns the ring's counts so far. After Close it returns the counts at Close.
func (r *Ring) Stats() Stats {
	st := r.stats
	if !r.closed {
		st.CQDropped = atomic.LoadUint32(r.cq.koverflow)
	}
	return st
}
