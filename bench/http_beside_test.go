package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cpuTicks is a process's utime+stime so far, from /proc/PID/stat.
func cpuTicks(t *testing.T, pid int) uint64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatalf("pid %d: %v", pid, err)
	}
	u, s, ok := parseStatTicks(b)
	if !ok {
		t.Fatalf("pid %d: unreadable stat %q", pid, b)
	}
	return u + s
}

// gone waits for a beside process to be reaped.
func gone(t *testing.T, p *besideProc) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s still runs after stop", p.name)
	}
	if err := syscall.Kill(p.cmd.Process.Pid, 0); err == nil {
		t.Errorf("%s (pid %d) still exists after stop", p.name, p.cmd.Process.Pid)
	}
}

// TestBesideCPU starts --beside cpu for real: a busy process per CPU, each burning CPU once
// the load has settled, and all of them gone after stop.
func TestBesideCPU(t *testing.T) {
	r := &httpRun{b: &HTTPBench{Beside: []string{BesideCPU}}}
	load, err := r.startBeside(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	procs := load.procs
	if len(procs) != runtime.NumCPU() {
		t.Errorf("%d burners for %d CPUs", len(procs), runtime.NumCPU())
	}
	for _, p := range procs {
		if cpuTicks(t, p.cmd.Process.Pid) == 0 {
			t.Errorf("%s used no CPU in its first %v", p.name, besideSettle)
		}
	}
	if fig, err := load.stop(); err != nil || fig.fioMBps != 0 || fig.cpuPct <= 0 || fig.cpuPct > 100 {
		t.Errorf("stop: %v, figures %+v: want the busy loops' share of the CPUs and no fio", err, fig)
	}
	for _, p := range procs {
		gone(t, p)
	}

	// Ctrl-C while the loads settle ends the wait at once.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if _, err := r.startBeside(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("startBeside on a cancelled context: %v, want context.Canceled", err)
	}
	if d := time.Since(start); d >= besideSettle {
		t.Errorf("startBeside on a cancelled context took %v", d)
	}
}

// TestBesideFio runs fio beside on a small data set: it reads until stopped and says how fast
// it read. A data set it cannot read ends it early, which is an error naming fio, never a
// figure without the load.
func TestBesideFio(t *testing.T) {
	if !FioAvailable() {
		t.Skip("fio is not installed (apt-get install fio)")
	}
	dir := t.TempDir()
	if err := prepareTree(dir, nil, 8, 64<<10, io.Discard); err != nil {
		t.Fatal(err)
	}
	b := &HTTPBench{Beside: []string{BesideFio}, DataDir: dir, FileSize: 64 << 10, Conns: 4}
	r := &httpRun{b: b}
	load, err := r.startBeside(context.Background())
	if err != nil {
		if strings.Contains(err.Error(), "O_DIRECT") || strings.Contains(err.Error(), "Invalid argument") {
			t.Skipf("the test's temp dir takes no O_DIRECT reads: %v", err)
		}
		t.Fatal(err)
	}
	p := load.procs[0]
	time.Sleep(200 * time.Millisecond)
	// SIGTERM makes fio print what it read, which the row reports.
	if fig, err := load.stop(); err != nil {
		t.Errorf("stop: %v", err)
	} else if fig.fioMBps <= 0 || fig.cpuPct != 0 {
		t.Errorf("figures %+v: want what fio read and no busy loops", fig)
	}
	gone(t, p)

	b.DataDir = filepath.Join(dir, "missing")
	if load, err := r.startBeside(context.Background()); err == nil {
		load.stop()
		t.Fatal("fio beside a missing data set started without an error")
	} else if !strings.Contains(err.Error(), "--beside fio ended before the phase did") {
		t.Errorf("error %q does not say fio ended", err)
	}
}
