package fileio_test

import (
	"os"
	"testing"
	"time"

	"github.com/uringd/uringd/fileio"
)

// The threadpool engine's workers and reapers sleep in futex(2); a lost wakeup shows up as
// a Reap that never returns. Short operations (page-cache reads), many submit/reap/drain
// cycles, with a watchdog.
func TestThreadPoolNoLostWakeups(t *testing.T) {
	for _, workers := range []int{1, 4} {
		e := newEngine(t, engineCase{"threadpool", fileio.EngineThreadPool, fileio.Options{Workers: workers}}, nil)
		dir, name, _ := testFile(t, 256<<10)
		f := openIn(t, e, openDir(t, dir), name, os.O_RDONLY)
		ops := make([]fileio.Op, 16)
		out := make([]*fileio.Op, 16)
		for i := range ops {
			ops[i] = fileio.Op{Code: fileio.OpRead, File: f, Buf: make([]byte, 4096), Off: int64(i) * 4096}
		}
		done := make(chan int)
		go func() {
			total := 0
			end := time.Now().Add(time.Second)
			for time.Now().Before(end) {
				q, err := e.NewQueue(len(ops), fileio.QueueOptions{})
				if err != nil {
					t.Error(err)
					break
				}
				for i := range ops {
					q.Submit(&ops[i])
				}
				stop := time.Now().Add(2 * time.Millisecond)
				for q.InFlight() > 0 {
					n, err := q.Reap(out, 1)
					if err != nil {
						t.Error(err)
						break
					}
					total += n
					if time.Now().Before(stop) {
						for _, o := range out[:n] {
							q.Submit(o)
						}
					}
				}
				q.Close()
				// And File methods, which wait in futex(2) too.
				if _, err := f.ReadAt(ops[0].Buf, 0); err != nil {
					t.Error(err)
				}
			}
			done <- total
		}()
		select {
		case n := <-done:
			t.Logf("%d workers: %d operations", workers, n)
		case <-time.After(30 * time.Second):
			t.Fatalf("%d workers: stuck (a lost wakeup)", workers)
		}
	}
}
