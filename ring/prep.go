package ring

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Prep methods fill an SQE for one opcode, like liburing's io_uring_prep_*. They only store
// fields: no allocation, no syscall. Each overwrites the whole entry (UserData and Flags are
// reset to zero), so set those after the Prep call.
//
// Buffers, paths, iovecs, msghdrs, sockaddrs and timespecs passed to a Prep method are read
// or written by the kernel after the Prep call returns, at Submit or later, until the CQE is
// reaped. The caller owns them and must keep them reachable and in place for that whole
// time: allocate them on the heap (or off-heap with MapBuffer), reference them from state
// that outlives the operation, and never pass memory from a goroutine's stack (stacks move
// when they grow). The kernel copies timespecs, open_how and paths during submission; data
// buffers, iovecs, msghdrs and sockaddrs it may use until completion.

func (s *SQE) prep(op Op, fd int, addr uintptr, n uint32, off uint64) {
	*s = SQE{Opcode: op, Fd: int32(fd), Addr: uint64(addr), Len: n, Off: off}
}

func bufAddr(b []byte) uintptr {
	if len(b) == 0 {
		return 0
	}
	return uintptr(unsafe.Pointer(unsafe.SliceData(b)))
}

// PrepNop prepares IORING_OP_NOP, which does nothing and completes with result 0: a cheap
// way to test a ring or to make it post a completion.
func (s *SQE) PrepNop() { *s = SQE{Opcode: OpNop} }

// PrepRead reads len(buf) bytes from fd at offset off into buf (IORING_OP_READ, 5.6+).
// off = ^uint64(0) reads at the file position.
func (s *SQE) PrepRead(fd int, buf []byte, off uint64) {
	s.prep(OpRead, fd, bufAddr(buf), uint32(len(buf)), off)
}

// PrepWrite writes buf to fd at offset off (IORING_OP_WRITE, 5.6+). off = ^uint64(0) writes
// at the file position (appends for O_APPEND files).
func (s *SQE) PrepWrite(fd int, buf []byte, off uint64) {
	s.prep(OpWrite, fd, bufAddr(buf), uint32(len(buf)), off)
}

// PrepReadv reads into the iovecs at offset off (IORING_OP_READV).
func (s *SQE) PrepReadv(fd int, iovecs []unix.Iovec, off uint64) {
	s.prep(OpReadv, fd, uintptr(unsafe.Pointer(unsafe.SliceData(iovecs))), uint32(len(iovecs)), off)
}

// PrepWritev writes the iovecs at offset off (IORING_OP_WRITEV).
func (s *SQE) PrepWritev(fd int, iovecs []unix.Iovec, off uint64) {
	s.prep(OpWritev, fd, uintptr(unsafe.Pointer(unsafe.SliceData(iovecs))), uint32(len(iovecs)), off)
}

// PrepReadFixed reads into buf, which must lie inside registered buffer bufIndex
// (IORING_OP_READ_FIXED).
func (s *SQE) PrepReadFixed(fd int, buf []byte, off uint64, bufIndex uint16) {
	s.prep(OpReadFixed, fd, bufAddr(buf), uint32(len(buf)), off)
	s.BufIndex = bufIndex
}

// PrepWriteFixed writes buf, which must lie inside registered buffer bufIndex
// (IORING_OP_WRITE_FIXED).
func (s *SQE) PrepWriteFixed(fd int, buf []byte, off uint64, bufIndex uint16) {
	s.prep(OpWriteFixed, fd, bufAddr(buf), uint32(len(buf)), off)
	s.BufIndex = bufIndex
}

// PrepFsync syncs fd (IORING_OP_FSYNC); flags FsyncDatasync makes it fdatasync.
func (s *SQE) PrepFsync(fd int, flags uint32) {
	s.prep(OpFsync, fd, 0, 0, 0)
	s.OpFlags = flags
}

// PrepOpenat opens path relative to dirfd (IORING_OP_OPENAT, 5.6+). path must be
// NUL-terminated (see BytePtr); the result is the new fd.
func (s *SQE) PrepOpenat(dirfd int, path *byte, flags int, mode uint32) {
	s.prep(OpOpenat, dirfd, uintptr(unsafe.Pointer(path)), mode, 0)
	s.OpFlags = uint32(flags) | unix.O_LARGEFILE
}

// PrepOpenat2 opens path relative to dirfd with open_how, e.g. RESOLVE_BENEATH
// (IORING_OP_OPENAT2, 5.6+).
func (s *SQE) PrepOpenat2(dirfd int, path *byte, how *OpenHow) {
	s.prep(OpOpenat2, dirfd, uintptr(unsafe.Pointer(path)), uint32(unsafe.Sizeof(*how)),
		uint64(uintptr(unsafe.Pointer(how))))
}

// PrepClose closes fd (IORING_OP_CLOSE, 5.6+).
func (s *SQE) PrepClose(fd int) { s.prep(OpClose, fd, 0, 0, 0) }

// PrepCloseFixed frees registered file slot index (IORING_OP_CLOSE on a direct descriptor, 5.15+).
func (s *SQE) PrepCloseFixed(index uint32) {
	s.prep(OpClose, 0, 0, 0, 0)
	s.FileIndex = index + 1
}

// PrepStatx stats path relative to dirfd into stx (IORING_OP_STATX, 5.6+). An empty path
// with flags AT_EMPTY_PATH stats dirfd itself.
func (s *SQE) PrepStatx(dirfd int, path *byte, flags int, mask uint32, stx *unix.Statx_t) {
	s.prep(OpStatx, dirfd, uintptr(unsafe.Pointer(path)), mask, uint64(uintptr(unsafe.Pointer(stx))))
	s.OpFlags = uint32(flags)
}

// PrepAccept accepts a connection on fd (IORING_OP_ACCEPT, 5.5+). addr and addrLen may be
// nil; flags are accept4 flags such as SOCK_CLOEXEC.
func (s *SQE) PrepAccept(fd int, addr *unix.RawSockaddrAny, addrLen *uint32, flags int) {
	s.prep(OpAccept, fd, uintptr(unsafe.Pointer(addr)), 0, uint64(uintptr(unsafe.Pointer(addrLen))))
	s.OpFlags = uint32(flags)
}

// PrepMultishotAccept accepts connections on fd until cancelled or failed, one CQE each with
// CQEFMore set while it stays armed (IORING_ACCEPT_MULTISHOT, 5.19+).
func (s *SQE) PrepMultishotAccept(fd int, flags int) {
	s.prep(OpAccept, fd, 0, 0, 0)
	s.OpFlags = uint32(flags)
	s.IoPrio = AcceptMultishot
}

// PrepConnect connects fd to addr (IORING_OP_CONNECT, 5.5+).
func (s *SQE) PrepConnect(fd int, addr *unix.RawSockaddrAny, addrLen uint32) {
	s.prep(OpConnect, fd, uintptr(unsafe.Pointer(addr)), 0, uint64(addrLen))
}

// PrepRecv receives into buf (IORING_OP_RECV, 5.6+); flags are recv(2) MSG_* flags.
func (s *SQE) PrepRecv(fd int, buf []byte, flags int) {
	s.prep(OpRecv, fd, bufAddr(buf), uint32(len(buf)), 0)
	s.OpFlags = uint32(flags)
}

// PrepRecvSelect receives into a buffer the kernel picks from provided-buffer group, at most
// n bytes (IORING_OP_RECV with IOSQE_BUFFER_SELECT); CQE.BufferID says which.
func (s *SQE) PrepRecvSelect(fd int, group uint16, n uint32, flags int) {
	s.prep(OpRecv, fd, 0, n, 0)
	s.OpFlags = uint32(flags)
	s.Flags = SQEBufferSelect
	s.BufIndex = group
}

// PrepRecvMultishot receives repeatedly from fd into buffers of group, one CQE per receive
// with CQEFMore while armed (IORING_RECV_MULTISHOT, 6.0+). Set flags after the call with |=.
func (s *SQE) PrepRecvMultishot(fd int, group uint16, flags int) {
	s.PrepRecvSelect(fd, group, 0, flags)
	s.IoPrio = RecvMultishot
}

// PrepSend sends buf (IORING_OP_SEND, 5.6+); flags are send(2) MSG_* flags.
func (s *SQE) PrepSend(fd int, buf []byte, flags int) {
	s.prep(OpSend, fd, bufAddr(buf), uint32(len(buf)), 0)
	s.OpFlags = uint32(flags)
}

// PrepSendmsg sends msg (IORING_OP_SENDMSG, 5.3+).
func (s *SQE) PrepSendmsg(fd int, msg *unix.Msghdr, flags int) {
	s.prep(OpSendmsg, fd, uintptr(unsafe.Pointer(msg)), 1, 0)
	s.OpFlags = uint32(flags)
}

// PrepRecvmsg receives into msg (IORING_OP_RECVMSG, 5.3+).
func (s *SQE) PrepRecvmsg(fd int, msg *unix.Msghdr, flags int) {
	s.prep(OpRecvmsg, fd, uintptr(unsafe.Pointer(msg)), 1, 0)
	s.OpFlags = uint32(flags)
}

// PrepSplice moves n bytes from fdIn at offIn to fdOut at offOut, one of them a pipe
// (IORING_OP_SPLICE, 5.7+). An offset of -1 means the fd's position (required for pipes).
func (s *SQE) PrepSplice(fdIn int, offIn int64, fdOut int, offOut int64, n uint32, flags uint32) {
	s.prep(OpSplice, fdOut, uintptr(offIn), n, uint64(offOut))
	s.FileIndex = uint32(int32(fdIn))
	s.OpFlags = flags
}

// PrepTimeout completes after ts, or after count other completions when count > 0
// (IORING_OP_TIMEOUT, 5.4+). Its result is -ETIME when the time ran out.
func (s *SQE) PrepTimeout(ts *Timespec, count uint32, flags uint32) {
	s.prep(OpTimeout, -1, uintptr(unsafe.Pointer(ts)), 1, uint64(count))
	s.OpFlags = flags
}

// PrepLinkTimeout cancels the SQE linked before it (with SQEIOLink) if that has not
// completed after ts (IORING_OP_LINK_TIMEOUT, 5.5+). The cancelled op completes -ECANCELED.
func (s *SQE) PrepLinkTimeout(ts *Timespec, flags uint32) {
	s.prep(OpLinkTimeout, -1, uintptr(unsafe.Pointer(ts)), 1, 0)
	s.OpFlags = flags
}

// PrepCancel cancels the in-flight operation whose user_data is target
// (IORING_OP_ASYNC_CANCEL, 5.5+). Its own result is 0, -ENOENT (not found) or -EALREADY.
func (s *SQE) PrepCancel(target uint64, flags uint32) {
	s.prep(OpAsyncCancel, -1, uintptr(target), 0, 0)
	s.OpFlags = flags
}

// PrepCancelFd cancels operations on fd (IORING_ASYNC_CANCEL_FD, 5.19+); add CancelAll to
// cancel every one.
func (s *SQE) PrepCancelFd(fd int, flags uint32) {
	s.prep(OpAsyncCancel, fd, 0, 0, 0)
	s.OpFlags = flags | CancelFd
}

// PrepShutdown shuts down the socket fd; how is SHUT_RD, SHUT_WR or SHUT_RDWR
// (IORING_OP_SHUTDOWN, 5.11+).
func (s *SQE) PrepShutdown(fd int, how int) { s.prep(OpShutdown, fd, 0, uint32(how), 0) }

// PrepPollAdd completes when fd has any of the poll events (IORING_OP_POLL_ADD).
func (s *SQE) PrepPollAdd(fd int, events uint32) {
	s.prep(OpPollAdd, fd, 0, 0, 0)
	s.OpFlags = events
}

// PrepPollMultishot is PrepPollAdd that stays armed (IORING_POLL_ADD_MULTI, 5.13+).
func (s *SQE) PrepPollMultishot(fd int, events uint32) {
	s.PrepPollAdd(fd, events)
	s.Len = PollAddMulti
}

// PrepPollRemove removes the poll whose user_data is target (IORING_OP_POLL_REMOVE).
func (s *SQE) PrepPollRemove(target uint64) { s.prep(OpPollRemove, -1, uintptr(target), 0, 0) }

// PrepProvideBuffers gives the kernel n buffers of size bytes each, carved from mem, as
// buffer IDs bid, bid+1, ... of group (IORING_OP_PROVIDE_BUFFERS, 5.7+): the way to feed
// buffer selection before buffer rings (5.19).
func (s *SQE) PrepProvideBuffers(mem []byte, size uint32, n uint32, group uint16, bid uint16) {
	s.prep(OpProvideBuffers, int(n), bufAddr(mem), size, uint64(bid))
	s.BufIndex = group
}

// PrepRemoveBuffers takes n buffers of group back from the kernel (IORING_OP_REMOVE_BUFFERS).
func (s *SQE) PrepRemoveBuffers(n uint32, group uint16) {
	s.prep(OpRemoveBuffers, int(n), 0, 0, 0)
	s.BufIndex = group
}

// PrepFilesUpdate replaces registered files from slot off with fds (IORING_OP_FILES_UPDATE).
func (s *SQE) PrepFilesUpdate(fds []int32, off uint32) {
	s.prep(OpFilesUpdate, -1, uintptr(unsafe.Pointer(unsafe.SliceData(fds))), uint32(len(fds)), uint64(off))
}

// BytePtr returns a pointer to a NUL-terminated heap copy of s, for the path arguments of
// PrepOpenat, PrepOpenat2 and PrepStatx. It allocates; hot paths keep their own buffers.
func BytePtr(s string) (*byte, error) { return unix.BytePtrFromString(s) }
