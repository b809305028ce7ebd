package logger

import (
	"context"
	"sync"
)

// A batch is one batch buffer plus the bookkeeping of the records in it.
//
// Ownership. A batch belongs to exactly one party at a time, and only that party touches buf:
//
//   - free: the queue (queue.free); buf is empty.
//   - filling: the queue (queue.fill); producers append whole records under queue.mu.
//   - sealed: the queue (queue.sealed); nobody appends any more; it waits for the writer.
//   - writing: the writer goroutine and its engine, from queue.take until the engine hands it
//     back from reap. With EngineUring the kernel reads buf asynchronously in this state, so
//     buf is heap memory allocated once by newQueue (never a goroutine's stack: Go may move
//     stacks, it never moves heap objects), and the engine keeps a pointer to the batch in its
//     in-flight table until the completion is reaped, which keeps buf reachable.
//   - back to free through queue.release.
//
// Producers never see a batch after it is sealed, and the writer never sees one before.
type batch struct {
	buf     []byte
	records uint64 // caller records in buf
	reports uint64 // dropped counts announced by drop-report records in buf
	// marks locate the drop reports in buf, so a partly failed write can tell which of
	// them made it to the file.
	marks  [4]reportMark
	nmarks int

	// Set by the writer and its engine while writing.
	off  int64 // file offset of buf[0] (positional writes)
	done int   // bytes of buf written so far
	err  error // why the rest of buf was not written; nil on success

	lineFix bool // a one-byte "\n" batch of the writer's own, not from the queue
}

// reportMark is one drop report in a batch: the offset just past it, and its count.
type reportMark struct {
	end int
	n   uint64
}

func (b *batch) reset() {
	b.buf = b.buf[:0]
	b.records, b.reports, b.nmarks = 0, 0, 0
	b.off, b.done, b.err = 0, 0, nil
}

// queue is the bounded multi-producer, single-consumer queue between logging callers and the
// writer goroutine. It is a small pool of batch buffers guarded by one mutex: producers copy
// an encoded record into the filling buffer (a memmove under an uncontended lock, no syscall),
// and wake the writer only when a buffer is sealed or when the first record lands in an
// empty buffer while the writer sleeps without a timer. The writer takes sealed buffers, has
// them written, and releases them.
type queue struct {
	mu      sync.Mutex
	fill    *batch   // the buffer producers append to; nil when every buffer is sealed or writing
	free    []*batch // empty buffers (a stack)
	sealed  []*batch // full buffers in order, waiting for the writer
	size    int      // capacity of a buffer: a record that does not fit seals it
	drop    bool     // PolicyDrop
	closed  bool     // Close has begun: no more records are accepted
	idle    bool     // the writer sleeps without a flush timer and must be woken by the next record
	waiters int      // producers blocked in put waiting for space (PolicyBlock)
	space   chan struct{}
	wake    chan struct{} // capacity 1; a pending value means "writer, look at the queue"
	enc     encoder       // for drop reports
	// notify, with DropReportOnError, hands a drop report to OnError instead of the file;
	// it reports whether it could (see errorSink.notify).
	notify func(dropped uint64, wait bool) bool
	keys   keyMemo // keys and messages the fast path found need no escaping
	clock  *clock

	pending uint64 // records accepted and not yet finished (written or lost)

	// Counters, guarded by mu.
	accepted, droppedFull, droppedClosed, highWater, waits uint64
	// unreported counts dropped records (queue full, write errors) not yet announced by a
	// drop-report record.
	unreported uint64
}

func newQueue(size, n int, drop bool, enc encoder, clk *clock) *queue {
	q := &queue{
		size:  size,
		drop:  drop,
		enc:   enc,
		clock: clk,
		space: make(chan struct{}),
		wake:  make(chan struct{}, 1),
	}
	for i := 0; i < n; i++ {
		q.free = append(q.free, &batch{buf: make([]byte, 0, size)})
	}
	q.fill = q.pop()
	q.sealed = make([]*batch, 0, n)
	return q
}

func (q *queue) pop() *batch {
	n := len(q.free)
	if n == 0 {
		return nil
	}
	b := q.free[n-1]
	q.free = q.free[:n-1]
	return b
}

// signal wakes the writer without blocking.
func (q *queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// sealFill moves the filling buffer to the sealed list and makes a free buffer (if any) the
// new filling buffer. Called with mu held and fill non-empty.
func (q *queue) sealFill() {
	q.sealed = append(q.sealed, q.fill)
	q.fill = q.pop()
}

// put copies rec, one encoded record, into the queue. It returns nil once the record is
// accepted, ErrClosed after Close, ErrDropped when PolicyDrop found the queue full, or ctx's
// error if ctx (which may be nil) ended while PolicyBlock waited for space. Every refusal is
// counted. rec is not retained.
func (q *queue) put(ctx context.Context, rec []byte) error {
	q.mu.Lock()
	for {
		if q.closed {
			q.droppedClosed++
			q.mu.Unlock()
			return ErrClosed
		}
		f := q.fill
		if f != nil && (len(f.buf)+len(rec) <= q.size || len(f.buf) == 0) {
			// A record larger than a whole buffer goes alone into an empty one, which grows;
			// release shrinks it back.
			wasEmpty := len(f.buf) == 0
			f.buf = append(f.buf, rec...)
			q.appended(f, wasEmpty)
			q.mu.Unlock()
			return nil
		}
		if f != nil {
			// rec does not fit: hand the full buffer to the writer and retry with the next.
			q.sealFill()
			q.signal()
			continue
		}
		// Every buffer is sealed or being written: the queue is full.
		if q.drop {
			q.droppedFull++
			q.unreported++
			q.mu.Unlock()
			return ErrDropped
		}
		ch := q.space
		q.waiters++
		q.waits++
		q.mu.Unlock()
		var done <-chan struct{}
		if ctx != nil {
			done = ctx.Done()
		}
		select {
		case <-ch:
			q.mu.Lock()
			q.waiters--
		case <-done:
			q.mu.Lock()
			q.waiters--
			q.droppedFull++
			q.unreported++
			q.mu.Unlock()
			return ctx.Err()
		}
	}
}

// tryAppend is the fast path of a logging call: it encodes the record straight into the
// filling buffer under mu, so the bytes are written once, where the writer will find them.
// It reports false, having done nothing, whenever the ordinary path (encode into a pooled
// buffer, then put) must decide instead: mu is held by someone else (so under contention
// callers still encode in parallel, outside the lock), a field may run the caller's code
// (an Error or String method could log to this Logger, or block, while mu is held), the
// record does not fit in an empty buffer, the queue is full or closed.
//
// The clock is read before mu is taken, so the critical section is the encoding and the
// bookkeeping. JSON records are written by appendJSONRecord, which checks for room as it
// goes; a record that does not fit in the rest of the filling buffer seals it and goes
// into the next. Logfmt records are bounded beforehand (recordBound) and written by the
// general encoder.
func (q *queue) tryAppend(level Level, msg string, prefix []byte, fields []Field) bool {
	if q.enc.logfmt {
		return q.tryAppendBounded(level, msg, prefix, fields)
	}
	t := q.clock.read()
	if !q.mu.TryLock() {
		return false
	}
	f := q.fill
	if f == nil || q.closed {
		q.mu.Unlock()
		return false
	}
	wasEmpty := len(f.buf) == 0
	buf, res := appendJSONRecord(f.buf, &q.keys, t, level, msg, prefix, fields)
	if res == fastNoRoom && !wasEmpty {
		q.sealFill()
		q.signal()
		if f = q.fill; f != nil {
			wasEmpty = true
			buf, res = appendJSONRecord(f.buf, &q.keys, t, level, msg, prefix, fields)
		}
	}
	if res != fastOK {
		q.mu.Unlock()
		return false
	}
	f.buf = buf
	q.appended(f, wasEmpty)
	q.mu.Unlock()
	return true
}

// tryAppendBounded is tryAppend for logfmt: the record's bound, known beforehand, decides
// whether it fits, and the general encoder writes it.
func (q *queue) tryAppendBounded(level Level, msg string, prefix []byte, fields []Field) bool {
	need := recordBound(msg, prefix, fields)
	if need < 0 || need > q.size {
		return false
	}
	t := q.clock.read()
	if !q.mu.TryLock() {
		return false
	}
	f := q.fill
	if f != nil && q.size-len(f.buf) < need && len(f.buf) > 0 {
		q.sealFill()
		q.signal()
		f = q.fill
	}
	if f == nil || q.closed || q.size-len(f.buf) < need {
		q.mu.Unlock()
		return false
	}
	wasEmpty := len(f.buf) == 0
	f.buf = q.enc.record(f.buf, t, level, msg, prefix, fields)
	q.appended(f, wasEmpty)
	q.mu.Unlock()
	return true
}

// appended counts a record just appended to f, the filling buffer, and wakes the writer if
// it sleeps and the record is the buffer's first. The caller holds mu.
func (q *queue) appended(f *batch, wasEmpty bool) {
	f.records++
	q.accepted++
	q.pending++
	if q.pending > q.highWater {
		q.highWater = q.pending
	}
	if wasEmpty && q.idle {
		q.idle = false
		q.signal()
	}
}

// take appends the sealed buffers, oldest first, to dst. With flush it first seals the
// filling buffer if it holds anything, so everything accepted so far is taken.
func (q *queue) take(dst []*batch, flush bool) []*batch {
	q.mu.Lock()
	if flush && q.fill != nil && len(q.fill.buf) > 0 {
		q.sealFill()
	}
	dst = append(dst, q.sealed...)
	clear(q.sealed)
	q.sealed = q.sealed[:0]
	q.mu.Unlock()
	return dst
}

// release returns written (or failed) buffers to the free list, wakes blocked producers and,
// if records were dropped since the last report, appends a drop-report record. lost is the
// number of records (and reported counts) of bs that could not be written; they join the
// unreported count.
func (q *queue) release(bs []*batch, lost uint64, size int) {
	q.mu.Lock()
	for _, b := range bs {
		q.pending -= b.records
		if cap(b.buf) > size {
			b.buf = make([]byte, 0, size) // an oversized record grew it; don't keep the memory
		}
		b.reset()
		q.free = append(q.free, b)
	}
	q.unreported += lost
	if q.fill == nil {
		q.fill = q.pop()
	}
	if q.waiters > 0 {
		close(q.space)
		q.space = make(chan struct{})
	}
	q.report(false)
	q.mu.Unlock()
}

// maxReportLen bounds the size of a drop-report record.
const maxReportLen = 160

// report appends a drop-report record for the unreported drops to the filling buffer, if
// there are any and it has room. Even after Close (final) the writer may add one. Called
// with mu held.
func (q *queue) report(final bool) {
	if q.unreported == 0 || (q.closed && !final) {
		return
	}
	if q.notify != nil {
		if q.notify(q.unreported, false) {
			q.unreported = 0
		}
		return
	}
	f := q.fill
	if f == nil || f.nmarks == len(f.marks) || len(f.buf)+maxReportLen > cap(f.buf) {
		return
	}
	f.buf = q.enc.header(f.buf, q.clock.read(), LevelWarn, "logger dropped records")
	f.buf = q.enc.field(f.buf, "", Uint64("dropped", q.unreported))
	f.buf = q.enc.end(f.buf)
	f.reports += q.unreported
	f.marks[f.nmarks] = reportMark{end: len(f.buf), n: q.unreported}
	f.nmarks++
	q.unreported = 0
}

// state reports whether sealed buffers wait for the writer and whether the filling buffer
// holds anything.
func (q *queue) state() (sealed, filled bool) {
	q.mu.Lock()
	sealed = len(q.sealed) > 0
	filled = q.fill != nil && len(q.fill.buf) > 0
	q.mu.Unlock()
	return sealed, filled
}

// sleep is called by the writer before it waits. It returns false if sealed buffers arrived
// meanwhile (the writer should not sleep), and otherwise whether the filling buffer holds
// anything (the writer then sleeps with a flush timer). With nothing buffered it marks the
// writer idle, so the next record accepted wakes it.
func (q *queue) sleep() (ok, filled bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.sealed) > 0 {
		return false, false
	}
	filled = q.fill != nil && len(q.fill.buf) > 0
	q.idle = !filled
	return true, filled
}

// close stops accepting records and wakes blocked producers, who then fail with ErrClosed.
func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	if q.waiters > 0 {
		close(q.space)
		q.space = make(chan struct{})
	}
	q.mu.Unlock()
}

// finalReport queues a drop report for drops not yet announced (the queue is closed, the
// writer has drained it, so there is room). It reports whether one was queued.
func (q *queue) finalReport() bool {
	q.mu.Lock()
	if q.notify != nil {
		// Delivered outside mu: OnError may log to this Logger (and get ErrClosed).
		n := q.unreported
		q.unreported = 0
		q.mu.Unlock()
		if n > 0 {
			q.notify(n, true)
		}
		return false
	}
	defer q.mu.Unlock()
	before := q.unreported
	q.report(true)
	return before != 0 && q.unreported == 0
}

func (q *queue) fillStats(s *Stats) {
	q.mu.Lock()
	s.Accepted = q.accepted
	s.DroppedFull = q.droppedFull
	s.DroppedClosed = q.droppedClosed
	s.QueueHighWater = q.highWater
	s.Waits = q.waits
	q.mu.Unlock()
}
