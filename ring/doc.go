// Package ring is uringd's io_uring binding, written directly on golang.org/x/sys/unix.
//
// It owns ring setup and teardown, the mmap'd submission and completion queues, the opcodes
// (Prep methods on SQE, after liburing's io_uring_prep_*), the feature probe and its cap to
// older kernels, registered files and buffers, provided buffers, and waiting. It never
// decides what to submit: policy (which fast path to take, what a completion means) belongs
// to the packages above it, and user_data is the caller's token whose meaning ring never
// interprets. The layouts mirror the kernel uapi header linux/io_uring.h field for field.
//
// # Using a ring
//
//	r, err := ring.New(ring.Options{Entries: 256})
//	sqe := r.GetSQE()              // nil when the SQ is full: Submit, then ask again
//	sqe.PrepRead(fd, buf, offset)  // fills the whole entry ...
//	sqe.UserData = token           // ... so set user data and flags after
//	r.SubmitAndWait(1)             // one io_uring_enter for every prepared SQE
//	n := r.PeekBatch(cqes)         // completions, oldest first
//	// ... read cqes[:n] ...
//	r.Advance(uint32(n))           // one store gives the slots back
//
// # Ownership: one goroutine per ring
//
// A Ring is owned by one goroutine and takes no locks on its hot path: GetSQE, Prep,
// Submit*, PeekBatch and Advance are plain loads and stores on shared memory plus the
// io_uring_enter syscall. Other goroutines never touch it; they hand work to the owner
// (through their own queue) and learn of completions through a Notifier. With
// Options.SingleIssuer the owner must also stay on one OS thread (runtime.LockOSThread
// before New), because the kernel checks the submitting thread, not the goroutine.
//
// # Memory the kernel touches
//
// Buffers, iovecs, msghdrs and sockaddrs passed to Prep methods are used by the kernel after
// the call returns, until the CQE is reaped. They must never live on a goroutine stack
// (stacks are copied when they grow, so the kernel would write into freed memory) and must
// stay reachable until the completion is seen: allocate them on the heap and keep them
// referenced from the operation's state, or take them off the heap entirely with MapBuffer,
// which the garbage collector neither moves nor frees. The ring's own kernel-shared memory
// (queues, buffer rings, the eventfd counter, wait timespecs) lives in mmap'd regions or in
// heap objects owned by the Ring, Notifier, BufRing and BufferGroup values. Go's collector
// does not move heap objects, so a heap buffer kept reachable is safe.
//
// # Waiting without a thread per request
//
// SubmitAndWait blocks the owner's OS thread in io_uring_enter, which is right for an event
// loop that owns a thread. A goroutine that should not hold a thread while it waits uses a
// Notifier instead: an eventfd registered with the ring and read through Go's netpoller,
// so the goroutine parks exactly like one blocked on a socket, and any number of requests in
// flight cost no threads at all (package fileio and package logger work this way).
//
// # Kernels and fallbacks
//
// New probes the running kernel (feature bits, IORING_REGISTER_PROBE, the version) into
// Features; Options.KernelCompat or $URINGD_KERNEL_COMPAT caps them to an older version, so
// that every fallback can run on a new kernel. The table of which version added what is in
// features.go. The ring itself falls back in three places: waits with a timeout use a TIMEOUT
// SQE without EXT_ARG (5.11), buffer groups use PROVIDE_BUFFERS without buffer rings (5.19),
// and sparse file tables use -1 slots without IORING_RSRC_REGISTER_SPARSE (5.19).
// Completions never get lost: with NODROP (5.5+) the kernel keeps overflowed CQEs and
// PeekBatch flushes them; EINTR is retried, EBUSY and EAGAIN surface as ErrBusy ("reap,
// then submit again") and are resolved inside the waiting calls.
//
// When io_uring cannot be used, New and Probe return an *UnavailableError naming the case
// (ENOSYS, EPERM from seccomp or kernel.io_uring_disabled, ENOMEM from RLIMIT_MEMLOCK before
// 5.12, or a kernel older than 5.6) and its remedy.
package ring
