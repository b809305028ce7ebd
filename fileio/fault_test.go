package fileio_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/uringd/uringd/fileio"
	"github.com/uringd/uringd/ring"
)

// faultSchedules are the io_uring_enter faults the uring engine is driven through: every
// nth call that submits fails with the errno, or (errno 0) submits half of its SQEs.
type faultSchedule struct {
	name   string
	n      int // every nth call (ring.EveryNth); below 0, bursts (see faults)
	errnos []syscall.Errno
}

func faultSchedules() []faultSchedule {
	return []faultSchedule{
		{"EAGAIN", 3, []syscall.Errno{syscall.EAGAIN}},
		{"EBUSY", 3, []syscall.Errno{syscall.EBUSY}},
		{"EINTR", 2, []syscall.Errno{syscall.EINTR}},
		{"ENOMEM", 3, []syscall.Errno{syscall.ENOMEM}},
		{"EBADR", 3, []syscall.Errno{syscall.EBADR}},
		{"short", 2, []syscall.Errno{0}},
		{"mixed", 2, []syscall.Errno{syscall.EAGAIN, 0, syscall.EBUSY, syscall.EINTR, 0, syscall.ENOMEM, syscall.EBADR}},
		// n < 0: bursts of -n refused calls out of every 8 (burstFaults).
		{"bursts", -3, []syscall.Errno{syscall.EAGAIN, 0, syscall.EBUSY, syscall.ENOMEM, syscall.EBADR}},
	}
}

func (fs faultSchedule) faults(injected *atomic.Int64) *ring.Faults {
	if fs.n < 0 {
		return burstFaults(8, -fs.n, injected, fs.errnos...)
	}
	return ring.EveryNth(fs.n, injected, fs.errnos...)
}

// burstFaults fails run consecutive io_uring_enter calls that submit out of every period,
// each burst with the next errno of errnos in turn (0: a short submit of half the SQEs, or
// of none when there is one), as ring.EveryNth does one at a time: a ring user must survive a
// refusal of its retry too. It counts the faults in *injected.
func burstFaults(period, run int, injected *atomic.Int64, errnos ...syscall.Errno) *ring.Faults {
	var calls atomic.Uint64
	return &ring.Faults{Enter: func(c ring.EnterCall) ring.Fault {
		if c.ToSubmit == 0 {
			return ring.Fault{}
		}
		k := calls.Add(1) - 1
		if k%uint64(period) >= uint64(run) {
			return ring.Fault{}
		}
		injected.Add(1)
		e := errnos[k/uint64(period)%uint64(len(errnos))]
		if e == 0 {
			return ring.Fault{Short: true, Submit: c.ToSubmit / 2}
		}
		return ring.Fault{Errno: e}
	}}
}

// newFaultEngine starts a uring engine with opts, skipping the test without io_uring. The
// test closes it (closeWithin): a cleanup would hang on an engine that is stuck.
func newFaultEngine(t *testing.T, opts fileio.Options) fileio.Engine {
	t.Helper()
	e, err := fileio.New(fileio.EngineUring, opts)
	if err != nil {
		if u, ok := ring.IsUnavailable(err); ok {
			t.Skipf("io_uring unavailable here: %v", u)
		}
		t.Fatal(err)
	}
	return e
}

// closeWithin closes files, then the engine, and fails the test if that takes longer than d
// or fails.
func closeWithin(t *testing.T, d time.Duration, files []*fileio.File, e fileio.Engine) {
	t.Helper()
	closed := make(chan error, 1)
	go func() {
		for _, f := range files {
			if err := f.Close(); err != nil {
				closed <- err
				return
			}
		}
		closed <- e.Close()
	}()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(d):
		t.Fatalf("Close did not return within %v", d)
	}
}

// errnoName names a fault: the errno's symbol, "short" for 0.
func errnoName(e syscall.Errno) string {
	if e == 0 {
		return "short"
	}
	return unix.ErrnoName(e)
}

// openFDs counts this process's open descriptors.
func openFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// settle waits (up to a few seconds) for the goroutine count to come back to at most want,
// and returns the last count.
func settle(want int) int {
	n := runtime.NumGoroutine()
	for i := 0; i < 200 && n > want; i++ {
		time.Sleep(10 * time.Millisecond)
		n = runtime.NumGoroutine()
	}
	return n
}

// checkOpErr checks that err is an *fileio.Error naming op and path.
func checkOpErr(err error, op, path string) error {
	var fe *fileio.Error
	if !errors.As(err, &fe) || fe.Op != op || fe.Path != path || fe.Engine != fileio.EngineUring {
		return fmt.Errorf("error %q does not name the uring %s of %s", err, op, path)
	}
	return nil
}

// Under injected io_uring_enter faults, with a ring of 8 SQEs and more operations in flight
// than it holds, many goroutines read, write and read back, and cancel reads (of a file and
// of FIFOs that never get data): every read returns the file's bytes, every write lands,
// a cancelled operation returns its bytes or an *Error naming it that wraps its context's
// error, nothing hangs, Close returns, and no goroutine or descriptor is left behind.
func TestUringFaultsFileOps(t *testing.T) {
	const (
		size    = 256 << 10
		workers = 48
		opsEach = 40
		fifos   = 8
	)
	dir, name, data := testFile(t, size)
	for _, compat := range []string{"", "5.10"} {
		for _, fs := range faultSchedules() {
			t.Run(fs.name+"/compat="+compat, func(t *testing.T) {
				baseG, baseFD := runtime.NumGoroutine(), openFDs(t)
				var injected atomic.Int64
				opts := fileio.Options{RingEntries: 8, KernelCompat: compat}
				fileio.WithRingFaults(&opts, fs.faults(&injected), 64)
				e := newFaultEngine(t, opts)
				d, err := fileio.OpenDir(dir)
				if err != nil {
					t.Fatal(err)
				}
				defer d.Close()
				wdir := t.TempDir()
				wd, err := fileio.OpenDir(wdir)
				if err != nil {
					t.Fatal(err)
				}
				defer wd.Close()
				ctx := context.Background()
				rf, err := e.Open(ctx, d, name, os.O_RDONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				wf, err := e.Open(ctx, wd, "w.bin", os.O_RDWR|os.O_CREATE, 0o644)
				if err != nil {
					t.Fatal(err)
				}
				var ff []*fileio.File
				for i := range fifos {
					fn := fmt.Sprintf("fifo%d", i)
					makeFIFO(t, wdir, fn)
					f, err := e.Open(ctx, wd, fn, os.O_RDONLY, 0)
					if err != nil {
						t.Fatal(err)
					}
					ff = append(ff, f)
				}

				errs := make(chan error, workers*opsEach)
				var wg sync.WaitGroup
				for w := range workers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						rnd := rand.New(rand.NewPCG(uint64(w), 11))
						region := int64(w) * 16 << 10 // this worker's part of w.bin
						for i := range opsEach {
							switch k := rnd.IntN(10); {
							case k < 4: // read, checked against the file
								off, n := rnd.IntN(size), 1+rnd.IntN(16<<10)
								buf := make([]byte, n)
								got, err := rf.ReadAt(buf, int64(off))
								want := min(n, size-off)
								if got != want || (err != nil && got == n) || !bytes.Equal(buf[:got], data[off:off+got]) {
									errs <- fmt.Errorf("worker %d op %d: ReadAt(%d at %d) = %d, %v (want %d bytes, equal: %v)",
										w, i, n, off, got, err, want, bytes.Equal(buf[:got], data[off:off+got]))
								}
							case k < 7: // write, then read back
								n := 1 + rnd.IntN(16<<10)
								p := make([]byte, n)
								for j := range p {
									p[j] = byte(rnd.Uint32())
								}
								off := region + int64(rnd.IntN(16<<10-n+1))
								if got, err := wf.WriteAt(p, off); got != n || err != nil {
									errs <- fmt.Errorf("worker %d op %d: WriteAt(%d at %d) = %d, %v", w, i, n, off, got, err)
									continue
								}
								back := make([]byte, n)
								if got, err := wf.ReadAt(back, off); got != n || err != nil || !bytes.Equal(back, p) {
									errs <- fmt.Errorf("worker %d op %d: read back %d at %d = %d, %v (equal: %v)",
										w, i, n, off, got, err, bytes.Equal(back[:got], p[:got]))
								}
							case k < 9: // a file read cancelled at a random moment
								off, n := rnd.IntN(size-4096), 4096
								buf := make([]byte, n)
								c, cancel := context.WithCancel(ctx)
								delay := time.Duration(rnd.IntN(200)) * time.Microsecond
								go func() {
									time.Sleep(delay)
									cancel()
								}()
								got, err := rf.ReadAtContext(c, buf, int64(off))
								cancel()
								switch {
								case err == nil:
									if got != n || !bytes.Equal(buf, data[off:off+n]) {
										errs <- fmt.Errorf("worker %d op %d: cancelled read returned %d wrong bytes", w, i, got)
									}
								case !errors.Is(err, context.Canceled):
									errs <- fmt.Errorf("worker %d op %d: cancelled read: %v, want context.Canceled", w, i, err)
								default:
									if e := checkOpErr(err, "read", rf.Name()); e != nil {
										errs <- e
									} else if !bytes.Equal(buf[:got], data[off:off+got]) {
										errs <- fmt.Errorf("worker %d op %d: cancelled read returned %d wrong bytes", w, i, got)
									}
								}
							default: // a FIFO read that never gets data, ended by its deadline
								f := ff[rnd.IntN(len(ff))]
								c, cancel := context.WithTimeout(ctx, time.Duration(1+rnd.IntN(3))*time.Millisecond)
								got, err := f.ReadAtContext(c, make([]byte, 8), 0)
								cancel()
								if got != 0 || !errors.Is(err, context.DeadlineExceeded) {
									errs <- fmt.Errorf("worker %d op %d: FIFO read past its deadline = %d, %v", w, i, got, err)
								} else if e := checkOpErr(err, "read", f.Name()); e != nil {
									errs <- e
								}
							}
						}
					}()
				}
				done := make(chan struct{})
				go func() { wg.Wait(); close(done) }()
				select {
				case <-done:
				case <-time.After(60 * time.Second):
					t.Fatalf("operations still running after 60s (%d faults injected): a hang", injected.Load())
				}
				close(errs)
				nerr := 0
				for err := range errs {
					if nerr++; nerr <= 10 {
						t.Error(err)
					}
				}
				if nerr > 10 {
					t.Errorf("... %d errors in all", nerr)
				}
				closeWithin(t, 10*time.Second, append(ff, rf, wf), e)
				if injected.Load() == 0 {
					t.Fatal("no fault was injected: the test tested nothing")
				}
				t.Logf("%d faults injected", injected.Load())
				d.Close()
				wd.Close()
				if g := settle(baseG); g > baseG {
					t.Errorf("%d goroutines after Close, %d before", g, baseG)
				}
				// The FIFOs' write ends (makeFIFO) stay open until the test's cleanup.
				if n := openFDs(t); n > baseFD+fifos {
					t.Errorf("%d descriptors open after Close, %d before (+%d FIFO write ends)", n, baseFD, fifos)
				}
			})
		}
	}
}

// One operation at a time, while the ring refuses every submission for a while: the loop
// keeps submitting what it prepared (it does not park with SQEs left in the SQ and nothing
// in flight to wake it), so each ReadAt returns the file's bytes, and Close returns.
func TestUringRefusedSubmitDoesNotStrand(t *testing.T) {
	dir, name, data := testFile(t, 64<<10)
	for _, compat := range []string{"", "5.10"} {
		for _, errno := range []syscall.Errno{syscall.EAGAIN, syscall.EBUSY, syscall.ENOMEM, syscall.EBADR, 0} {
			t.Run(errnoName(errno)+"/compat="+compat, func(t *testing.T) {
				var injected atomic.Int64
				var refuse atomic.Int64 // how many more submitting calls to refuse
				fl := &ring.Faults{Enter: func(c ring.EnterCall) ring.Fault {
					if c.ToSubmit == 0 || refuse.Add(-1) < 0 {
						return ring.Fault{}
					}
					injected.Add(1)
					if errno == 0 {
						return ring.Fault{Short: true} // takes none of the SQEs
					}
					return ring.Fault{Errno: errno}
				}}
				opts := fileio.Options{RingEntries: 8, KernelCompat: compat}
				fileio.WithRingFaults(&opts, fl, 0)
				e := newFaultEngine(t, opts)
				f, err := e.Open(context.Background(), openDir(t, dir), name, os.O_RDONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				for i := range 4 {
					refuse.Store(5)
					buf := make([]byte, 4096)
					off := int64(i) * 4096
					res := make(chan error, 1)
					go func() {
						n, err := f.ReadAt(buf, off)
						if err == nil && (n != len(buf) || !bytes.Equal(buf, data[off:off+4096])) {
							err = fmt.Errorf("%d bytes, equal: %v", n, bytes.Equal(buf[:n], data[off:off+int64(n)]))
						}
						res <- err
					}()
					select {
					case err := <-res:
						if err != nil {
							t.Fatalf("read %d: %v", i, err)
						}
					case <-time.After(5 * time.Second):
						// The engine is stuck: closing it would hang too, so it is left behind.
						t.Fatalf("read %d did not return within 5s after %d refused submits (stranded in the SQ)", i, injected.Load())
					}
				}
				closeWithin(t, 10*time.Second, []*fileio.File{f}, e)
			})
		}
	}
}
