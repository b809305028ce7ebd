package logger

import (
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// taskCounts counts this process's threads (/proc/self/task): Go's OS threads, and the
// kernel's io_uring workers (iou-wrk-*, iou-sqp-*) that live in the process.
func taskCounts(t *testing.T) (goThreads, iouWorkers int) {
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Skipf("no /proc/self/task: %v", err)
	}
	for _, e := range ents {
		comm, err := os.ReadFile("/proc/self/task/" + e.Name() + "/comm")
		if err != nil {
			continue // the thread exited
		}
		if strings.HasPrefix(string(comm), "iou-") {
			iouWorkers++
		} else {
			goThreads++
		}
	}
	return goThreads, iouWorkers
}

// TestOSThreads opens 16 loggers of one engine, keeps them all writing, then idle, and
// counts OS threads. EngineThread pins one OS thread per logger for its whole life (the
// thread-pool way). EngineUring's writer holds its thread only while the kernel holds
// requests it submitted (the kernel cancels the io-wq work of a thread that exits, see
// uringEngine), so loggers writing at once hold a thread each, and idle ones hold none.
// Go never frees threads, so the count stays at its peak; the test checks that no idle
// uring writer still holds its thread, and reports the counts. Writes the kernel does not
// finish inline run on its io-wq workers (iou-wrk-*), which are counted separately.
//
// EngineUring is measured first: Go never frees threads, so the locked threads of
// EngineThread would otherwise still be around.
func TestOSThreads(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector adds threads of its own")
	}
	const loggers = 16
	results := map[Engine][3]int{}
	for _, eng := range []Engine{EngineUring, EngineThread} {
		base, _ := taskCounts(t)
		ls := make([]*Logger, loggers)
		probes := make([]*uringProbe, loggers)
		for i := range ls {
			o := Options{Path: logPath(t), Engine: eng, BufferSize: 16 << 10}
			probes[i] = new(uringProbe)
			o.uring.probe = probes[i]
			ls[i] = newLogger(t, o)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		peak, peakIOU := 0, 0
		stop := make(chan struct{})
		go func() { // sample while the loggers write
			for {
				select {
				case <-stop:
					return
				case <-time.After(time.Millisecond):
				}
				g, w := taskCounts(t)
				mu.Lock()
				peak, peakIOU = max(peak, g), max(peakIOU, w)
				mu.Unlock()
			}
		}()
		for _, l := range ls {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 20000 {
					l.Info("threads", Int("i", i), String("pad", strings.Repeat("p", 64)))
				}
				l.Sync()
			}()
		}
		wg.Wait()
		close(stop)
		time.Sleep(20 * time.Millisecond)
		idle, idleIOU := taskCounts(t)
		mu.Lock()
		t.Logf("%s: %d loggers; Go threads: %d before, peak %d while writing, %d idle; io_uring workers: peak %d, idle %d",
			eng, loggers, base, peak, idle, peakIOU, idleIOU)
		results[eng] = [3]int{base, peak, idle}
		mu.Unlock()
		if eng == EngineUring {
			for i, p := range probes {
				if p.pinned.Load() != 0 {
					t.Errorf("EngineUring: idle logger %d still holds its OS thread", i)
				}
			}
		}
		for _, l := range ls {
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	th := results[EngineThread]
	if th[2] < loggers {
		t.Errorf("EngineThread: %d threads for %d loggers; each should hold its own", th[2], loggers)
	}
}
