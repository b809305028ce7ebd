package fileio

import (
	"errors"
	"io"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// execSyscall runs o with plain blocking system calls, in the calling goroutine's thread:
// the threadpool engine's workers, and the std engine for what os.File does not offer.
func execSyscall(o *Op) {
	f := o.File
	var n int
	var err error
	for {
		switch o.Code {
		case OpRead:
			if f.stream {
				n, err = unix.Read(f.fd, o.Buf)
			} else {
				n, err = unix.Pread(f.fd, o.Buf, o.Off)
			}
		case OpWrite:
			if f.stream {
				n, err = unix.Write(f.fd, o.Buf)
			} else {
				n, err = unix.Pwrite(f.fd, o.Buf, o.Off)
			}
		case OpReadv:
			n, err = vectored(unix.SYS_PREADV, unix.SYS_READV, f, o)
		case OpWritev:
			n, err = vectored(unix.SYS_PWRITEV, unix.SYS_WRITEV, f, o)
		case OpFsync:
			err = unix.Fsync(f.fd)
		case OpFdatasync:
			err = unix.Fdatasync(f.fd)
		case opStat:
			err = unix.Statx(o.fd, "", unix.AT_EMPTY_PATH|unix.AT_STATX_SYNC_AS_STAT, int(o.mode), o.stx)
		case opOpen:
			n, err = unix.Openat2(o.dirfd, string(o.path[:len(o.path)-1]),
				&unix.OpenHow{Flags: o.how.Flags, Mode: o.how.Mode, Resolve: o.how.Resolve})
		case opOpenat:
			n, err = unix.Openat(o.dirfd, string(o.path[:len(o.path)-1]), o.flags, o.mode)
		case opClose:
			err = unix.Close(o.fd)
			if err == syscall.EINTR {
				err = nil // the descriptor is gone either way (close(2) on Linux)
			}
		}
		if err != syscall.EINTR {
			break
		}
	}
	setResult(o, n, err)
}

// vectored is preadv/pwritev (readv/writev on non-seekable files) on o.iov without
// allocating: x/sys's helpers build their own iovec array per call.
func vectored(positional, plain uintptr, f *File, o *Op) (int, error) {
	if len(o.iov) == 0 {
		return 0, nil
	}
	iov := uintptr(unsafe.Pointer(&o.iov[0]))
	var r uintptr
	var e syscall.Errno
	if f.stream {
		r, _, e = unix.Syscall(plain, uintptr(f.fd), iov, uintptr(len(o.iov)))
	} else {
		r, _, e = unix.Syscall6(positional, uintptr(f.fd), iov, uintptr(len(o.iov)), uintptr(o.Off), 0, 0)
	}
	if e != 0 {
		return int(r), e
	}
	return int(r), nil
}

// setResult stores a system call's outcome in o: bytes (or an fd) in res, an errno as
// -errno, anything else in cause. io.EOF from os.File is not a failure.
func setResult(o *Op, n int, err error) {
	o.cause = nil
	if err == nil || err == io.EOF {
		o.res = int64(n)
		return
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		o.res = -int64(errno)
		return
	}
	o.res = int64(n)
	o.cause = err
}
