package fileio

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/uringd/uringd/ring"
)

// Engine names, for New and for flags.
const (
	EngineUring      = "uring"
	EngineThreadPool = "threadpool"
	EngineStd        = "std"
)

// Engines lists the engine names New accepts.
func Engines() []string { return []string{EngineUring, EngineThreadPool, EngineStd} }

// Engine is a file IO engine. Open resolves a file beneath a directory and returns a *File
// whose methods run through the engine; NewQueue returns a Queue for one goroutine that
// keeps many operations in flight. An Engine is safe for concurrent use.
type Engine interface {
	// Name is "uring", "threadpool" or "std".
	Name() string
	// Open opens name beneath dir (see the package documentation) with open(2) flags such
	// as os.O_RDONLY, os.O_RDWR|os.O_CREATE or syscall.O_DIRECT; perm applies with
	// os.O_CREATE. O_CLOEXEC is always added. With a nil dir, name is opened as given
	// (relative to the working directory, or absolute), without containment: use that for
	// trusted paths only.
	Open(ctx context.Context, dir *Dir, name string, flag int, perm os.FileMode) (*File, error)
	// NewQueue returns a Queue of up to depth (> 0) operations in flight. The Queue belongs
	// to the goroutine that calls its methods.
	NewQueue(depth int, opts QueueOptions) (Queue, error)
	// Close stops the engine: operations in flight are cancelled (they fail with
	// ErrClosed) and Close waits for their completions. Files and Queues opened through
	// the engine must not be used afterwards, except for Close.
	Close() error
	// OpenMethod says how Open resolves names beneath a Dir: "openat2" (RESOLVE_BENEATH)
	// or "walk" (the component-by-component fallback).
	OpenMethod() string
}

// Options configure an engine. The zero value is usable.
type Options struct {
	// Rings is the number of rings the uring engine runs for File methods, each owned by
	// its own loop goroutine; operations are spread over them at random. Default 1.
	Rings int
	// RingEntries is the submission queue size of each of those rings (a power of two);
	// the completion queue is twice that and bounds the operations in flight per ring (more
	// wait in the ring's queue, they never fail). Default 256.
	RingEntries uint32
	// SubmitBatch caps how many SQEs the uring engine's loops hand the kernel per
	// io_uring_enter: 0 (the default) submits everything ready in one call, the fewest
	// system calls; N submits every N. See QueueOptions.Batch for when 1 is faster.
	SubmitBatch int
	// KernelCompat caps the uring engine's rings to an older kernel's features, e.g.
	// "5.10" (see ring.Options.KernelCompat; "" means $URINGD_KERNEL_COMPAT).
	KernelCompat string

	// Workers is the number of OS threads of the threadpool engine. Default 4×GOMAXPROCS.
	Workers int
	// QueueLen bounds the threadpool engine's request channel. Default 4×Workers.
	QueueLen int
	// KeepGOMAXPROCS stops the threadpool engine from raising GOMAXPROCS by Workers while
	// it is open (see the engine's documentation for why it does).
	KeepGOMAXPROCS bool

	// ForceWalk makes Open resolve names beneath a Dir with the component walk even when
	// openat2(RESOLVE_BENEATH) is available (for tests, and for seccomp profiles that
	// allow openat2 but misbehave).
	ForceWalk bool

	// For tests only, set from the package's _test.go files: faults injected into the
	// io_uring_enter calls of every ring of the uring engine (its loops' and its Queues'),
	// and a completion queue size for the loops' rings instead of 2×RingEntries, so that a
	// tiny SQ can be the limit with more operations in flight than it holds.
	faults    *ring.Faults
	cqEntries uint32
	// cancelEvery > 0 makes every cancelEvery-th operation a loop submits a NOP that
	// completes as -ECANCELED: what the kernel's unasked cancellations look like.
	cancelEvery uint64
}

// New starts the engine called name ("uring", "threadpool" or "std"; see Engines); the caller
// closes it. Where io_uring cannot be used, "uring" fails with an error wrapping a
// *ring.UnavailableError that says why; the other two engines work everywhere.
func New(name string, opts Options) (Engine, error) {
	switch name {
	case EngineUring:
		return newUring(opts)
	case EngineThreadPool:
		return newThreadPool(opts)
	case EngineStd:
		return newStd(opts)
	}
	return nil, fmt.Errorf("fileio: unknown engine %q (want uring, threadpool or std)", name)
}

// Errors.
var (
	// ErrClosed is wrapped by operations on a closed engine, File or Queue.
	ErrClosed = errors.New("closed")
	// ErrQueueFull is returned by Queue.Submit when depth operations are in flight.
	ErrQueueFull = errors.New("fileio: queue full: reap completions first")
	// errNegativeOffset matches os.File's complaint.
	errNegativeOffset = fmt.Errorf("negative offset: %w", syscall.EINVAL)
)

// Error is a failed file operation: which engine, which operation, on which path, at which
// offset (-1 when the operation has none), and why. Err is the cause: a syscall.Errno,
// an *AlignError, ErrClosed, or a context's error.
type Error struct {
	Engine string
	Op     string
	Path   string
	Off    int64
	Err    error
}

// Error reads "fileio <engine> <op> <path> at <off>: <cause>" (no "at" when Off is -1).
func (e *Error) Error() string {
	s := "fileio " + e.Engine + " " + e.Op + " " + e.Path
	if e.Off >= 0 {
		s += fmt.Sprintf(" at %d", e.Off)
	}
	return s + ": " + e.Err.Error()
}

// Unwrap returns the cause, so errors.Is(err, syscall.EIO) or context.Canceled work.
func (e *Error) Unwrap() error { return e.Err }

// OpCode is what an Op does.
type OpCode uint8

// Operation codes a Queue accepts.
const (
	OpRead      OpCode = iota + 1 // read len(Buf) bytes at Off into Buf
	OpWrite                       // write Buf at Off
	OpReadv                       // read into Bufs at Off
	OpWritev                      // write Bufs at Off
	OpFsync                       // fsync the file
	OpFdatasync                   // fdatasync the file

	// Operations only the engines submit (File methods).
	opOpen   // open Path beneath Dir
	opOpenat // one openat step of the walk
	opStat   // statx the file
	opClose  // close the file
	opLast
)

var opNames = [opLast]string{"?", "read", "write", "readv", "writev", "fsync", "fdatasync", "open", "openat", "stat", "close"}

// String is the operation's name as an *Error shows it: "read", "write", "readv", ….
func (c OpCode) String() string {
	if c < opLast {
		return opNames[c]
	}
	return fmt.Sprintf("op%d", c)
}

// Op is one file operation. For a Queue the caller owns it: it fills the request fields,
// submits it, and reads N and Err once Reap returned it. From Submit until Reap returns it
// the Op, Buf and Bufs belong to the engine and must not be touched (the kernel may be
// writing into them). File methods use pooled Ops of their own.
type Op struct {
	Code OpCode
	File *File
	Buf  []byte   // OpRead, OpWrite
	Bufs [][]byte // OpReadv, OpWritev
	Off  int64
	Tag  uint64 // the caller's, untouched by the engine

	// N is the number of bytes read or written. A Queue operation is a single system call:
	// a read that returns fewer bytes than asked for on a regular file has reached the end
	// of the file and sets Err to io.EOF.
	N int
	// Err is nil, io.EOF, or an *Error.
	Err error

	// Engine-private state. res is the raw result (bytes, or -errno); cause a failure that
	// is not an errno (ErrClosed, a context's error, an *AlignError).
	res   int64
	cause error

	iov   []unix.Iovec  // OpReadv/OpWritev: built from Bufs, heap memory the kernel reads
	stx   *unix.Statx_t // opStat result, written by the kernel
	path  []byte        // opOpen/opOpenat: NUL-terminated
	how   ring.OpenHow  // opOpen: open_how
	dirfd int
	flags int
	mode  uint32
	fd    int // opStat/opClose: the descriptor

	done chan struct{} // pooled Ops: completion (and cancellation acknowledgement) tokens
	fut  atomic.Int32  // threadpool File methods without a context to watch: futex word
	// futStale counts the passes of tpEngine.do's futex wait that found the Op not done
	// (stale or spurious wakeups); tests read it.
	futStale uint32

	// uring loop (owned by the loop goroutine while the Op is submitted)
	next    *Op
	lstate  uint8
	lcancel bool // cancelled by its caller (before it was submitted, or an ASYNC_CANCEL was asked for)
	lclosed bool // cancelled by engine Close
	// lkcancels counts the kernel's unasked cancellations of the Op in a row (see
	// maxKernelCancels); linject marks a NOP standing for it (Options.cancelEvery).
	lkcancels uint8
	linject   bool
	slot      uint32
	ud        uint64 // user_data while in flight: token.Make(kindOp, slot, generation)

	// pools and queues
	state atomic.Int32
	q     completer
}

// completer receives Ops a worker started and finished on behalf of a Queue.
type completer interface {
	started()
	complete(o *Op)
}

// Op states for worker pools (state).
const (
	stIdle int32 = iota
	stQueued
	stRunning
	stCancelled
)

// Queue keeps many operations in flight for one goroutine: Submit queues an Op without
// blocking, Reap returns finished ones. It is not safe for concurrent use, except that
// QueueOptions.Notify may be called from any goroutine.
type Queue interface {
	// Submit queues op. It does not block and does not allocate. It fails with
	// ErrQueueFull when depth operations are in flight, with an *Error (holding an
	// *AlignError) when an O_DIRECT operation is misaligned, and with ErrClosed after
	// Close. With the uring engine the operation reaches the kernel at the next Flush or
	// Reap, together with everything submitted since (one io_uring_enter).
	Submit(op *Op) error
	// Flush hands submitted operations to the kernel (uring) or the workers without waiting.
	Flush() error
	// Reap stores up to len(out) finished operations in out and returns how many. It first
	// flushes, then waits until at least min are finished (min 0: it does not wait; min is
	// capped at the operations in flight). Each returned Op has N and Err set. When handing
	// operations to the kernel fails, it returns the error together with the operations
	// that had already finished (n may be > 0); the rest stay in flight.
	Reap(out []*Op, min int) (int, error)
	// Cancel asks for op, which must be in flight on this queue, to be cancelled; it is
	// still returned by Reap, with Err wrapping ECANCELED if the cancellation reached it.
	Cancel(op *Op) error
	// InFlight is the number of operations submitted and not yet returned by Reap.
	InFlight() int
	// Close cancels what is in flight, waits for it, and releases the queue.
	Close() error
}

// QueueOptions configure a Queue.
type QueueOptions struct {
	// Notify, when set, is called (from any goroutine) whenever completions may have
	// become ready, so that an event loop blocked elsewhere can wake itself and call Reap
	// with min 0. It must not block. Calls may be spurious; none is lost.
	Notify func()
	// Batch is how many submitted operations the uring Queue gathers before Submit hands
	// them to the kernel itself (one io_uring_enter). 0 (the default) leaves it to Flush and
	// Reap, which hand over everything gathered: the fewest system calls. 1 submits every
	// operation as it is queued, as fio does by default (iodepth_batch_submit=1). The kernel
	// plugs the block requests of one io_uring_enter and dispatches them together; a device
	// that serves requests as they arrive (such as a virtio disk) stays busier with 1. Ignored
	// by the other engines, whose Submit hands each operation to a worker at once.
	Batch int
	// Park makes the uring Queue's Reap park on an eventfd registered with the Queue's ring,
	// read through Go's netpoller, instead of waiting inside io_uring_enter. Parked, the
	// goroutine holds no OS thread while it waits; but the kernel then signals the eventfd
	// for every completion, waking whichever thread sleeps in the netpoller each time, even
	// while nobody waits: more CPU, and from the page cache fewer IOPS (measured: see
	// docs/results). By default Reap waits in io_uring_enter, as fio does: the Queue's one
	// goroutine holds its thread while it waits, and no eventfd is registered. Notify always
	// uses the eventfd. Ignored by the other engines.
	Park bool
}

// defaultWorkers is the threadpool engine's default size.
func defaultWorkers() int { return 4 * runtime.GOMAXPROCS(0) }
