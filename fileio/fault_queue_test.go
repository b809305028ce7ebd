package fileio_test

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/uringd/uringd/fileio"
	"github.com/uringd/uringd/ring"
)

// A Queue under the same faults, with a ring of 16 SQEs: one goroutine keeps 16 reads in
// flight and cancels some of them. A refusal the Queue cannot resolve itself comes back from
// Reap as an error wrapping the errno (the Ops stay in flight, and the next Reap carries on);
// every Op comes back once, with the file's bytes, or cancelled (ECANCELED) with an *Error
// naming it; Close returns.
func TestUringFaultsQueue(t *testing.T) {
	const size, depth, total = 256 << 10, 16, 600
	dir, name, data := testFile(t, size)
	modes := []struct {
		name string
		opts fileio.QueueOptions
	}{{"enter", fileio.QueueOptions{}}, {"park", fileio.QueueOptions{Park: true}}, {"notify", fileio.QueueOptions{Notify: func() {}}}}
	for _, compat := range []string{"", "5.10"} {
		for _, fs := range faultSchedules() {
			for _, mode := range modes {
				t.Run(fs.name+"/"+mode.name+"/compat="+compat, func(t *testing.T) {
					var injected atomic.Int64
					opts := fileio.Options{RingEntries: 8, KernelCompat: compat}
					fileio.WithRingFaults(&opts, fs.faults(&injected), 0)
					e := newFaultEngine(t, opts)
					d := openDir(t, dir)
					f, err := e.Open(context.Background(), d, name, os.O_RDONLY, 0)
					if err != nil {
						t.Fatal(err)
					}
					fdir := t.TempDir()
					makeFIFO(t, fdir, "fifo")
					fifo, err := e.Open(context.Background(), openDir(t, fdir), "fifo", os.O_RDONLY, 0)
					if err != nil {
						t.Fatal(err)
					}
					finished := make(chan struct{})
					go func() {
						defer close(finished)
						q, err := e.NewQueue(depth, mode.opts)
						if err != nil {
							t.Error(err)
							return
						}
						rnd := rand.New(rand.NewPCG(5, 6))
						ops := make([]fileio.Op, depth)
						free := make([]*fileio.Op, 0, depth)
						for i := range ops {
							ops[i].Buf = make([]byte, 8192)
							free = append(free, &ops[i])
						}
						out := make([]*fileio.Op, depth)
						submitted, reaped, reapErrs := 0, 0, 0
						var inflight []*fileio.Op
						for reaped < total {
							for len(free) > 0 && submitted < total {
								o := free[len(free)-1]
								o.Code, o.File, o.Off = fileio.OpRead, f, int64(rnd.IntN(size-8192))
								o.Buf = o.Buf[:cap(o.Buf)]
								if err := q.Submit(o); err != nil {
									if errors.Is(err, ring.ErrBusy) {
										if !strings.Contains(err.Error(), "submit read "+f.Name()) {
											t.Errorf("refused submit: %v does not name the read and its file", err)
										}
										break // the SQ is full and the kernel refused: reap first
									}
									t.Errorf("Submit: %v", err)
									return
								}
								free = free[:len(free)-1]
								inflight = append(inflight, o)
								submitted++
								if rnd.IntN(8) == 0 {
									if err := q.Cancel(inflight[rnd.IntN(len(inflight))]); err != nil && !errors.Is(err, ring.ErrBusy) {
										t.Errorf("Cancel: %v", err)
										return
									}
								}
							}
							n, err := q.Reap(out, 1)
							if err != nil {
								if !errors.Is(err, syscall.ENOMEM) && !errors.Is(err, syscall.EBADR) {
									t.Errorf("Reap: %v", err)
									return
								}
								if reapErrs++; reapErrs > 10*total {
									t.Errorf("Reap keeps failing: %v", err)
									return
								}
							}
							for _, o := range out[:n] {
								reaped++
								for i, p := range inflight {
									if p == o {
										inflight = append(inflight[:i], inflight[i+1:]...)
										break
									}
								}
								free = append(free, o)
								switch {
								case o.Err == nil:
									if o.N != len(o.Buf) || !bytes.Equal(o.Buf, data[o.Off:o.Off+int64(o.N)]) {
										t.Errorf("read %d at %d: %d bytes, equal: %v", len(o.Buf), o.Off, o.N,
											bytes.Equal(o.Buf[:o.N], data[o.Off:o.Off+int64(o.N)]))
									}
								case errors.Is(o.Err, syscall.ECANCELED):
									var fe *fileio.Error
									if !errors.As(o.Err, &fe) || fe.Op != "read" || fe.Path != f.Name() {
										t.Errorf("cancelled read: %v does not name the read and its file", o.Err)
									}
								default:
									t.Errorf("read %d at %d: %v", len(o.Buf), o.Off, o.Err)
								}
							}
						}
						if q.InFlight() != 0 {
							t.Errorf("%d ops in flight after all were reaped", q.InFlight())
						}
						// Close with reads in flight, one of them on a FIFO that never gets data:
						// Close cancels them and returns once the kernel is done with them.
						for i := range ops[:depth-1] {
							o := &ops[i]
							o.Code, o.File, o.Off, o.Buf = fileio.OpRead, f, int64(i)*8192, o.Buf[:cap(o.Buf)]
							if i == 0 {
								o.File = fifo
							}
							if err := q.Submit(o); err != nil && !errors.Is(err, ring.ErrBusy) {
								t.Errorf("Submit before Close: %v", err)
							}
						}
						q.Flush()
						if err := q.Close(); err != nil {
							t.Errorf("Queue.Close: %v", err)
						}
					}()
					select {
					case <-finished:
					case <-time.After(30 * time.Second):
						t.Fatalf("the queue's reads did not finish within 30s (%d faults injected): a hang", injected.Load())
					}
					if injected.Load() == 0 {
						t.Fatal("no fault was injected: the test tested nothing")
					}
					closeWithin(t, 10*time.Second, []*fileio.File{f, fifo}, e)
				})
			}
		}
	}
}
