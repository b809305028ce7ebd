package ring

import (
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

func (r *Ring) register(name string, opcode uint32, arg unsafe.Pointer, n uint32) (int, error) {
	if r.closed {
		return 0, ErrClosed
	}
	for {
		ret, errno := sysRegister(r.fd, opcode, arg, n)
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return 0, fmt.Errorf("io_uring_register %s: %w", name, errno)
		}
		return ret, nil
	}
}

// RegisterFiles installs fds as the ring's registered (fixed) file table; SQEs with
// SQEFixedFile then name files by slot index, which skips a file-table lookup per op.
// A -1 entry leaves a slot empty.
func (r *Ring) RegisterFiles(fds []int32) error {
	if len(fds) == 0 {
		return fmt.Errorf("io_uring_register files: %w", unix.EINVAL)
	}
	_, err := r.register("files", regFiles, unsafe.Pointer(&fds[0]), uint32(len(fds)))
	return err
}

// RegisterFilesSparse sets up an empty registered file table of n slots: with
// IORING_RSRC_REGISTER_SPARSE where the kernel has it (5.19+), else as n slots of -1.
func (r *Ring) RegisterFilesSparse(n uint32) error {
	if r.features.SparseFiles {
		arg := &rsrcRegister{nr: n, flags: rsrcRegisterSparse}
		_, err := r.register("files (sparse)", regFiles2, unsafe.Pointer(arg), uint32(unsafe.Sizeof(*arg)))
		return err
	}
	fds := make([]int32, n)
	for i := range fds {
		fds[i] = -1
	}
	return r.RegisterFiles(fds)
}

// UpdateFiles replaces registered file slots from off on with fds (-1 empties a slot) and
// returns how many were updated.
func (r *Ring) UpdateFiles(off uint32, fds []int32) (int, error) {
	if len(fds) == 0 {
		return 0, nil
	}
	arg := &filesUpdate{offset: off, fds: uint64(uintptr(unsafe.Pointer(&fds[0])))}
	return r.register("files update", regFilesUpdate, unsafe.Pointer(arg), uint32(len(fds)))
}

// UnregisterFiles drops the registered file table.
func (r *Ring) UnregisterFiles() error {
	_, err := r.register("unregister files", unregFiles, nil, 0)
	return err
}

// RegisterBuffers pins bufs for READ_FIXED/WRITE_FIXED by index. The kernel holds the pages
// until UnregisterBuffers or Close, so bufs must stay allocated until then: use MapBuffer
// memory. Pinned pages count against RLIMIT_MEMLOCK (unless CAP_IPC_LOCK).
func (r *Ring) RegisterBuffers(bufs [][]byte) error {
	if len(bufs) == 0 {
		return fmt.Errorf("io_uring_register buffers: %w", unix.EINVAL)
	}
	iov := make([]unix.Iovec, len(bufs))
	total := 0
	for i, b := range bufs {
		iov[i].Base = unsafe.SliceData(b)
		iov[i].SetLen(len(b))
		total += len(b)
	}
	_, err := r.register("buffers", regBuffers, unsafe.Pointer(&iov[0]), uint32(len(iov)))
	if errors.Is(err, unix.ENOMEM) {
		return memlockError("io_uring registered buffers", total, unix.ENOMEM)
	}
	return err
}

// UnregisterBuffers releases the registered buffers.
func (r *Ring) UnregisterBuffers() error {
	_, err := r.register("unregister buffers", unregBuffers, nil, 0)
	return err
}

// RegisterEventfd makes the kernel signal efd whenever it posts a CQE.
func (r *Ring) RegisterEventfd(efd int) error {
	fd := int32(efd)
	_, err := r.register("eventfd", regEventfd, unsafe.Pointer(&fd), 1)
	return err
}

// UnregisterEventfd stops eventfd notifications.
func (r *Ring) UnregisterEventfd() error {
	_, err := r.register("unregister eventfd", unregEventfd, nil, 0)
	return err
}

// SetIOWQMaxWorkers caps the kernel's io-wq worker threads for this ring (bounded: file and
// block IO, unbounded: sockets and others; 0 leaves a value unchanged) and returns the
// previous limits (IORING_REGISTER_IOWQ_MAX_WORKERS, 5.15+).
func (r *Ring) SetIOWQMaxWorkers(bounded, unbounded uint32) (prevBounded, prevUnbounded uint32, err error) {
	if !r.features.IOWQMaxWorkers {
		return 0, 0, fmt.Errorf("io_uring_register iowq max workers: %w", ErrUnsupported)
	}
	vals := &[2]uint32{bounded, unbounded}
	_, err = r.register("iowq max workers", regIOWQMaxWorkers, unsafe.Pointer(vals), 2)
	return vals[0], vals[1], err
}

// MapBuffer returns size bytes of zeroed, page-aligned anonymous memory outside the Go heap:
// the garbage collector never moves or frees it, so it is the natural home for memory the
// kernel reads and writes asynchronously (O_DIRECT buffers, registered buffers, buffer
// rings). The caller owns it and releases it with UnmapBuffer once no operation uses it.
func MapBuffer(size int) ([]byte, error) {
	if size <= 0 {
		return nil, fmt.Errorf("map buffer of %d bytes: %w", size, unix.EINVAL)
	}
	b, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, fmt.Errorf("map buffer of %d bytes: %w", size, err)
	}
	return b, nil
}

// UnmapBuffer releases memory from MapBuffer.
func UnmapBuffer(b []byte) error {
	if b == nil {
		return nil
	}
	if err := unix.Munmap(b[:cap(b)]); err != nil {
		return fmt.Errorf("unmap buffer: %w", err)
	}
	return nil
}

// BufRing is a provided-buffer ring (IORING_REGISTER_PBUF_RING, 5.19+): the application adds
// buffers, the kernel picks one for each receive with buffer selection and names it in the
// CQE (BufferID). Its entries live in MapBuffer memory shared with the kernel. Owned by the
// ring's goroutine.
type BufRing struct {
	r       *Ring
	mem     []byte
	bufs    []Buf
	tailPtr *uint32 // the 32-bit word holding entry 0's bid and the ring tail
	mask    uint16
	tail    uint16
	group   uint16
}

// SetupBufRing registers a buffer ring of entries (a power of two, at most 32768) for
// buffer group group.
func (r *Ring) SetupBufRing(entries uint32, group uint16) (*BufRing, error) {
	if !r.features.BufRing {
		return nil, fmt.Errorf("io_uring buffer ring: %w", ErrUnsupported)
	}
	if entries == 0 || entries > 32768 || entries&(entries-1) != 0 {
		return nil, fmt.Errorf("io_uring buffer ring of %d entries: want a power of two up to 32768: %w", entries, unix.EINVAL)
	}
	mem, err := MapBuffer(int(entries) * int(sizeofBuf))
	if err != nil {
		return nil, err
	}
	reg := &bufReg{ringAddr: uint64(uintptr(unsafe.Pointer(&mem[0]))), ringEntries: entries, bgid: group}
	if _, err := r.register("pbuf ring", regPbufRing, unsafe.Pointer(reg), 1); err != nil {
		UnmapBuffer(mem)
		return nil, err
	}
	return &BufRing{
		r:       r,
		mem:     mem,
		bufs:    unsafe.Slice((*Buf)(unsafe.Pointer(&mem[0])), entries),
		tailPtr: (*uint32)(unsafe.Pointer(&mem[12])),
		mask:    uint16(entries - 1),
		group:   group,
	}, nil
}

// Add queues buf as buffer bid at position offset after the tail (0 for the first Add since
// the last Advance, 1 for the next, ...). The kernel sees it only after Advance.
func (br *BufRing) Add(buf []byte, bid uint16, offset int) {
	e := &br.bufs[(br.tail+uint16(offset))&br.mask]
	e.Addr = uint64(bufAddr(buf))
	e.Len = uint32(len(buf))
	e.Bid = bid
}

// Advance publishes count added buffers to the kernel with one release store of the tail.
func (br *BufRing) Advance(count int) {
	br.tail += uint16(count)
	// The tail is the u16 at offset 14 of entry 0, above entry 0's bid. Go has no 16-bit
	// atomic store, so store the whole 32-bit word, keeping the bid we wrote ourselves.
	word := uint32(br.bufs[0].Bid) | uint32(br.tail)<<16
	atomicStore32(br.tailPtr, word)
}

// Group is the buffer group ID.
func (br *BufRing) Group() uint16 { return br.group }

// Close unregisters the ring and frees its memory.
func (br *BufRing) Close() error {
	if br.mem == nil {
		return nil
	}
	reg := &bufReg{bgid: br.group}
	_, err := br.r.register("unregister pbuf ring", unregPbufRing, unsafe.Pointer(reg), 1)
	if uerr := UnmapBuffer(br.mem); err == nil {
		err = uerr
	}
	br.mem = nil
	return err
}
