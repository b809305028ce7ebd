package netio

import (
	"github.com/uringd/uringd/internal/token"
	"github.com/uringd/uringd/ring"
)

// Operation kinds, as token kinds in user_data: the rest of the token is the connection's
// slot and generation, so a late CQE can never reach a reused slot.
const (
	opAccept token.Kind = iota + 1
	opRecv
	opRead
	opSend
	opOpen
	opCancel
	opWake
	opPoll
	opSpliceIn
	opSpliceOut
	opPollOut
	opInject // tests: a failing read ahead of a chain, standing for the kernel's cancellation
	numOps
)

// opInfo is what the loop must know of an operation kind to account for it.
type opInfo struct {
	name string
	// conn: the operation refers to a connection's slot (its fd, buffers or file) and is
	// counted in conn.inflight from its prep to its last CQE.
	conn bool
	// multishot: only a CQE without IORING_CQE_F_MORE is the last one.
	multishot bool
	// skippable: linked before the op that sends its bytes, it may carry CQE_SKIP_SUCCESS
	// and then posts a CQE only when it fails or comes up short, and is not counted.
	skippable bool
	// tail: it sends a chain's bytes into the socket (SEND, SPLICE out); a connection has
	// at most one in flight, marked by conn.sendArmed, whose CQE alone may uncount it.
	tail bool
}

// ops drives the in-flight accounting: prep counts what the table says, complete uncounts
// it, and no handler touches conn.inflight itself.
var ops = [numOps]opInfo{
	opAccept:    {name: "accept", multishot: true},
	opRecv:      {name: "recv", conn: true, multishot: true},
	opRead:      {name: "read", conn: true, skippable: true},
	opSend:      {name: "send", conn: true, tail: true},
	opOpen:      {name: "openat2", conn: true},
	opCancel:    {name: "cancel"},
	opWake:      {name: "poll eventfd"},
	opPoll:      {name: "poll", conn: true},
	opSpliceIn:  {name: "splice file", conn: true, skippable: true},
	opSpliceOut: {name: "splice socket", conn: true, tail: true},
	opPollOut:   {name: "poll out", conn: true},
	opInject:    {name: "injected failure", conn: true},
}

func ud(op token.Kind, slot int32, gen uint32) uint64 {
	return uint64(token.Make(op, uint32(slot), gen))
}

// counted reports whether an SQE of kind op for a connection is counted in its inflight.
func (l *loop) counted(op token.Kind) bool {
	in := &ops[op]
	return in.conn && !(in.skippable && l.skipRead)
}

// prep takes an SQE that the caller has reserved (see reserve) for an operation of kind op
// on c (nil for the loop's own) and counts it; the caller fills the SQE, then sets its
// UserData to the token returned. prep never submits or reaps: a link chain's SQEs are
// taken back to back and reach the kernel in one io_uring_enter.
func (l *loop) prep(op token.Kind, c *conn) (*ring.SQE, uint64) {
	sqe := l.r.GetSQE()
	if sqe == nil {
		// A caller that did not reserve is a bug that would split a link chain.
		panic("netio: SQE taken without a reservation")
	}
	var slot int32
	var gen uint32
	if c != nil {
		slot, gen = c.slot, c.gen
		if l.counted(op) {
			c.inflight++
		}
		if ops[op].tail {
			c.sendArmed = true
		}
	}
	return sqe, ud(op, slot, gen)
}

// reserve reports whether n SQEs can be taken now, with no submit in between.
func (l *loop) reserve(n int) bool { return l.r.SQSpace() >= uint32(n) }

// deferred steps of a connection, run again by drainUnqueued once the SQ has room.
type step uint8

const (
	stepNone      step = iota
	stepOpen           // lookup's OPENAT2
	stepFill           // fillAndSend: the next chunk's chain
	stepSend           // the rest of a partially sent chunk, or a threadpool chunk's SEND
	stepSpliceOut      // the rest of the pipe into the socket
	stepPollOut        // wait for room in the socket
)

// unqueued is one connection waiting in the FIFO for SQ room.
type unqueued struct {
	slot int32
	gen  uint32
}

// wait puts c on the unqueued FIFO (once) with what it waits to do.
func (l *loop) wait(c *conn) {
	if c.queued {
		return
	}
	c.queued = true
	l.s.pressure.sqWaits.Add(1)
	l.unqueued = append(l.unqueued, unqueued{c.slot, c.gen})
}

// deferStep records that c's reply must continue with s once the SQ has room.
func (l *loop) deferStep(c *conn, s step) {
	c.step = s
	l.wait(c)
}

// drainUnqueued gives the SQ's room to the connections and loop operations that waited for
// it, oldest first. An entry that still finds no room goes back to the tail.
func (l *loop) drainUnqueued() {
	for len(l.toRecycle) > 0 && l.reserve(1) {
		n := len(l.toRecycle) - 1
		l.bufs.Recycle(l.toRecycle[n])
		l.toRecycle = l.toRecycle[:n]
	}
	if l.wantWake {
		l.armWake()
	}
	if l.wantAccept {
		l.armAccept()
	}
	if l.wantCancelAccept {
		l.cancelAccept()
	}
	pending := l.unqueued
	l.unqueued = nil // what waits again during this pass goes behind what was not reached
	i := 0
	for ; i < len(pending) && l.r.SQSpace() > 0; i++ {
		u := pending[i]
		c := l.conns[u.slot]
		if c.gen != u.gen || !c.queued {
			continue // released meanwhile: its waits went with it
		}
		c.queued = false
		if c.wantCancel {
			c.wantCancel = false
			l.cancelConn(c)
		}
		if c.wantRecv {
			c.wantRecv = false
			l.armRecv(c)
		}
		s := c.step
		c.step = stepNone
		if c.closing {
			continue
		}
		switch s {
		case stepOpen:
			l.openInRing(c)
		case stepFill:
			l.fillAndSend(c)
		case stepSend:
			l.send(c)
		case stepSpliceOut:
			l.spliceOut(c)
		case stepPollOut:
			l.armPollOut(c)
		}
	}
	if i < len(pending) || len(l.unqueued) > 0 {
		l.unqueued = append(pending[i:], l.unqueued...)
	} else {
		l.unqueued = pending[:0] // keep the backing array
	}
}

// busy reports whether anything waits for SQ room.
func (l *loop) busy() bool {
	return len(l.unqueued) > 0 || l.wantAccept || l.wantWake || l.wantCancelAccept || len(l.toRecycle) > 0
}

// recycle hands a receive buffer back to the kernel; with PROVIDE_BUFFERS that takes an
// SQE, and a full SQ keeps the buffer until drainUnqueued.
func (l *loop) recycle(bid uint16) {
	if l.bufs.Ring() || l.reserve(1) {
		l.bufs.Recycle(bid)
		return
	}
	l.toRecycle = append(l.toRecycle, bid)
}
