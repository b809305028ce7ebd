package fileio

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/uringd/uringd/ring"
)

// alignment is what O_DIRECT operations on a file must keep.
type alignment struct {
	mem, off int // buffer addresses; offsets and lengths
	source   string
}

// AlignError says an O_DIRECT operation was refused before submission because What
// ("buffer address", "offset" or "length") was not a multiple of Align. It matches
// syscall.EINVAL, which is what the kernel would have answered.
type AlignError struct {
	What   string
	Value  uint64
	Align  int
	Source string // where Align comes from: "statx DIOALIGN", "logical block size of 8:0", ...
}

// Error names what was misaligned, its value, the alignment and its source, and the fix.
func (e *AlignError) Error() string {
	v := strconv.FormatUint(e.Value, 10)
	if e.What == "buffer address" {
		v = fmt.Sprintf("%#x", e.Value)
	}
	return fmt.Sprintf("O_DIRECT misaligned %s: %s is not a multiple of %d (%s); use fileio.AllocAligned buffers and block-aligned offsets and lengths",
		e.What, v, e.Align, e.Source)
}

// Unwrap returns syscall.EINVAL.
func (e *AlignError) Unwrap() error { return syscall.EINVAL }

// checkAlign refuses misaligned O_DIRECT operations before they reach the kernel.
func (f *File) checkAlign(code OpCode, p []byte, bufs [][]byte, off int64) error {
	a := f.align
	bad := func(what string, v uint64, align int) error {
		return f.err(code, off, &AlignError{What: what, Value: v, Align: align, Source: a.source})
	}
	if off%int64(a.off) != 0 {
		return bad("offset", uint64(off), a.off)
	}
	check := func(b []byte) error {
		if len(b) == 0 {
			return nil
		}
		if addr := uint64(uintptr(unsafe.Pointer(unsafe.SliceData(b)))); addr%uint64(a.mem) != 0 {
			return bad("buffer address", addr, a.mem)
		}
		if len(b)%a.off != 0 {
			return bad("length", uint64(len(b)), a.off)
		}
		return nil
	}
	if bufs == nil {
		return check(p)
	}
	for _, b := range bufs {
		if err := check(b); err != nil {
			return err
		}
	}
	return nil
}

// directAlignment works out the O_DIRECT alignment of a file from its statx: STATX_DIOALIGN
// where the kernel reports it, else the logical block size of the block device the file
// lives on (sysfs), else 4096 (no block device has a larger logical block in practice).
func directAlignment(st *Stat) alignment {
	if st.DIOMemAlign > 0 && st.DIOOffsetAlign > 0 {
		return alignment{mem: int(st.DIOMemAlign), off: int(st.DIOOffsetAlign), source: "statx DIOALIGN"}
	}
	dev := fmt.Sprintf("%d:%d", unix.Major(st.Dev), unix.Minor(st.Dev))
	for _, p := range []string{"/sys/dev/block/" + dev + "/queue/logical_block_size",
		"/sys/dev/block/" + dev + "/../queue/logical_block_size"} {
		if b, err := os.ReadFile(p); err == nil {
			if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n > 0 {
				return alignment{mem: n, off: n, source: "logical block size of device " + dev}
			}
		}
	}
	return alignment{mem: 4096, off: 4096, source: "default 4096: no STATX_DIOALIGN and no block device for " + dev}
}

// AllocAligned returns size bytes of zeroed, page-aligned memory outside the Go heap
// (ring.MapBuffer): suitable for O_DIRECT buffers (any logical block size up to the page
// size) and never moved or freed by the garbage collector. Slices of it keep the alignment
// of their start. Release it with FreeAligned once no operation uses it.
func AllocAligned(size int) ([]byte, error) {
	if size <= 0 {
		return nil, fmt.Errorf("fileio: aligned buffer of %d bytes: %w", size, syscall.EINVAL)
	}
	b, err := ring.MapBuffer(size)
	if err != nil {
		return nil, fmt.Errorf("fileio: aligned buffer of %d bytes: %w", size, err)
	}
	return b, nil
}

// FreeAligned releases memory from AllocAligned (pass the slice AllocAligned returned).
func FreeAligned(b []byte) error {
	if b == nil {
		return nil
	}
	return ring.UnmapBuffer(b)
}
