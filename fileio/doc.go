// Package fileio owns file IO for uringd: engines behind one interface that open files
// beneath a directory, stat, read and write at offsets (plain and vectored), sync and close
// them, with context cancellation, O_DIRECT alignment checks and an aligned buffer allocator.
// fileio never speaks HTTP and never decides what to serve; package netio and package bench
// sit above it.
//
// # Engines
//
//   - "uring": io_uring through package ring. No OS thread is parked per IO. File methods
//     (ReadAt, WriteAt, ...) may be called from any number of goroutines: each call takes a
//     pooled Op, pushes it onto the queue of one of the engine's rings (Options.Rings), and
//     parks on the Op's channel. Each ring is owned by one loop goroutine that drains the
//     queue into SQEs, submits them all with one io_uring_enter, reaps the CQEs, and hands
//     results back; when it has nothing to do it parks on a ring.Notifier (an eventfd in Go's
//     netpoller), so no caller holds an OS thread while IO is in flight. Each loop goroutine
//     is locked to an OS thread of its own (one per ring, asleep while the loop parks): the
//     kernel cancels the io-wq work of a submitting thread that exits.
//     A Queue (Engine.NewQueue) has a ring of its own, driven only by the goroutine that
//     owns the Queue: "one goroutine keeps QD operations in flight", as fio does. Its Reap
//     waits inside io_uring_enter like fio (one thread, the owner's, however many
//     operations are in flight), or parks on an eventfd with QueueOptions.Park; with
//     QueueOptions.Notify nothing waits at all.
//   - "threadpool": Options.Workers goroutines, each locked to its own OS thread
//     (runtime.LockOSThread), doing pread/pwrite and friends, fed by a bounded channel. Idle
//     workers sleep in futex(2), as a C thread pool's would, and the engine raises
//     GOMAXPROCS by Workers while it is open (Options.KeepGOMAXPROCS to opt out): a worker
//     returning from a blocking call needs a P to run on, and with too few of them it waits
//     for the runtime's monitor to take one back. The comparison mode the server offers.
//   - "std": Go's os.File (ReadAt, WriteAt, ...) in the calling goroutine; the Go runtime
//     adds OS threads implicitly while calls block. The baseline.
//
// # Submitting
//
// The uring engine's loops hand the kernel everything that is ready in one io_uring_enter
// (Options.SubmitBatch caps it), and a Queue does so at Flush or Reap (QueueOptions.Batch
// makes Submit enter the kernel every N operations; 1 is fio's default). The kernel plugs
// the block requests of one io_uring_enter and dispatches them together: fewer system calls,
// but on a device that serves requests as they arrive (a virtio disk) a batch of 1 keeps it
// busier.
//
// # Operations and their memory
//
// An Op names a file, a buffer and an offset. Memory the kernel touches (the data buffer, the
// iovec array, the statx result, the path and open_how of an open) is never on a goroutine
// stack: the Op is a heap object and holds references to all of it, and the uring engine
// keeps every Op it submitted in its table (user_data is an index into that table, never a Go
// pointer) until the completion is reaped. A buffer passed to ReadAt is handed back to the
// caller only after its CQE was reaped, also when the call was cancelled.
//
// # Cancellation
//
// Every method that takes a context.Context honours it. The uring engine cancels in the
// kernel: the ring's loop submits IORING_OP_ASYNC_CANCEL for the operation, and the call
// returns only when the cancelled operation's completion has been reaped (so the kernel can
// no longer write into the caller's buffer), with the context's error wrapped in an *Error.
// If the operation completed before the cancellation reached it, its real result is
// returned. The threadpool engine drops an operation that no worker has started yet; one
// already in a syscall runs to its end. The std engine checks the context before it starts.
//
// # Opening beneath a directory
//
// Engine.Open resolves a name beneath a Dir so that neither "..", nor an absolute path, nor a
// symlink (absolute, or relative and climbing out) can leave it: with openat2(2) and
// RESOLVE_BENEATH|RESOLVE_NO_MAGICLINKS where the kernel has it (IORING_OP_OPENAT2 for the
// uring engine), otherwise with a walk that opens one component at a time with
// openat(O_PATH|O_DIRECTORY|O_NOFOLLOW), keeps the chain of directory descriptors (so ".."
// pops one and can never climb above the Dir), and follows a symlink only by reading it and
// walking its target the same way: absolute targets are refused (EXDEV, as
// RESOLVE_BENEATH does), relative ones stay subject to the same rule, at most 40 links.
// Every step works on a descriptor already held, so a concurrent rename cannot move the
// walk out of the Dir either. Options.ForceWalk picks the walk even where openat2 exists.
//
// # O_DIRECT
//
// Files opened with syscall.O_DIRECT check every operation before it is submitted: the
// buffer address against the memory alignment, and the offset and length against the
// offset alignment, both from statx(STATX_DIOALIGN) where the kernel reports it (6.1+), else
// the logical block size of the file's block device from sysfs, else 4096. A misaligned
// operation fails with an *AlignError (inside an *Error, matching syscall.EINVAL) that names
// the operation, the path and what was misaligned. AllocAligned hands out page-aligned
// memory outside the Go heap for such buffers.
//
// # Errors
//
// Failures are *Error values naming the engine, the operation, the path and the offset, and
// wrapping the cause: "fileio uring read /srv/a.bin at 4096: input/output error", with
// errors.Is(err, syscall.EIO) true. Reads follow io.ReaderAt exactly as os.File.ReadAt
// does: they return len(p) bytes or an error, and io.EOF (unwrapped) at the end of the file.
package fileio
