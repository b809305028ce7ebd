package logger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// asyncSink is the queue plus the one writer goroutine that drains it through an engine
// (EngineUring or EngineThread). Callers only encode and put; Sync, Reopen and Close are
// requests the writer serves between batches.
type asyncSink struct {
	q      *queue
	w      *writer
	ctl    chan request
	exited chan struct{}

	closeOnce sync.Once
	closeErr  error
}

type op uint8

const (
	opSync op = iota
	opReopen
	opClose
)

type request struct {
	op   op
	done chan error // capacity 1, so the writer never blocks replying to a caller who gave up
}

func newAsyncSink(o *Options, enc encoder, clk *clock, eng engine, out *output, c *counters, errs *errorSink) *asyncSink {
	q := newQueue(o.BufferSize, o.QueueSize, o.Policy == PolicyDrop, enc, clk)
	if o.DropReport == DropReportOnError {
		q.notify = dropNotifier(o.Path, c, errs)
	}
	s := &asyncSink{
		q:      q,
		ctl:    make(chan request),
		exited: make(chan struct{}),
	}
	s.w = &writer{
		q:             q,
		eng:           eng,
		out:           out,
		enc:           enc,
		c:             c,
		errs:          errs,
		bufferSize:    o.BufferSize,
		flushInterval: o.FlushInterval,
		fsync:         o.Fsync,
		fsyncInterval: o.FsyncInterval,
		timer:         time.NewTimer(time.Hour),
	}
	s.w.timer.Stop()
	return s
}

// dropNotifier returns the function that delivers drop reports to OnError (see
// DropReportOnError) and counts what it delivered in Stats.Reported.
func dropNotifier(path string, c *counters, errs *errorSink) func(n uint64, wait bool) bool {
	return func(n uint64, wait bool) bool {
		if !errs.notify(&DropError{Path: path, Dropped: n}, wait) {
			return false
		}
		c.reported.Add(n)
		return true
	}
}

func (s *asyncSink) start() {
	go s.w.run(s.ctl, s.exited)
}

func (s *asyncSink) put(ctx context.Context, rec []byte) error { return s.q.put(ctx, rec) }

// call sends a request to the writer and waits for its answer or for ctx.
func (s *asyncSink) call(ctx context.Context, o op) error {
	req := request{op: o, done: make(chan error, 1)}
	select {
	case s.ctl <- req:
	case <-s.exited:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *asyncSink) sync(ctx context.Context) error   { return s.call(ctx, opSync) }
func (s *asyncSink) reopen(ctx context.Context) error { return s.call(ctx, opReopen) }

func (s *asyncSink) close() error {
	s.closeOnce.Do(func() {
		s.closeErr = s.call(context.Background(), opClose)
		<-s.exited
	})
	return s.closeErr
}

func (s *asyncSink) stats(st *Stats) {
	s.q.fillStats(st)
	s.w.c.fill(st)
}

// writer is the state of the writer goroutine. Nothing here is shared: other goroutines
// reach the writer only through the queue and the request channel.
type writer struct {
	q    *queue
	eng  engine
	out  *output
	enc  encoder
	c    *counters
	errs *errorSink

	bufferSize    int
	flushInterval time.Duration
	fsync         FsyncPolicy
	fsyncInterval time.Duration

	taken    []*batch // scratch: batches taken from the queue
	finished []*batch // scratch: batches back from the engine
	failed   []*batch // batches that failed before reaching the engine (no file open)
	timer    *time.Timer
	flushAt  time.Time // when the partly filled buffer must be written; zero if empty
	fsyncAt  time.Time // when FsyncInterval syncs next; zero if nothing to sync
	dirty    bool      // something was written since the last fsync (started)
	syncing  bool      // an fsync started by startFsync is in flight (FsyncBatch)
	partial  bool      // the file ends mid-record after a failed write: start with "\n"
	lost     losses    // records lost since the last Sync, for Sync and Close to report
}

// losses counts the caller records lost to write errors since the last Sync, and the error
// that lost the latest of them. Sync promises that what was accepted before it is written,
// so it (and Close, for what no Sync reported) returns an error while this is not empty.
type losses struct {
	n   uint64
	err error
}

// join is errors.Join that leaves a single error as it is.
func join(a, b error) error {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	return errors.Join(a, b)
}

func (l *losses) add(n uint64, err error) {
	if n > 0 {
		l.n += n
		l.err = err
	}
}

// take returns the error for op (Sync or Close) about the losses and forgets them; nil if
// there were none. It wraps the write error, so errors.Is finds its errno.
func (l *losses) take(op, path string) error {
	if l.n == 0 {
		return nil
	}
	err := fmt.Errorf("logger: %s %s: %d records accepted since the last Sync were not written: %w", op, path, l.n, l.err)
	*l = losses{}
	return err
}

func (w *writer) run(ctl <-chan request, exited chan<- struct{}) {
	defer close(exited)
	if err := w.eng.start(); err != nil {
		w.errs.report(err)
	}
	defer w.eng.stop()
	for {
		select {
		case req := <-ctl:
			if w.handle(req) {
				return
			}
		default:
		}
		now := time.Now()
		sealed, filled := w.q.state()
		switch {
		case !filled:
			w.flushAt = time.Time{}
		case w.flushAt.IsZero():
			w.flushAt = now.Add(w.flushInterval)
		}
		flush := filled && !now.Before(w.flushAt)
		if sealed || flush {
			if flush {
				w.flushAt = time.Time{}
			}
			w.pump(flush)
		}
		if w.eng.inflight() > 0 || len(w.failed) > 0 {
			w.reap()
			continue
		}
		w.maybeFsync(now)

		// Nothing in flight: sleep until a buffer is sealed, the first record lands in an
		// empty buffer, a timer fires, or a request arrives. No spinning, no polling.
		ok, filled := w.q.sleep()
		if !ok {
			continue
		}
		var deadline time.Time
		if filled {
			if w.flushAt.IsZero() {
				w.flushAt = now.Add(w.flushInterval)
			}
			deadline = w.flushAt
		}
		if w.dirty && w.fsync == FsyncInterval && (deadline.IsZero() || w.fsyncAt.Before(deadline)) {
			deadline = w.fsyncAt
		}
		var tc <-chan time.Time
		if !deadline.IsZero() {
			w.timer.Reset(time.Until(deadline))
			tc = w.timer.C
		}
		select {
		case <-w.q.wake:
		case <-tc:
		case req := <-ctl:
			if w.handle(req) {
				return
			}
		}
		w.timer.Stop()
	}
}

// handle serves one request and reports whether the writer must exit.
func (w *writer) handle(req request) bool {
	switch req.op {
	case opSync:
		w.drain()
		var err error
		if w.fsync != FsyncNever && w.dirty {
			err = w.fsyncNow()
		}
		// A caller who gave up waiting (SyncContext) does not see this; the next Sync
		// reports only later losses.
		req.done <- join(w.lost.take("sync", w.out.path), err)
	case opReopen:
		w.drain()
		if w.fsync != FsyncNever && w.dirty {
			w.fsyncNow()
		}
		err := w.out.reopen()
		w.partial = false
		if w.out.fd >= 0 {
			w.eng.attach(w.out.fd, w.out.size, w.out.regular, w.out.path)
		}
		req.done <- err
	case opClose:
		w.q.close()
		w.drain()
		if w.q.finalReport() {
			w.drain()
		}
		var err error
		if w.fsync != FsyncNever && w.dirty {
			err = w.fsyncNow()
		}
		if cerr := w.out.close(); cerr != nil && err == nil {
			w.errs.report(cerr)
			err = cerr
		}
		if cerr := w.eng.close(); cerr != nil && err == nil {
			err = cerr
		}
		req.done <- join(w.lost.take("close", w.out.path), err)
		return true
	}
	return false
}

// drain writes everything accepted so far and waits until it is written.
func (w *writer) drain() {
	w.pump(true)
	w.flushAt = time.Time{}
	for w.eng.inflight() > 0 || len(w.failed) > 0 {
		w.reap()
	}
}

// pump takes the sealed buffers (and with flush the filling one) and submits them.
func (w *writer) pump(flush bool) {
	w.taken = w.q.take(w.taken[:0], flush)
	for i, b := range w.taken {
		w.submit(b)
		w.taken[i] = nil
	}
}

// submit hands b to the engine, rotating the file first if b would push it past MaxSize.
func (w *writer) submit(b *batch) {
	if w.out.fd >= 0 && w.out.wantsRotate(len(b.buf)) {
		for w.eng.inflight() > 0 {
			w.reap()
		}
		if w.fsync != FsyncNever && w.dirty {
			w.fsyncNow()
		}
		w.out.rotate()
		w.partial = false
		if w.out.fd >= 0 {
			w.eng.attach(w.out.fd, w.out.size, w.out.regular, w.out.path)
		}
	}
	if err := w.openIfNeeded(); err != nil {
		b.err = err
		w.failed = append(w.failed, b)
		return
	}
	if w.partial {
		// A failed write left half a record at the end of the file; end that line so the
		// next record starts on its own. The tiny batch is heap-allocated like any other.
		w.partial = false
		nl := &batch{buf: []byte{'\n'}, lineFix: true}
		w.out.size++
		w.eng.submit(nl)
	}
	w.out.size += int64(len(b.buf))
	w.eng.submit(b)
}

// openIfNeeded opens the file if a failed rotation or Reopen left none open.
func (w *writer) openIfNeeded() error {
	if w.out.fd >= 0 {
		return nil
	}
	if err := w.out.open(); err != nil {
		return err
	}
	w.partial = false
	w.eng.attach(w.out.fd, w.out.size, w.out.regular, w.out.path)
	return nil
}

// reap collects finished batches (waiting for at least one if some are in flight), counts
// them and gives the buffers back to the queue.
func (w *writer) reap() {
	w.finished = w.eng.reap(w.finished[:0])
	w.finished = append(w.finished, w.failed...)
	clear(w.failed)
	w.failed = w.failed[:0]
	var lost uint64
	keep := w.finished[:0]
	for _, b := range w.finished {
		lost += w.account(b)
		if !b.lineFix { // the "\n" batches of submit are not the queue's
			keep = append(keep, b)
		}
	}
	w.q.release(keep, lost, w.bufferSize)
	clear(w.finished)
	if w.syncing {
		if done, err := w.eng.fsyncResult(); done {
			w.syncing = false
			w.fsynced(err)
		}
	}
	switch {
	case w.fsync == FsyncBatch && w.dirty && !w.syncing:
		w.startFsync()
	case w.fsync == FsyncInterval:
		w.maybeFsync(time.Now())
	}
}

// startFsync begins the fdatasync FsyncBatch asks for after the batches just written. With
// EngineUring it runs while the writer goes on writing the next batches (reap collects its
// result); with EngineThread it runs now.
func (w *writer) startFsync() {
	if w.out.fd < 0 {
		return
	}
	w.dirty = false // writes that finish from now on need another one
	started, err := w.eng.startFsync()
	if started {
		w.syncing = true
		return
	}
	w.fsynced(err)
}

// fsynced accounts for a finished fdatasync started by startFsync.
func (w *writer) fsynced(err error) {
	if err != nil {
		w.errs.report(err)
		w.dirty = true // try again
		return
	}
	w.c.fsyncs.Add(1)
}

// account counts one finished batch and returns how many of its records and reported drops
// were lost.
func (w *writer) account(b *batch) (lost uint64) {
	if b.done > 0 {
		w.c.bytes.Add(uint64(b.done))
		w.c.batches.Add(1)
		if !w.dirty {
			w.dirty = true
			w.fsyncAt = time.Now().Add(w.fsyncInterval)
		}
	}
	if b.err == nil {
		w.c.written.Add(b.records)
		w.c.reported.Add(b.reports)
		return 0
	}
	w.errs.report(b.err)
	if b.done == 0 {
		if b.lineFix {
			w.partial = true // the line-ending fix itself failed; try again next time
		}
		w.c.droppedError.Add(b.records)
		w.lost.add(b.records, b.err)
		return b.records + b.reports
	}
	// Part of the batch made it: count the whole lines written, telling our drop reports
	// apart from caller records by their recorded end offsets.
	lines := uint64(bytes.Count(b.buf[:b.done], []byte{'\n'}))
	var repLines, repWritten uint64
	for _, m := range b.marks[:b.nmarks] {
		if m.end <= b.done {
			repLines++
			repWritten += m.n
		}
	}
	recs := lines - repLines
	w.c.written.Add(recs)
	w.c.droppedError.Add(b.records - recs)
	w.lost.add(b.records-recs, b.err)
	w.c.reported.Add(repWritten)
	if b.buf[b.done-1] != '\n' {
		w.partial = true
	}
	return (b.records - recs) + (b.reports - repWritten)
}

func (w *writer) maybeFsync(now time.Time) {
	if w.fsync == FsyncInterval && w.dirty && !now.Before(w.fsyncAt) {
		w.fsyncNow()
	}
}

// fsyncNow fdatasyncs and waits. Its callers first wait until nothing is in flight (drain,
// or reap until inflight is 0), which collects any fsync startFsync began, so syncing is
// false here; the engine would wait for such an fsync anyway.
func (w *writer) fsyncNow() error {
	if w.out.fd < 0 {
		return nil
	}
	if err := w.eng.fsync(); err != nil {
		w.errs.report(err)
		return err
	}
	w.c.fsyncs.Add(1)
	w.dirty = false
	w.fsyncAt = time.Time{}
	return nil
}
