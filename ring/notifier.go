package ring

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Notifier lets a goroutine wait for a ring's completions without holding an OS thread: an
// eventfd registered with the ring (the kernel signals it when it posts CQEs) and read
// through Go's netpoller, so the waiting goroutine parks like one blocked on a socket.
//
// Wake signals the same eventfd from user space, so other goroutines can wake the waiter when
// they queue work for the ring's owner. A wakeup is never lost: the eventfd counts, so a
// signal that arrives before Wait makes Wait return at once. Wait may also return when a
// completion was already reaped; the waiter just finds nothing new and waits again.
//
// Do not combine a Notifier with Options.DeferTaskrun: then the kernel posts CQEs (and
// signals) only when the owner itself enters the kernel.
type Notifier struct {
	r   *Ring
	f   *os.File
	buf *[8]byte // the eventfd counter read into the heap, never a goroutine stack
	one *[8]byte // the value 1, for Wake
}

// NewNotifier creates an eventfd, registers it with r and puts it in Go's netpoller.
func NewNotifier(r *Ring) (*Notifier, error) {
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	if err := r.RegisterEventfd(efd); err != nil {
		unix.Close(efd)
		return nil, err
	}
	n := &Notifier{r: r, f: os.NewFile(uintptr(efd), "io_uring-eventfd"), buf: new([8]byte), one: new([8]byte)}
	*(*uint64)(unsafe.Pointer(n.one)) = 1
	return n, nil
}

// Wait parks the calling goroutine until the ring posted completions or Wake was called
// since the last Wait, or until ctx is done.
func (n *Notifier) Wait(ctx context.Context) error {
	if ctx.Done() == nil {
		return n.WaitDeadline(time.Time{})
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { n.f.SetReadDeadline(time.Unix(1, 0)) })
	err := n.WaitDeadline(time.Time{})
	if !stop() {
		n.f.SetReadDeadline(time.Time{})
		if ctx.Err() != nil {
			// The eventfd may have been signalled too; the counter stays set for the next Wait.
			return ctx.Err()
		}
	}
	return err
}

// WaitDeadline is Wait with a deadline instead of a context (the zero time: none). It
// returns os.ErrDeadlineExceeded when the deadline passes. It does not allocate.
func (n *Notifier) WaitDeadline(t time.Time) error {
	if !t.IsZero() {
		if err := n.f.SetReadDeadline(t); err != nil {
			return fmt.Errorf("io_uring notifier: %w", err)
		}
		defer n.f.SetReadDeadline(time.Time{})
	}
	_, err := n.f.Read(n.buf[:])
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, os.ErrClosed) {
			return err
		}
		return fmt.Errorf("io_uring notifier: read eventfd: %w", err)
	}
	return nil
}

// Wake makes the current or next Wait return. Safe from any goroutine.
func (n *Notifier) Wake() error {
	if _, err := n.f.Write(n.one[:]); err != nil {
		return fmt.Errorf("io_uring notifier: write eventfd: %w", err)
	}
	return nil
}

// Close unregisters the eventfd from the ring (when the ring is still open) and closes it;
// a goroutine in Wait returns os.ErrClosed. Call it from the ring's owner.
func (n *Notifier) Close() error {
	var err error
	if !n.r.closed {
		err = n.r.UnregisterEventfd()
	}
	if cerr := n.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("io_uring notifier: %w", cerr)
	}
	return err
}
