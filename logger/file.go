package logger

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// output is the log file: its descriptor, how much has been written to it, and size-based
// rotation. Exactly one goroutine uses an output at a time: the writer goroutine, or for
// EngineSync the caller holding the sink's mutex.
//
// The descriptor is a raw fd opened with unix.Open rather than an *os.File, so that the
// runtime's poller and finalizers stay out of the way: output closes it explicitly, and only
// when no write using it is in flight.
type output struct {
	path       string
	mode       fs.FileMode
	maxSize    int64
	maxBackups int
	// appendMode opens the file O_APPEND (EngineThread, EngineSync). EngineUring opens
	// without it and writes at explicit offsets, so writes in flight together land in
	// submission order; see uringEngine.
	appendMode bool

	fd      int   // -1 while no file is open
	size    int64 // bytes in the file: its size at open plus what was written since
	regular bool  // a regular file (not a device or FIFO): offsets and rotation apply

	errs *errorSink
}

func newOutput(o *Options, appendMode bool, errs *errorSink) *output {
	return &output{
		path:       o.Path,
		mode:       o.FileMode,
		maxSize:    o.MaxSize,
		maxBackups: o.MaxBackups,
		appendMode: appendMode,
		fd:         -1,
		errs:       errs,
	}
}

// open opens path for writing, creating it if missing. The returned error names the
// operation and path.
func (o *output) open() error {
	flags := unix.O_WRONLY | unix.O_CREAT | unix.O_CLOEXEC
	if o.appendMode {
		flags |= unix.O_APPEND
	}
	fd, err := retryEINTR(func() (int, error) { return unix.Open(o.path, flags, uint32(o.mode.Perm())) })
	if err != nil {
		return &os.PathError{Op: "logger: open", Path: o.path, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return &os.PathError{Op: "logger: fstat", Path: o.path, Err: err}
	}
	o.fd = fd
	o.regular = st.Mode&unix.S_IFMT == unix.S_IFREG
	o.size = 0
	if o.regular {
		o.size = st.Size
	}
	return nil
}

func retryEINTR(f func() (int, error)) (int, error) {
	for {
		n, err := f()
		if err != unix.EINTR {
			return n, err
		}
	}
}

// close closes the descriptor, if open.
func (o *output) close() error {
	if o.fd < 0 {
		return nil
	}
	fd := o.fd
	o.fd = -1
	if err := unix.Close(fd); err != nil {
		return &os.PathError{Op: "logger: close", Path: o.path, Err: err}
	}
	return nil
}

// wantsRotate reports whether n more bytes would push the file past MaxSize. An empty file
// never rotates, so a record larger than MaxSize still gets written.
func (o *output) wantsRotate(n int) bool {
	return o.maxSize > 0 && o.regular && o.size > 0 && o.size+int64(n) > o.maxSize
}

// rotate closes the file, shifts the backups (path.N-1 → path.N, …, path → path.1, the
// oldest removed) and opens a new path. The caller makes sure no write is in flight. If a
// rename fails the logger keeps writing to path, which is reopened, so nothing is lost.
func (o *output) rotate() {
	if err := o.close(); err != nil {
		o.errs.report(err)
	}
	if err := o.shift(); err != nil {
		o.errs.report(err)
	}
	if err := o.open(); err != nil {
		o.errs.report(err)
		return
	}
	o.errs.c.rotations.Add(1)
}

func (o *output) backup(i int) string { return o.path + "." + strconv.Itoa(i) }

func (o *output) shift() error {
	if err := os.Remove(o.backup(o.maxBackups)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("logger: rotate: %w", err)
	}
	for i := o.maxBackups - 1; i >= 1; i-- {
		if err := os.Rename(o.backup(i), o.backup(i+1)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("logger: rotate: %w", err)
		}
	}
	if err := os.Rename(o.path, o.backup(1)); err != nil {
		return fmt.Errorf("logger: rotate: %w", err)
	}
	return nil
}

// reopen closes the file and opens path again: after logrotate renamed it, new records go to
// a new file.
func (o *output) reopen() error {
	cerr := o.close()
	if cerr != nil {
		o.errs.report(cerr)
	}
	if err := o.open(); err != nil {
		o.errs.report(err)
		return err
	}
	o.errs.c.rotations.Add(1)
	return cerr
}

// writeAll writes p to fd with write(2), retrying short writes and EINTR. It returns how
// many bytes were written and the error that stopped it; the error wraps the errno and names
// the path.
func writeAll(fd int, p []byte, path string) (int, error) {
	done := 0
	for done < len(p) {
		n, err := unix.Write(fd, p[done:])
		if n > 0 {
			done += n
		}
		switch {
		case err == unix.EINTR || err == unix.EAGAIN:
			continue
		case err != nil:
			return done, &os.PathError{Op: "logger: write", Path: path, Err: err}
		case n == 0:
			return done, &os.PathError{Op: "logger: write", Path: path, Err: io.ErrShortWrite}
		}
	}
	return done, nil
}

// truncateFile cuts the regular file fd to size bytes: a failed write's torn record (and,
// with EngineUring, what later writes put beyond it) goes, so the file ends with a whole
// line. Shrinking needs no space, so it works on a full disk.
func truncateFile(fd int, size int64, path string) error {
	for {
		err := unix.Ftruncate(fd, size)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return &os.PathError{Op: "logger: ftruncate (removing a torn record)", Path: path, Err: err}
		}
		return nil
	}
}

// cutTail removes the last n bytes of the regular file fd, opened O_APPEND: the part of a
// record that a failed append wrote. The end is the file's own size (fstat), so it holds
// whatever wrote last.
func cutTail(fd int, n int, path string) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return &os.PathError{Op: "logger: fstat (removing a torn record)", Path: path, Err: err}
	}
	if st.Size < int64(n) {
		return &os.PathError{Op: "logger: ftruncate (removing a torn record)", Path: path,
			Err: fmt.Errorf("file has %d bytes, fewer than the %d just written", st.Size, n)}
	}
	return truncateFile(fd, st.Size-int64(n), path)
}

// fdatasync flushes fd's data to stable storage. Devices and FIFOs (which reject it with
// EINVAL) count as synced.
func fdatasync(fd int, path string) error {
	for {
		err := unix.Fdatasync(fd)
		switch err {
		case nil, unix.EINVAL, unix.EROFS:
			return nil
		case unix.EINTR:
			continue
		}
		return &os.PathError{Op: "logger: fdatasync", Path: path, Err: err}
	}
}
