package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"github.com/uringd/uringd/fileio"
)

// FioJob is the fio job equivalent to j: its row label ("fio-io_uring-j1",
// "fio-psync-j32") and its command-line arguments.
//
//   - uring: fio's io_uring engine, Threads jobs of iodepth QD/Threads (one job of iodepth
//     QD for one submitting goroutine), submitting Batch operations per io_uring_enter
//     (iodepth_batch_submit);
//   - threadpool: fio's psync engine with min(Threads, QD) jobs, one pread at a time each:
//     the same number of threads in system calls;
//   - std: psync with QD jobs, as many as the blocking calls in flight.
//
// Like the reference script (../shared/anchors/fio-reference.sh) it runs time-based, keeps
// the page cache (--invalidate=0), and reports total latency percentiles.
func FioJob(j FileJob) (label string, args []string) {
	_ = j.Validate()
	secs := max(1, int(math.Round(j.Duration.Seconds())))
	direct := "0"
	if j.Direct {
		direct = "1"
	}
	args = []string{"--name=uringd", "--filename=" + j.Path, "--rw=" + j.RW, "--bs=" + strconv.Itoa(j.BS),
		"--size=" + strconv.FormatInt(j.Size, 10), "--direct=" + direct, "--runtime=" + strconv.Itoa(secs),
		"--time_based", "--invalidate=0", "--group_reporting", "--lat_percentiles=1", "--output-format=json"}
	var engine string
	var jobs, depth int
	switch j.Engine {
	case fileio.EngineUring:
		engine, jobs, depth = "io_uring", j.Threads, max(1, j.QD/j.Threads)
	case fileio.EngineThreadPool:
		engine, jobs, depth = "psync", min(j.Threads, j.QD), 1
	default:
		engine, jobs, depth = "psync", j.QD, 1
	}
	args = append(args, "--ioengine="+engine, "--numjobs="+strconv.Itoa(jobs), "--iodepth="+strconv.Itoa(depth))
	if engine == "io_uring" {
		args = append(args, "--iodepth_batch_submit="+strconv.Itoa(j.Batch)) // 0: iodepth, as fileio's 0 is "all ready"
	}
	return "fio-" + engine + "-j" + strconv.Itoa(jobs), args
}

// FioAvailable reports whether fio is installed.
func FioAvailable() bool {
	_, err := exec.LookPath("fio")
	return err == nil
}

// RunFio runs fio with the job equivalent to j (FioJob) and returns its row: fio's own
// IOPS, bandwidth and latency percentiles, the CPU fio and its job processes used
// (RUSAGE_CHILDREN), and their threads and io-wq workers at peak (sampled once the jobs
// have started).
func RunFio(ctx context.Context, j FileJob) (Result, error) {
	label, args := FioJob(j)
	res := Result{Name: j.Scenario(), Engine: label}
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru0)
	cmd := exec.CommandContext(ctx, "fio", args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		return res, fmt.Errorf("bench file: fio: %w", err)
	}
	// Sample fio's processes once its jobs are running.
	var sampler *ProcSampler
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		select {
		case <-time.After(min(time.Second, j.Duration/4)):
		case <-ctx.Done():
			return
		}
		pids := []int{cmd.Process.Pid}
		if kids, err := Children(cmd.Process.Pid); err == nil {
			pids = append(pids, kids...)
		}
		s := NewProcSampler(0, pids...)
		if s.Start(ctx) == nil {
			sampler = s
		}
	}()
	werr := cmd.Wait()
	<-sampled
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru1)
	if sampler != nil {
		st := sampler.Stop()
		res.OSThreads, res.IOWQWorkers = st.Peak.Threads, st.Peak.IOWQ
	}
	if werr != nil {
		return res, fmt.Errorf("bench file: fio %s: %w: %s", ShellQuote(args), werr, bytes.TrimSpace(stderr.Bytes()))
	}
	res.CPUUser = tvSeconds(ru1.Utime) - tvSeconds(ru0.Utime)
	res.CPUSys = tvSeconds(ru1.Stime) - tvSeconds(ru0.Stime)
	if err := parseFio(stdout.Bytes(), j.write(), &res); err != nil {
		return res, fmt.Errorf("bench file: fio %s: %w", ShellQuote(args), err)
	}
	res.Derive()
	return res, nil
}

func tvSeconds(tv syscall.Timeval) float64 { return float64(tv.Sec) + float64(tv.Usec)/1e6 }

type fioOutput struct {
	Jobs []struct {
		Read  fioDir `json:"read"`
		Write fioDir `json:"write"`
	} `json:"jobs"`
}

type fioDir struct {
	IOBytes  int64   `json:"io_bytes"`
	BWBytes  float64 `json:"bw_bytes"`
	IOPS     float64 `json:"iops"`
	Runtime  int64   `json:"runtime"` // ms
	TotalIOs int64   `json:"total_ios"`
	Lat      fioLat  `json:"lat_ns"`
	Clat     fioLat  `json:"clat_ns"`
}

type fioLat struct {
	Min        float64            `json:"min"`
	Max        float64            `json:"max"`
	Mean       float64            `json:"mean"`
	Percentile map[string]float64 `json:"percentile"`
}

// parseFio reads fio's JSON output (with --group_reporting: one job entry).
func parseFio(out []byte, write bool, r *Result) error {
	if i := bytes.IndexByte(out, '{'); i > 0 {
		out = out[i:] // fio may print notes before the JSON
	}
	var fo fioOutput
	if err := json.Unmarshal(out, &fo); err != nil {
		return fmt.Errorf("reading its JSON output: %w", err)
	}
	if len(fo.Jobs) == 0 {
		return errors.New("its JSON output has no jobs")
	}
	d := fo.Jobs[0].Read
	if write {
		d = fo.Jobs[0].Write
	}
	lat := d.Lat
	if len(lat.Percentile) == 0 {
		lat = d.Clat
	}
	pct := func(k string) time.Duration { return time.Duration(lat.Percentile[k]) }
	r.Ops, r.Bytes, r.Wall = d.TotalIOs, d.IOBytes, time.Duration(d.Runtime)*time.Millisecond
	r.OpsPerSec, r.MBPerSec = d.IOPS, d.BWBytes/1e6
	r.Latency = Latency{Count: d.TotalIOs, Min: time.Duration(lat.Min), P50: pct("50.000000"), P90: pct("90.000000"),
		P99: pct("99.000000"), P999: pct("99.900000"), Max: time.Duration(lat.Max), Mean: time.Duration(lat.Mean)}
	return nil
}
