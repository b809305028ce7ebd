package logger

import (
	"bytes"
	"errors"
	"runtime"
)

// An engine moves batches to the file for the writer goroutine. It is the only part that
// differs between EngineUring and EngineThread; the writer picks one at New and calls it
// through this interface, never branching on the engine per record or per batch.
//
// Only the writer goroutine calls an engine, so engines need no locks. A batch passed to
// submit belongs to the engine until reap returns it; the engine must keep it (and so its
// buffer) referenced for as long as the kernel may read the buffer.
type engine interface {
	// start runs first on the writer goroutine; stop runs last, after close.
	start() error
	stop()
	// attach directs later writes to fd, a file of size bytes. positional says whether the
	// file has offsets (regular files) that the engine may write at explicitly. The writer
	// attaches only when nothing is in flight.
	attach(fd int, size int64, positional bool, path string)
	// submit starts writing b.buf[b.done:]. When the write finishes, b.done and b.err say
	// how it went and b comes back from reap.
	submit(b *batch)
	// inflight is the number of batches submitted and not yet returned by reap.
	inflight() int
	// reap appends finished batches to done. If none has finished and some are in flight it
	// waits for at least one.
	reap(done []*batch) []*batch
	// fsync makes the data of all finished writes durable (fdatasync). It first waits for
	// an fsync started by startFsync, if one is in flight.
	fsync() error
	// startFsync starts an fdatasync of all finished writes and, where the engine can,
	// returns at once (started true): the fdatasync then counts in inflight, reap returns
	// when it finishes, and fsyncResult tells how it went. An engine that cannot returns
	// after the fdatasync with its error (started false). At most one is in flight.
	startFsync() (started bool, err error)
	// fsyncResult reports whether the fdatasync started by startFsync has finished, and its
	// error; it reports each finished one once.
	fsyncResult() (done bool, err error)
	// close releases the engine's resources; nothing is in flight.
	close() error
}

// threadEngine writes each batch with a blocking write(2) on the writer goroutine, which
// start locks to its OS thread: while a write blocks, that thread (and only it) is parked in
// the kernel, the way a thread pool of size one would be. Batches therefore complete one at a
// time, in order, inside submit.
//
// A write that fails part way (ENOSPC, EFBIG) may end mid-record: on a regular file the torn
// tail is cut off (cutTail) so the file ends with the batch's last whole line, and the rest
// of the batch counts as lost, as EngineUring's repair does.
type threadEngine struct {
	fd      int
	path    string
	regular bool
	done    []*batch
}

func (e *threadEngine) start() error {
	runtime.LockOSThread()
	return nil
}

func (e *threadEngine) stop() { runtime.UnlockOSThread() }

func (e *threadEngine) attach(fd int, _ int64, regular bool, path string) {
	e.fd, e.path, e.regular = fd, path, regular
}

func (e *threadEngine) submit(b *batch) {
	n, err := writeAll(e.fd, b.buf[b.done:], e.path)
	b.done += n
	b.err = err
	if err != nil && e.regular {
		if torn := min(n, b.done-(bytes.LastIndexByte(b.buf[:b.done], '\n')+1)); torn > 0 {
			if cerr := cutTail(e.fd, torn, e.path); cerr != nil {
				b.err = errors.Join(err, cerr) // the torn line stays; the writer ends it
			} else {
				b.done -= torn
			}
		}
	}
	e.done = append(e.done, b)
}

func (e *threadEngine) inflight() int { return len(e.done) }

func (e *threadEngine) reap(done []*batch) []*batch {
	done = append(done, e.done...)
	clear(e.done)
	e.done = e.done[:0]
	return done
}

func (e *threadEngine) fsync() error { return fdatasync(e.fd, e.path) }

// startFsync runs the fdatasync: this engine has only its one thread.
func (e *threadEngine) startFsync() (bool, error) { return false, e.fsync() }

func (e *threadEngine) fsyncResult() (bool, error) { return false, nil }

func (e *threadEngine) close() error { return nil }
