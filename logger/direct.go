package logger

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// directSink is EngineSync: each record is written with write(2) by the calling goroutine,
// under a mutex that keeps records whole and in order. There is no queue and no writer
// goroutine, so nothing is ever dropped for lack of space; the price is a syscall (and,
// under contention, a wait for the mutex) in every logging call.
type directSink struct {
	mu            sync.Mutex
	out           *output
	enc           encoder
	clock         *clock
	c             *counters
	errs          *errorSink
	fsync         FsyncPolicy
	fsyncInterval time.Duration

	// Guarded by mu.
	closed     bool
	partial    bool // a failed write left half a record: the next write starts with "\n"
	dirty      bool
	fsyncAt    time.Time
	timer      *time.Timer                    // FsyncInterval: syncs a write that no later write follows
	unreported uint64                         // records lost to write errors, not yet announced in the file
	scratch    []byte                         // drop-report encoding
	notify     func(n uint64, wait bool) bool // DropReportOnError: see queue.notify
	lost       losses                         // records lost since the last Sync

	accepted, droppedClosed atomic.Uint64

	closeOnce sync.Once
	closeErr  error
}

func newDirectSink(o *Options, enc encoder, clk *clock, out *output, c *counters, errs *errorSink) *directSink {
	s := &directSink{
		out:           out,
		enc:           enc,
		clock:         clk,
		c:             c,
		errs:          errs,
		fsync:         o.Fsync,
		fsyncInterval: o.FsyncInterval,
	}
	if o.DropReport == DropReportOnError {
		s.notify = dropNotifier(o.Path, c, errs)
	}
	if s.fsync == FsyncInterval {
		s.timer = time.AfterFunc(time.Hour, s.intervalSync)
		s.timer.Stop()
	}
	return s
}

// intervalSync runs on the timer's goroutine FsyncInterval after a first unsynced write.
func (s *directSink) intervalSync() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed && s.dirty {
		s.fsyncNow()
	}
}

func (s *directSink) put(_ context.Context, rec []byte) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.droppedClosed.Add(1)
		return ErrClosed
	}
	s.accepted.Add(1)
	err := s.write(rec, 1, 0)
	if err == nil || s.notify != nil {
		s.reportDrops()
	}
	s.mu.Unlock()
	return err
}

// reportDrops writes a drop-report record for records lost to earlier write errors. It is
// called after a successful write, so a sink that keeps failing costs one error per record.
// With DropReportOnError it hands the report to OnError instead, after any write.
func (s *directSink) reportDrops() {
	if s.unreported == 0 {
		return
	}
	if s.notify != nil {
		if s.notify(s.unreported, false) {
			s.unreported = 0
		}
		return
	}
	n := s.unreported
	s.unreported = 0
	b := s.enc.header(s.scratch[:0], s.clock.read(), LevelWarn, "logger dropped records")
	b = s.enc.field(b, "", Uint64("dropped", n))
	s.scratch = s.enc.end(b)
	s.write(s.scratch, 0, n)
}

// write writes p, which holds records caller records or one drop report announcing reports
// drops, and does the accounting, rotation and fsync around it. Called with mu held.
func (s *directSink) write(p []byte, records, reports uint64) error {
	o := s.out
	if o.fd >= 0 && o.wantsRotate(len(p)) {
		if s.fsync != FsyncNever && s.dirty {
			s.fsyncNow()
		}
		o.rotate()
		s.partial = false
	}
	if o.fd < 0 {
		if err := o.open(); err != nil {
			s.errs.report(err)
			s.c.droppedError.Add(records)
			s.lost.add(records, err)
			s.unreported += records + reports
			return err
		}
		s.partial = false
	}
	if s.partial {
		if n, err := writeAll(o.fd, []byte{'\n'}, o.path); err == nil {
			s.partial = false
			o.size += int64(n)
		}
	}
	n, err := writeAll(o.fd, p, o.path)
	if err != nil && n > 0 && o.regular {
		// Half a record: cut it off, so the record is wholly absent (and counted lost).
		if cerr := cutTail(o.fd, n, o.path); cerr != nil {
			s.errs.report(cerr)
		} else {
			n = 0
		}
	}
	o.size += int64(n)
	if n > 0 {
		s.c.bytes.Add(uint64(n))
		s.c.batches.Add(1)
		if !s.dirty {
			s.dirty = true
			if s.timer != nil {
				s.fsyncAt = time.Now().Add(s.fsyncInterval)
				s.timer.Reset(s.fsyncInterval)
			}
		}
	}
	if err != nil {
		s.errs.report(err)
		s.c.droppedError.Add(records)
		s.lost.add(records, err)
		s.unreported += records + reports
		s.partial = n > 0
		return err
	}
	s.c.written.Add(records)
	s.c.reported.Add(reports)
	switch s.fsync {
	case FsyncBatch:
		s.fsyncNow()
	case FsyncInterval:
		if !time.Now().Before(s.fsyncAt) {
			s.fsyncNow()
		}
	}
	return nil
}

func (s *directSink) fsyncNow() error {
	if s.out.fd < 0 {
		return nil
	}
	if err := fdatasync(s.out.fd, s.out.path); err != nil {
		s.errs.report(err)
		return err
	}
	s.c.fsyncs.Add(1)
	s.dirty = false
	return nil
}

func (s *directSink) sync(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	var err error
	if s.fsync != FsyncNever && s.dirty {
		err = s.fsyncNow()
	}
	return join(s.lost.take("sync", s.out.path), err)
}

func (s *directSink) reopen(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.fsync != FsyncNever && s.dirty {
		s.fsyncNow()
	}
	s.partial = false
	return s.out.reopen()
}

func (s *directSink) close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		if s.timer != nil {
			s.timer.Stop()
		}
		if s.notify != nil && s.unreported > 0 {
			// The last report waits for OnError's room, outside mu: the callback may log to
			// this Logger (and get ErrClosed).
			n := s.unreported
			s.unreported = 0
			s.mu.Unlock()
			s.notify(n, true)
			s.mu.Lock()
		}
		defer s.mu.Unlock()
		if s.out.fd >= 0 {
			s.reportDrops()
		}
		if s.fsync != FsyncNever && s.dirty {
			s.closeErr = s.fsyncNow()
		}
		if err := s.out.close(); err != nil {
			s.errs.report(err)
			if s.closeErr == nil {
				s.closeErr = err
			}
		}
		s.closeErr = join(s.lost.take("close", s.out.path), s.closeErr)
	})
	return s.closeErr
}

func (s *directSink) stats(st *Stats) {
	st.Accepted = s.accepted.Load()
	st.DroppedClosed = s.droppedClosed.Load()
	s.c.fill(st)
}
