// Package logger is uringd's embeddable asynchronous logger: typed, allocation-free logging
// calls that only encode and enqueue, one writer goroutine per Logger that batches records
// into large writes, and an io_uring engine so that no OS thread sits blocked in write(2).
// It also serves as a log/slog backend.
//
// # What logger owns
//
// A Logger owns its log file (opening, appending, fsync, size-based rotation, reopening for
// logrotate), the record encodings (JSON and logfmt), the queue between callers and the
// writer, the writer goroutine, and — with EngineUring — one io_uring ring and its eventfd
// Notifier (package ring provides them; logger decides what to submit). It owns nothing
// global: every Logger is independent, and Close releases everything it holds.
//
// # Using it
//
//	l, err := logger.New(logger.Options{Path: "app.log"}) // uring engine, block policy, JSON
//	if err != nil { ... }
//	defer l.Close()
//	l.Info("listening", logger.String("addr", addr), logger.Int("workers", n))
//	slog.SetDefault(slog.New(l.Handler())) // the same file, queue and writer behind log/slog
//
// Fields are plain structs built by String, Int, Duration, Err and friends; a call with
// fields allocates nothing (the variadic array stays on the caller's stack), and a call
// below the level costs one atomic load (Enabled). Records are one line each:
//
//	{"time":"2024-05-06T07:08:09.012345678Z","level":"INFO","msg":"listening","addr":":8080","workers":4}
//	time=2024-05-06T07:08:09.012345678Z level=INFO msg=listening addr=:8080 workers=4
//
// Timestamps are RFC 3339 in UTC with nine digits of nanoseconds. Each Logger formats the
// date and time once per second and adds the time elapsed since to every record (clock.go):
// one read of the processor's time-stamp counter on amd64 machines whose kernel keeps time
// with it, one read of Go's monotonic clock elsewhere.
//
// # Design
//
// A record goes through three parts, each chosen once, at New:
//
//   - encoder (encoder.go): bytes from fields, JSON or logfmt. It is a small value whose
//     methods branch on the format rather than an interface, so the compiler can inline
//     them and see that the caller's fields do not escape; fields reach it one at a time.
//   - sink (logger.go): where encoded records go. For EngineUring and EngineThread it is
//     the queue plus the writer goroutine (writer.go); for EngineSync it is a write(2) in
//     the caller under a mutex (direct.go), the baseline.
//   - engine (engine.go, engine_uring.go): how the writer gets batches into the file —
//     IORING_OP_WRITE through a ring, or write(2) on a goroutine locked to its OS thread.
//
// The queue (queue.go) is a bounded multi-producer, single-consumer pool of QueueSize batch
// buffers of BufferSize bytes under one mutex. A typed logging call (Info, Log, …) encodes
// its record straight into the buffer being filled, under that mutex, when the mutex is
// free and no field runs code of the caller's (Err, Stringer and Any do): the bytes are
// written once, with no syscall, and the record is known in advance to fit. Otherwise —
// another caller holds the mutex, such a field, a slog record — the caller encodes into a
// pooled buffer outside the lock and the queue copies it in. When a record does not fit,
// the buffer is sealed and the writer woken. The writer is otherwise woken only when the
// first record lands in an empty buffer while it sleeps, and writes a partly filled buffer
// after FlushInterval, so it neither spins nor wakes per record. When every buffer is
// sealed or being written the queue is full: PolicyBlock makes the caller wait (honouring
// the context of Log and slog's Handle), PolicyDrop drops and counts the record, and once
// space returns the writer adds a record
// {"level":"WARN","msg":"logger dropped records","dropped":N} so the file itself says what
// is missing. Records lost to write errors are reported the same way once writes succeed.
//
// The writer submits all sealed buffers at once. With EngineUring they are in flight
// together, each at its own file offset, and the writer waits for completions on an
// eventfd in Go's netpoller, parked like a goroutine reading a socket. With FsyncBatch it
// queues an IORING_OP_FSYNC after the batches that finished and goes on writing while the
// kernel syncs, rather than waiting for the disk between batches.
//
// # Who owns which buffer
//
//   - On the fast path a caller appends to the filling batch buffer while it holds the
//     queue's mutex, and to nothing else. Otherwise its encoding buffer is its own from
//     sync.Pool.Get until Put at the end of the call; the queue copies the bytes and never
//     keeps the caller's slice.
//   - Batch buffers are allocated on the heap by the queue, once. A batch is owned by the
//     queue while free, filling or sealed, then by the writer and its engine from take until
//     its completion is reaped, then returned to the queue. Producers never touch a sealed
//     batch and the writer never touches a filling one.
//   - While a write is in flight the kernel reads the batch buffer asynchronously. It is
//     never on a goroutine stack (stacks move), and the engine's slot table keeps the batch
//     referenced until the CQE is reaped, so the collector neither frees nor moves it. The
//     same holds for the writer's one-byte line fixes.
//
// # Guarantees and errors
//
// Sync returns once every record accepted before it is written (and fdatasync'ed unless
// FsyncNever). Close flushes everything, is safe to call twice, and logging afterwards is
// counted (Log returns ErrClosed). Write, fsync, open and rotation errors (ENOSPC, EIO, …)
// are never silent: they are counted in Stats, kept as Stats.LastError and passed to
// Options.OnError, and the logger keeps going — records in a failed batch are counted as
// lost and nothing deadlocks. A write that fails part way (a full disk) never leaves a torn
// or blank line in a regular file: the file is truncated back to its last whole record, so
// each record is in the file whole or counted as dropped, in every engine. Dropped records
// are announced by a record in the file's Format, or with DropReportOnError (for files of
// raw lines written with Write) through OnError instead. Stats counts records accepted, written and dropped (by
// cause), bytes, batches, errors, fsyncs, rotations, waits and the queue's high-water mark;
// after Close, Written + Dropped equals the records logged.
//
// With EngineUring the logger owns its file's write position (the file is not opened
// O_APPEND), so rotate with Reopen or MaxSize rather than logrotate's copytruncate.
package logger
