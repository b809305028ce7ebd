package logger

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/uringd/uringd/internal/token"
	"github.com/uringd/uringd/ring"
)

// burstFaults returns Faults that, every period submitting calls, fail the next burst
// submitting calls in a row with errno: long enough bursts outlast the engine's retries.
func burstFaults(period, burst uint64, errno syscall.Errno, injected *atomic.Int64) *ring.Faults {
	var calls atomic.Uint64
	return &ring.Faults{Enter: func(c ring.EnterCall) ring.Fault {
		if c.ToSubmit == 0 {
			return ring.Fault{}
		}
		if k := calls.Add(1); k%period < burst {
			injected.Add(1)
			return ring.Fault{Errno: errno}
		}
		return ring.Fault{}
	}}
}

// faultPad is the payload of record (g, seq): different for every record, so a buffer
// the kernel read after producers refilled it shows up as a wrong or repeated record.
func faultPad(g, seq int) string {
	s := fmt.Sprintf("<%d.%d>", g, seq)
	return strings.Repeat(s, 1+seq%7)
}

// TestUringSubmitFaults logs hard from several goroutines into a tiny ring whose
// io_uring_enter fails or submits short on purpose, and checks the file line by line.
// Every record must be in the file exactly once, byte-correct and whole, or be counted in
// Stats.DroppedError with the injected error reported; no other line may appear (drop
// reports excepted; no blank line either).
func TestUringSubmitFaults(t *testing.T) {
	type schedule struct {
		name   string
		faults func(*atomic.Int64) *ring.Faults
		errno  syscall.Errno // the error that may be reported; 0 if none may be
		fsync  FsyncPolicy
	}
	nth := func(n int, errnos ...syscall.Errno) func(*atomic.Int64) *ring.Faults {
		return func(c *atomic.Int64) *ring.Faults { return ring.EveryNth(n, c, errnos...) }
	}
	schedules := []schedule{
		{"enomem", nth(3, syscall.ENOMEM), 0, FsyncNever},
		{"ebadr", nth(2, syscall.EBADR), 0, FsyncNever},
		{"short", nth(2, 0), 0, FsyncNever},
		{"eagain", nth(2, syscall.EAGAIN), 0, FsyncNever},
		{"ebusy", nth(2, syscall.EBUSY), 0, FsyncNever},
		{"eintr", nth(2, syscall.EINTR), 0, FsyncNever},
		{"mix", nth(2, syscall.ENOMEM, 0, syscall.EAGAIN, syscall.EBADR, syscall.EBUSY, syscall.EINTR, 0), 0, FsyncBatch},
		{"enomem-bursts", func(c *atomic.Int64) *ring.Faults { return burstFaults(40, 12, syscall.ENOMEM, c) }, syscall.ENOMEM, FsyncNever},
		{"ebadr-bursts", func(c *atomic.Int64) *ring.Faults { return burstFaults(25, 12, syscall.EBADR, c) }, syscall.EBADR, FsyncBatch},
	}
	const goroutines = 4
	per := 5000
	if raceEnabled || testing.Short() {
		per = 1500
	}
	for _, sc := range schedules {
		t.Run(sc.name, func(t *testing.T) {
			path := logPath(t)
			var injected atomic.Int64
			var mu sync.Mutex
			var errs []error
			o := Options{Path: path, Engine: EngineUring, QueueSize: 8, BufferSize: 2048, Fsync: sc.fsync,
				OnError: func(err error) { mu.Lock(); errs = append(errs, err); mu.Unlock() }}
			o.uring.faults = sc.faults(&injected)
			o.uring.sqEntries = 4
			probe := new(uringProbe)
			o.uring.probe = probe
			l, err := New(o)
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() {
				logFaultRecords(l, goroutines, per)
				done <- l.Close()
			}()
			var closeErr error
			select {
			case closeErr = <-done:
			case <-time.After(20 * time.Second):
				t.Fatalf("logging and Close did not finish in 20 s; %+v", l.Stats())
			}
			st := l.Stats()
			t.Logf("%d faults injected; Close: %v; %+v", injected.Load(), closeErr, st)
			if injected.Load() == 0 {
				t.Fatal("no fault was injected")
			}
			t.Logf("refused submits %d, SQEs voided %d", probe.refusals.Load(), probe.voided.Load())
			if n := probe.stale.Load(); n != 0 {
				t.Errorf("%d completions matched no operation in flight", n)
			}
			checkFaultFile(t, path, goroutines, per, st)

			if st.DroppedError > 0 {
				if sc.errno == 0 {
					t.Errorf("%d records lost to faults the engine should ride out (last error %v)", st.DroppedError, st.LastError)
				} else if !errors.Is(st.LastError, sc.errno) || !errors.Is(closeErr, sc.errno) {
					t.Errorf("%d records lost: LastError %v, Close %v; want both to wrap %v", st.DroppedError, st.LastError, closeErr, sc.errno)
				}
			} else if closeErr != nil {
				t.Errorf("Close: %v, with nothing lost", closeErr)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, err := range errs {
				if sc.errno == 0 || !errors.Is(err, sc.errno) {
					t.Errorf("reported error %v", err)
					break
				}
			}
		})
	}
}

// logFaultRecords logs per records (g, seq) from each of goroutines goroutines at once and
// returns when all are logged.
func logFaultRecords(l *Logger, goroutines, per int) {
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				l.Info("fault", Int("g", g), Int("seq", i), String("pad", faultPad(g, i)))
			}
		}()
	}
	wg.Wait()
}

// checkFaultFile reads the file of a fault test line by line: every line is a whole record
// of ours with its own bytes, at most once, or a drop report (never a blank line); the counts
// agree with st.
func checkFaultFile(t *testing.T, path string, goroutines, per int, st Stats) {
	t.Helper()
	seen := make([][]bool, goroutines)
	for g := range seen {
		seen[g] = make([]bool, per)
	}
	var records, reported uint64
	for i, line := range readLines(t, path) {
		if len(bytes.TrimSpace(line)) == 0 {
			t.Fatalf("line %d is blank: %q", i+1, line) // a failed write's gap, filled
		}
		var r struct {
			Msg     string
			G, Seq  *int
			Pad     string
			Dropped uint64
		}
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("line %d is torn (%v): %.200q", i+1, err, line)
		}
		if r.Msg == "logger dropped records" {
			reported += r.Dropped
			continue
		}
		if r.Msg != "fault" || r.G == nil || r.Seq == nil || *r.G < 0 || *r.G >= goroutines || *r.Seq < 0 || *r.Seq >= per {
			t.Fatalf("line %d is no record of ours: %.200q", i+1, line)
		}
		g, seq := *r.G, *r.Seq
		if r.Pad != faultPad(g, seq) {
			t.Fatalf("line %d: record %d.%d carries the wrong bytes: %.200q", i+1, g, seq, line)
		}
		if seen[g][seq] {
			t.Fatalf("line %d: record %d.%d is in the file twice", i+1, g, seq)
		}
		seen[g][seq] = true
		records++
	}
	total := uint64(goroutines * per)
	if records != st.Written || st.Accepted != total || st.Written+st.DroppedError != total || st.Reported != reported {
		t.Errorf("%d records in the file, %d reported there; want Written, Accepted = Written+DroppedError = %d, Reported: %+v",
			records, reported, total, st)
	}
}

// TestUringGenerationWrap starts every slot's generation just below the wrap of
// internal/token's GenBits, so slots wrap to generation 0 within a few uses, and logs
// through a tiny ring (with short submits and ENOMEM injected, so SQEs wait in the SQ and
// get retried) across the wrap: every record must still be written exactly once and every
// completion must find its operation.
func TestUringGenerationWrap(t *testing.T) {
	for _, faulty := range []bool{false, true} {
		t.Run(fmt.Sprintf("faults=%v", faulty), func(t *testing.T) {
			path := logPath(t)
			probe := new(uringProbe)
			o := Options{Path: path, Engine: EngineUring, QueueSize: 4, BufferSize: 1024, Fsync: FsyncBatch}
			o.uring.sqEntries = 4
			o.uring.genStart = token.GenMask - 2
			o.uring.probe = probe
			var injected atomic.Int64
			if faulty {
				o.uring.faults = ring.EveryNth(3, &injected, syscall.ENOMEM, 0)
			}
			l, err := New(o)
			if err != nil {
				t.Fatal(err)
			}
			const goroutines, per = 2, 3000
			logFaultRecords(l, goroutines, per)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			st := l.Stats()
			t.Logf("wraps %d, stale %d, faults %d; %+v", probe.wraps.Load(), probe.stale.Load(), injected.Load(), st)
			if probe.wraps.Load() == 0 {
				t.Fatal("no slot generation wrapped")
			}
			if n := probe.stale.Load(); n != 0 {
				t.Errorf("%d completions matched no operation in flight", n)
			}
			if st.Written != goroutines*per {
				t.Errorf("written %d of %d: %+v", st.Written, goroutines*per, st)
			}
			checkFaultFile(t, path, goroutines, per, st)
		})
	}
}

// TestUringKernelCancels makes write completions look cancelled by the kernel (-ECANCELED,
// which the engine never asks for). Every third: each such write is submitted again to its
// offset, and every record is in the file once. Every one: a write cancelled
// maxKernelCancels+1 times in a row fails, and the loss is counted and reported.
func TestUringKernelCancels(t *testing.T) {
	const goroutines, per = 4, 1000
	for _, tc := range []struct {
		name  string
		every uint64
	}{{"every-third", 3}, {"always", 1}} {
		t.Run(tc.name, func(t *testing.T) {
			path := logPath(t)
			var mu sync.Mutex
			var errs []error
			o := Options{Path: path, Engine: EngineUring, QueueSize: 8, BufferSize: 2048,
				OnError: func(err error) { mu.Lock(); errs = append(errs, err); mu.Unlock() }}
			probe := new(uringProbe)
			o.uring.probe = probe
			o.uring.cancelEvery = tc.every
			l, err := New(o)
			if err != nil {
				t.Fatal(err)
			}
			logFaultRecords(l, goroutines, per)
			closeErr := l.Close()
			st := l.Stats()
			t.Logf("cancels %d, submitted again %d; Close: %v; %+v", probe.cancels.Load(), probe.resubmitted.Load(), closeErr, st)
			if probe.cancels.Load() == 0 {
				t.Fatal("no completion was turned into a cancellation")
			}
			checkFaultFile(t, path, goroutines, per, st)
			mu.Lock()
			defer mu.Unlock()
			if tc.every > 1 {
				if probe.resubmitted.Load() != probe.cancels.Load() {
					t.Errorf("%d cancelled writes, %d submitted again", probe.cancels.Load(), probe.resubmitted.Load())
				}
				if st.DroppedError != 0 || closeErr != nil || len(errs) != 0 {
					t.Errorf("records lost to cancellations the engine should ride out: Close %v, errors %v", closeErr, errs)
				}
				return
			}
			if st.Written != 0 || st.DroppedError != goroutines*per {
				t.Errorf("every write is cancelled, yet %d written, %d dropped", st.Written, st.DroppedError)
			}
			if !errors.Is(closeErr, syscall.ECANCELED) || !errors.Is(st.LastError, syscall.ECANCELED) || len(errs) == 0 {
				t.Errorf("Close %v, LastError %v, %d reported; want ECANCELED in all", closeErr, st.LastError, len(errs))
			}
		})
	}
}
