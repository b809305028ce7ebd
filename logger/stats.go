package logger

import (
	"sync"
	"sync/atomic"
)

// Stats counts what a Logger did since New. Records means log records written by the
// caller; the logger's own drop-report records are counted only in Reported and Bytes.
//
// Every logged record (one that passed the level check) ends up in exactly one of Written,
// DroppedFull, DroppedError and DroppedClosed, so once the Logger is closed
//
//	Written + Dropped == records logged, and Accepted == Written + DroppedError.
type Stats struct {
	// Accepted is the number of records taken into the queue (EngineSync: handed to write).
	Accepted uint64
	// Written is the number of records the kernel accepted.
	Written uint64
	// Dropped is DroppedFull + DroppedError + DroppedClosed.
	Dropped uint64
	// DroppedFull counts records refused because the queue was full under PolicyDrop, or
	// whose context ended while they waited for space under PolicyBlock.
	DroppedFull uint64
	// DroppedError counts accepted records lost because writing them failed.
	DroppedError uint64
	// DroppedClosed counts records logged after Close.
	DroppedClosed uint64
	// Reported is the sum of the "dropped" counts in drop-report records written to the file
	// (with DropReportOnError: in the *DropErrors handed to OnError's goroutine).
	// Records lost to a full queue or a write error are reported once writing works again,
	// so after Close, Reported == DroppedFull + DroppedError unless writes kept failing.
	Reported uint64
	// Bytes is the number of bytes written, drop reports included.
	Bytes uint64
	// Batches is the number of successful write operations (EngineSync: one per record).
	Batches uint64
	// WriteErrors counts failed writes, fsyncs, opens and rotations.
	WriteErrors uint64
	// Fsyncs is the number of successful fdatasync calls.
	Fsyncs uint64
	// Rotations counts size-based rotations and Reopen calls that opened a new file.
	Rotations uint64
	// QueueHighWater is the most records that were accepted and not yet written at once.
	QueueHighWater uint64
	// Waits counts the times a caller found the queue full and waited (PolicyBlock). Many
	// waits mean the file cannot keep up, or QueueSize×BufferSize is too small for bursts.
	Waits uint64
	// LastError is the most recent write, fsync, open or rotation error, or nil.
	LastError error
}

// counters are the Stats the writing side keeps. They are atomics because Stats may be
// called from any goroutine while the writer (or, for EngineSync, a caller) updates them.
type counters struct {
	written, droppedError, reported, bytes, batches, writeErrors, fsyncs, rotations atomic.Uint64
	lastErr                                                                         atomic.Pointer[errorBox]
}

type errorBox struct{ err error }

func (c *counters) fill(s *Stats) {
	s.Written = c.written.Load()
	s.DroppedError = c.droppedError.Load()
	s.Reported = c.reported.Load()
	s.Bytes = c.bytes.Load()
	s.Batches = c.batches.Load()
	s.WriteErrors = c.writeErrors.Load()
	s.Fsyncs = c.fsyncs.Load()
	s.Rotations = c.rotations.Load()
	if b := c.lastErr.Load(); b != nil {
		s.LastError = b.err
	}
}

// errorSink counts an error, remembers it for Stats and hands it to Options.OnError on a
// goroutine of its own, so a callback that blocks or logs to the same Logger cannot stall
// the writer or deadlock a caller. Errors arriving while the callback is backed up are
// counted but not delivered.
type errorSink struct {
	c    *counters
	fn   func(error)
	ch   chan error
	done chan struct{}
	once sync.Once
}

func newErrorSink(c *counters, fn func(error)) *errorSink {
	s := &errorSink{c: c, fn: fn}
	if fn != nil {
		s.ch = make(chan error, 64)
		s.done = make(chan struct{})
		go func() {
			defer close(s.done)
			for err := range s.ch {
				fn(err)
			}
		}()
	}
	return s
}

// report records err. It must not be called after stop.
func (s *errorSink) report(err error) {
	s.c.writeErrors.Add(1)
	s.c.lastErr.Store(&errorBox{err})
	if s.ch != nil {
		select {
		case s.ch <- err:
		default:
		}
	}
}

// notify hands a drop report to OnError without counting it as an error. It reports false,
// having done nothing, when the callback is backed up: the caller keeps the count for later.
// With wait (the last report, from Close; never under a lock a logging call takes) it waits
// for room instead.
func (s *errorSink) notify(err error, wait bool) bool {
	if s.ch == nil {
		return false
	}
	if wait {
		s.ch <- err
		return true
	}
	select {
	case s.ch <- err:
		return true
	default:
		return false
	}
}

// stopOnce delivers the errors still buffered and ends the callback goroutine. Nothing may
// report after it.
func (s *errorSink) stopOnce() {
	s.once.Do(func() {
		if s.ch != nil {
			close(s.ch)
			<-s.done
		}
	})
}
