package fileio

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
)

// stdEngine runs File methods in the calling goroutine with Go's os.File: a blocking
// pread parks the goroutine's OS thread in the kernel and the Go runtime starts another
// thread for the other goroutines, so threads grow with the operations in flight. The
// baseline. Contexts are checked before an operation starts; one in a system call runs to
// its end. Its Queue runs depth goroutines that call os.File.ReadAt and friends.
type stdEngine struct {
	forceWalk bool
	noOpenat2 atomic.Bool // openat2 answered ENOSYS once
	closed    atomic.Bool
}

func newStd(opts Options) (*stdEngine, error) { return &stdEngine{forceWalk: opts.ForceWalk}, nil }

func (e *stdEngine) Name() string     { return EngineStd }
func (e *stdEngine) name() string     { return EngineStd }
func (e *stdEngine) useOpenat2() bool { return !e.forceWalk && !e.noOpenat2.Load() }

func (e *stdEngine) OpenMethod() string { return openMethod(e.useOpenat2()) }

func openMethod(openat2 bool) string {
	if openat2 {
		return "openat2"
	}
	return "walk"
}

func (e *stdEngine) Open(ctx context.Context, dir *Dir, name string, flag int, perm os.FileMode) (*File, error) {
	return openFile(ctx, e, dir, name, flag, perm)
}

func (e *stdEngine) opened(f *File) { f.osf = os.NewFile(uintptr(f.fd), f.path) }

// OSFile is the *os.File behind a file the std engine opened (nil for the other engines),
// for APIs that need one (net's sendfile, ReadDir). f owns it: close f, not the os.File.
func (f *File) OSFile() *os.File { return f.osf }

func (e *stdEngine) do(ctx context.Context, o *Op) bool {
	if e.closed.Load() && o.Code != opClose {
		o.cause = ErrClosed
		return true
	}
	if err := ctx.Err(); err != nil {
		o.cause = err
		return true
	}
	execStd(o)
	return true
}

func (e *stdEngine) disableOpenat2() { e.noOpenat2.Store(true) }

// execStd runs o with os.File where os.File has the operation.
func execStd(o *Op) {
	f := o.File
	if f == nil || f.osf == nil {
		execSyscall(o)
		return
	}
	var n int
	var err error
	switch o.Code {
	case OpRead:
		if f.stream {
			n, err = f.osf.Read(o.Buf)
		} else {
			n, err = f.osf.ReadAt(o.Buf, o.Off)
		}
	case OpWrite:
		if f.stream {
			n, err = f.osf.Write(o.Buf)
		} else {
			n, err = f.osf.WriteAt(o.Buf, o.Off)
		}
	case OpReadv, OpWritev:
		off := o.Off
		for i := range o.iov {
			b := iovBytes(&o.iov[i])
			var m int
			switch {
			case o.Code == OpReadv && f.stream:
				m, err = f.osf.Read(b)
			case o.Code == OpReadv:
				m, err = f.osf.ReadAt(b, off)
			case f.stream:
				m, err = f.osf.Write(b)
			default:
				m, err = f.osf.WriteAt(b, off)
			}
			n += m
			off += int64(m)
			if err != nil || m < len(b) {
				break
			}
		}
		if n > 0 && err != nil {
			err = nil // report the bytes moved; the next call meets the error again
		}
	case OpFsync:
		err = f.osf.Sync()
	case opClose:
		err = f.osf.Close()
	default:
		execSyscall(o)
		return
	}
	setResult(o, n, err)
}

func (e *stdEngine) NewQueue(depth int, opts QueueOptions) (Queue, error) {
	if depth <= 0 {
		return nil, fmt.Errorf("fileio std: queue depth %d: must be positive", depth)
	}
	// A private pool of depth plain goroutines calling os.File: the runtime's implicit
	// threads, one per blocked call.
	p := newPool(depth, depth, false, execStd)
	return newPoolQueue(EngineStd, p, true, depth, opts), nil
}

func (e *stdEngine) Close() error {
	e.closed.Store(true)
	return nil
}
