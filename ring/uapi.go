package ring

// This file mirrors the kernel uapi header linux/io_uring.h field for field. It holds layouts
// and constants only: no behaviour. Names follow the header with Go casing; each group says
// which header identifiers it mirrors. Size assertions live in uapi_test.go.

import "unsafe"

// Op is an io_uring opcode (enum io_uring_op, IORING_OP_*).
type Op uint8

// Opcodes, in the header's enum order.
const (
	OpNop            Op = iota // IORING_OP_NOP
	OpReadv                    // IORING_OP_READV
	OpWritev                   // IORING_OP_WRITEV
	OpFsync                    // IORING_OP_FSYNC
	OpReadFixed                // IORING_OP_READ_FIXED
	OpWriteFixed               // IORING_OP_WRITE_FIXED
	OpPollAdd                  // IORING_OP_POLL_ADD
	OpPollRemove               // IORING_OP_POLL_REMOVE
	OpSyncFileRange            // IORING_OP_SYNC_FILE_RANGE
	OpSendmsg                  // IORING_OP_SENDMSG
	OpRecvmsg                  // IORING_OP_RECVMSG
	OpTimeout                  // IORING_OP_TIMEOUT
	OpTimeoutRemove            // IORING_OP_TIMEOUT_REMOVE
	OpAccept                   // IORING_OP_ACCEPT
	OpAsyncCancel              // IORING_OP_ASYNC_CANCEL
	OpLinkTimeout              // IORING_OP_LINK_TIMEOUT
	OpConnect                  // IORING_OP_CONNECT
	OpFallocate                // IORING_OP_FALLOCATE
	OpOpenat                   // IORING_OP_OPENAT
	OpClose                    // IORING_OP_CLOSE
	OpFilesUpdate              // IORING_OP_FILES_UPDATE
	OpStatx                    // IORING_OP_STATX
	OpRead                     // IORING_OP_READ
	OpWrite                    // IORING_OP_WRITE
	OpFadvise                  // IORING_OP_FADVISE
	OpMadvise                  // IORING_OP_MADVISE
	OpSend                     // IORING_OP_SEND
	OpRecv                     // IORING_OP_RECV
	OpOpenat2                  // IORING_OP_OPENAT2
	OpEpollCtl                 // IORING_OP_EPOLL_CTL
	OpSplice                   // IORING_OP_SPLICE
	OpProvideBuffers           // IORING_OP_PROVIDE_BUFFERS
	OpRemoveBuffers            // IORING_OP_REMOVE_BUFFERS
	OpTee                      // IORING_OP_TEE
	OpShutdown                 // IORING_OP_SHUTDOWN
	OpRenameat                 // IORING_OP_RENAMEAT
	OpUnlinkat                 // IORING_OP_UNLINKAT
	OpMkdirat                  // IORING_OP_MKDIRAT
	OpSymlinkat                // IORING_OP_SYMLINKAT
	OpLinkat                   // IORING_OP_LINKAT
	OpMsgRing                  // IORING_OP_MSG_RING
	OpFsetxattr                // IORING_OP_FSETXATTR
	OpSetxattr                 // IORING_OP_SETXATTR
	OpFgetxattr                // IORING_OP_FGETXATTR
	OpGetxattr                 // IORING_OP_GETXATTR
	OpSocket                   // IORING_OP_SOCKET
	OpUringCmd                 // IORING_OP_URING_CMD
	OpSendZC                   // IORING_OP_SEND_ZC
	OpSendmsgZC                // IORING_OP_SENDMSG_ZC
	OpReadMultishot            // IORING_OP_READ_MULTISHOT (6.7)
	OpWaitid                   // IORING_OP_WAITID (6.7)
	OpFutexWait                // IORING_OP_FUTEX_WAIT (6.7)
	OpFutexWake                // IORING_OP_FUTEX_WAKE (6.7)
	OpFutexWaitv               // IORING_OP_FUTEX_WAITV (6.7)
	OpFixedFdInstall           // IORING_OP_FIXED_FD_INSTALL (6.8)
	OpFtruncate                // IORING_OP_FTRUNCATE (6.9)
	OpBind                     // IORING_OP_BIND (6.11)
	OpListen                   // IORING_OP_LISTEN (6.11)
	opLast                     // first opcode this package does not know
)

// SQE is struct io_uring_sqe (64 bytes). Unions are named by their most common member;
// the Prep methods document which member each opcode uses.
type SQE struct {
	Opcode      Op     // opcode
	Flags       uint8  // IOSQE_* flags
	IoPrio      uint16 // ioprio; accept/recv/send flags for socket opcodes
	Fd          int32  // fd
	Off         uint64 // off | addr2 | cmd_op
	Addr        uint64 // addr | splice_off_in
	Len         uint32 // len
	OpFlags     uint32 // rw_flags | fsync_flags | poll32_events | msg_flags | timeout_flags | ...
	UserData    uint64 // user_data: the caller's token, returned in the CQE
	BufIndex    uint16 // buf_index | buf_group
	Personality uint16 // personality
	FileIndex   uint32 // splice_fd_in | file_index | addr_len
	Addr3       uint64 // addr3
	_           uint64 // __pad2
}

// CQE is struct io_uring_cqe (16 bytes; rings set up with CQE32 are not supported).
type CQE struct {
	UserData uint64 // user_data of the SQE this completes
	Res      int32  // result: >= 0 on success, -errno on failure
	Flags    uint32 // IORING_CQE_F_* flags
}

// SQE flags (sqe->flags, IOSQE_*).
const (
	SQEFixedFile      uint8 = 1 << 0 // IOSQE_FIXED_FILE: Fd is an index into the registered files
	SQEIODrain        uint8 = 1 << 1 // IOSQE_IO_DRAIN: start after all earlier SQEs complete
	SQEIOLink         uint8 = 1 << 2 // IOSQE_IO_LINK: the next SQE starts after this one succeeds
	SQEIOHardlink     uint8 = 1 << 3 // IOSQE_IO_HARDLINK: like link, but not broken by failure
	SQEAsync          uint8 = 1 << 4 // IOSQE_ASYNC: go straight to an io-wq worker
	SQEBufferSelect   uint8 = 1 << 5 // IOSQE_BUFFER_SELECT: pick a buffer from BufIndex's group
	SQECQESkipSuccess uint8 = 1 << 6 // IOSQE_CQE_SKIP_SUCCESS: post no CQE when it succeeds
)

// Setup flags (io_uring_params.flags, IORING_SETUP_*).
const (
	SetupIOPoll       uint32 = 1 << 0  // IORING_SETUP_IOPOLL
	SetupSQPoll       uint32 = 1 << 1  // IORING_SETUP_SQPOLL
	SetupSQAff        uint32 = 1 << 2  // IORING_SETUP_SQ_AFF
	SetupCQSize       uint32 = 1 << 3  // IORING_SETUP_CQSIZE
	SetupClamp        uint32 = 1 << 4  // IORING_SETUP_CLAMP
	SetupAttachWQ     uint32 = 1 << 5  // IORING_SETUP_ATTACH_WQ
	SetupRDisabled    uint32 = 1 << 6  // IORING_SETUP_R_DISABLED
	SetupSubmitAll    uint32 = 1 << 7  // IORING_SETUP_SUBMIT_ALL
	SetupCoopTaskrun  uint32 = 1 << 8  // IORING_SETUP_COOP_TASKRUN
	SetupTaskrunFlag  uint32 = 1 << 9  // IORING_SETUP_TASKRUN_FLAG
	SetupSQE128       uint32 = 1 << 10 // IORING_SETUP_SQE128 (not supported by this package)
	SetupCQE32        uint32 = 1 << 11 // IORING_SETUP_CQE32 (not supported by this package)
	SetupSingleIssuer uint32 = 1 << 12 // IORING_SETUP_SINGLE_ISSUER
	SetupDeferTaskrun uint32 = 1 << 13 // IORING_SETUP_DEFER_TASKRUN
	SetupNoMmap       uint32 = 1 << 14 // IORING_SETUP_NO_MMAP (not used)
	SetupRegisteredFd uint32 = 1 << 15 // IORING_SETUP_REGISTERED_FD_ONLY (not used)
	SetupNoSQArray    uint32 = 1 << 16 // IORING_SETUP_NO_SQARRAY (not used)
)

// Feature bits (io_uring_params.features, IORING_FEAT_*).
const (
	FeatSingleMmap     uint32 = 1 << 0  // IORING_FEAT_SINGLE_MMAP
	FeatNoDrop         uint32 = 1 << 1  // IORING_FEAT_NODROP
	FeatSubmitStable   uint32 = 1 << 2  // IORING_FEAT_SUBMIT_STABLE
	FeatRWCurPos       uint32 = 1 << 3  // IORING_FEAT_RW_CUR_POS
	FeatCurPersonality uint32 = 1 << 4  // IORING_FEAT_CUR_PERSONALITY
	FeatFastPoll       uint32 = 1 << 5  // IORING_FEAT_FAST_POLL
	FeatPoll32Bits     uint32 = 1 << 6  // IORING_FEAT_POLL_32BITS
	FeatSQPollNonfixed uint32 = 1 << 7  // IORING_FEAT_SQPOLL_NONFIXED
	FeatExtArg         uint32 = 1 << 8  // IORING_FEAT_EXT_ARG
	FeatNativeWorkers  uint32 = 1 << 9  // IORING_FEAT_NATIVE_WORKERS
	FeatRsrcTags       uint32 = 1 << 10 // IORING_FEAT_RSRC_TAGS
	FeatCQESkip        uint32 = 1 << 11 // IORING_FEAT_CQE_SKIP
	FeatLinkedFile     uint32 = 1 << 12 // IORING_FEAT_LINKED_FILE
	FeatRegRegRing     uint32 = 1 << 13 // IORING_FEAT_REG_REG_RING (6.3)
	FeatRecvsendBundle uint32 = 1 << 14 // IORING_FEAT_RECVSEND_BUNDLE (6.10)
	FeatMinTimeout     uint32 = 1 << 15 // IORING_FEAT_MIN_TIMEOUT (6.12): min_wait_usec in waits
)

// CQE flags (cqe->flags, IORING_CQE_F_*).
const (
	CQEFBuffer       uint32 = 1 << 0 // IORING_CQE_F_BUFFER: upper 16 bits hold the buffer ID
	CQEFMore         uint32 = 1 << 1 // IORING_CQE_F_MORE: the SQE will post more CQEs
	CQEFSockNonempty uint32 = 1 << 2 // IORING_CQE_F_SOCK_NONEMPTY: more data waits in the socket
	CQEFNotif        uint32 = 1 << 3 // IORING_CQE_F_NOTIF: a zero-copy send's buffer may be reused
	cqeBufferShift          = 16     // IORING_CQE_BUFFER_SHIFT
)

// Op-specific flags.
const (
	FsyncDatasync uint32 = 1 << 0 // IORING_FSYNC_DATASYNC

	TimeoutAbs          uint32 = 1 << 0 // IORING_TIMEOUT_ABS
	TimeoutUpdate       uint32 = 1 << 1 // IORING_TIMEOUT_UPDATE
	TimeoutBoottime     uint32 = 1 << 2 // IORING_TIMEOUT_BOOTTIME
	TimeoutRealtime     uint32 = 1 << 3 // IORING_TIMEOUT_REALTIME
	TimeoutETimeSuccess uint32 = 1 << 5 // IORING_TIMEOUT_ETIME_SUCCESS

	SpliceFdInFixed uint32 = 1 << 31 // SPLICE_F_FD_IN_FIXED

	PollAddMulti uint32 = 1 << 0 // IORING_POLL_ADD_MULTI (in sqe->len)

	CancelAll      uint32 = 1 << 0 // IORING_ASYNC_CANCEL_ALL
	CancelFd       uint32 = 1 << 1 // IORING_ASYNC_CANCEL_FD
	CancelAny      uint32 = 1 << 2 // IORING_ASYNC_CANCEL_ANY
	CancelFdFixed  uint32 = 1 << 3 // IORING_ASYNC_CANCEL_FD_FIXED
	CancelUserData uint32 = 1 << 4 // IORING_ASYNC_CANCEL_USERDATA

	RecvSendPollFirst uint16 = 1 << 0 // IORING_RECVSEND_POLL_FIRST (sqe->ioprio)
	RecvMultishot     uint16 = 1 << 1 // IORING_RECV_MULTISHOT (sqe->ioprio)
	RecvSendFixedBuf  uint16 = 1 << 2 // IORING_RECVSEND_FIXED_BUF (sqe->ioprio)

	AcceptMultishot uint16 = 1 << 0 // IORING_ACCEPT_MULTISHOT (sqe->ioprio)

	// FileIndexAlloc asks OPENAT/ACCEPT to allocate a free registered-file slot
	// (IORING_FILE_INDEX_ALLOC).
	FileIndexAlloc uint32 = ^uint32(0)
)

// mmap offsets (IORING_OFF_*).
const (
	offSQRing   = 0x0
	offCQRing   = 0x8000000
	offSQEs     = 0x10000000
	offPbufRing = 0x80000000
)

// SQ ring flags (sq_ring->flags, IORING_SQ_*).
const (
	sqNeedWakeup uint32 = 1 << 0 // IORING_SQ_NEED_WAKEUP
	sqCQOverflow uint32 = 1 << 1 // IORING_SQ_CQ_OVERFLOW
	sqTaskrun    uint32 = 1 << 2 // IORING_SQ_TASKRUN
)

// io_uring_enter(2) flags (IORING_ENTER_*).
const (
	enterGetEvents uint32 = 1 << 0 // IORING_ENTER_GETEVENTS
	enterSQWakeup  uint32 = 1 << 1 // IORING_ENTER_SQ_WAKEUP
	enterSQWait    uint32 = 1 << 2 // IORING_ENTER_SQ_WAIT
	enterExtArg    uint32 = 1 << 3 // IORING_ENTER_EXT_ARG
)

// io_uring_register(2) opcodes (IORING_REGISTER_*).
const (
	regBuffers         = 0  // IORING_REGISTER_BUFFERS
	unregBuffers       = 1  // IORING_UNREGISTER_BUFFERS
	regFiles           = 2  // IORING_REGISTER_FILES
	unregFiles         = 3  // IORING_UNREGISTER_FILES
	regEventfd         = 4  // IORING_REGISTER_EVENTFD
	unregEventfd       = 5  // IORING_UNREGISTER_EVENTFD
	regFilesUpdate     = 6  // IORING_REGISTER_FILES_UPDATE
	regProbe           = 8  // IORING_REGISTER_PROBE
	regFiles2          = 13 // IORING_REGISTER_FILES2
	regIOWQMaxWorkers  = 19 // IORING_REGISTER_IOWQ_MAX_WORKERS
	regPbufRing        = 22 // IORING_REGISTER_PBUF_RING
	unregPbufRing      = 23 // IORING_UNREGISTER_PBUF_RING
	rsrcRegisterSparse = 1  // IORING_RSRC_REGISTER_SPARSE
)

// sqringOffsets is struct io_sqring_offsets.
type sqringOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

// cqringOffsets is struct io_cqring_offsets.
type cqringOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

// params is struct io_uring_params.
type params struct {
	sqEntries    uint32
	cqEntries    uint32
	flags        uint32
	sqThreadCPU  uint32
	sqThreadIdle uint32
	features     uint32
	wqFd         uint32
	resv         [3]uint32
	sqOff        sqringOffsets
	cqOff        cqringOffsets
}

// probeOp is struct io_uring_probe_op.
type probeOp struct {
	op    uint8
	resv  uint8
	flags uint16
	resv2 uint32
}

const probeOpSupported = 1 // IO_URING_OP_SUPPORTED

// probeArg is struct io_uring_probe with room for 256 ops.
type probeArg struct {
	lastOp uint8
	opsLen uint8
	resv   uint16
	resv2  [3]uint32
	ops    [256]probeOp
}

// filesUpdate is struct io_uring_files_update.
type filesUpdate struct {
	offset uint32
	resv   uint32
	fds    uint64
}

// rsrcRegister is struct io_uring_rsrc_register.
type rsrcRegister struct {
	nr    uint32
	flags uint32
	resv2 uint64
	data  uint64
	tags  uint64
}

// bufReg is struct io_uring_buf_reg.
type bufReg struct {
	ringAddr    uint64
	ringEntries uint32
	bgid        uint16
	flags       uint16
	resv        [3]uint64
}

// Buf is struct io_uring_buf, one entry of a provided-buffer ring. The kernel reads the
// ring's tail from the resv field of entry 0 (struct io_uring_buf_ring overlays it).
type Buf struct {
	Addr uint64
	Len  uint32
	Bid  uint16
	resv uint16
}

// getEventsArg is struct io_uring_getevents_arg (IORING_ENTER_EXT_ARG).
type getEventsArg struct {
	sigmask   uint64
	sigmaskSz uint32
	minWait   uint32 // pad before 6.12
	ts        uint64
}

// Timespec is struct __kernel_timespec.
type Timespec struct {
	Sec  int64
	Nsec int64
}

// OpenHow is struct open_how for OPENAT2.
type OpenHow struct {
	Flags   uint64
	Mode    uint64
	Resolve uint64
}

// Sizes the tests check against the header.
const (
	sizeofSQE          = unsafe.Sizeof(SQE{})
	sizeofCQE          = unsafe.Sizeof(CQE{})
	sizeofParams       = unsafe.Sizeof(params{})
	sizeofProbe        = unsafe.Sizeof(probeArg{})
	sizeofBuf          = unsafe.Sizeof(Buf{})
	sizeofBufReg       = unsafe.Sizeof(bufReg{})
	sizeofGetEventsArg = unsafe.Sizeof(getEventsArg{})
)
