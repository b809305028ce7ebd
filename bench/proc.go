package bench

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Kernel thread name prefixes (comm) of io_uring's helper threads. Both live in the thread
// group of the process that owns the ring, so they appear under /proc/PID/task.
const (
	IOWQWorkerPrefix = "iou-wrk-" // io-wq workers: blocking IO punted off the ring
	SQPollPrefix     = "iou-sqp-" // SQPOLL submission threads (IORING_SETUP_SQPOLL)
)

// DefaultSampleInterval is the ProcSampler interval used when none is given.
const DefaultSampleInterval = 10 * time.Millisecond

// TaskCount counts the tasks (threads) of one or more processes by kind.
type TaskCount struct {
	Threads int `json:"threads"`        // every task under /proc/PID/task, io_uring ones included
	IOWQ    int `json:"iowq_workers"`   // tasks whose comm starts with "iou-wrk-"
	SQPoll  int `json:"sqpoll_threads"` // tasks whose comm starts with "iou-sqp-"
}

func (c TaskCount) add(o TaskCount) TaskCount {
	return TaskCount{c.Threads + o.Threads, c.IOWQ + o.IOWQ, c.SQPoll + o.SQPoll}
}

func (c TaskCount) max(o TaskCount) TaskCount {
	return TaskCount{max(c.Threads, o.Threads), max(c.IOWQ, o.IOWQ), max(c.SQPoll, o.SQPoll)}
}

// Tasks counts the tasks of process pid right now (pid 0 means this process).
func Tasks(pid int) (TaskCount, error) {
	p, err := openProc(pid)
	if err != nil {
		return TaskCount{}, err
	}
	defer p.close()
	return p.count()
}

// Threads returns the number of OS threads of this process right now, io_uring kernel
// threads included.
func Threads() (int, error) {
	c, err := Tasks(0)
	return c.Threads, err
}

// IOWQWorkers returns the number of io_uring io-wq worker threads of this process right now.
func IOWQWorkers() (int, error) {
	c, err := Tasks(0)
	return c.IOWQ, err
}

// ProcessCPU returns the user and system CPU time consumed so far by process pid, summed over
// its threads (live and exited, not its children). pid 0 means this process and uses
// getrusage(RUSAGE_SELF) (microsecond resolution); other pids read /proc/PID/stat (clock-tick
// resolution, normally 10 ms).
func ProcessCPU(pid int) (user, sys time.Duration, err error) {
	if pid == 0 {
		return selfCPU()
	}
	var buf [1024]byte
	u, s, err := readStatTicks("/proc/"+strconv.Itoa(pid)+"/stat", buf[:])
	return ticks(u), ticks(s), err
}

// Children returns the pids of the live direct children of process pid (for example an
// nginx master's workers), in ascending order.
func Children(pid int) ([]int, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var kids []int
	var buf [1024]byte
	for _, e := range ents {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		n, err := readFileInto("/proc/"+e.Name()+"/stat", buf[:])
		if err != nil {
			continue // raced with exit
		}
		f := statFields(buf[:n])
		if len(f) > 1 {
			if ppid, err := strconv.Atoi(string(f[1])); err == nil && ppid == pid {
				kids = append(kids, child)
			}
		}
	}
	slices.Sort(kids)
	return kids, nil
}

// ProcStats is what a ProcSampler measured between Start and Stop.
type ProcStats struct {
	Idle    TaskCount     `json:"idle"`           // tasks at Start (or at Baseline, if called)
	Peak    TaskCount     `json:"peak"`           // per-kind maximum over all samples
	IdleRSS int64         `json:"idle_rss_bytes"` // resident memory at Start, summed over the pids (0 with none)
	PeakRSS int64         `json:"peak_rss_bytes"` // the largest such sum over all samples
	CPUUser time.Duration `json:"cpu_user_ns"`    // CPU consumed between Start and Stop
	CPUSys  time.Duration `json:"cpu_sys_ns"`
	Wall    time.Duration `json:"wall_ns"` // Start to Stop
	Samples int           `json:"samples"`
}

// CPU is user plus system time.
func (s ProcStats) CPU() time.Duration { return s.CPUUser + s.CPUSys }

// Cores is the average number of cores kept busy: CPU time over wall time.
func (s ProcStats) Cores() float64 {
	if s.Wall <= 0 {
		return 0
	}
	return s.CPU().Seconds() / s.Wall.Seconds()
}

// ProcSampler watches processes from its own goroutine: their thread counts (all, io-wq
// workers, SQPOLL threads) at peak, and the CPU they consume between Start and Stop.
//
// With no pids it watches this process, and CPU comes from getrusage(RUSAGE_SELF). With pids
// (a server such as nginx: its master and the workers found with Children) counts are summed
// over the pids at each sample, and CPU is the sum of their /proc/PID/stat utime and stime
// deltas; a pid that exits keeps the last value seen. Resident memory (RSS, summed over the
// pids, so pages they share count more than once: compare growth, not totals) is sampled
// with the CPU times, from the same read of /proc/PID/stat. Child processes started after Start are
// not picked up: pass every pid explicitly.
//
// The sampler costs one getdents per process per interval plus a read of comm for each new
// thread; its goroutine's CPU is inside RUSAGE_SELF, so keep the interval at 10 ms or more.
type ProcSampler struct {
	interval time.Duration
	pids     []int // empty: this process

	mu       sync.Mutex
	procs    []*procTasks
	idle     TaskCount
	haveIdle bool
	peak     TaskCount
	idleRSS  int64
	peakRSS  int64
	samples  int
	selfU0   time.Duration
	selfS0   time.Duration
	start    time.Time
	final    *ProcStats
	err      error

	started  bool
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
}

// NewProcSampler returns a sampler that samples every interval (DefaultSampleInterval if
// interval <= 0) the given pids, or this process if none are given.
func NewProcSampler(interval time.Duration, pids ...int) *ProcSampler {
	if interval <= 0 {
		interval = DefaultSampleInterval
	}
	return &ProcSampler{
		interval: interval,
		pids:     slices.Clone(pids),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
}

// StartProcSampler is NewProcSampler followed by Start.
func StartProcSampler(ctx context.Context, interval time.Duration, pids ...int) (*ProcSampler, error) {
	s := NewProcSampler(interval, pids...)
	if err := s.Start(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Baseline records the idle task counts now, before Start, for example before an engine's
// rings and workers exist; Start records them itself if Baseline was not called.
func (s *ProcSampler) Baseline() (TaskCount, error) {
	var sum TaskCount
	for _, pid := range s.targets() {
		c, err := Tasks(pid)
		if err != nil {
			return TaskCount{}, err
		}
		sum = sum.add(c)
	}
	s.mu.Lock()
	s.idle, s.haveIdle = sum, true
	s.mu.Unlock()
	return sum, nil
}

func (s *ProcSampler) targets() []int {
	if len(s.pids) == 0 {
		return []int{0}
	}
	return s.pids
}

// Start takes the first sample and starts sampling in a new goroutine, which stops when ctx
// is done or Stop is called. Start fails if no target process can be opened.
func (s *ProcSampler) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("bench: ProcSampler already started")
	}
	var firstErr error
	for _, pid := range s.targets() {
		p, err := openProc(pid)
		if err != nil {
			firstErr = orErr(firstErr, err)
			continue
		}
		s.procs = append(s.procs, p)
	}
	if len(s.procs) == 0 {
		return fmt.Errorf("bench: ProcSampler: %w", firstErr)
	}
	s.started = true
	s.start = time.Now()
	if len(s.pids) == 0 {
		s.selfU0, s.selfS0, _ = selfCPU()
	} else {
		for _, p := range s.procs {
			p.readTicks()
			p.u0, p.s0 = p.u, p.s
			s.idleRSS += p.rss
		}
	}
	c := s.sampleLocked()
	if !s.haveIdle {
		s.idle, s.haveIdle = c, true
	}
	go s.run(ctx)
	return nil
}

func orErr(old, err error) error {
	if old != nil {
		return old
	}
	return err
}

func (s *ProcSampler) run(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			s.finish()
			return
		case <-s.stop:
			s.finish()
			return
		case <-t.C:
			s.mu.Lock()
			s.sampleLocked()
			s.mu.Unlock()
		}
	}
}

func (s *ProcSampler) finish() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sampleLocked()
	st := s.statsLocked()
	s.final = &st
	for _, p := range s.procs {
		p.close()
	}
}

// Stop stops sampling (if ctx has not already) after a last sample and returns the stats.
// It may be called more than once; a sampler that was never started returns zero stats.
func (s *ProcSampler) Stop() ProcStats {
	s.mu.Lock()
	started := s.started
	s.mu.Unlock()
	if !started {
		return ProcStats{}
	}
	s.stopOnce.Do(func() { close(s.stop) })
	<-s.done
	return s.Stats()
}

// Stats returns the stats so far while sampling, and the final ones after it stopped.
func (s *ProcSampler) Stats() ProcStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.final != nil {
		return *s.final
	}
	if !s.started {
		return ProcStats{}
	}
	return s.statsLocked()
}

// Err returns the first error met while sampling, other than a watched process exiting.
func (s *ProcSampler) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func (s *ProcSampler) sampleLocked() TaskCount {
	var sum TaskCount
	var rss int64
	for _, p := range s.procs {
		c, err := p.count()
		if err != nil && !isGone(err) && s.err == nil {
			s.err = err
		}
		sum = sum.add(c)
		if len(s.pids) > 0 {
			p.readTicks()
			rss += p.rss
		}
	}
	s.peak = s.peak.max(sum)
	s.peakRSS = max(s.peakRSS, rss)
	s.samples++
	return sum
}

func (s *ProcSampler) statsLocked() ProcStats {
	st := ProcStats{Idle: s.idle, Peak: s.peak, IdleRSS: s.idleRSS, PeakRSS: s.peakRSS, Wall: time.Since(s.start), Samples: s.samples}
	if len(s.pids) == 0 {
		u, sy, _ := selfCPU()
		st.CPUUser, st.CPUSys = u-s.selfU0, sy-s.selfS0
	} else {
		var u, sy uint64
		for _, p := range s.procs {
			u += p.u - p.u0
			sy += p.s - p.s0
		}
		st.CPUUser, st.CPUSys = ticks(u), ticks(sy)
	}
	return st
}

func isGone(err error) bool {
	return errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH) || errors.Is(err, os.ErrNotExist)
}

// procTasks watches one process. It keeps /proc/PID/task open and rescans it with getdents
// into a reused buffer, and remembers each thread's kind, so a steady-state sample does not
// allocate (a background allocator would disturb the benchmarks' allocation counts).
type procTasks struct {
	pid    int // real pid, never 0
	dir    string
	dirfd  int
	statfd int
	buf    []byte
	tasks  map[int32]taskInfo
	gen    uint32
	u, s   uint64 // last utime, stime seen (clock ticks)
	rss    int64  // last resident set size seen, in bytes
	u0, s0 uint64 // at Start
	stat   [1024]byte
}

type taskKind uint8

const (
	kindThread taskKind = iota
	kindIOWQ
	kindSQPoll
)

type taskInfo struct {
	kind taskKind
	seen uint8 // samples this tid was seen in, capped
	gen  uint32
}

func openProc(pid int) (*procTasks, error) {
	if pid == 0 {
		pid = os.Getpid()
	}
	p := &procTasks{pid: pid, dir: "/proc/" + strconv.Itoa(pid), dirfd: -1, statfd: -1,
		buf: make([]byte, 8<<10), tasks: make(map[int32]taskInfo)}
	fd, err := unix.Open(p.dir+"/task", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: p.dir + "/task", Err: err}
	}
	p.dirfd = fd
	return p, nil
}

func (p *procTasks) close() {
	if p.dirfd >= 0 {
		unix.Close(p.dirfd)
		p.dirfd = -1
	}
	if p.statfd >= 0 {
		unix.Close(p.statfd)
		p.statfd = -1
	}
}

// count scans the task directory once. A task's comm is read until the task has been seen
// twice: a new io-wq worker renames itself only once it runs, so its first read may still
// show its creator's name.
func (p *procTasks) count() (TaskCount, error) {
	var c TaskCount
	if p.dirfd < 0 {
		return c, unix.ENOENT
	}
	if _, err := unix.Seek(p.dirfd, 0, 0); err != nil {
		return c, err
	}
	p.gen++
	for {
		n, err := unix.Getdents(p.dirfd, p.buf)
		if err != nil {
			return c, err
		}
		if n <= 0 {
			break
		}
		for b := p.buf[:n]; len(b) >= 19; {
			reclen := int(binary.NativeEndian.Uint16(b[16:18]))
			if reclen < 19 || reclen > len(b) {
				break
			}
			tid, ok := atoiBytes(b[19:reclen])
			b = b[reclen:]
			if !ok {
				continue // "." and ".."
			}
			ti, known := p.tasks[tid]
			if !known || ti.seen < 2 {
				ti.kind = p.readKind(tid)
				if ti.seen < 2 {
					ti.seen++
				}
			}
			ti.gen = p.gen
			p.tasks[tid] = ti
			c.Threads++
			switch ti.kind {
			case kindIOWQ:
				c.IOWQ++
			case kindSQPoll:
				c.SQPoll++
			}
		}
	}
	for tid, ti := range p.tasks {
		if ti.gen != p.gen {
			delete(p.tasks, tid)
		}
	}
	if c.Threads == 0 {
		return c, unix.ESRCH // exited (or a zombie whose threads are gone)
	}
	return c, nil
}

func (p *procTasks) readKind(tid int32) taskKind {
	var buf [64]byte
	n, err := readFileInto(p.dir+"/task/"+strconv.Itoa(int(tid))+"/comm", buf[:])
	if err != nil {
		return kindThread
	}
	return commKind(buf[:n])
}

func commKind(comm []byte) taskKind {
	switch {
	case bytes.HasPrefix(comm, []byte(IOWQWorkerPrefix)):
		return kindIOWQ
	case bytes.HasPrefix(comm, []byte(SQPollPrefix)):
		return kindSQPoll
	}
	return kindThread
}

// readTicks updates p.u, p.s and p.rss from /proc/PID/stat; on failure (the process exited)
// they keep their last value.
func (p *procTasks) readTicks() {
	if p.statfd < 0 {
		fd, err := unix.Open(p.dir+"/stat", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return
		}
		p.statfd = fd
	}
	n, err := unix.Pread(p.statfd, p.stat[:], 0)
	if err != nil || n <= 0 {
		return
	}
	if u, s, rss, ok := parseStat(p.stat[:n]); ok {
		p.u, p.s, p.rss = u, s, rss*int64(os.Getpagesize())
	}
}

// atoiBytes parses a NUL-terminated (or not) decimal tid.
func atoiBytes(b []byte) (int32, bool) {
	var v int32
	n := 0
	for _, ch := range b {
		if ch == 0 {
			break
		}
		if ch < '0' || ch > '9' {
			return 0, false
		}
		v = v*10 + int32(ch-'0')
		n++
	}
	return v, n > 0
}

func readFileInto(path string, buf []byte) (int, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	return unix.Read(fd, buf)
}

// statFields returns the fields of a /proc/PID/stat line after the parenthesised comm
// (which may itself hold spaces and parentheses): [0] is state (field 3 of proc(5)).
func statFields(b []byte) [][]byte {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil
	}
	return bytes.Fields(b[i+1:])
}

func parseStatTicks(b []byte) (utime, stime uint64, ok bool) {
	utime, stime, _, ok = parseStat(b)
	return utime, stime, ok
}

// parseStat reads utime and stime (fields 14 and 15 of proc(5), clock ticks) and rss (field
// 24, pages) from a /proc/PID/stat line.
func parseStat(b []byte) (utime, stime uint64, rss int64, ok bool) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, 0, false
	}
	b = b[i+1:]
	// After ')' field 3 is the first.
	for field := 3; field <= 24; field++ {
		for len(b) > 0 && b[0] == ' ' {
			b = b[1:]
		}
		j := bytes.IndexByte(b, ' ')
		if j < 0 {
			j = len(b)
		}
		tok := b[:j]
		b = b[j:]
		switch field {
		case 14, 15, 24:
			var v uint64
			if len(tok) == 0 {
				return 0, 0, 0, false
			}
			for _, ch := range tok {
				if ch < '0' || ch > '9' {
					return 0, 0, 0, false
				}
				v = v*10 + uint64(ch-'0')
			}
			switch field {
			case 14:
				utime = v
			case 15:
				stime = v
			default:
				rss = int64(v)
			}
		}
	}
	return utime, stime, rss, true
}

func readStatTicks(path string, buf []byte) (utime, stime uint64, err error) {
	n, err := readFileInto(path, buf)
	if err != nil {
		return 0, 0, &os.PathError{Op: "read", Path: path, Err: err}
	}
	u, s, ok := parseStatTicks(buf[:n])
	if !ok {
		return 0, 0, fmt.Errorf("bench: cannot parse %s", path)
	}
	return u, s, nil
}

func selfCPU() (user, sys time.Duration, err error) {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0, 0, err
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano()), nil
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat times, from the auxiliary vector
// (AT_CLKTCK); 100 if it cannot be read.
var clockTicks = sync.OnceValue(func() int64 {
	const atClkTck = 17
	b, err := os.ReadFile("/proc/self/auxv")
	w := strconv.IntSize / 8
	if err == nil {
		for ; len(b) >= 2*w; b = b[2*w:] {
			var k, v uint64
			if w == 8 {
				k, v = binary.NativeEndian.Uint64(b), binary.NativeEndian.Uint64(b[8:])
			} else {
				k, v = uint64(binary.NativeEndian.Uint32(b)), uint64(binary.NativeEndian.Uint32(b[4:]))
			}
			if k == atClkTck && v > 0 {
				return int64(v)
			}
			if k == 0 {
				break
			}
		}
	}
	return 100
})

func ticks(t uint64) time.Duration {
	hz := clockTicks()
	return time.Duration(t/uint64(hz))*time.Second + time.Duration(t%uint64(hz))*time.Second/time.Duration(hz)
}

// CPUTimes is the machine's CPU time in clock ticks, summed over every CPU, from the "cpu"
// line of /proc/stat.
type CPUTimes struct {
	Total uint64 // every state: user, nice, system, idle, iowait, irq, softirq, steal
	Steal uint64 // time a hypervisor ran something else while this VM's CPU wanted to run
	Idle  uint64 // idle and iowait: nothing to run
}

// ReadCPUTimes reads /proc/stat.
func ReadCPUTimes() (CPUTimes, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return CPUTimes{}, fmt.Errorf("cpu times: %w", err)
	}
	return parseCPUStat(b)
}

// parseCPUStat reads the aggregate "cpu" line of /proc/stat: user nice system idle iowait
// irq softirq steal, then guest and guest_nice, which user and nice already count.
func parseCPUStat(b []byte) (CPUTimes, error) {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := bytes.Fields(line)
	if len(f) < 9 || string(f[0]) != "cpu" {
		return CPUTimes{}, fmt.Errorf("cpu times: /proc/stat starts %q, not the cpu line with 8 states", line)
	}
	var t CPUTimes
	for i, s := range f[1:9] {
		v, err := strconv.ParseUint(string(s), 10, 64)
		if err != nil {
			return CPUTimes{}, fmt.Errorf("cpu times: /proc/stat field %d %q: %w", i+1, s, err)
		}
		t.Total += v
		switch i {
		case 3, 4:
			t.Idle += v
		case 7:
			t.Steal = v
		}
	}
	return t, nil
}

// IdlePct is the share of the CPU time from a to b in which the CPUs had nothing to run
// (idle and iowait).
func IdlePct(a, b CPUTimes) float64 { return sharePct(a.Idle, b.Idle, a, b) }

// StealPct is the share of the CPU time from a to b that the hypervisor took (0 on bare
// metal): a loaded VM whose host is busy loses its CPUs for milliseconds at a time, which
// shows in every latency measured on it.
func StealPct(a, b CPUTimes) float64 { return sharePct(a.Steal, b.Steal, a, b) }

// sharePct is the part that grew from x0 to x1 of the CPU time from a to b, in percent; 0
// when either went backwards.
func sharePct(x0, x1 uint64, a, b CPUTimes) float64 {
	if b.Total <= a.Total || x1 < x0 {
		return 0
	}
	return 100 * float64(x1-x0) / float64(b.Total-a.Total)
}
