package netio

import (
	"sync/atomic"

	"github.com/uringd/uringd/ring"
)

// ringTuning overrides a loop's ring for tests: tiny queues fill up under ordinary load,
// and injected faults make io_uring_enter fail, so the paths that handle both run in the
// ordinary test suite. The zero value is production's.
type ringTuning struct {
	sqEntries, cqEntries uint32
	faults               *ring.Faults
}

// pressure counts how often the loops met a full SQ, so tests can tell that they did.
type pressure struct {
	sqWaits atomic.Int64 // operations that waited on the unqueued FIFO for SQ room
}
