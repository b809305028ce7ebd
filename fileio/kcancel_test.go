package fileio_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/uringd/uringd/fileio"
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
