package ring

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Raw syscalls, one function each, errors as syscall.Errno. No policy here.

func sysSetup(entries uint32, p *params) (int, syscall.Errno) {
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, uintptr(entries), uintptr(unsafe.Pointer(p)), 0)
	return int(fd), errno
}

// sysEnter calls io_uring_enter. It blocks in the kernel only when minComplete > 0 with
// GETEVENTS; such calls go through unix.Syscall6 so the Go scheduler can hand this thread's
// P to other goroutines. Calls that cannot block use RawSyscall6, which skips that bookkeeping
// (submission never blocks: io_uring punts anything that would to io-wq).
func sysEnter(fd int, toSubmit, minComplete, flags uint32, arg unsafe.Pointer, argSz uintptr) (int, syscall.Errno) {
	var n uintptr
	var errno syscall.Errno
	if minComplete > 0 && flags&enterGetEvents != 0 {
		n, _, errno = unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(fd), uintptr(toSubmit),
			uintptr(minComplete), uintptr(flags), uintptr(arg), argSz)
	} else {
		n, _, errno = unix.RawSyscall6(unix.SYS_IO_URING_ENTER, uintptr(fd), uintptr(toSubmit),
			uintptr(minComplete), uintptr(flags), uintptr(arg), argSz)
	}
	return int(n), errno
}

func sysRegister(fd int, opcode uint32, arg unsafe.Pointer, nrArgs uint32) (int, syscall.Errno) {
	n, _, errno := unix.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(fd), uintptr(opcode),
		uintptr(arg), uintptr(nrArgs), 0, 0)
	return int(n), errno
}
