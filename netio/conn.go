package netio

import (
	"time"

	"github.com/uringd/uringd/fileio"

	"golang.org/x/sys/unix"

	"github.com/uringd/uringd/netio/internal/http1"
	"github.com/uringd/uringd/ring"
)

type connState uint8

const (
	stateIdle    connState = iota // waiting for (or parsing) a request
	stateOpening                  // looking the file up
	stateSending                  // a reply is on its way
)

// conn is one client connection, owned by its loop and reused from the loop's slot table.
//
// Buffer ownership: c.out (a pooled 16 KiB or 256 KiB buffer, or a registered 256 KiB one
// (fixed.go), sized by what a chunk gathers,
// taken only while a reply's chunks go through it, not while sendfile or splice sends a large
// piece) is written by the kernel (READ) and read by it (SEND) while those SQEs are in flight;
// the conn keeps it referenced until their CQEs are reaped and only then returns it to the pool.
// c.pathz and c.how are read by OPENAT2 in flight (c.stx is written by the loop's own statx);
// they live in this heap-allocated conn, never on a stack. Received bytes arrive in the loop's provided buffers
// and are copied into c.in, so a buffer goes back to the kernel as soon as its CQE is seen.
type conn struct {
	slot     int32
	gen      uint32
	fd       int
	state    connState
	inflight int // SQEs in flight that reference this conn

	recvArmed, recvStarved bool
	recvPaused             bool // holds inHighWater bytes of unanswered input: not receiving
	readable               bool // a poll said the socket is readable: receive next
	closing                bool
	sendArmed              bool // the SEND or SPLICE into the socket that ends a chain is in flight
	queued                 bool // on the loop's unqueued FIFO, waiting for SQ room
	wantRecv, wantCancel   bool // what it waits there to arm
	step                   step // the reply's next SQE, when that is what waits there
	eof                    bool
	waitHead               bool  // a partial request head is buffered (read-header deadline)
	queuedAtStop           bool  // accepted from the listener's queue at shutdown: wait for its request
	opener                 bool  // its open of key is the one others wait for (loop.opening)
	kcancels               uint8 // its OPENAT2 the kernel cancelled unasked, in a row
	injected               bool  // its OPENAT2 is a NOP standing for a cancellation (ringTuning.cancelEvery)
	indexTry               bool  // looking up dir/index.html
	// sib is the precompressed sibling (index in Config.Precompressed) being looked up, -1
	// for none; sibServe that it is to be sent (else its existence is being learnt), and
	// c.key[:mainLen] the original's path (loop.sibling).
	sib      int8
	sibServe bool
	mainLen  int
	// special says the lookup is of a fallback or error page (for errStatus); fellBack
	// that the fallback was tried for this request.
	special   special
	errStatus int
	fellBack  bool

	in    []byte // received, not yet consumed input
	inOff int
	skip  int64 // request body bytes still to discard

	scan   http1.HeadScanner    // how far the head at in[inOff:] has been scanned
	body   http1.ChunkedDecoder // req's chunked body, while inBody
	inBody bool                 // req is served only once its chunked body is discarded

	req      http1.Request
	reqStart time.Time
	deadline time.Time
	key      []byte // the path being looked up (cache key)
	scr      []byte

	pathz []byte
	how   *ring.OpenHow
	stx   *unix.Statx_t

	rep       reply
	file      *fileEntry
	piece     int
	pieceDone int64
	// Where the chunk in flight began, so a chain the kernel cancelled unasked can be sent
	// again from there (chainRetry: its first cancelled op has been seen).
	chunkPiece     int
	chunkPieceDone int64
	chainRetry     bool
	spliceShort    bool // the chunk's splice-in moved less than asked (its link is broken)
	out            []byte
	outBox         *[]byte // the pool's box of out, given back with it (putOut)
	outSlot        int32   // out is the loop's registered buffer outSlot-1 (fixed.go); 0: a pooled one
	outLen         int
	outSent        int
	readFailed     bool
	directRead     int64  // bytes of the chunk's chain READ with O_DIRECT (Config.ColdReads)
	more           bool   // the chunk being sent is a head whose body follows: MSG_MORE
	pipe           [2]int // for SPLICE of large files: read end, write end (0: none yet)
	spliceLeft     int    // bytes in the pipe still to go to the socket
	pipeSize       int64  // what the pipe holds: the most one splice pair moves
	nonblock       bool   // O_NONBLOCK is set on fd (for sendfile)
	// sendfile: file bytes [cachedOff, cachedEnd) were found cached at cachedAt
	cachedOff, cachedEnd int64
	cachedAt             time.Time
	pollOut              bool     // a POLL for writability is armed (sendfile met a full socket)
	readsPending         int      // threadpool reads of the current chunk not yet completed
	ops                  *poolOps // those reads (threadpool mode only), owned by the fileio queue until reaped
	poolBusy             int      // threadpool operations in flight for this conn

	remote  [64]byte // peer address text for access logs
	remoteN int
}

func (c *conn) open(fd int) {
	c.fd = fd
	c.state = stateIdle
	c.inflight = 0
	c.recvArmed, c.recvStarved, c.closing, c.eof, c.recvPaused = false, false, false, false, false
	c.sendArmed, c.queued, c.wantRecv, c.wantCancel, c.step = false, false, false, false, stepNone
	c.readable = false
	c.more, c.nonblock, c.pollOut = false, false, false
	c.waitHead, c.indexTry, c.queuedAtStop, c.opener, c.kcancels, c.injected = false, false, false, false, 0, false
	c.in, c.inOff, c.skip = c.in[:0], 0, 0
	c.scan.Reset()
	c.inBody = false
	c.sib = -1
	c.special = specialNone
	c.readsPending, c.poolBusy = 0, 0
	c.remoteN = 0
	if c.how == nil {
		c.how = new(ring.OpenHow)
		c.stx = new(unix.Statx_t)
	}
}

// maxChainReads is the most file reads one chunk of a reply is gathered from.
const maxChainReads = 8

// poolOps are a conn's threadpool reads. They live apart from the conn, allocated on its
// first pool read, so that in uring mode (no pool) every connection does not carry them
// (memory per connection: README's design notes).
type poolOps [maxChainReads]fileio.Op
