package logger

import (
	"errors"
	"os"
	"runtime"
	"sync"
	"syscall"
	"testing"
)

// killThreads makes Go end OS threads until stop is closed: a goroutine that exits while
// locked to its thread takes the thread with it. Whatever ran on those threads before, the
// logger's writer included, loses them; the kernel cancels the io_uring requests a thread
// submitted when it exits.
func killThreads(stop <-chan struct{}) *sync.WaitGroup {
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				done := make(chan struct{})
				go func() {
					defer close(done)
					runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
				}()
				<-done
				runtime.Gosched()
			}
		}()
	}
	return &wg
}

// TestUringThreadExit keeps killing OS threads while the uring engine writes to a device
// whose writes the kernel runs on io-wq workers (/dev/full) and to a regular file with an
// fdatasync after every batch (fsyncs always run on io-wq). The writer submits from one
// thread it holds while anything is in flight, so every submit must come from that thread,
// every write to /dev/full must fail with ENOSPC (never ECANCELED), and every record must
// reach the regular file. (The kernel may still cancel queued io-wq work when it cannot
// start a worker while threads come and go, as 6.1 does now and then; the
// engine submits that work again, and the counts are logged.)
func TestUringThreadExit(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	for _, tc := range []struct {
		name  string
		path  string
		fsync FsyncPolicy
	}{
		{"devfull", "/dev/full", FsyncNever},
		{"fsync", "", FsyncBatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path
			if path == "" {
				path = logPath(t)
			}
			probe := new(uringProbe)
			var mu sync.Mutex
			var errs []error
			o := Options{Path: path, Engine: EngineUring, QueueSize: 4, BufferSize: 1024, Fsync: tc.fsync,
				OnError: func(err error) { mu.Lock(); errs = append(errs, err); mu.Unlock() }}
			o.uring.probe = probe
			l, err := New(o)
			if err != nil {
				t.Fatal(err)
			}
			stop := make(chan struct{})
			wg := killThreads(stop)
			const n = 4000
			for i := range n {
				l.Info("thread exit", Int("i", i))
			}
			l.Sync()
			close(stop)
			wg.Wait()
			l.Close()
			st := l.Stats()
			t.Logf("kernel cancels %d, submitted again %d; %+v", probe.cancels.Load(), probe.resubmitted.Load(), st)
			if f := probe.foreign.Load(); f != 0 {
				t.Errorf("%d submits came from a thread other than the one the writer held", f)
			}
			if tc.fsync == FsyncBatch && (st.Written != n || st.Dropped != 0) {
				t.Errorf("%d of %d records written, %d dropped", st.Written, n, st.Dropped)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, err := range errs {
				if tc.fsync == FsyncNever && !errors.Is(err, syscall.ENOSPC) {
					t.Errorf("error %v, want ENOSPC only", err)
				}
				if tc.fsync == FsyncBatch {
					t.Errorf("error %v writing and syncing a regular file", err)
				}
			}
		})
	}
}
