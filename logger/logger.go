package logger

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/uringd/uringd/ring"
)

// Errors returned by logging calls (Log, and the slog Handler's Handle) and by Sync, Reopen.
var (
	// ErrClosed means the Logger was closed; the record was counted in Stats.DroppedClosed.
	ErrClosed = errors.New("logger: closed")
	// ErrDropped means the queue was full under PolicyDrop; the record was counted in
	// Stats.DroppedFull and will be announced by a drop-report record.
	ErrDropped = errors.New("logger: queue full, record dropped")
)

// sink is where encoded records go: the queue and writer goroutine (EngineUring,
// EngineThread) or a write in the caller (EngineSync). New picks one; calls go through this
// interface, so no logging call branches on the engine.
type sink interface {
	// put takes one encoded record (not retained). ctx may be nil; it is only consulted
	// while PolicyBlock waits for space.
	put(ctx context.Context, rec []byte) error
	sync(ctx context.Context) error
	reopen(ctx context.Context) error
	close() error
	stats(*Stats)
}

// core is what a Logger and the Loggers and Handlers derived from it share.
type core struct {
	level  atomic.Int64
	clock  clock
	engine Engine
	enc    encoder
	sink   sink
	// q is the async sink's queue (nil for EngineSync), for the fast path of log.
	q    *queue
	errs *errorSink
	// bufs holds *encBuf: each call encodes into one from here, then the sink copies the
	// bytes (and the buffer goes back), so callers never share an encoding buffer.
	bufs sync.Pool
}

// encBuf is a pooled encoding buffer. Buffers that grew past maxPooled are not kept.
type encBuf struct{ b []byte }

const maxPooled = 64 << 10

func (c *core) getBuf() *encBuf { return c.bufs.Get().(*encBuf) }

func (c *core) putBuf(e *encBuf) {
	if cap(e.b) <= maxPooled {
		e.b = e.b[:0]
		c.bufs.Put(e)
	}
}

// A Logger writes records to one file. It is safe for concurrent use. Create one with New,
// log with Debug/Info/Warn/Error (or Log), hand Handler() to slog if you like, and Close it
// when done. Loggers made by With share the original's file, queue and writer.
type Logger struct {
	core   *core
	prefix []byte // fields added by With, encoded, without a leading separator
}

// New opens (creating if needed) opts.Path and starts the writer. It fails if the options
// are invalid, the file cannot be opened, or EngineUring was asked for explicitly and the
// io_uring ring cannot be set up. With Options.Engine left empty, a machine without usable
// io_uring gets EngineThread (see Logger.Engine).
func New(opts Options) (*Logger, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &core{enc: newEncoder(o.Format)}
	c.clock.tsc = tscReliable()
	c.clock.read() // the first reading: the TSC's rate is measured from it
	c.bufs.New = func() any { return &encBuf{b: make([]byte, 0, 1024)} }
	c.level.Store(int64(o.Level))
	ctr := new(counters)
	c.errs = newErrorSink(ctr, o.OnError)

	// Set up the ring first: where io_uring is unavailable (old kernel, a seccomp profile,
	// io_uring_disabled) and the engine was left to the default, use EngineThread instead.
	var eng engine
	switch o.Engine {
	case EngineUring:
		eng, err = newUringEngine(o.QueueSize, o.KernelCompat, o.uring)
		if _, unavailable := ring.IsUnavailable(err); unavailable && opts.Engine == "" {
			o.Engine, err = EngineThread, nil
		} else if err != nil {
			c.errs.stopOnce()
			return nil, err
		}
	}
	l := &Logger{core: c}
	c.engine = o.Engine
	// EngineUring writes at explicit offsets (see uringEngine); the others append.
	out := newOutput(&o, o.Engine != EngineUring, c.errs)
	if err := out.open(); err != nil {
		if eng != nil {
			eng.close()
		}
		c.errs.stopOnce()
		return nil, err
	}
	switch o.Engine {
	case EngineSync:
		c.sink = newDirectSink(&o, c.enc, &c.clock, out, ctr, c.errs)
	default:
		if o.Engine == EngineThread {
			eng = &threadEngine{}
		}
		eng.attach(out.fd, out.size, out.regular, out.path)
		s := newAsyncSink(&o, c.enc, &c.clock, eng, out, ctr, c.errs)
		s.start()
		c.sink, c.q = s, s.q
	}
	return l, nil
}

// Engine returns the engine in use: Options.Engine, or when that was left empty, EngineUring
// where io_uring is available and EngineThread where it is not.
func (l *Logger) Engine() Engine { return l.core.engine }

// Enabled reports whether records at level are logged. It is one atomic load; use it to
// skip building expensive fields.
func (l *Logger) Enabled(level Level) bool {
	return level >= Level(l.core.level.Load())
}

// SetLevel changes the minimum level of l and of every Logger and Handler sharing its core.
func (l *Logger) SetLevel(level Level) { l.core.level.Store(int64(level)) }

// Level returns the minimum level logged.
func (l *Logger) Level() Level { return Level(l.core.level.Load()) }

// Debug logs msg and fields at LevelDebug.
func (l *Logger) Debug(msg string, fields ...Field) {
	if l.Enabled(LevelDebug) {
		l.log(nil, LevelDebug, msg, fields)
	}
}

// Info logs msg and fields at LevelInfo.
func (l *Logger) Info(msg string, fields ...Field) {
	if l.Enabled(LevelInfo) {
		l.log(nil, LevelInfo, msg, fields)
	}
}

// Warn logs msg and fields at LevelWarn.
func (l *Logger) Warn(msg string, fields ...Field) {
	if l.Enabled(LevelWarn) {
		l.log(nil, LevelWarn, msg, fields)
	}
}

// Error logs msg and fields at LevelError.
func (l *Logger) Error(msg string, fields ...Field) {
	if l.Enabled(LevelError) {
		l.log(nil, LevelError, msg, fields)
	}
}

// Log logs msg and fields at level and says what became of the record: nil (accepted),
// ErrClosed, ErrDropped, a write error (EngineSync only; the other engines write later and
// report through Stats and Options.OnError), or ctx's error if ctx ended while PolicyBlock
// waited for queue space. Every outcome is also counted in Stats. Pass
// context.Background() when there is no deadline.
func (l *Logger) Log(ctx context.Context, level Level, msg string, fields ...Field) error {
	if !l.Enabled(level) {
		return nil
	}
	return l.log(ctx, level, msg, fields)
}

// log encodes the record and hands it to the sink. fields does not escape: it is only read
// here and by the concrete functions it is passed to, one Field at a time by value, so
// callers' variadic arrays stay on their stacks.
//
// The fast path (EngineUring and EngineThread) encodes straight into the queue's filling
// batch buffer under the queue's lock, when the lock is free and the record cannot call
// code of the caller's (see queue.tryAppend): one copy of the bytes, no pooled buffer.
// Otherwise the record is encoded into a pooled buffer outside any lock and the sink copies
// it.
func (l *Logger) log(ctx context.Context, level Level, msg string, fields []Field) error {
	c := l.core
	if c.q != nil && c.q.tryAppend(level, msg, l.prefix, fields) {
		return nil
	}
	e := c.getBuf()
	b := c.enc.record(e.b[:0], c.clock.read(), level, msg, l.prefix, fields)
	err := c.sink.put(ctx, b)
	e.b = b
	c.putBuf(e)
	return err
}

// Write logs p as it is: one record of preformatted text, such as an access-log line in
// Apache's combined format, that goes through the same queue, writer and file as the typed
// records, with no timestamp, level or encoding added. p should end with a newline; one is
// added if it does not, so records never run together. Write is not filtered by level, and
// it makes a Logger an io.Writer (for log.New, for example): each call is one record. It
// returns len(p) once the record is accepted, or the error Log would return (ErrClosed,
// ErrDropped, or a write error with EngineSync). p is not retained. With a trailing newline
// the call allocates nothing.
func (l *Logger) Write(p []byte) (int, error) {
	c := l.core
	if len(p) > 0 && p[len(p)-1] == '\n' {
		if err := c.sink.put(context.Background(), p); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	e := c.getBuf()
	b := append(append(e.b[:0], p...), '\n')
	err := c.sink.put(context.Background(), b)
	e.b = b
	c.putBuf(e)
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// With returns a Logger that adds fields to every record. The fields are encoded once, now.
// The new Logger shares l's file, queue, writer and level; closing either closes both.
func (l *Logger) With(fields ...Field) *Logger {
	p := append([]byte(nil), l.prefix...)
	for _, f := range fields {
		p = l.core.enc.field(p, "", f)
	}
	return &Logger{core: l.core, prefix: p}
}

// Sync returns once every record accepted before the call is written to the file (and, with
// an Fsync policy other than FsyncNever, fdatasync'ed). It returns ErrClosed after Close.
func (l *Logger) Sync() error { return l.SyncContext(context.Background()) }

// SyncContext is Sync, giving up when ctx ends. The writer still finishes the work.
func (l *Logger) SyncContext(ctx context.Context) error { return l.core.sink.sync(ctx) }

// Reopen closes the file and opens Options.Path again, for logrotate: rename the file, call
// Reopen, and new records go to a new file at Path. Records accepted before Reopen are
// written before the old file is closed, so nothing is lost. Reopen returns the error
// opening the new file, if any (the logger keeps trying on later writes).
func (l *Logger) Reopen() error { return l.core.sink.reopen(context.Background()) }

// Close writes every record accepted so far, fsyncs when an Fsync policy is set, closes the
// file and stops the writer. Later logging calls are counted in Stats.DroppedClosed (Log
// returns ErrClosed). Calling Close again returns the first call's result.
func (l *Logger) Close() error {
	err := l.core.sink.close()
	l.core.errs.stopOnce()
	return err
}

// Stats returns the counters; see Stats. It is safe to call at any time, also after Close.
func (l *Logger) Stats() Stats {
	var s Stats
	l.core.sink.stats(&s)
	s.Dropped = s.DroppedFull + s.DroppedError + s.DroppedClosed
	return s
}
