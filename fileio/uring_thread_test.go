package fileio

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"
)

// endThreads ends up to n of the process's idle OS threads: n goroutines lock themselves to
// the threads they run on, wait until all of them hold one (so the runtime hands out its
// idle threads first), and exit locked, which makes the runtime end those threads.
func endThreads(n int) {
	var started, release sync.WaitGroup
	started.Add(n)
	release.Add(1)
	var exited sync.WaitGroup
	exited.Add(n)
	for range n {
		go func() {
			defer exited.Done()
			runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
			started.Done()
			release.Wait()
		}()
	}
	started.Wait()
	release.Done()
	exited.Wait()
}

// The kernel cancels the io-wq work of a thread that exits. An open (O_CREAT) of a FIFO that
// has no writer blocks in an io-wq worker of the thread that submitted it; while it waits, other
// goroutines end most of the process's idle threads, over and over. The loop's thread is
// its own, so the open is untouched: once a writer comes it returns the file.
func TestUringOwnerThreadExitKeepsOps(t *testing.T) {
	for _, compat := range []string{"", "5.10"} {
		t.Run("compat="+compat, func(t *testing.T) {
			e := newTestUring(t, Options{RingEntries: 8, KernelCompat: compat})
			defer e.Close()
			p := filepath.Join(t.TempDir(), "fifo")
			if err := syscall.Mkfifo(p, 0o600); err != nil {
				t.Fatal(err)
			}
			type result struct {
				f   *File
				err error
			}
			res := make(chan result, 1)
			go func() {
				// O_CREAT: the kernel does not try the open without blocking first, and an
				// open of a FIFO waits for a writer in fifo_open.
				f, err := e.Open(context.Background(), nil, p, os.O_RDONLY|os.O_CREATE, 0o600)
				res <- result{f, err}
			}()
			time.Sleep(20 * time.Millisecond) // the open reaches an io-wq worker and blocks
			for range 8 {
				endThreads(4 * runtime.GOMAXPROCS(0))
				time.Sleep(5 * time.Millisecond) // a cancelled open is resubmitted meanwhile
			}
			w, err := os.OpenFile(p, os.O_RDWR, 0) // a writer: the blocked open returns
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			select {
			case r := <-res:
				if r.err != nil {
					t.Fatalf("open of a FIFO across thread exits: %v", r.err)
				}
				r.f.Close()
			case <-time.After(5 * time.Second):
				t.Fatal("the open did not return after a writer came")
			}

		})
	}
}
