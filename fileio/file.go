package fileio

import (
	"context"
	"io"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// backend is what an engine provides to File: one operation, run synchronously.
type backend interface {
	name() string
	// do runs o and stores its result in o.res (bytes or an fd; -errno on failure) or
	// o.cause. It returns false when it gave the Op away (a cancelled Op a worker will
	// recycle): the caller must then neither read nor reuse it.
	do(ctx context.Context, o *Op) bool
	// useOpenat2 reports whether Open resolves beneath a Dir with openat2.
	useOpenat2() bool
}

// Dir is a directory that files are opened beneath (Engine.Open). It holds an O_PATH
// descriptor, so the directory stays the same one even if its path is renamed. Any engine
// can use any Dir.
type Dir struct {
	fd   int
	path string
}

// OpenDir opens the directory at path.
func OpenDir(path string) (*Dir, error) {
	fd, err := unix.Open(path, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &Error{Engine: "dir", Op: "open", Path: path, Off: -1, Err: err}
	}
	return &Dir{fd: fd, path: path}, nil
}

// Path is the path the Dir was opened with.
func (d *Dir) Path() string { return d.path }

// Fd is the Dir's O_PATH descriptor.
func (d *Dir) Fd() int { return d.fd }

// Close closes the Dir. Files opened beneath it stay open.
func (d *Dir) Close() error {
	if d.fd < 0 {
		return nil
	}
	err := unix.Close(d.fd)
	d.fd = -1
	if err != nil {
		return &Error{Engine: "dir", Op: "close", Path: d.path, Off: -1, Err: err}
	}
	return nil
}

// Stat is what statx(2) says about a file.
type Stat struct {
	Size      int64
	Mode      fs.FileMode
	ModTime   time.Time
	Ino       uint64
	Dev       uint64 // unix.Mkdev(major, minor)
	Nlink     uint32
	Blocks    int64 // 512-byte blocks allocated
	BlockSize int   // preferred IO size
	// DIOMemAlign and DIOOffsetAlign are the O_DIRECT alignments for memory and for file
	// offsets and lengths (STATX_DIOALIGN, Linux 6.1+); 0 when the kernel did not say.
	DIOMemAlign    uint32
	DIOOffsetAlign uint32
}

func statFromStatx(s *unix.Statx_t) Stat {
	st := Stat{
		Size:      int64(s.Size),
		Mode:      fs.FileMode(s.Mode & 0o777),
		ModTime:   time.Unix(s.Mtime.Sec, int64(s.Mtime.Nsec)),
		Ino:       s.Ino,
		Dev:       unix.Mkdev(s.Dev_major, s.Dev_minor),
		Nlink:     s.Nlink,
		Blocks:    int64(s.Blocks),
		BlockSize: int(s.Blksize),
	}
	switch s.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		st.Mode |= fs.ModeDir
	case unix.S_IFLNK:
		st.Mode |= fs.ModeSymlink
	case unix.S_IFIFO:
		st.Mode |= fs.ModeNamedPipe
	case unix.S_IFSOCK:
		st.Mode |= fs.ModeSocket
	case unix.S_IFCHR:
		st.Mode |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		st.Mode |= fs.ModeDevice
	}
	if s.Mode&unix.S_ISUID != 0 {
		st.Mode |= fs.ModeSetuid
	}
	if s.Mode&unix.S_ISGID != 0 {
		st.Mode |= fs.ModeSetgid
	}
	if s.Mode&unix.S_ISVTX != 0 {
		st.Mode |= fs.ModeSticky
	}
	if s.Mask&unix.STATX_DIOALIGN != 0 {
		st.DIOMemAlign, st.DIOOffsetAlign = s.Dio_mem_align, s.Dio_offset_align
	}
	return st
}

// File is an open file whose operations run through the engine that opened it. Its
// methods are safe for concurrent use, except Close, which must not race with the others.
type File struct {
	eng    backend
	fd     int
	path   string
	osf    *os.File // the std engine's os.File
	info   Stat
	direct bool
	stream bool // pipe, FIFO, socket or character device: offsets are ignored
	align  alignment
	closed atomic.Bool
}

// Name is the file's path as opened (the Dir's path joined with the name).
func (f *File) Name() string { return f.path }

// Fd is the file descriptor. Do not close it.
func (f *File) Fd() int { return f.fd }

// Engine is the name of the engine the file belongs to.
func (f *File) Engine() string { return f.eng.name() }

// Info is the file's Stat taken when it was opened.
func (f *File) Info() Stat { return f.info }

// Direct reports whether the file was opened with O_DIRECT.
func (f *File) Direct() bool { return f.direct }

// DirectAlignment returns the alignment O_DIRECT operations on f must keep: of buffer
// addresses (mem) and of offsets and lengths (off). Zero for files without O_DIRECT.
func (f *File) DirectAlignment() (mem, off int) { return f.align.mem, f.align.off }

// ReadAt reads len(p) bytes at off, as io.ReaderAt (and os.File.ReadAt) does: it is
// ReadAtContext without a deadline.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	return f.ReadAtContext(context.Background(), p, off)
}

// WriteAt writes p at off, as io.WriterAt (and os.File.WriteAt) does: it is WriteAtContext
// without a deadline.
func (f *File) WriteAt(p []byte, off int64) (int, error) {
	return f.WriteAtContext(context.Background(), p, off)
}

// ReadAtContext reads len(p) bytes at off: it returns n == len(p) and a nil error, or
// n < len(p) and an error, io.EOF at the end of the file. When ctx is done the operation
// in flight is cancelled and the error wraps ctx.Err(); p is not written to after
// ReadAtContext returns. On pipes, FIFOs and other non-seekable files off is ignored.
func (f *File) ReadAtContext(ctx context.Context, p []byte, off int64) (int, error) {
	return f.rw(ctx, OpRead, p, nil, off)
}

// WriteAtContext writes p at off: n < len(p) comes with an error. Cancellation works as
// for ReadAtContext.
func (f *File) WriteAtContext(ctx context.Context, p []byte, off int64) (int, error) {
	return f.rw(ctx, OpWrite, p, nil, off)
}

// ReadvAt reads into bufs, in order, from off (preadv(2)), with ReadAt's semantics for the
// total length.
func (f *File) ReadvAt(ctx context.Context, bufs [][]byte, off int64) (int, error) {
	return f.rw(ctx, OpReadv, nil, bufs, off)
}

// WritevAt writes bufs, in order, at off (pwritev(2)), with WriteAt's semantics for the
// total length.
func (f *File) WritevAt(ctx context.Context, bufs [][]byte, off int64) (int, error) {
	return f.rw(ctx, OpWritev, nil, bufs, off)
}

// rw runs reads and writes until all bytes moved, the end of the file, or an error.
func (f *File) rw(ctx context.Context, code OpCode, p []byte, bufs [][]byte, off int64) (int, error) {
	if f.closed.Load() {
		return 0, f.err(code, off, ErrClosed)
	}
	if off < 0 {
		return 0, f.err(code, off, errNegativeOffset)
	}
	total := len(p)
	if bufs != nil {
		total = 0
		for _, b := range bufs {
			total += len(b)
		}
	}
	if total == 0 {
		return 0, nil
	}
	if f.direct {
		if err := f.checkAlign(code, p, bufs, off); err != nil {
			return 0, err
		}
	}
	read := code == OpRead || code == OpReadv
	o := getOp()
	n := 0
	var err error
	for n < total {
		o.File, o.Code, o.Off = f, code, off+int64(n)
		if bufs == nil {
			o.Buf = p[n:]
		} else {
			o.buildIov(bufs, n)
		}
		if !f.eng.do(ctx, o) {
			return n, f.err(code, off+int64(n), ctx.Err())
		}
		if o.cause != nil || o.res < 0 {
			err = f.err(code, off+int64(n), o.failure())
			break
		}
		m := int(o.res)
		if m == 0 {
			if read {
				err = io.EOF
			} else {
				err = f.err(code, off+int64(n), io.ErrShortWrite)
			}
			break
		}
		n += m
		if read && f.direct && n < total {
			err = io.EOF // O_DIRECT reads are short only at the end of the file
			break
		}
	}
	putOp(o)
	return n, err
}

// Sync commits the file's data and metadata to stable storage (fsync(2)).
func (f *File) Sync(ctx context.Context) error { return f.simple(ctx, OpFsync) }

// Datasync commits the file's data, and the metadata needed to read it back
// (fdatasync(2)).
func (f *File) Datasync(ctx context.Context) error { return f.simple(ctx, OpFdatasync) }

func (f *File) simple(ctx context.Context, code OpCode) error {
	if f.closed.Load() {
		return f.err(code, -1, ErrClosed)
	}
	o := getOp()
	o.File, o.Code = f, code
	if !f.eng.do(ctx, o) {
		return f.err(code, -1, ctx.Err())
	}
	var err error
	if o.cause != nil || o.res < 0 {
		err = f.err(code, -1, o.failure())
	}
	putOp(o)
	return err
}

// Stat returns what statx(2) says about the open file now.
func (f *File) Stat(ctx context.Context) (Stat, error) {
	if f.closed.Load() {
		return Stat{}, f.err(opStat, -1, ErrClosed)
	}
	return statFd(ctx, f.eng, f, f.fd, f.direct)
}

func statFd(ctx context.Context, b backend, f *File, fd int, dio bool) (Stat, error) {
	o := getOp()
	o.File, o.Code, o.fd = f, opStat, fd
	if o.stx == nil {
		o.stx = new(unix.Statx_t)
	}
	o.mode = statxMask(dio)
	if !b.do(ctx, o) {
		return Stat{}, ctx.Err()
	}
	if o.cause != nil || o.res < 0 {
		err := o.failure()
		putOp(o)
		return Stat{}, err
	}
	st := statFromStatx(o.stx)
	putOp(o)
	return st, nil
}

// statxMask is what Stat asks for; with O_DIRECT also the DIO alignment.
func statxMask(dio bool) uint32 {
	m := uint32(unix.STATX_BASIC_STATS)
	if dio {
		m |= unix.STATX_DIOALIGN
	}
	return m
}

// Close closes the file (through the engine). Closing twice returns an error wrapping
// ErrClosed.
func (f *File) Close() error {
	if f.closed.Swap(true) {
		return f.err(opClose, -1, ErrClosed)
	}
	o := getOp()
	o.File, o.Code, o.fd = f, opClose, f.fd
	if !f.eng.do(context.Background(), o) {
		return nil
	}
	var err error
	if o.cause != nil || o.res < 0 {
		err = f.err(opClose, -1, o.failure())
	}
	putOp(o)
	return err
}

func (f *File) err(code OpCode, off int64, cause error) error {
	if code == opStat || code == opClose || code == OpFsync || code == OpFdatasync {
		off = -1
	}
	return &Error{Engine: f.eng.name(), Op: code.String(), Path: f.path, Off: off, Err: cause}
}

// failure is the cause of a failed Op: o.cause, else the errno in o.res.
func (o *Op) failure() error {
	if o.cause != nil {
		return o.cause
	}
	return syscall.Errno(-o.res)
}

// finish turns a Queue Op's raw result into N and Err (in the reaping goroutine).
func (o *Op) finish(engine string) {
	o.N, o.Err = 0, nil
	if o.cause != nil || o.res < 0 {
		f := o.File
		o.Err = &Error{Engine: engine, Op: o.Code.String(), Path: f.path, Off: o.errOff(), Err: o.failure()}
		return
	}
	o.N = int(o.res)
	if o.Code == OpRead || o.Code == OpReadv {
		want := len(o.Buf)
		if o.Code == OpReadv {
			want = iovLen(o.iov)
		}
		if o.N == 0 && want > 0 || o.N < want && !o.File.stream {
			o.Err = io.EOF
		}
	}
}

func (o *Op) errOff() int64 {
	if o.Code == OpFsync || o.Code == OpFdatasync {
		return -1
	}
	return o.Off
}

// buildIov points o.iov at bufs, skipping the first skip bytes.
func (o *Op) buildIov(bufs [][]byte, skip int) {
	o.iov = o.iov[:0]
	for _, b := range bufs {
		if skip >= len(b) {
			skip -= len(b)
			continue
		}
		b = b[skip:]
		skip = 0
		v := unix.Iovec{Base: unsafe.SliceData(b)}
		v.SetLen(len(b)) // Len is 32 bits wide on 32-bit platforms
		o.iov = append(o.iov, v)
	}
}

func iovLen(iov []unix.Iovec) int {
	n := 0
	for i := range iov {
		n += int(iov[i].Len)
	}
	return n
}

// iovBytes returns iovec i as a slice.
func iovBytes(v *unix.Iovec) []byte { return unsafe.Slice(v.Base, v.Len) }

// setPath stores s NUL-terminated in o.path (reused between uses of a pooled Op).
func (o *Op) setPath(s string) {
	o.path = append(append(o.path[:0], s...), 0)
}

// Pooled Ops for File methods: zero allocations per call once the pool is warm.
var opPool = sync.Pool{New: func() any { return &Op{done: make(chan struct{}, 2), fd: -1} }}

func getOp() *Op { return opPool.Get().(*Op) }

func putOp(o *Op) {
	o.Code, o.File, o.Buf, o.Bufs, o.Off, o.Tag, o.N, o.Err = 0, nil, nil, nil, 0, 0, 0, nil
	o.res, o.cause, o.q = 0, nil, nil
	clear(o.iov) // drop references to the caller's buffers
	o.iov = o.iov[:0]
	o.lcancel, o.lclosed = false, false
	o.state.Store(stIdle)
	opPool.Put(o)
}
