package netio

import (
	"sync/atomic"
	"syscall"
	"time"

	"github.com/uringd/uringd/ring"
)

// ringTuning overrides a loop's ring for tests: tiny queues fill up under ordinary load,
// and injected faults make io_uring_enter fail, so the paths that handle both run in the
// ordinary test suite. The zero value is production's.
type ringTuning struct {
	sqEntries, cqEntries uint32
	faults               *ring.Faults
	poolDepth            int // threadpool mode: the fileio Queue's depth instead of 4096
	// cancelEvery > 0 makes every cancelEvery-th OPENAT2 a NOP whose completion reads
	// -ECANCELED: what the kernel's unasked cancellations of io-wq work look like.
	cancelEvery uint64
	// statErr, when set, is what the statx of every file the loop opens fails with.
	statErr syscall.Errno
	// loopThread, when set, is told each loop's OS thread once its ring exists (the kernel
	// names that thread's io-wq workers iou-wrk-TID).
	loopThread func(loop, tid int)
	// misalignDirect makes every O_DIRECT READ use a buffer a byte off its alignment, which
	// the kernel refuses with EINVAL: the fallback to buffered reads runs.
	misalignDirect bool
	// fixedLimit > 0 makes registering more than fixedLimit buffers fail with ENOMEM, as
	// RLIMIT_MEMLOCK does; < 0 makes every registration fail.
	fixedLimit int
	// stopDelay > 0 makes the loops take up a requested stop only this long after it was
	// asked for: the window, which a slow machine opens by chance, in which a client is
	// accepted after the stop and before its loop stops accepting.
	stopDelay time.Duration
}

// pressure counts what tests need to see of the loops' work: full SQs, parsing.
type pressure struct {
	sqWaits atomic.Int64 // operations that waited on the unqueued FIFO for SQ room
	// headExamined counts the bytes the request parser examined: a head that arrives a
	// byte at a time must cost O(n), not O(n²).
	headExamined atomic.Int64
	opens        atomic.Int64 // files opened for lookups (cache misses that reached the kernel)
}
