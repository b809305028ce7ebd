package bench

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// statusThreads reads "Threads:" from /proc/self/status.
func statusThreads(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "Threads:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(rest))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no Threads: in /proc/self/status")
	return 0
}

func TestThreadsMatchesStatus(t *testing.T) {
	// The runtime may start a thread between the two reads; retry until they agree.
	for range 50 {
		a := statusThreads(t)
		n, err := Threads()
		if err != nil {
			t.Fatal(err)
		}
		if n == a && n == statusThreads(t) {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("Threads() never matched /proc/self/status")
}

// lockThreads parks n goroutines each locked to its own OS thread. release lets them exit
// still locked, which makes the runtime end their threads.
func lockThreads(n int) (release func()) {
	stop := make(chan struct{})
	var ready, done sync.WaitGroup
	for range n {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			runtime.LockOSThread()
			ready.Done()
			<-stop
		}()
	}
	ready.Wait()
	return func() { close(stop); done.Wait() }
}

func TestProcSamplerSeesLockedThreads(t *testing.T) {
	idle, err := Threads()
	if err != nil {
		t.Fatal(err)
	}
	s, err := StartProcSampler(t.Context(), 5*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	// Idle threads the runtime already has can serve some locked goroutines, so lock more
	// than exist: then at least n threads plus sysmon and one running this test must exist.
	n := idle + 12
	release := lockThreads(n)
	now, err := Threads()
	if err != nil {
		t.Fatal(err)
	}
	if now < n+1 {
		t.Errorf("Threads() = %d with %d goroutines locked to threads", now, n)
	}
	for start := time.Now(); s.Stats().Samples < 5 && time.Since(start) < 5*time.Second; {
		time.Sleep(5 * time.Millisecond)
	}
	release()
	st := s.Stop()
	t.Logf("idle %d, locked %d, stats %+v", idle, n, st)
	if st.Peak.Threads < n+1 {
		t.Errorf("peak threads %d, want >= %d", st.Peak.Threads, n+1)
	}
	if st.Idle.Threads > idle+2 || st.Idle.Threads < 1 {
		t.Errorf("idle threads %d, measured %d just before", st.Idle.Threads, idle)
	}
	if st.Peak.Threads-st.Idle.Threads < 10 {
		t.Errorf("peak %d vs idle %d: rise < 10", st.Peak.Threads, st.Idle.Threads)
	}
	if st.Peak.IOWQ != 0 || st.Peak.SQPoll != 0 {
		t.Errorf("io_uring threads without a ring: %+v", st.Peak)
	}
	if s.Err() != nil {
		t.Error(s.Err())
	}
	if again := s.Stop(); again != st {
		t.Errorf("second Stop = %+v, first %+v", again, st)
	}
}

func threadCPU() time.Duration {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts)
	return time.Duration(ts.Nano())
}

// spin burns d of this thread's CPU time in user space.
func spin(d time.Duration) uint64 {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var x uint64 = 1
	for t0 := threadCPU(); threadCPU()-t0 < d; {
		for i := range 10000 {
			x = x*6364136223846793005 + uint64(i)
		}
	}
	return x
}

func TestProcSamplerCPU(t *testing.T) {
	s, err := StartProcSampler(t.Context(), 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	before := s.Stats().CPU()
	const burn = 200 * time.Millisecond
	_ = spin(burn)
	st := s.Stop()
	t.Logf("before %v, stats %+v", before, st)
	if st.CPU() < burn*9/10 {
		t.Errorf("CPU %v after burning %v", st.CPU(), burn)
	}
	if st.CPUUser < burn/2 {
		t.Errorf("user CPU %v after a user-space loop of %v", st.CPUUser, burn)
	}
	if st.Wall < burn/2 || st.Cores() <= 0 {
		t.Errorf("wall %v, cores %v", st.Wall, st.Cores())
	}
	u, sy, err := ProcessCPU(0)
	if err != nil || u+sy < st.CPU() {
		t.Errorf("ProcessCPU(0) = %v, %v, %v; sampler saw %v", u, sy, err, st.CPU())
	}
}

func TestProcSamplerStopsOnContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s, err := StartProcSampler(ctx, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err == nil {
		t.Error("second Start succeeded")
	}
	time.Sleep(20 * time.Millisecond)
	cancel()
	st := s.Stop()
	if st.Samples < 2 || st.Peak.Threads < 1 || st.Wall <= 0 {
		t.Errorf("stats after cancel: %+v", st)
	}
	time.Sleep(10 * time.Millisecond)
	if got := s.Stats(); got != st {
		t.Errorf("stats changed after stop: %+v vs %+v", got, st)
	}
	if got := NewProcSampler(0).Stop(); got != (ProcStats{}) {
		t.Errorf("Stop before Start = %+v", got)
	}
}

func TestProcSamplerBaseline(t *testing.T) {
	s := NewProcSampler(10 * time.Millisecond)
	base, err := s.Baseline()
	if err != nil {
		t.Fatal(err)
	}
	release := lockThreads(base.Threads + 4)
	defer release()
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	st := s.Stop()
	if st.Idle != base {
		t.Errorf("Idle = %+v, want the Baseline %+v", st.Idle, base)
	}
	if st.Peak.Threads < base.Threads+4 {
		t.Errorf("peak %d, baseline %d, locked %d", st.Peak.Threads, base.Threads, base.Threads+4)
	}
}

func TestProcSamplerMissingPid(t *testing.T) {
	if _, err := StartProcSampler(t.Context(), 0, 1<<30); err == nil {
		t.Error("sampler started on a pid that does not exist")
	}
	if _, err := Tasks(1 << 30); err == nil {
		t.Error("Tasks on a pid that does not exist")
	}
}

func TestProcSamplerOtherProcesses(t *testing.T) {
	sleeper := exec.Command("sleep", "5")
	busy := exec.Command("sh", "-c", "while :; do :; done")
	for _, c := range []*exec.Cmd{sleeper, busy} {
		if err := c.Start(); err != nil {
			t.Skip("cannot start child:", err)
		}
		t.Cleanup(func() { c.Process.Kill(); c.Wait() })
	}
	kids, err := Children(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*exec.Cmd{sleeper, busy} {
		if !slices.Contains(kids, c.Process.Pid) {
			t.Errorf("Children(self) = %v, missing %d", kids, c.Process.Pid)
		}
	}

	only, err := StartProcSampler(t.Context(), 10*time.Millisecond, sleeper.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	both, err := StartProcSampler(t.Context(), 10*time.Millisecond, sleeper.Process.Pid, busy.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	// Kill and reap the busy child before stopping: its CPU must keep its last value.
	busy.Process.Kill()
	busy.Wait()
	time.Sleep(30 * time.Millisecond)
	so, sb := only.Stop(), both.Stop()
	t.Logf("sleep: %+v\nsleep+busy: %+v", so, sb)

	if so.Peak.Threads != 1 || so.Idle.Threads != 1 || so.Peak.IOWQ != 0 {
		t.Errorf("sleep: %+v, want one thread", so)
	}
	if so.CPU() > 50*time.Millisecond {
		t.Errorf("sleep used %v of CPU", so.CPU())
	}
	if so.Samples < 10 {
		t.Errorf("sleep: only %d samples in 300 ms at 10 ms", so.Samples)
	}
	if sb.Peak.Threads != 2 || sb.Idle.Threads != 2 {
		t.Errorf("sleep+busy: %+v, want 2 threads summed", sb)
	}
	// 300 ms of a busy loop on a noisy 2-core machine: ask for a clear fraction of it.
	if sb.CPU() < 50*time.Millisecond || sb.CPUUser < sb.CPUSys {
		t.Errorf("busy child: CPU user %v sys %v", sb.CPUUser, sb.CPUSys)
	}
	if only.Err() != nil || both.Err() != nil {
		t.Errorf("sampler errors: %v, %v", only.Err(), both.Err())
	}

	c, err := Tasks(sleeper.Process.Pid)
	if err != nil || c != (TaskCount{Threads: 1}) {
		t.Errorf("Tasks(sleep) = %+v, %v", c, err)
	}
	if _, _, err := ProcessCPU(sleeper.Process.Pid); err != nil {
		t.Error(err)
	}
}

func TestParseStatTicks(t *testing.T) {
	line := "1234 (a) b (c) d) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 37 0 0 20 0 1 0 99 1000 10 18446744073709551615\n"
	u, s, ok := parseStatTicks([]byte(line))
	if !ok || u != 250 || s != 37 {
		t.Errorf("parseStatTicks = %d, %d, %v; want 250, 37", u, s, ok)
	}
	if u, s, rss, ok := parseStat([]byte(line)); !ok || u != 250 || s != 37 || rss != 10 {
		t.Errorf("parseStat = %d, %d, %d, %v; want 250, 37, 10", u, s, rss, ok)
	}
	if f := statFields([]byte(line)); string(f[0]) != "S" || string(f[1]) != "1" {
		t.Errorf("statFields = %q", f[:2])
	}
	if _, _, ok := parseStatTicks([]byte("1 (x) S 1 2")); ok {
		t.Error("short line parsed")
	}
	if ticks(uint64(clockTicks())) != time.Second {
		t.Errorf("ticks(%d) = %v", clockTicks(), ticks(uint64(clockTicks())))
	}
}

func TestCommKind(t *testing.T) {
	for comm, want := range map[string]taskKind{
		"iou-wrk-1234\n": kindIOWQ,
		"iou-sqp-99\n":   kindSQPoll,
		"bench.test\n":   kindThread,
		"iou-\n":         kindThread,
	} {
		if got := commKind([]byte(comm)); got != want {
			t.Errorf("commKind(%q) = %v, want %v", comm, got, want)
		}
	}
}

func TestSampleDoesNotAllocate(t *testing.T) {
	p, err := openProc(0)
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	for range 3 { // learn every thread's kind
		p.count()
	}
	if a := testing.AllocsPerRun(20, func() { p.count(); p.readTicks() }); a != 0 {
		t.Errorf("a steady-state sample allocates %v times", a)
	}
}

// ring is just enough io_uring to make the kernel start its helper threads.
type ring struct {
	fd  int
	sq  []byte
	sqe []byte
	p   ioUringParams
}

type ioUringParams struct {
	SQEntries, CQEntries, Flags, SQThreadCPU, SQThreadIdle, Features, WQFd uint32
	Resv                                                                   [3]uint32
	SQOff                                                                  [10]uint32 // head tail ring_mask ring_entries flags dropped array resv1 user_addr(u64)
	CQOff                                                                  [10]uint32
}

const (
	setupSQPoll = 1 << 1
	sqeAsync    = 1 << 4 // IOSQE_ASYNC: always punt to io-wq
)

func newRing(t *testing.T, flags uint32) *ring {
	t.Helper()
	r := &ring{}
	r.p.Flags = flags
	r.p.SQThreadIdle = 1000
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, 4, uintptr(unsafe.Pointer(&r.p)), 0)
	if errno != 0 {
		t.Skip("io_uring_setup:", errno)
	}
	r.fd = int(fd)
	t.Cleanup(func() {
		if r.sq != nil {
			unix.Munmap(r.sq)
			unix.Munmap(r.sqe)
		}
		unix.Close(r.fd)
	})
	return r
}

// nopAsync submits one NOP that must run on an io-wq worker.
func (r *ring) nopAsync(t *testing.T) {
	t.Helper()
	var err error
	if r.sq == nil {
		r.sq, err = unix.Mmap(r.fd, 0, int(r.p.SQOff[6]+r.p.SQEntries*4), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
		if err != nil {
			t.Fatal(err)
		}
		r.sqe, err = unix.Mmap(r.fd, 0x10000000, int(r.p.SQEntries*64), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
		if err != nil {
			t.Fatal(err)
		}
	}
	u32 := func(off uint32) *uint32 { return (*uint32)(unsafe.Pointer(&r.sq[off])) }
	tail := atomic.LoadUint32(u32(r.p.SQOff[1]))
	idx := tail & *u32(r.p.SQOff[2])
	sqe := r.sqe[idx*64 : idx*64+64]
	clear(sqe)
	sqe[0], sqe[1] = 0, sqeAsync // IORING_OP_NOP
	*u32(r.p.SQOff[6] + idx*4) = idx
	atomic.StoreUint32(u32(r.p.SQOff[1]), tail+1)
	const getEvents = 1
	if _, _, errno := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), 1, 1, getEvents, 0, 0); errno != 0 {
		t.Fatal("io_uring_enter:", errno)
	}
}

func waitTasks(pred func(TaskCount) bool) (TaskCount, bool) {
	var c TaskCount
	for start := time.Now(); time.Since(start) < 3*time.Second; time.Sleep(5 * time.Millisecond) {
		c, _ = Tasks(0)
		if pred(c) {
			return c, true
		}
	}
	return c, false
}

func TestIOWQWorkersCounted(t *testing.T) {
	s, err := StartProcSampler(t.Context(), 5*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	r := newRing(t, 0)
	r.nopAsync(t)
	c, ok := waitTasks(func(c TaskCount) bool { return c.IOWQ >= 1 })
	if !ok {
		t.Fatalf("no io-wq worker after an IOSQE_ASYNC NOP: %+v", c)
	}
	n, err := IOWQWorkers()
	if err != nil || n < 1 {
		t.Errorf("IOWQWorkers() = %d, %v", n, err)
	}
	time.Sleep(30 * time.Millisecond)
	st := s.Stop()
	t.Logf("tasks %+v, sampler %+v", c, st)
	if st.Peak.IOWQ < 1 || st.Idle.IOWQ != 0 {
		t.Errorf("sampler: idle %+v peak %+v, want io-wq 0 -> >=1", st.Idle, st.Peak)
	}
	if st.Peak.Threads <= st.Peak.IOWQ {
		t.Errorf("io-wq workers must count among threads: %+v", st.Peak)
	}
}

func TestSQPollThreadCounted(t *testing.T) {
	newRing(t, setupSQPoll)
	c, ok := waitTasks(func(c TaskCount) bool { return c.SQPoll >= 1 })
	if !ok {
		t.Fatalf("no iou-sqp thread with an SQPOLL ring: %+v", c)
	}
	if c.Threads <= c.SQPoll {
		t.Errorf("SQPOLL threads must count among threads: %+v", c)
	}
}

// TestProcSamplerRSS: a child that grows by 64 MiB after the sampler started shows that
// growth between IdleRSS and PeakRSS.
func TestProcSamplerRSS(t *testing.T) {
	child := exec.Command(os.Args[0], "-test.run=^TestRSSGrower$")
	child.Env = append(os.Environ(), "BENCH_RSS_GROWER=1")
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer child.Wait()
	defer child.Process.Kill()
	br := bufio.NewReader(stdout)
	if line, err := br.ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("grower: %q, %v", line, err)
	}
	s, err := StartProcSampler(t.Context(), 10*time.Millisecond, child.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(30 * time.Millisecond)
	child.Process.Signal(syscall.SIGUSR1) // grow now
	if line, err := br.ReadString('\n'); err != nil || line != "grown\n" {
		t.Fatalf("grower: %q, %v", line, err)
	}
	time.Sleep(30 * time.Millisecond)
	st := s.Stop()
	// At most 4 times: the race detector's shadow memory grows with the heap (about 2.1
	// times under -race), and a unit mistake (pages for bytes) would be 4096 times.
	if st.IdleRSS <= 0 || st.PeakRSS-st.IdleRSS < 60<<20 || st.PeakRSS-st.IdleRSS > 256<<20 {
		t.Errorf("RSS idle %d, peak %d: want a growth of 64 MiB or a few times that", st.IdleRSS, st.PeakRSS)
	}
}

// TestRSSGrower is TestProcSamplerRSS's child: it says "ready", touches 64 MiB on SIGUSR1,
// says "grown" and waits to be killed.
func TestRSSGrower(t *testing.T) {
	if os.Getenv("BENCH_RSS_GROWER") == "" {
		t.Skip("the child of TestProcSamplerRSS")
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGUSR1)
	fmt.Println("ready")
	<-sig
	b := make([]byte, 64<<20)
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	fmt.Println("grown")
	time.Sleep(time.Minute)
	runtime.KeepAlive(b)
}

func TestParseCPUStat(t *testing.T) {
	stat := "cpu  30087 0 31193 203498 8479 0 5720 4156 0 0\ncpu0 13867 0 14768 104496 3527 0 2790 2082 0 0\nintr 1 2\n"
	got, err := parseCPUStat([]byte(stat))
	if err != nil {
		t.Fatal(err)
	}
	if want := (CPUTimes{Total: 30087 + 31193 + 203498 + 8479 + 5720 + 4156, Steal: 4156, Idle: 203498 + 8479}); got != want {
		t.Errorf("parsed %+v, want %+v", got, want)
	}
	// Four states, as kernels before 2.6 wrote, and a line that is not the cpu line.
	for _, bad := range []string{"cpu 1 2 3 4\n", "cpu0 1 2 3 4 5 6 7 8\n", "cpu 1 2 3 x 5 6 7 8\n", ""} {
		if _, err := parseCPUStat([]byte(bad)); err == nil {
			t.Errorf("parseCPUStat(%q) took it", bad)
		}
	}
	a, b := CPUTimes{Total: 1000, Steal: 10, Idle: 300}, CPUTimes{Total: 1200, Steal: 50, Idle: 330}
	if p := StealPct(a, b); p != 20 {
		t.Errorf("StealPct = %v, want 20", p)
	}
	if p := IdlePct(a, b); p != 15 {
		t.Errorf("IdlePct = %v, want 15", p)
	}
	if p := IdlePct(b, a); p != 0 {
		t.Errorf("IdlePct backwards = %v, want 0", p)
	}
	if p := StealPct(b, a); p != 0 {
		t.Errorf("StealPct backwards = %v, want 0", p)
	}
	live, err := ReadCPUTimes()
	if err != nil || live.Total == 0 || live.Steal > live.Total || live.Idle > live.Total {
		t.Errorf("ReadCPUTimes: %+v, %v", live, err)
	}
}
