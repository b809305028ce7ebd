package bench

import (
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestStallSummary(t *testing.T) {
	f := stallSummary([]stallCPU{
		{max: 12 * time.Millisecond, late: []time.Duration{3 * time.Millisecond, 12 * time.Millisecond}, wall: time.Second, samples: 900},
		{max: 500 * time.Microsecond, wall: time.Second, samples: 990},
		{err: errors.New("no CPU")}, // a CPU the probe could not run on counts for nothing
	})
	// CPU 0 was late beyond 2 ms by 1 + 10 ms of its second, CPU 1 never: (1.1% + 0) / 2.
	if f.Max != 12*time.Millisecond || f.Late != 2 || f.Samples != 1890 || f.Wall != time.Second || math.Abs(f.OverShare-0.55) > 1e-9 {
		t.Fatalf("%+v: want max 12ms, 2 late, 1890 samples, 1s, 0.55%%", f)
	}
	if f := stallSummary(nil); f != (StallFigures{}) {
		t.Fatalf("no CPUs: %+v", f)
	}
}

func TestStallNote(t *testing.T) {
	rows := []Result{
		{Name: "hot-4k", Engine: "uringd", Latency: Latency{P99: 300 * time.Microsecond}, Extra: map[string]float64{"stall_over_pct": 0.02}},
		{Name: "mixed", Engine: "uringd", Latency: Latency{P99: 28260 * time.Microsecond}, Extra: map[string]float64{"stall_over_pct": 21.16}},
		{Name: "mixed", Engine: "nginx-aio", Latency: Latency{P99: 84610 * time.Microsecond}, Extra: map[string]float64{"stall_over_pct": 23.55}},
		{Name: "cold-256k", Engine: "fio"}, // no fixed-rate phase
	}
	want := "The CPUs were gone for more than 2ms over 1% of the fixed-rate phase (stall>2ms%) in these rows, whose p99 above 2ms is the machine's as much as the server's: " +
		"`mixed uringd` 21.2% (p99 28.26 ms); `mixed nginx-aio` 23.6% (p99 84.61 ms)."
	if got := stallNote(rows); got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	if got := stallNote(rows[:1]); got != "" {
		t.Fatalf("no row over 1%%: %q", got)
	}
}

func TestClientNote(t *testing.T) {
	rows := []Result{
		{Name: "hot-4k", Engine: "uringd", OpsPerSec: 110000, Extra: map[string]float64{"wrk_cpu_pct": 99}},
		{Name: "hot-4k", Engine: "h2o", OpsPerSec: 85000, Extra: map[string]float64{"wrk_cpu_pct": 90}},
		{Name: "hot-64k", Engine: "lighttpd", OpsPerSec: 40000, Extra: map[string]float64{"wrk_cpu_pct": 100}},
		{Name: "hot-64k", Engine: "nginx", Extra: map[string]float64{"wrk_cpu_pct": 100}}, // no rate: no figure
		{Name: "cold-256k", Engine: "fio", OpsPerSec: 4000},                               // no wrk
	}
	// 0.99 of a CPU over 110,000 requests a second is 9.0 µs a request; 1.00 over 40,000, 25.0.
	want := "wrk ran its one thread at 95% of a CPU or more (wrk-cpu%) in these rows, so their req/s is what the client can ask for, not what the server can serve: " +
		"between two of them the ratio tells how much of wrk's CPU each server's answers cost, not how fast the servers are. wrk's CPU a request: `hot-4k uringd` 99%, 9.0 µs a request; `hot-64k lighttpd` 100%, 25.0 µs a request."
	if got := clientNote(rows); got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	if got := clientNote(rows[1:2]); got != "" {
		t.Fatalf("wrk below 95%%: %q", got)
	}
}

// TestStallProbe stops this process for 30 ms, as a host that takes the CPUs away would
// stop its threads (a child process sends SIGSTOP, then SIGCONT): the probe must see a wakeup
// that late. (A real-time thread spinning on one CPU would not do: the Go runtime preempts a
// goroutine after 10 ms, and its thread sleeps until it is scheduled again.)
func TestStallProbe(t *testing.T) {
	p, err := StartStallProbe()
	if errors.Is(err, unix.EPERM) {
		t.Skipf("%v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	const hold = 30 * time.Millisecond
	out, err := exec.Command("sh", "-c", fmt.Sprintf("kill -STOP %[1]d; sleep %.3f; kill -CONT %[1]d", os.Getpid(), hold.Seconds())).CombinedOutput()
	if err != nil {
		p.Stop()
		t.Fatalf("stopping this process: %v %s", err, out)
	}
	time.Sleep(50 * time.Millisecond)
	f := p.Stop()
	t.Logf("%+v", f)
	if f.Max < hold*8/10 || f.Late < runtime.NumCPU() || f.OverShare <= 0 { // every CPU's thread was stopped
		t.Fatalf("%+v: want a wakeup about %v late on each CPU", f, hold)
	}
	// 1 ms ticks over about 130 ms on each CPU, less the 30 ms they lost.
	if min := runtime.NumCPU() * 50; f.Samples < min {
		t.Fatalf("%+v: want at least %d samples", f, min)
	}
}
