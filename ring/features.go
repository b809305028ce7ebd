package ring

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// CompatEnv is the environment variable that caps the probed features to what an older
// kernel version had, e.g. URINGD_KERNEL_COMPAT=5.10. Options.KernelCompat takes precedence.
const CompatEnv = "URINGD_KERNEL_COMPAT"

// minKernel is the oldest kernel this package runs rings on: 5.6 brought the opcodes
// uringd needs (READ, WRITE, OPENAT, STATX, CLOSE, SEND, RECV) and IORING_FEAT_NODROP (5.5).
var minKernel = Version{5, 6}

// Version is a kernel version, major.minor.
type Version struct{ Major, Minor int }

// String is "major.minor", or "" for the zero Version (no version, no cap).
func (v Version) String() string {
	if v == (Version{}) {
		return ""
	}
	return strconv.Itoa(v.Major) + "." + strconv.Itoa(v.Minor)
}

// AtLeast reports whether v >= major.minor.
func (v Version) AtLeast(major, minor int) bool {
	return v.Major > major || (v.Major == major && v.Minor >= minor)
}

// Less reports whether v < w.
func (v Version) Less(w Version) bool { return !v.AtLeast(w.Major, w.Minor) }

// MarshalText writes "major.minor".
func (v Version) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// ParseVersion reads "5.10", "6.1.0-13-amd64" or "6.18.44-fc": the leading major.minor.
func ParseVersion(s string) (Version, error) {
	s = strings.TrimSpace(s)
	maj, rest, ok := strings.Cut(s, ".")
	if !ok {
		return Version{}, fmt.Errorf("kernel version %q: want MAJOR.MINOR", s)
	}
	end := 0
	for end < len(rest) && rest[end] >= '0' && rest[end] <= '9' {
		end++
	}
	a, err1 := strconv.Atoi(maj)
	b, err2 := strconv.Atoi(rest[:end])
	if err1 != nil || err2 != nil || a <= 0 {
		return Version{}, fmt.Errorf("kernel version %q: want MAJOR.MINOR", s)
	}
	return Version{a, b}, nil
}

// KernelRelease returns uname -r and its parsed version.
func KernelRelease() (string, Version, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "", Version{}, fmt.Errorf("uname: %w", err)
	}
	rel := unix.ByteSliceToString(u.Release[:])
	v, err := ParseVersion(rel)
	return rel, v, err
}

// The one table of which kernel version added what. Sources: the io_uring_setup(2),
// io_uring_enter(2) and io_uring_register(2) man pages and the per-opcode notes in
// io_uring_prep_*(3) from liburing, cross-checked with the kernel's io_uring/ history and
// the Linux release notes at kernelnewbies.org. Capping (Options.KernelCompat) consults only
// this table; the running kernel's own probe still decides what really exists.

// opSince is the version each opcode first appeared in.
var opSince = [opLast]Version{
	OpNop: {5, 1}, OpReadv: {5, 1}, OpWritev: {5, 1}, OpFsync: {5, 1}, OpReadFixed: {5, 1},
	OpWriteFixed: {5, 1}, OpPollAdd: {5, 1}, OpPollRemove: {5, 1}, OpSyncFileRange: {5, 2},
	OpSendmsg: {5, 3}, OpRecvmsg: {5, 3}, OpTimeout: {5, 4}, OpTimeoutRemove: {5, 5},
	OpAccept: {5, 5}, OpAsyncCancel: {5, 5}, OpLinkTimeout: {5, 5}, OpConnect: {5, 5},
	OpFallocate: {5, 6}, OpOpenat: {5, 6}, OpClose: {5, 6}, OpFilesUpdate: {5, 6}, OpStatx: {5, 6},
	OpRead: {5, 6}, OpWrite: {5, 6}, OpFadvise: {5, 6}, OpMadvise: {5, 6}, OpSend: {5, 6},
	OpRecv: {5, 6}, OpOpenat2: {5, 6}, OpEpollCtl: {5, 6}, OpSplice: {5, 7},
	OpProvideBuffers: {5, 7}, OpRemoveBuffers: {5, 7}, OpTee: {5, 8}, OpShutdown: {5, 11},
	OpRenameat: {5, 11}, OpUnlinkat: {5, 11}, OpMkdirat: {5, 15}, OpSymlinkat: {5, 15},
	OpLinkat: {5, 15}, OpMsgRing: {5, 18}, OpFsetxattr: {5, 19}, OpSetxattr: {5, 19},
	OpFgetxattr: {5, 19}, OpGetxattr: {5, 19}, OpSocket: {5, 19}, OpUringCmd: {5, 19},
	OpSendZC: {6, 0}, OpSendmsgZC: {6, 1}, OpReadMultishot: {6, 7}, OpWaitid: {6, 7},
	OpFutexWait: {6, 7}, OpFutexWake: {6, 7}, OpFutexWaitv: {6, 7}, OpFixedFdInstall: {6, 8},
	OpFtruncate: {6, 9}, OpBind: {6, 11}, OpListen: {6, 11},
}

// featSince is the version each IORING_FEAT_* bit first appeared in, by bit number.
var featSince = [...]Version{
	0: {5, 4}, 1: {5, 5}, 2: {5, 5}, 3: {5, 6}, 4: {5, 6}, 5: {5, 7}, 6: {5, 9}, 7: {5, 11},
	8: {5, 11}, 9: {5, 12}, 10: {5, 13}, 11: {5, 17}, 12: {5, 17}, 13: {6, 3}, 14: {6, 10},
	15: {6, 12},
}

// setupSince is the version each IORING_SETUP_* flag first appeared in, by bit number.
var setupSince = [...]Version{
	0: {5, 1}, 1: {5, 1}, 2: {5, 1}, 3: {5, 5}, 4: {5, 6}, 5: {5, 6}, 6: {5, 10}, 7: {5, 18},
	8: {5, 19}, 9: {5, 19}, 10: {5, 19}, 11: {5, 19}, 12: {6, 0}, 13: {6, 1},
}

// Capabilities that are not a single opcode, feature bit or setup flag.
var (
	sinceRegisterProbe  = Version{5, 6}  // IORING_REGISTER_PROBE
	sinceMultishotAccpt = Version{5, 19} // IORING_ACCEPT_MULTISHOT
	sinceBufRing        = Version{5, 19} // IORING_REGISTER_PBUF_RING
	sinceMultishotRecv  = Version{6, 0}  // IORING_RECV_MULTISHOT
	sinceSparseFiles    = Version{5, 19} // IORING_RSRC_REGISTER_SPARSE and IORING_FILE_INDEX_ALLOC
	sinceIOWQMaxWorkers = Version{5, 15} // IORING_REGISTER_IOWQ_MAX_WORKERS
	sinceNoMemlock      = Version{5, 12} // rings no longer charged to RLIMIT_MEMLOCK
)

// Features is what the running kernel offers, as probed, optionally capped to an older
// kernel version. Policy above ring (which fast path to take) reads only this.
type Features struct {
	Release string  // uname -r
	Kernel  Version // the running kernel
	Compat  Version // the cap, if any (zero: none)

	// Setup is the IORING_FEAT_* bits the kernel reported, less those the cap removes.
	Setup uint32
	ops   [opLast]bool

	RegisterProbe   bool // IORING_REGISTER_PROBE answered (else opcodes come from the table)
	NoDrop          bool // IORING_FEAT_NODROP: overflowed completions are kept, never lost
	ExtArg          bool // IORING_FEAT_EXT_ARG: waits take a timeout without a TIMEOUT SQE
	MinTimeout      bool // IORING_FEAT_MIN_TIMEOUT: a wait for n CQEs can settle for fewer after a grace period
	FastPoll        bool // IORING_FEAT_FAST_POLL: socket ops poll internally, no io-wq worker
	CQESkip         bool // IOSQE_CQE_SKIP_SUCCESS
	NativeWorkers   bool // io-wq workers are threads of this process (iou-wrk-*)
	MultishotAccept bool // IORING_ACCEPT_MULTISHOT
	BufRing         bool // IORING_REGISTER_PBUF_RING (else PROVIDE_BUFFERS)
	MultishotRecv   bool // IORING_RECV_MULTISHOT
	SparseFiles     bool // sparse registered-file tables and IORING_FILE_INDEX_ALLOC
	IOWQMaxWorkers  bool // IORING_REGISTER_IOWQ_MAX_WORKERS
	SubmitAll       bool // IORING_SETUP_SUBMIT_ALL
	CoopTaskrun     bool // IORING_SETUP_COOP_TASKRUN (and TASKRUN_FLAG)
	SingleIssuer    bool // IORING_SETUP_SINGLE_ISSUER
	DeferTaskrun    bool // IORING_SETUP_DEFER_TASKRUN
	MemlockCharged  bool // ring memory counts against RLIMIT_MEMLOCK (before 5.12)
}

// Effective is the version the features describe: the kernel, or the cap when lower.
func (f *Features) Effective() Version {
	if f.Compat != (Version{}) && f.Compat.Less(f.Kernel) {
		return f.Compat
	}
	return f.Kernel
}

// Supports reports whether op can be submitted.
func (f *Features) Supports(op Op) bool { return op < opLast && f.ops[op] }

// SupportedOps lists the usable opcodes.
func (f *Features) SupportedOps() []Op {
	var ops []Op
	for op := Op(0); op < opLast; op++ {
		if f.ops[op] {
			ops = append(ops, op)
		}
	}
	return ops
}

// SetupFlagSupported reports whether an IORING_SETUP_* flag is known to the effective
// version. The kernel has the last word: io_uring_setup refuses unknown flags with EINVAL.
func (f *Features) SetupFlagSupported(flag uint32) bool {
	eff := f.Effective()
	for bit := range setupSince {
		if flag&(1<<bit) != 0 && eff.Less(setupSince[bit]) {
			return false
		}
	}
	return flag>>len(setupSince) == 0
}

// compat resolves the cap: the explicit option, else $URINGD_KERNEL_COMPAT.
func compat(opt string) (Version, error) {
	if opt == "" {
		opt = os.Getenv(CompatEnv)
	}
	if opt == "" {
		return Version{}, nil
	}
	v, err := ParseVersion(opt)
	if err != nil {
		return Version{}, fmt.Errorf("kernel compat: %w", err)
	}
	return v, nil
}

// buildFeatures combines what a live ring reported (feature bits, the probe of opcodes)
// with the version table and the cap. probed is nil when IORING_REGISTER_PROBE failed.
func buildFeatures(release string, kernel, cap Version, featBits uint32, probed *probeArg) *Features {
	f := &Features{Release: release, Kernel: kernel}
	if cap != (Version{}) && cap.Less(kernel) {
		f.Compat = cap
	}
	eff := f.Effective()
	for bit := range featSince {
		if featBits&(1<<bit) != 0 && !eff.Less(featSince[bit]) {
			f.Setup |= 1 << bit
		}
	}
	f.RegisterProbe = probed != nil && !eff.Less(sinceRegisterProbe)
	for op := Op(0); op < opLast; op++ {
		known := !eff.Less(opSince[op])
		if probed != nil {
			known = known && int(op) < int(probed.opsLen) && probed.ops[op].flags&probeOpSupported != 0
		} else {
			// No probe (before 5.6): trust the table for the real kernel.
			known = known && !kernel.Less(opSince[op])
		}
		f.ops[op] = known
	}
	has := func(v Version) bool { return !eff.Less(v) }
	f.NoDrop = f.Setup&FeatNoDrop != 0
	f.ExtArg = f.Setup&FeatExtArg != 0
	f.MinTimeout = f.Setup&FeatMinTimeout != 0 && f.ExtArg
	f.FastPoll = f.Setup&FeatFastPoll != 0
	f.CQESkip = f.Setup&FeatCQESkip != 0
	f.NativeWorkers = f.Setup&FeatNativeWorkers != 0
	f.MultishotAccept = has(sinceMultishotAccpt) && f.ops[OpAccept]
	f.BufRing = has(sinceBufRing)
	f.MultishotRecv = has(sinceMultishotRecv) && f.ops[OpRecv]
	f.SparseFiles = has(sinceSparseFiles)
	f.IOWQMaxWorkers = has(sinceIOWQMaxWorkers)
	f.SubmitAll = f.SetupFlagSupported(SetupSubmitAll)
	f.CoopTaskrun = f.SetupFlagSupported(SetupCoopTaskrun | SetupTaskrunFlag)
	f.SingleIssuer = f.SetupFlagSupported(SetupSingleIssuer)
	f.DeferTaskrun = f.SetupFlagSupported(SetupDeferTaskrun)
	f.MemlockCharged = eff.Less(sinceNoMemlock) || kernel.Less(sinceNoMemlock)
	return f
}

var opNames = [opLast]string{
	"nop", "readv", "writev", "fsync", "read_fixed", "write_fixed", "poll_add", "poll_remove",
	"sync_file_range", "sendmsg", "recvmsg", "timeout", "timeout_remove", "accept",
	"async_cancel", "link_timeout", "connect", "fallocate", "openat", "close", "files_update",
	"statx", "read", "write", "fadvise", "madvise", "send", "recv", "openat2", "epoll_ctl",
	"splice", "provide_buffers", "remove_buffers", "tee", "shutdown", "renameat", "unlinkat",
	"mkdirat", "symlinkat", "linkat", "msg_ring", "fsetxattr", "setxattr", "fgetxattr",
	"getxattr", "socket", "uring_cmd", "send_zc", "sendmsg_zc", "read_multishot", "waitid",
	"futex_wait", "futex_wake", "futex_waitv", "fixed_fd_install", "ftruncate", "bind", "listen",
}

// String is the opcode's name in lower case without the IORING_OP_ prefix.
func (op Op) String() string {
	if op < opLast {
		return opNames[op]
	}
	return "op" + strconv.Itoa(int(op))
}

// MarshalText writes the opcode's name.
func (op Op) MarshalText() ([]byte, error) { return []byte(op.String()), nil }
