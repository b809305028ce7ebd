package fileio_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/uringd/uringd/fileio"
	"github.com/uringd/uringd/ring"
)

// The kernel cancels queued io-wq work it cannot start a worker for, even of a thread that
// lives on. Every third operation of the loop is made to look cancelled that way: each is
// submitted again, and every open and read returns the file's bytes. When every operation
// is, the open fails after maxKernelCancels tries with an error naming it and ECANCELED.
func TestUringKernelCancels(t *testing.T) {
	const size = 256 << 10
	dir, name, data := testFile(t, size)
	for _, compat := range []string{"", "5.10"} {
		t.Run("every-third/compat="+compat, func(t *testing.T) {
			opts := fileio.Options{RingEntries: 8, KernelCompat: compat}
			fileio.WithKernelCancels(&opts, 3)
			e := newFaultEngine(t, opts)
			defer e.Close()
			d := openDir(t, dir)
			var wg sync.WaitGroup
			for g := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					f, err := e.Open(context.Background(), d, name, os.O_RDONLY, 0)
					if err != nil {
						t.Errorf("open: %v", err)
						return
					}
					defer f.Close()
					buf := make([]byte, 4096)
					for i := range 200 {
						off := int64((g*7919 + i*4099) % (size - len(buf)))
						n, err := f.ReadAt(buf, off)
						if err != nil || n != len(buf) || !bytes.Equal(buf, data[off:off+int64(n)]) {
							t.Errorf("read at %d: %d bytes, %v, or the wrong bytes", off, n, err)
							return
						}
					}
				}()
			}
			wg.Wait()
		})
		t.Run("always/compat="+compat, func(t *testing.T) {
			opts := fileio.Options{RingEntries: 8, KernelCompat: compat}
			fileio.WithKernelCancels(&opts, 1)
			e := newFaultEngine(t, opts)
			defer e.Close()
			f, err := e.Open(context.Background(), openDir(t, dir), name, os.O_RDONLY, 0)
			if err == nil {
				f.Close()
				t.Fatal("open succeeded though the kernel cancelled every try")
			}
			if !errors.Is(err, syscall.ECANCELED) || !strings.Contains(err.Error(), name) {
				t.Fatalf("open: %v; want ECANCELED and the file's name", err)
			}
		})
	}
}

// The same for a Queue (its own ring, on the caller's goroutine): every third operation
// looks cancelled by the kernel and is submitted again, so every read and write through the
// queue completes whole (6.1 did this to a queued write in CI). When every try is cancelled,
// each Op completes with an error naming it and ECANCELED.
func TestUringQueueKernelCancels(t *testing.T) {
	const size = 64 << 10
	dir, name, data := testFile(t, size)
	for _, compat := range []string{"", "5.10"} {
		t.Run("every-third/compat="+compat, func(t *testing.T) {
			opts := fileio.Options{RingEntries: 8, KernelCompat: compat}
			fileio.WithKernelCancels(&opts, 3)
			e := newFaultEngine(t, opts)
			defer e.Close()
			f, err := e.Open(context.Background(), openDir(t, dir), name, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			q, err := e.NewQueue(8, fileio.QueueOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer q.Close()
			out := make([]*fileio.Op, 8)
			for round := range 20 {
				ops := make([]*fileio.Op, 8)
				for i := range ops {
					off := int64((round*8 + i) * 4096 % (size - 4096))
					if i%4 == 3 {
						ops[i] = &fileio.Op{Code: fileio.OpWrite, File: f, Buf: data[off : off+4096], Off: off}
					} else {
						ops[i] = &fileio.Op{Code: fileio.OpRead, File: f, Buf: make([]byte, 4096), Off: off}
					}
					if err := q.Submit(ops[i]); err != nil {
						t.Fatal(err)
					}
				}
				if n, err := q.Reap(out, len(ops)); n != len(ops) || err != nil {
					t.Fatalf("round %d: reaped %d, %v", round, n, err)
				}
				for _, o := range ops {
					if o.Err != nil || o.N != 4096 || !bytes.Equal(o.Buf, data[o.Off:o.Off+4096]) {
						t.Fatalf("round %d: %v at %d = %d, %v, or the wrong bytes", round, o.Code, o.Off, o.N, o.Err)
					}
				}
			}
		})
		t.Run("always/compat="+compat, func(t *testing.T) {
			e := newFaultEngine(t, fileio.Options{RingEntries: 8, KernelCompat: compat})
			defer e.Close()
			f, err := e.Open(context.Background(), openDir(t, dir), name, os.O_RDONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			opts := fileio.Options{RingEntries: 8, KernelCompat: compat}
			fileio.WithKernelCancels(&opts, 1) // the queue's ring cancels every try
			e2 := newFaultEngine(t, opts)
			defer e2.Close()
			q, err := e2.NewQueue(2, fileio.QueueOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer q.Close()
			o := &fileio.Op{Code: fileio.OpRead, File: f, Buf: make([]byte, 4096)}
			if err := q.Submit(o); err != nil {
				t.Fatal(err)
			}
			if n, err := q.Reap(make([]*fileio.Op, 2), 1); n != 1 || err != nil {
				t.Fatalf("reaped %d, %v", n, err)
			}
			if !errors.Is(o.Err, syscall.ECANCELED) || !strings.Contains(o.Err.Error(), name) {
				t.Fatalf("read: %d, %v; want ECANCELED and the file's name", o.N, o.Err)
			}
		})
	}
}

// Ops the kernel cancelled unasked wait to be submitted again while the SQ is full of
// cancellations and the kernel refuses every submission for a while: Cancel says the SQ is
// full and names the Op, Reap pauses instead of waiting for a completion that cannot come
// (or returns the refusal, for an errno that is not a "try again"), and once the kernel
// takes SQEs again every Op completes once with the file's bytes.
func TestUringQueueKernelCancelsFullSQ(t *testing.T) {
	const size, depth = 64 << 10, 8
	dir, name, data := testFile(t, size)
	modes := []struct {
		name string
		opts fileio.QueueOptions
	}{{"enter", fileio.QueueOptions{}}, {"park", fileio.QueueOptions{Park: true}}, {"notify", fileio.QueueOptions{Notify: func() {}}}}
	for _, errno := range []syscall.Errno{syscall.EAGAIN, syscall.EBUSY, syscall.ENOMEM} {
		for _, compat := range []string{"", "5.10"} {
			for _, mode := range modes {
				t.Run(errno.Error()+"/"+mode.name+"/compat="+compat, func(t *testing.T) {
					// refuse > 0 refuses that many more submitting io_uring_enter calls.
					var refuse, refused atomic.Int64
					faults := &ring.Faults{Enter: func(c ring.EnterCall) ring.Fault {
						if c.ToSubmit == 0 || refuse.Load() <= 0 {
							return ring.Fault{}
						}
						refuse.Add(-1)
						refused.Add(1)
						return ring.Fault{Errno: errno}
					}}
					opts := fileio.Options{RingEntries: 8, KernelCompat: compat}
					fileio.WithRingFaults(&opts, faults, 0)
					fileio.WithKernelCancels(&opts, 2) // every second Op never runs the first time
					e := newFaultEngine(t, opts)
					defer e.Close()
					f, err := e.Open(context.Background(), openDir(t, dir), name, os.O_RDONLY, 0)
					if err != nil {
						t.Fatal(err)
					}
					defer f.Close()
					q, err := e.NewQueue(depth, mode.opts)
					if err != nil {
						t.Fatal(err)
					}
					defer q.Close()
					ops := make([]*fileio.Op, depth)
					for i := range ops {
						ops[i] = &fileio.Op{Code: fileio.OpRead, File: f, Buf: make([]byte, 4096), Off: int64(i * 4096)}
						if err := q.Submit(ops[i]); err != nil {
							t.Fatal(err)
						}
					}
					if err := q.Flush(); err != nil {
						t.Fatal(err)
					}
					// Every read has completed (a cached page), so the first Reap finds their
					// completions ready, whatever the kernel then does with its submissions.
					for wait := time.Now().Add(10 * time.Second); fileio.QueueCQReady(q) < depth; time.Sleep(time.Millisecond) {
						if time.Now().After(wait) {
							t.Fatalf("%d of %d reads completed in 10 s", fileio.QueueCQReady(q), depth)
						}
					}
					// The kernel has every SQE; from now on it refuses. Cancels of ops[0] (which
					// completes anyway) fill the SQ, and one more finds no room.
					refuse.Store(20)
					for range depth {
						if err := q.Cancel(ops[0]); err != nil {
							t.Fatalf("cancel with SQEs free: %v", err)
						}
					}
					if err := q.Cancel(ops[0]); !errors.Is(err, ring.ErrBusy) || !strings.Contains(err.Error(), "cancel read "+f.Name()) {
						t.Fatalf("cancel with the SQ full and the kernel refusing: %v; want ErrBusy naming the read and its file", err)
					}
					out := make([]*fileio.Op, depth)
					got, reapErrs, firstErrN := 0, 0, -1
					for got < depth {
						n, err := q.Reap(out[got:], depth-got)
						if err != nil {
							if !errors.Is(err, errno) {
								t.Fatalf("Reap: %v; want the refusal's %v", err, errno)
							}
							if firstErrN < 0 {
								firstErrN = n
							}
							if reapErrs++; reapErrs > 100 {
								t.Fatalf("Reap kept failing: %v", err)
							}
						}
						got += n
					}
					seen := map[*fileio.Op]bool{}
					for _, o := range out {
						if seen[o] {
							t.Fatalf("read at %d came back twice", o.Off)
						}
						seen[o] = true
						if o.Err != nil || o.N != 4096 || !bytes.Equal(o.Buf, data[o.Off:o.Off+4096]) {
							t.Errorf("read at %d: %d, %v, or the wrong bytes", o.Off, o.N, o.Err)
						}
					}
					if q.InFlight() != 0 {
						t.Errorf("%d still in flight", q.InFlight())
					}
					stalls := fileio.QueueResubmitStalls(q)
					t.Logf("refused %d submissions, %d resubmits found the SQ full, %d Reap errors", refused.Load(), stalls, reapErrs)
					// ENOMEM is not a "try again": Reap returns it from the submit, with what had
					// finished, and the Ops cancelled unasked wait for the kernel to take SQEs.
					if stalls == 0 && errno != syscall.ENOMEM {
						t.Error("no resubmit found the SQ full: the test did not reach the path")
					}
					if errno == syscall.ENOMEM && reapErrs == 0 {
						t.Error("Reap never returned the refusal")
					}
					// The reads the kernel ran (every second one) were ready: the refusal
					// comes with them, not instead of them.
					if errno == syscall.ENOMEM && firstErrN < depth/2 {
						t.Errorf("the first Reap to return the refusal returned %d Ops; %d had finished", firstErrN, depth/2)
					}
				})
			}
		}
	}
}
