package logger

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"
)

// Level is a log level. It is slog's level type, so the two APIs agree:
// LevelDebug < LevelInfo < LevelWarn < LevelError, and any value in between works.
type Level = slog.Level

// The standard levels.
const (
	LevelDebug = slog.LevelDebug
	LevelInfo  = slog.LevelInfo
	LevelWarn  = slog.LevelWarn
	LevelError = slog.LevelError
)

// Engine names how batches of records reach the file. It is chosen once, in Options.
type Engine string

const (
	// EngineUring submits each batch as a write to an io_uring ring (package ring), with
	// several writes in flight; the writer goroutine waits for completions in Go's netpoller,
	// so no OS thread is parked in write(2). While the kernel holds its requests the writer
	// keeps its OS thread to itself (the kernel cancels the requests of a thread that
	// exits); an idle writer holds none. The default.
	EngineUring Engine = "uring"
	// EngineThread writes each batch with write(2) from one goroutine locked to its own OS
	// thread: the classic thread-pool way, with a pool of one.
	EngineThread Engine = "thread"
	// EngineSync writes each record with write(2) in the calling goroutine under a mutex. No
	// queue, no writer goroutine: the baseline the other engines are measured against.
	EngineSync Engine = "sync"
)

// Policy says what a logging call does when the queue is full.
type Policy string

const (
	// PolicyBlock makes the caller wait for space: nothing is lost. The default.
	PolicyBlock Policy = "block"
	// PolicyDrop never waits: the record is dropped and counted, and once space returns a
	// record {"level":"WARN","msg":"logger dropped records","dropped":N} is written.
	PolicyDrop Policy = "drop"
)

// Format is the encoding of records in the file. Both are one record per line.
type Format string

const (
	// FormatJSON writes {"time":"…","level":"INFO","msg":"…","key":value,…}. The default.
	FormatJSON Format = "json"
	// FormatLogfmt writes time=… level=INFO msg="…" key=value ….
	FormatLogfmt Format = "logfmt"
)

// DropReport says how the logger announces records it had to drop (queue full under
// PolicyDrop, or lost to a write error).
type DropReport string

const (
	// DropReportRecord writes a record in Options.Format to the file once writing works
	// again: {"level":"WARN","msg":"logger dropped records","dropped":N}. The default.
	DropReportRecord DropReport = "record"
	// DropReportOnError writes nothing to the file: a *DropError goes to Options.OnError
	// instead, as soon as the writer sees the loss. For files whose lines are not the
	// logger's Format, such as an access log written with Write in Apache's combined
	// format, where a JSON warning would be a foreign line. Needs Options.OnError.
	DropReportOnError DropReport = "onerror"
)

// DropError is what Options.OnError receives with DropReportOnError: Dropped records meant
// for Path were lost since the previous DropError.
type DropError struct {
	Path    string
	Dropped uint64
}

// Error names the file and how many records were dropped.
func (e *DropError) Error() string {
	return fmt.Sprintf("logger: %s: %d records dropped (queue full or write failed)", e.Path, e.Dropped)
}

// FsyncPolicy says when the writer calls fdatasync(2) on the file.
type FsyncPolicy string

const (
	// FsyncNever leaves durability to the kernel; Sync and Close only write. The default.
	FsyncNever FsyncPolicy = "never"
	// FsyncInterval syncs at most once per Options.FsyncInterval when something was written,
	// and on Sync and Close.
	FsyncInterval FsyncPolicy = "interval"
	// FsyncBatch syncs after every batch written (every record with EngineSync), and on Sync
	// and Close. With EngineUring the writer does not wait for it: the fdatasync runs in the
	// kernel while the writer goes on submitting the next batches, and batches that finish
	// meanwhile are covered by the next one. With EngineThread the writer's thread waits.
	FsyncBatch FsyncPolicy = "batch"
)

// Defaults used for zero Options fields.
//
// DefaultBufferSize is 512 KiB (4 MiB for the 8 buffers): smaller buffers are sealed so
// often that a single fast producer keeps waking the writer and fills the queue, blocking
// itself (measured: see docs/results).
const (
	DefaultBufferSize    = 512 << 10
	DefaultQueueSize     = 8
	DefaultFlushInterval = 100 * time.Millisecond
	DefaultFsyncInterval = time.Second
	DefaultMaxBackups    = 5
	DefaultFileMode      = fs.FileMode(0o644)
)

// Options configure a Logger. Only Path is required; every zero field takes its default.
type Options struct {
	// Path is the log file. It is created if missing, and records go after what it already
	// holds (O_APPEND, except with EngineUring, which keeps the end offset itself).
	Path string
	// Engine is how batches are written: EngineUring, EngineThread or EngineSync. Left
	// empty, it is EngineUring, or EngineThread where io_uring is unavailable.
	Engine Engine
	// Policy is what a call does when the queue is full: PolicyBlock (default) or PolicyDrop.
	Policy Policy
	// Format is FormatJSON (default) or FormatLogfmt.
	Format Format
	// Level is the minimum level logged; the zero value is LevelInfo. Change it later with
	// (*Logger).SetLevel.
	Level Level

	// BufferSize is the size in bytes of one batch buffer: records are appended into a buffer
	// and each full buffer is one write. Default DefaultBufferSize.
	BufferSize int
	// QueueSize is the number of batch buffers. Up to QueueSize×BufferSize bytes of records
	// wait in memory; when all buffers are full or being written the queue is full and Policy
	// applies. With EngineUring up to QueueSize-1 writes are in flight. At least 2; default
	// DefaultQueueSize.
	QueueSize int
	// FlushInterval bounds how long a record waits in a partly filled buffer before it is
	// written. Default DefaultFlushInterval.
	FlushInterval time.Duration

	// Fsync is when the file is fdatasync'ed: FsyncNever (default), FsyncInterval, FsyncBatch.
	Fsync FsyncPolicy
	// FsyncInterval is the period for FsyncInterval. Default DefaultFsyncInterval.
	FsyncInterval time.Duration

	// MaxSize, when positive, rotates the file before it would grow past MaxSize bytes:
	// Path is renamed Path.1 (older backups shift to Path.2 …) and a new Path is created.
	// Records are never split across files. Batches are capped at MaxSize, so a file is only
	// larger than MaxSize when it holds a single record that is.
	MaxSize int64
	// MaxBackups is how many rotated files are kept (Path.1 newest … Path.N oldest); the next
	// rotation removes the oldest. Default DefaultMaxBackups. Only used with MaxSize.
	MaxBackups int
	// FileMode is the permission of files the logger creates. Default DefaultFileMode.
	FileMode fs.FileMode

	// OnError, if set, is told about every write, fsync, open or rotation error. It runs on a
	// goroutine of its own (never the caller's or the writer's), so it may block or log to
	// this Logger; errors that arrive while it is busy are counted in Stats but may not all
	// be delivered. (A *DropError that cannot be delivered is kept and its count joins the
	// next one.)
	OnError func(error)
	// DropReport is where dropped records are announced: DropReportRecord (default, in the
	// file) or DropReportOnError.
	DropReport DropReport
	// KernelCompat caps EngineUring's ring to an older kernel's io_uring features (e.g.
	// "5.10"), as ring.Options.KernelCompat does; empty means $URINGD_KERNEL_COMPAT, if set.
	// Below what the logger needs, an empty Engine falls back to EngineThread.
	KernelCompat string

	// uring tunes EngineUring's ring for tests (injected faults, a tiny SQ, a forced
	// generation wrap); in-package tests set it, production leaves it zero.
	uring uringTuning
}

// withDefaults returns o with defaults filled in, or an error naming the bad field.
func (o Options) withDefaults() (Options, error) {
	if o.Path == "" {
		return o, errors.New("logger: Options.Path is empty")
	}
	if o.Engine == "" {
		o.Engine = EngineUring // New falls back to EngineThread if io_uring is unavailable
	}
	switch o.Engine {
	case EngineUring, EngineThread, EngineSync:
	default:
		return o, fmt.Errorf("logger: unknown Options.Engine %q (want %q, %q or %q)", o.Engine, EngineUring, EngineThread, EngineSync)
	}
	if o.Policy == "" {
		o.Policy = PolicyBlock
	}
	switch o.Policy {
	case PolicyBlock, PolicyDrop:
	default:
		return o, fmt.Errorf("logger: unknown Options.Policy %q (want %q or %q)", o.Policy, PolicyBlock, PolicyDrop)
	}
	if o.Format == "" {
		o.Format = FormatJSON
	}
	switch o.Format {
	case FormatJSON, FormatLogfmt:
	default:
		return o, fmt.Errorf("logger: unknown Options.Format %q (want %q or %q)", o.Format, FormatJSON, FormatLogfmt)
	}
	if o.DropReport == "" {
		o.DropReport = DropReportRecord
	}
	switch o.DropReport {
	case DropReportRecord:
	case DropReportOnError:
		if o.OnError == nil {
			return o, fmt.Errorf("logger: Options.DropReport %q needs Options.OnError", o.DropReport)
		}
	default:
		return o, fmt.Errorf("logger: unknown Options.DropReport %q (want %q or %q)", o.DropReport, DropReportRecord, DropReportOnError)
	}
	if o.Fsync == "" {
		o.Fsync = FsyncNever
	}
	switch o.Fsync {
	case FsyncNever, FsyncInterval, FsyncBatch:
	default:
		return o, fmt.Errorf("logger: unknown Options.Fsync %q (want %q, %q or %q)", o.Fsync, FsyncNever, FsyncInterval, FsyncBatch)
	}
	if o.BufferSize < 0 || o.QueueSize < 0 || o.FlushInterval < 0 || o.FsyncInterval < 0 || o.MaxSize < 0 || o.MaxBackups < 0 {
		return o, errors.New("logger: negative size, interval or count in Options")
	}
	if o.BufferSize == 0 {
		o.BufferSize = DefaultBufferSize
	}
	if o.MaxSize > 0 && int64(o.BufferSize) > o.MaxSize {
		o.BufferSize = int(o.MaxSize)
	}
	if o.QueueSize == 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.QueueSize < 2 {
		return o, fmt.Errorf("logger: Options.QueueSize is %d, need at least 2", o.QueueSize)
	}
	if o.FlushInterval == 0 {
		o.FlushInterval = DefaultFlushInterval
	}
	if o.FsyncInterval == 0 {
		o.FsyncInterval = DefaultFsyncInterval
	}
	if o.MaxBackups == 0 {
		o.MaxBackups = DefaultMaxBackups
	}
	if o.FileMode == 0 {
		o.FileMode = DefaultFileMode
	}
	return o, nil
}
