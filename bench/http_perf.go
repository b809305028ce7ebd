package bench

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	iouring "github.com/uringd/uringd/ring"
)

// Counts are a server's kernel-side counters over a measured phase: syscalls and context
// switches of all its threads, and the io_uring requests it queued to io-wq workers, in
// total and by operation. Source says where they came from ("perf" or "/proc"); a count
// that source cannot give is NaN.
type Counts struct {
	Source      string
	Syscalls    float64
	CtxSwitches float64
	IOWQ        float64            // io_uring requests queued to io-wq
	IOWQByOp    map[string]float64 // the same for asyncOps, by name ("openat2", ...)
}

// asyncOps are the operations whose trips to io-wq are counted one by one: the ones a file
// server issues that may not complete inline.
var asyncOps = []iouring.Op{iouring.OpOpenat2, iouring.OpStatx, iouring.OpRead, iouring.OpSplice, iouring.OpSend}

var opNames = map[iouring.Op]string{iouring.OpOpenat2: "openat2", iouring.OpStatx: "statx", iouring.OpRead: "read",
	iouring.OpSplice: "splice", iouring.OpSend: "send"}

// PerfAvailable reports whether perf can count syscalls here (the tracing file system is
// mounted first if it is not).
func PerfAvailable() bool {
	if _, err := exec.LookPath("perf"); err != nil {
		return false
	}
	if _, err := os.Stat("/sys/kernel/tracing/events/raw_syscalls"); err != nil {
		syscall.Mount("nodev", "/sys/kernel/tracing", "tracefs", 0, "")
	}
	out, err := exec.Command("perf", "stat", "-x,", "-e", "raw_syscalls:sys_enter", "--", "true").CombinedOutput()
	return err == nil && !bytes.Contains(out, []byte("<not supported>"))
}

func uringTracepoints() bool {
	_, err := os.Stat("/sys/kernel/tracing/events/io_uring/io_uring_queue_async_work")
	return err == nil
}

// perfEvents are the events counted, in order; filters go with the event before them.
func perfEvents(uring bool) []string {
	ev := []string{"-e", "raw_syscalls:sys_enter", "-e", "context-switches"}
	if uring {
		ev = append(ev, "-e", "io_uring:io_uring_queue_async_work")
		for _, op := range asyncOps {
			ev = append(ev, "-e", "io_uring:io_uring_queue_async_work", "--filter", fmt.Sprintf("opcode == %d", op))
		}
	}
	return ev
}

// perfRun is perf stat attached to a server's processes for one phase.
type perfRun struct {
	cmd   *exec.Cmd
	out   string
	uring bool
	done  chan error
}

func startPerf(ctx context.Context, dir string, pids []int) (*perfRun, error) {
	ps := make([]string, len(pids))
	for i, p := range pids {
		ps[i] = strconv.Itoa(p)
	}
	p := &perfRun{out: filepath.Join(dir, "perf.csv"), uring: uringTracepoints(), done: make(chan error, 1)}
	args := append([]string{"stat", "-x,", "-o", p.out, "-p", strings.Join(ps, ",")}, perfEvents(p.uring)...)
	p.cmd = exec.CommandContext(ctx, "perf", args...)
	var stderr bytes.Buffer
	p.cmd.Stderr = &stderr
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("perf: %w", err)
	}
	go func() {
		err := p.cmd.Wait()
		if err != nil {
			err = fmt.Errorf("perf: %w: %s", err, bytes.TrimSpace(stderr.Bytes()))
		}
		p.done <- err
	}()
	time.Sleep(100 * time.Millisecond) // attached before the load starts
	return p, nil
}

// stop ends perf (SIGINT makes it print its counts) and reads them.
func (p *perfRun) stop() (Counts, error) {
	p.cmd.Process.Signal(os.Interrupt)
	var err error
	select {
	case err = <-p.done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		err = <-p.done
	}
	out, rerr := os.ReadFile(p.out)
	if rerr != nil {
		return Counts{}, fmt.Errorf("perf: %w", rerr)
	}
	c, perr := ParsePerfStat(out, p.uring)
	if perr != nil {
		if err != nil && !strings.Contains(err.Error(), "signal: interrupt") {
			return c, err
		}
		return c, perr
	}
	return c, nil
}

// ParsePerfStat reads `perf stat -x,` output of perfEvents(uring): one "value,unit,event,..."
// line per event, in order. "<not counted>" and "<not supported>" give NaN.
func ParsePerfStat(out []byte, uring bool) (Counts, error) {
	c := Counts{Source: "perf", Syscalls: math.NaN(), CtxSwitches: math.NaN(), IOWQ: math.NaN()}
	var vals []float64
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ",")
		if len(f) < 3 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			v = math.NaN() // <not counted>, <not supported>
		}
		vals = append(vals, v)
		names = append(names, f[2])
	}
	want := 2
	if uring {
		want += 1 + len(asyncOps)
	}
	if len(vals) != want {
		return c, fmt.Errorf("perf stat: %d counts, want %d: %q", len(vals), want, out)
	}
	if names[0] != "raw_syscalls:sys_enter" || !strings.HasPrefix(names[1], "context-switches") {
		return c, fmt.Errorf("perf stat: unexpected events %q", names)
	}
	c.Syscalls, c.CtxSwitches = vals[0], vals[1]
	if uring {
		c.IOWQ = vals[2]
		c.IOWQByOp = make(map[string]float64, len(asyncOps))
		for i, op := range asyncOps {
			c.IOWQByOp[opNames[op]] = vals[3+i]
		}
	}
	return c, nil
}

// procCounts reads what /proc gives without perf: context switches of every live thread
// (status: voluntary_ctxt_switches + nonvoluntary_ctxt_switches) and the read- and
// write-like syscalls of each process (io: syscr + syscw).
func procCounts(pids []int) (ctx, rw float64) {
	var buf [4096]byte
	for _, pid := range pids {
		if n, err := readFileInto(fmt.Sprintf("/proc/%d/io", pid), buf[:]); err == nil {
			rw += ParseProcIO(buf[:n])
		}
		tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		for _, t := range tasks {
			if n, err := readFileInto(fmt.Sprintf("/proc/%d/task/%s/status", pid, t.Name()), buf[:]); err == nil {
				ctx += ParseStatusCtxt(buf[:n])
			}
		}
	}
	return ctx, rw
}

// ParseStatusCtxt sums voluntary_ctxt_switches and nonvoluntary_ctxt_switches of a
// /proc/PID/status file.
func ParseStatusCtxt(b []byte) float64 {
	return procField(b, "voluntary_ctxt_switches:") + procField(b, "nonvoluntary_ctxt_switches:")
}

// ParseProcIO sums syscr and syscw of a /proc/PID/io file.
func ParseProcIO(b []byte) float64 {
	return procField(b, "syscr:") + procField(b, "syscw:")
}

func procField(b []byte, name string) float64 {
	for _, line := range bytes.Split(b, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(line, []byte(name)); ok {
			v, err := strconv.ParseFloat(string(bytes.TrimSpace(rest)), 64)
			if err == nil {
				return v
			}
		}
	}
	return 0
}

// counter measures Counts over a phase with perf when it can, else from /proc.
type counter struct {
	perf       *perfRun
	pids       []int
	ctx0, rw0  float64
	perfFailed error
}

func startCounter(ctx context.Context, usePerf bool, dir string, pids []int) *counter {
	c := &counter{pids: pids}
	if usePerf {
		p, err := startPerf(ctx, dir, pids)
		if err == nil {
			c.perf = p
			return c
		}
		c.perfFailed = err
	}
	c.ctx0, c.rw0 = procCounts(pids)
	return c
}

func (c *counter) stop() (Counts, error) {
	if c.perf != nil {
		return c.perf.stop()
	}
	ctx, rw := procCounts(c.pids)
	return Counts{Source: "/proc", Syscalls: rw - c.rw0, CtxSwitches: ctx - c.ctx0, IOWQ: math.NaN()}, c.perfFailed
}
