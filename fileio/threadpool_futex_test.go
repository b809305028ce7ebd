package fileio

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// A File method of the threadpool engine waiting in futex(2) for its worker goes back to
// sleep after a wakeup that finds its Op not done yet (a stale futexWake, such as a late one
// from the previous user of the pooled Op's word): it does not spin until the Op is done.
// Real threads: the worker blocks in read(2) on a FIFO, the caller in futex_wait, and this
// goroutine wakes the caller's word while the Op is still running.
func TestThreadPoolStaleFutexWake(t *testing.T) {
	e, err := newThreadPool(Options{Workers: 1, KeepGOMAXPROCS: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	p := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := os.OpenFile(p, os.O_RDWR, 0) // O_RDWR on a FIFO never blocks on Linux
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	f, err := e.Open(context.Background(), nil, p, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	o := getOp()
	o.File, o.Code, o.Buf = f, OpRead, make([]byte, 4)
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.do(context.Background(), o) // no context to watch: the futex wait
	}()
	for o.fut.Load() != futSleeping {
		time.Sleep(time.Millisecond)
	}
	const stale = 5
	for range stale {
		time.Sleep(5 * time.Millisecond) // let the caller get into futex_wait
		futexWake(&o.fut, 1)
	}
	time.Sleep(50 * time.Millisecond) // idle: a caller that spins goes round all the while
	if _, err := w.Write([]byte("data")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the read did not return after its data came")
	}
	if o.res != 4 || string(o.Buf) != "data" {
		t.Fatalf("read = %d, %q; want 4, \"data\"", o.res, o.Buf)
	}
	// Every wakeup is followed by one look at the word and, the Op not done, one more
	// futex_wait: at most one pass per wakeup (and a few spurious ones).
	if o.futStale > stale+3 {
		t.Errorf("the caller went round its futex wait %d times after %d stale wakeups; want at most %d",
			o.futStale, stale, stale+3)
	}
	t.Logf("%d stale wakeups, %d passes without the Op done", stale, o.futStale)
	putOp(o)
}
