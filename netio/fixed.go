package netio

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/uringd/uringd/ring"
)

// fixedBufs is a loop's registered send buffers: outBufSize slots of one mapping outside
// the Go heap, registered with the loop's ring (IORING_REGISTER_BUFFERS), one buffer index
// per slot. A READ into a slot is a READ_FIXED: the kernel pinned the pages once, at
// registration, where a READ into ordinary memory looks up and pins its pages each time (and
// an O_DIRECT one dirties and unpins them at completion).
//
// Ownership: a free slot is the loop's; a taken one is the conn's whose c.out it is
// (c.outSlot), from sizeOut to putOut, which runs only when no SQE refers to it. The mapping
// is unmapped only once the ring is closed with nothing in flight; after a forced shutdown
// it stays mapped, with the loop kept reachable (keepFailed).
type fixedBufs struct {
	mem  []byte
	free []uint16 // free slot indexes, a stack
}

// lockExempt says whether the calling thread, the loop's, which makes the ring and
// registers its buffers, has CAP_IPC_LOCK in its effective set, in the initial user
// namespace: only then does the kernel not charge the pinned pages to RLIMIT_MEMLOCK. Root
// in a container often lacks it, and root in a user namespace (a rootless container) holds
// it only there.
func lockExempt() bool {
	if b, err := os.ReadFile("/proc/self/uid_map"); err != nil || !identityUIDMap(string(b)) {
		return false
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData // version 3: capabilities 0-31, then 32-63
	if unix.Capget(&hdr, &data[0]) != nil {
		return false
	}
	return data[unix.CAP_IPC_LOCK/32].Effective&(1<<(unix.CAP_IPC_LOCK%32)) != 0
}

// identityUIDMap says whether uid_map m is the initial user namespace's: every uid to itself.
func identityUIDMap(m string) bool {
	f := strings.Fields(m)
	return len(f) == 3 && f[0] == "0" && f[1] == "0" && f[2] == "4294967295"
}

// setupFixed registers Config.FixedBuffers slots with the ring, or as many as the kernel
// takes: pinned pages count against RLIMIT_MEMLOCK (without CAP_IPC_LOCK), so on ENOMEM it
// tries half as many. With none, every READ goes into pooled buffers, as before.
func (l *loop) setupFixed() {
	want := min(l.s.cfg.FixedBuffers, 1<<14) // the kernel's most (IORING_MAX_REG_BUFFERS)
	if want <= 0 || l.pool != nil {
		return // the thread-pool mode reads through fileio, not the ring
	}
	n := want
	var rl unix.Rlimit
	if !lockExempt() && unix.Getrlimit(unix.RLIMIT_MEMLOCK, &rl) == nil && rl.Cur != unix.RLIM_INFINITY {
		// The kernel charges pinned pages to the user's locked memory, with every ring
		// (before 5.12) and buffer group of the user's processes, up to this process's limit:
		// the loops' buffers take at most a quarter of it, to leave the rest to those.
		n = min(n, int(rl.Cur/4/uint64(max(1, l.s.cfg.Loops))/outBufSize))
		if n == 0 {
			l.s.cfg.Logf("loop %d: no registered buffers (RLIMIT_MEMLOCK %d KiB is too small for them): READs go into ordinary buffers", l.id, rl.Cur>>10)
			return
		}
	}
	var err error
	for ; n > 0; n /= 2 {
		if err = l.fixed.register(l.r, n, l.s.tune.fixedLimit); err == nil || !errors.Is(err, unix.ENOMEM) {
			break
		}
	}
	switch {
	case err != nil && n > 0:
		l.s.cfg.Logf("loop %d: no registered buffers (%v): READs go into ordinary buffers", l.id, err)
	case err != nil:
		l.s.cfg.Logf("loop %d: no registered buffers (%v; raise RLIMIT_MEMLOCK by %d KiB for them): READs go into ordinary buffers",
			l.id, err, want*outBufSize>>10)
	case n < want:
		l.s.cfg.Logf("loop %d: %d of %d registered buffers (RLIMIT_MEMLOCK): the rest of the READs go into ordinary buffers", l.id, n, want)
	}
}

// register maps n slots and registers them with r. limit > 0 (tests) makes more than limit
// slots fail with ENOMEM, as RLIMIT_MEMLOCK does; limit < 0 makes every registration fail.
func (b *fixedBufs) register(r *ring.Ring, n, limit int) error {
	mem, err := ring.MapBuffer(n * outBufSize)
	if err != nil {
		return err
	}
	iov := make([][]byte, n)
	for i := range iov {
		iov[i] = b.slotOf(mem, i)
	}
	if limit < 0 || (limit > 0 && n > limit) {
		err = fmt.Errorf("io_uring_register buffers (injected): %w", unix.ENOMEM)
	} else {
		err = r.RegisterBuffers(iov)
	}
	if err != nil {
		ring.UnmapBuffer(mem)
		return err
	}
	b.mem = mem
	b.free = make([]uint16, n)
	for i := range b.free {
		b.free[i] = uint16(n - 1 - i) // slot 0 on top: the lowest pages are reused first
	}
	return nil
}

// slotOf is slot i of mem, capped at its end so nothing appended to it runs into the next.
func (b *fixedBufs) slotOf(mem []byte, i int) []byte {
	return mem[i*outBufSize : (i+1)*outBufSize : (i+1)*outBufSize]
}

// get takes a free slot: its buffer, and its index plus one (0: none was free).
func (b *fixedBufs) get() ([]byte, int32) {
	if len(b.free) == 0 {
		return nil, 0
	}
	i := b.free[len(b.free)-1]
	b.free = b.free[:len(b.free)-1]
	return b.slotOf(b.mem, int(i)), int32(i) + 1
}

// put gives back the slot get named slot (index plus one).
func (b *fixedBufs) put(slot int32) {
	b.free = append(b.free, uint16(slot-1))
}

// unmap releases the mapping; the caller has closed the ring with nothing in flight.
func (b *fixedBufs) unmap() {
	if b.mem != nil {
		ring.UnmapBuffer(b.mem)
		b.mem, b.free = nil, nil
	}
}
