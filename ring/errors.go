package ring

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Reason says why io_uring cannot be used on this machine.
type Reason int

// The reasons io_uring_setup(2) can refuse a ring.
const (
	// NotSupported: ENOSYS. The kernel is older than 5.1, was built without
	// CONFIG_IO_URING, or a seccomp filter answers ENOSYS.
	NotSupported Reason = iota + 1
	// Denied: EPERM. kernel.io_uring_disabled forbids it, or a seccomp profile (such as a
	// container runtime's default) blocks the io_uring syscalls.
	Denied
	// MemLock: ENOMEM. Before Linux 5.12 ring memory is charged to RLIMIT_MEMLOCK, and the
	// ring asked for more than the limit allows.
	MemLock
	// TooOld: the kernel (or the capped feature set) lacks what this package needs (5.6+).
	TooOld
)

// String is the reason in a word or two, as UnavailableError.Error prints it.
func (r Reason) String() string {
	switch r {
	case NotSupported:
		return "not supported"
	case Denied:
		return "denied"
	case MemLock:
		return "memlock limit"
	case TooOld:
		return "kernel too old"
	}
	return "unknown"
}

// UnavailableError reports that io_uring cannot be used, which case it is and what to do.
// errors.Is(err, syscall.ENOSYS) (EPERM, ENOMEM) works through Unwrap.
type UnavailableError struct {
	What   string // what is unavailable: "io_uring" (the default), or a part such as "io_uring registered buffers"
	Reason Reason
	Call   string        // the syscall that failed: io_uring_setup or io_uring_register
	Errno  syscall.Errno // the errno it returned; 0 for TooOld
	Detail string        // what was found: the sysctl value, the seccomp mode, the memlock limit
	Remedy string        // what to do about it
}

// Error says what is unavailable and why, the failing call and errno, what was found, and
// the remedy.
func (e *UnavailableError) Error() string {
	var b strings.Builder
	what := e.What
	if what == "" {
		what = "io_uring"
	}
	b.WriteString(what)
	b.WriteString(" unavailable (")
	b.WriteString(e.Reason.String())
	b.WriteString(")")
	if e.Errno != 0 {
		b.WriteString(": ")
		if e.Call != "" {
			b.WriteString(e.Call)
			b.WriteString(": ")
		}
		b.WriteString(e.Errno.Error())
	}
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	if e.Remedy != "" {
		b.WriteString("; remedy: ")
		b.WriteString(e.Remedy)
	}
	return b.String()
}

// Unwrap returns the errno, or nil when there is none (TooOld).
func (e *UnavailableError) Unwrap() error {
	if e.Errno == 0 {
		return nil
	}
	return e.Errno
}

// classifySetupError turns an io_uring_setup errno into an UnavailableError when it means
// io_uring cannot be used here; other errnos (EINVAL for an unknown flag, ...) are returned
// wrapped as they are.
func classifySetupError(errno syscall.Errno, entries uint32, kernel Version) error {
	switch errno {
	case unix.ENOSYS:
		return &UnavailableError{Reason: NotSupported, Call: "io_uring_setup", Errno: errno,
			Detail: "the kernel (" + kernel.String() + ") has no io_uring_setup syscall",
			Remedy: "run on Linux 5.6 or newer built with CONFIG_IO_URING=y, or use the non-io_uring fallback"}
	case unix.EPERM:
		detail, remedy := deniedDetail()
		return &UnavailableError{Reason: Denied, Call: "io_uring_setup", Errno: errno, Detail: detail, Remedy: remedy}
	case unix.ENOMEM:
		var lim unix.Rlimit
		_ = unix.Getrlimit(unix.RLIMIT_MEMLOCK, &lim)
		detail := fmt.Sprintf("a ring of %d entries needs more locked memory than RLIMIT_MEMLOCK allows (%s)",
			entries, formatLimit(lim.Cur))
		remedy := "raise RLIMIT_MEMLOCK (ulimit -l, LimitMEMLOCK= in a systemd unit, --ulimit memlock=-1 for docker) or ask for fewer entries"
		if kernel.AtLeast(5, 12) {
			detail = fmt.Sprintf("out of memory setting up a ring of %d entries (RLIMIT_MEMLOCK %s)", entries, formatLimit(lim.Cur))
			remedy = "free memory or ask for fewer entries"
		} else {
			remedy += "; kernels from 5.12 on no longer charge rings to the memlock limit"
		}
		return &UnavailableError{Reason: MemLock, Call: "io_uring_setup", Errno: errno, Detail: detail, Remedy: remedy}
	}
	return fmt.Errorf("io_uring_setup(%d entries): %w", entries, errno)
}

// deniedDetail tells apart kernel.io_uring_disabled and a seccomp filter.
func deniedDetail() (detail, remedy string) {
	if b, err := os.ReadFile("/proc/sys/kernel/io_uring_disabled"); err == nil {
		switch v := strings.TrimSpace(string(b)); v {
		case "1":
			return "sysctl kernel.io_uring_disabled=1 allows io_uring only to CAP_SYS_ADMIN or the kernel.io_uring_group group",
				"run with CAP_SYS_ADMIN, add the user to the group named by kernel.io_uring_group, or set kernel.io_uring_disabled=0"
		case "2":
			return "sysctl kernel.io_uring_disabled=2 disables io_uring for everyone",
				"set kernel.io_uring_disabled=0 (sysctl -w kernel.io_uring_disabled=0)"
		}
	}
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "Seccomp:"); ok && strings.TrimSpace(v) == "2" {
				return "a seccomp filter on this process blocks the io_uring syscalls (container runtimes' default profiles do)",
					"allow io_uring_setup, io_uring_enter and io_uring_register in the seccomp profile (docker: --security-opt seccomp=PROFILE)"
			}
		}
	}
	return "permission denied by the kernel (an LSM policy or a seccomp filter in a parent)",
		"check kernel.io_uring_disabled, seccomp and LSM policies for io_uring"
}

// memlockError explains ENOMEM from registering memory the kernel pins (registered buffers),
// which counts against RLIMIT_MEMLOCK on every kernel for processes without CAP_IPC_LOCK.
func memlockError(what string, bytes int, errno syscall.Errno) error {
	var lim unix.Rlimit
	_ = unix.Getrlimit(unix.RLIMIT_MEMLOCK, &lim)
	return &UnavailableError{What: what, Reason: MemLock, Call: "io_uring_register", Errno: errno,
		Detail: fmt.Sprintf("pinning %d bytes exceeds RLIMIT_MEMLOCK (%s) for a process without CAP_IPC_LOCK", bytes, formatLimit(lim.Cur)),
		Remedy: "raise RLIMIT_MEMLOCK (ulimit -l, LimitMEMLOCK= in a systemd unit, --ulimit memlock=-1 for docker), grant CAP_IPC_LOCK, or use plain READ/WRITE instead of registered buffers"}
}

func formatLimit(v uint64) string {
	if v == unix.RLIM_INFINITY {
		return "unlimited"
	}
	return strconv.FormatUint(v/1024, 10) + " KiB"
}

// OpError is a failed operation: a CQE with a negative result, named by its opcode.
type OpError struct {
	Op    Op
	Errno syscall.Errno
}

// Error reads "io_uring <op>: <errno text>", e.g. "io_uring openat: no such file or directory".
func (e *OpError) Error() string { return "io_uring " + e.Op.String() + ": " + e.Errno.Error() }

// Unwrap returns the errno, so errors.Is(err, syscall.ENOENT) works.
func (e *OpError) Unwrap() error { return e.Errno }

// ResultError returns nil for res >= 0, else an *OpError for op. Callers keep the opcode
// of each in-flight operation; the CQE does not carry it.
func ResultError(op Op, res int32) error {
	if res >= 0 {
		return nil
	}
	return &OpError{Op: op, Errno: syscall.Errno(-res)}
}

// ErrBusy says the kernel refused a submission for now (EBUSY: the completion queue is full
// and overflowed; EAGAIN: no memory for requests). Reap completions, then submit again.
// errors.Is(err, syscall.EBUSY) or EAGAIN also match.
var ErrBusy = errors.New("io_uring: submission refused for now: reap completions and submit again")

type busyError struct{ errno syscall.Errno }

func (e *busyError) Error() string        { return ErrBusy.Error() + " (" + e.errno.Error() + ")" }
func (e *busyError) Is(target error) bool { return target == ErrBusy || target == e.errno }
func (e *busyError) Unwrap() error        { return e.errno }

// ErrTimeout says a wait ended at its deadline with fewer completions than asked for.
var ErrTimeout = errors.New("io_uring: wait timed out")

// ErrClosed is returned by operations on a closed Ring.
var ErrClosed = errors.New("io_uring: ring closed")

// ErrUnsupported is wrapped by errors for features the (possibly capped) kernel lacks.
var ErrUnsupported = errors.New("not supported by this kernel")
