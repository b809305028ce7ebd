package ring

import (
	"errors"
	"fmt"
	"sync/atomic"
	"syscall"
	"time"
)

// BufferGroup is a set of equal-sized receive buffers the kernel picks from (buffer
// selection): recv SQEs name the group, the CQE names the buffer, and the caller hands it
// back with Recycle once it has consumed the bytes. It is a buffer ring where the kernel has
// one (5.19+) and falls back to PROVIDE_BUFFERS SQEs (5.7+) otherwise; this is the one place
// that choice is made.
//
// The buffers live in MapBuffer memory owned by the group: off the Go heap, never moved, and
// valid until Close. Between a CQE naming a buffer and Recycle, the caller owns that buffer;
// otherwise the kernel does. Owned by the ring's goroutine.
type BufferGroup struct {
	r     *Ring
	mem   []byte
	size  int
	count int
	group uint16
	br    *BufRing // nil: PROVIDE_BUFFERS
}

// NewBufferGroup provides count (1..32768) buffers of size bytes to the kernel as buffer
// group group, in MapBuffer memory the group owns. Without buffer rings it submits a
// PROVIDE_BUFFERS SQE and waits for it, so call it from the ring's owner.
func (r *Ring) NewBufferGroup(group uint16, count, size int) (*BufferGroup, error) {
	if count <= 0 || count > 32768 || size <= 0 {
		return nil, fmt.Errorf("io_uring buffer group %d: %d buffers of %d bytes: %w", group, count, size, syscall.EINVAL)
	}
	mem, err := MapBuffer(count * size)
	if err != nil {
		return nil, err
	}
	g := &BufferGroup{r: r, mem: mem, size: size, count: count, group: group}
	if r.features.BufRing {
		entries := uint32(1)
		for entries < uint32(count) {
			entries <<= 1
		}
		if g.br, err = r.SetupBufRing(entries, group); err != nil {
			UnmapBuffer(mem)
			return nil, err
		}
		for i := 0; i < count; i++ {
			g.br.Add(g.Buffer(uint16(i)), uint16(i), i)
		}
		g.br.Advance(count)
		return g, nil
	}
	sqe, err := r.internalSQE()
	if err != nil {
		UnmapBuffer(mem)
		return nil, err
	}
	sqe.PrepProvideBuffers(mem, uint32(size), uint32(count), group, 0)
	sqe.UserData = udInternal
	if res, err := r.awaitInternal(); err != nil || res < 0 {
		UnmapBuffer(mem)
		if err == nil {
			err = ResultError(OpProvideBuffers, res)
		}
		return nil, fmt.Errorf("io_uring buffer group %d: %w", group, err)
	}
	return g, nil
}

// Ring reports whether the group is a buffer ring (false: PROVIDE_BUFFERS).
func (g *BufferGroup) Ring() bool { return g.br != nil }

// Group is the buffer group ID to pass to PrepRecvSelect / PrepRecvMultishot.
func (g *BufferGroup) Group() uint16 { return g.group }

// Size is each buffer's size.
func (g *BufferGroup) Size() int { return g.size }

// Buffer returns buffer bid's full memory; a CQE's Res says how much of it holds data.
func (g *BufferGroup) Buffer(bid uint16) []byte {
	off := int(bid) * g.size
	return g.mem[off : off+g.size : off+g.size]
}

// Recycle hands buffer bid back to the kernel. With PROVIDE_BUFFERS it queues an SQE that
// goes out with the next Submit.
func (g *BufferGroup) Recycle(bid uint16) error {
	if int(bid) >= g.count {
		return fmt.Errorf("io_uring buffer group %d: recycle buffer %d of %d: %w", g.group, bid, g.count, syscall.EINVAL)
	}
	if g.br != nil {
		g.br.Add(g.Buffer(bid), bid, 0)
		g.br.Advance(1)
		return nil
	}
	sqe, err := g.r.internalSQE()
	if err != nil {
		return err
	}
	sqe.PrepProvideBuffers(g.Buffer(bid), uint32(g.size), 1, g.group, bid)
	sqe.UserData = udInternal
	if g.r.features.CQESkip {
		sqe.Flags |= SQECQESkipSuccess
	}
	return nil
}

// Close takes the buffers back from the kernel and frees them. With PROVIDE_BUFFERS it
// submits a REMOVE_BUFFERS and waits for it. No receive may still be armed on the group.
func (g *BufferGroup) Close() error {
	if g.mem == nil {
		return nil
	}
	var err error
	if g.br != nil {
		err = g.br.Close()
	} else if !g.r.closed {
		var sqe *SQE
		if sqe, err = g.r.internalSQE(); err == nil {
			sqe.PrepRemoveBuffers(uint32(g.count), g.group)
			sqe.UserData = udInternal
			var res int32
			// -ENOENT: the kernel holds none of them (all in use or already removed).
			if res, err = g.r.awaitInternal(); err == nil && res < 0 && res != -int32(syscall.ENOENT) {
				err = ResultError(OpRemoveBuffers, res)
			}
		}
	}
	if uerr := UnmapBuffer(g.mem); err == nil {
		err = uerr
	}
	g.mem = nil
	return err
}

// internalSQE hands out an SQE for the ring's own use, submitting to make room if needed.
func (r *Ring) internalSQE() (*SQE, error) {
	if r.closed {
		return nil, ErrClosed
	}
	sqe := r.GetSQE()
	if sqe == nil {
		if _, err := r.Submit(); err != nil && !errors.Is(err, ErrBusy) {
			return nil, err
		}
		if sqe = r.GetSQE(); sqe == nil {
			return nil, fmt.Errorf("io_uring: no free SQE: %w", ErrBusy)
		}
	}
	r.internalOps = true
	return sqe, nil
}

// awaitInternal submits and waits until a housekeeping CQE (udInternal) is in the CQ, and
// returns its result; PeekBatch drops the CQE later. Used at setup and teardown only.
func (r *Ring) awaitInternal() (int32, error) {
	cq := &r.cq
	var nomemSince time.Time
	for {
		tail := atomic.LoadUint32(cq.ktail)
		for h := cq.head; h != tail; h++ {
			if c := &cq.cqes[h&cq.mask]; c.UserData == udInternal {
				res := c.Res
				c.UserData = udSeen // reported here: dropped later, not found or counted again
				return res, nil
			}
		}
		_, err := r.enter(r.flush(), cq.ready()+1, enterGetEvents)
		switch {
		case err == nil, errors.Is(err, ErrBusy):
		case errors.Is(err, syscall.ENOMEM):
			// No memory for the request now: it stays in the SQ, tried again for up to
			// internalNomemWait before the setup or teardown gives up.
			if nomemSince.IsZero() {
				nomemSince = time.Now()
			} else if time.Since(nomemSince) > internalNomemWait {
				return 0, err
			}
			time.Sleep(time.Millisecond)
		default:
			return 0, err
		}
	}
}

// internalNomemWait bounds how long awaitInternal retries an io_uring_enter refused with
// ENOMEM (a transient shortage, or a test's injected fault) for a buffer group's request.
const internalNomemWait = 2 * time.Second
