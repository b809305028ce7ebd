package fileio_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/uringd/uringd/fileio"
)

// makeFIFO creates a FIFO in dir and keeps its write end open (so that opening it for
// reading does not block, and reads block until data comes: it never does here).
func makeFIFO(t testing.TB, dir, name string) *os.File {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := os.OpenFile(p, os.O_RDWR, 0) // O_RDWR on a FIFO never blocks on Linux
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// A uring read that never gets data (a FIFO opened by path) is cancelled in the kernel when
// its context is done: it returns the context's error wrapped in an *Error, promptly.
func TestUringCancelBlockedRead(t *testing.T) {
	for _, c := range engineCases()[:2] {
		t.Run(c.name, func(t *testing.T) {
			e := newEngine(t, c, nil)
			dir := t.TempDir()
			w := makeFIFO(t, dir, "fifo")
			f := openIn(t, e, openDir(t, dir), "fifo", os.O_RDONLY)
			if !f.Info().Mode.IsRegular() && f.Info().Mode&os.ModeNamedPipe == 0 {
				t.Fatalf("Info().Mode = %v, want a named pipe", f.Info().Mode)
			}
			for _, tc := range []struct {
				name string
				ctx  func() (context.Context, context.CancelFunc)
				want error
			}{
				{"deadline", func() (context.Context, context.CancelFunc) {
					return context.WithTimeout(context.Background(), 50*time.Millisecond)
				}, context.DeadlineExceeded},
				{"cancel", func() (context.Context, context.CancelFunc) {
					ctx, cancel := context.WithCancel(context.Background())
					time.AfterFunc(50*time.Millisecond, cancel)
					return ctx, cancel
				}, context.Canceled},
			} {
				ctx, cancel := tc.ctx()
				buf := make([]byte, 64)
				start := time.Now()
				n, err := f.ReadAtContext(ctx, buf, 0)
				cancel()
				if n != 0 || !errors.Is(err, tc.want) {
					t.Fatalf("%s: ReadAtContext = %d, %v; want %v", tc.name, n, err, tc.want)
				}
				var fe *fileio.Error
				if !errors.As(err, &fe) || fe.Op != "read" || fe.Path != filepath.Join(dir, "fifo") {
					t.Fatalf("%s: error %v is not an *fileio.Error naming the read and the path", tc.name, err)
				}
				if d := time.Since(start); d > 10*time.Second {
					t.Fatalf("%s: cancellation took %v", tc.name, d)
				}
			}
			// The FIFO still works: the cancelled reads consumed nothing.
			if _, err := w.Write([]byte("ping")); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 4)
			if n, err := f.ReadAtContext(context.Background(), buf, 0); n != 4 || err != nil || string(buf) != "ping" {
				t.Fatalf("read after cancellations = %d, %v, %q", n, err, buf)
			}
			// A context already done never reaches the kernel.
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if _, err := f.ReadAtContext(ctx, buf, 0); !errors.Is(err, context.Canceled) {
				t.Fatalf("read with a done context = %v", err)
			}
		})
	}
}

// Queue.Cancel cancels a read in flight; Reap returns it with ECANCELED.
func TestUringQueueCancel(t *testing.T) {
	for _, c := range engineCases()[:2] {
		t.Run(c.name, func(t *testing.T) {
			e := newEngine(t, c, nil)
			dir := t.TempDir()
			makeFIFO(t, dir, "fifo")
			f := openIn(t, e, openDir(t, dir), "fifo", os.O_RDONLY)
			q, err := e.NewQueue(2, fileio.QueueOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer q.Close()
			o := &fileio.Op{Code: fileio.OpRead, File: f, Buf: make([]byte, 16)}
			if err := q.Submit(o); err != nil {
				t.Fatal(err)
			}
			out := make([]*fileio.Op, 2)
			if n, err := q.Reap(out, 0); n != 0 || err != nil {
				t.Fatalf("Reap(min 0) of a blocked read = %d, %v", n, err)
			}
			if err := q.Cancel(o); err != nil {
				t.Fatal(err)
			}
			if n, err := q.Reap(out, 1); n != 1 || err != nil || out[0] != o {
				t.Fatalf("Reap after Cancel = %d, %v", n, err)
			}
			if !errors.Is(o.Err, syscall.ECANCELED) {
				t.Fatalf("cancelled op Err = %v, want ECANCELED", o.Err)
			}
			// Close cancels what is still in flight and waits for it.
			o2 := &fileio.Op{Code: fileio.OpRead, File: f, Buf: make([]byte, 16)}
			if err := q.Submit(o2); err != nil {
				t.Fatal(err)
			}
			q.Flush()
			if err := q.Close(); err != nil {
				t.Fatalf("Close with a read in flight: %v", err)
			}
		})
	}
}

// Closing the uring engine cancels blocked reads: they fail with ErrClosed.
func TestUringCloseCancelsInFlight(t *testing.T) {
	c := engineCases()[0]
	e, err := fileio.New(c.engine, c.opts)
	if err != nil {
		t.Skipf("io_uring unavailable: %v", err)
	}
	dir := t.TempDir()
	makeFIFO(t, dir, "fifo")
	f, err := e.Open(context.Background(), openDir(t, dir), "fifo", os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := f.ReadAt(make([]byte, 8), 0)
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, fileio.ErrClosed) {
		t.Fatalf("read blocked across engine Close = %v, want ErrClosed", err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("File.Close after engine Close: %v", err)
	}
}

// The threadpool engine drops an operation no worker has started when its context ends;
// the std engine checks the context before it starts.
func TestPoolAndStdCancel(t *testing.T) {
	t.Run("threadpool", func(t *testing.T) {
		e := newEngine(t, engineCase{"threadpool", fileio.EngineThreadPool, fileio.Options{Workers: 1}}, nil)
		dir := t.TempDir()
		w := makeFIFO(t, dir, "fifo")
		d := openDir(t, dir)
		f := openIn(t, e, d, "fifo", os.O_RDONLY)
		// The only worker blocks in read(2) on the FIFO ...
		first := make(chan error, 1)
		go func() {
			_, err := f.ReadAt(make([]byte, 4), 0)
			first <- err
		}()
		time.Sleep(50 * time.Millisecond)
		// ... so this read waits in the queue, and is dropped when its deadline passes.
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := f.ReadAtContext(ctx, make([]byte, 4), 0)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("queued read = %v, want DeadlineExceeded", err)
		}
		w.Write([]byte("data"))
		if err := <-first; err != nil {
			t.Fatalf("first read: %v", err)
		}
		// The worker skips the dropped op and serves the next.
		g := openIn(t, e, d, "fifo", os.O_RDONLY)
		w.Write([]byte("more"))
		buf := make([]byte, 4)
		if n, err := g.ReadAt(buf, 0); n != 4 || err != nil || string(buf) != "more" {
			t.Fatalf("read after a dropped op = %d, %v, %q", n, err, buf)
		}
	})
	t.Run("std", func(t *testing.T) {
		e := newEngine(t, engineCases()[3], nil)
		dir, name, _ := testFile(t, 100)
		f := openIn(t, e, openDir(t, dir), name, os.O_RDONLY)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := f.ReadAtContext(ctx, make([]byte, 10), 0); !errors.Is(err, context.Canceled) {
			t.Fatalf("std read with a done context = %v", err)
		}
	})
}

// The uring engine adds no OS thread per IO in flight: 200 goroutines blocked in reads on
// 200 FIFOs cost no more threads than an idle process (io-wq workers, which the kernel may
// add on kernels where pipe reads cannot be polled, are counted apart and reported).
func TestUringNoThreadPerIO(t *testing.T) {
	const readers = 200
	for _, c := range engineCases()[:2] {
		t.Run(c.name, func(t *testing.T) {
			e := newEngine(t, c, func(o *fileio.Options) { o.RingEntries = 128 })
			dir := t.TempDir()
			d := openDir(t, dir)
			files := make([]*fileio.File, readers)
			writers := make([]*os.File, readers)
			for i := range files {
				name := fmt.Sprintf("fifo%d", i)
				writers[i] = makeFIFO(t, dir, name)
				files[i] = openIn(t, e, d, name, os.O_RDONLY)
			}
			runtime.GC()
			time.Sleep(20 * time.Millisecond)
			idle, idleWQ := osThreads(t)

			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			errs := make(chan error, readers)
			for _, f := range files {
				wg.Add(1)
				go func() {
					defer wg.Done()
					buf := make([]byte, 8)
					if n, err := f.ReadAtContext(ctx, buf, 0); err != nil && !errors.Is(err, context.Canceled) {
						errs <- err
					} else if err == nil && (n != 8 || string(buf) != "datadata") {
						errs <- fmt.Errorf("read %d %q", n, buf)
					}
				}()
			}
			// Let every read reach the kernel and park, then count.
			peak, peakWQ := 0, 0
			for range 20 {
				time.Sleep(10 * time.Millisecond)
				a, w := osThreads(t)
				peak, peakWQ = max(peak, a-w), max(peakWQ, w)
			}
			t.Logf("%d reads blocked: %d threads (idle %d), io-wq workers %d (idle %d)",
				readers, peak, idle-idleWQ, peakWQ, idleWQ)
			if extra := peak - (idle - idleWQ); extra > 2 {
				t.Errorf("%d blocked reads added %d OS threads besides io-wq workers; want at most 2", readers, extra)
			}
			// Half get data, half are cancelled.
			for i, w := range writers[:readers/2] {
				if _, err := w.Write([]byte("datadata")); err != nil {
					t.Fatal(i, err)
				}
			}
			time.Sleep(20 * time.Millisecond)
			cancel()
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}
