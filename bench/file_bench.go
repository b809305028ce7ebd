package bench

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/uringd/uringd/fileio"
)

// FileBench is the whole `uringd bench file` run: one or all engines, each optionally
// followed by its fio equivalent (back to back, so both see the same machine), repeated
// Rounds times and reduced to the median round per engine.
type FileBench struct {
	Job     FileJob // Engine may be "all"
	Rounds  int     // default 1
	VsFio   bool    // run fio's equivalent job after each engine (when fio is installed)
	JSON    bool    // one JSON object per row instead of the table
	Report  string  // directory for report.md and the charts ("" for none)
	Command string  // the command line, for the report
	// Child, when set, runs every engine's job in a fresh process: Child[0] is the
	// executable, Child[1:] its arguments, and the job's JSON is appended; that process must
	// call RunFileChild with it. Without it the jobs run in this process one after another,
	// and an engine's idle thread count includes the threads earlier engines left behind.
	Child []string

	Stdout io.Writer // results
	Stderr io.Writer // progress
}

// FileTableColumns are the file benchmark's table, JSON and report columns: FileColumns
// (engine, iops, mbps, p50_us, p99_us, cpu_user_s, cpu_sys_s, os_threads, iowq_workers)
// plus p99.9, IOPS per CPU-second and the idle process's threads.
func FileTableColumns() []Column {
	fc := FileColumns()
	cols := append([]Column{}, fc[:5]...)
	cols = append(cols, ColP999us)
	cols = append(cols, fc[5:7]...)
	cols = append(cols, ColOpsPerCPUSec.As("IOPS/cpu-s", "iops_per_cpu_s"), fc[7], ColIdleThreads.As("idle", "idle_threads"), fc[8])
	return cols
}

var fileRatioCols = []Column{ColOpsPerSec.As("IOPS", "iops"), ColP99us, ColOpsPerCPUSec.As("IOPS/cpu-s", "iops_per_cpu_s")}

// Run runs the benchmark and prints (and writes) its results; it returns the median rows.
func (b *FileBench) Run(ctx context.Context) ([]Result, error) {
	if b.Stdout == nil {
		b.Stdout = io.Discard
	}
	if b.Stderr == nil {
		b.Stderr = io.Discard
	}
	rounds := max(1, b.Rounds)
	engines := []string{b.Job.Engine}
	if b.Job.Engine == "all" {
		engines = fileio.Engines()
	}
	jobs := make([]FileJob, len(engines))
	for i, e := range engines {
		jobs[i] = b.Job
		jobs[i].Engine = e
		if err := jobs[i].Validate(); err != nil {
			return nil, err
		}
	}
	vsFio := b.VsFio
	if vsFio && !FioAvailable() {
		fmt.Fprintln(b.Stderr, "bench file: fio is not installed (apt-get install fio): running without --vs-fio")
		vsFio = false
	}
	if _, err := PrepareFile(b.Job.Path, b.Job.Size, b.Stderr); err != nil {
		return nil, err
	}

	var all []Result
	pairs := map[string]string{} // engine -> its fio row's engine label
	for r := 1; r <= rounds; r++ {
		fioDone := map[string]bool{}
		for _, j := range jobs {
			var res Result
			var err error
			if len(b.Child) > 0 {
				res, err = runFileJobChild(ctx, b.Child, j)
			} else {
				res, err = RunFileJob(ctx, j)
			}
			if err != nil {
				return nil, err
			}
			fmt.Fprintf(b.Stderr, "round %d/%d  %-12s %s\n", r, rounds, j.Engine, progressLine(&res))
			all = append(all, res)
			if !vsFio {
				continue
			}
			label, _ := FioJob(j)
			pairs[j.Engine] = label
			if fioDone[label] {
				continue // threadpool and std can map to the same fio job
			}
			fioDone[label] = true
			fr, err := RunFio(ctx, j)
			if err != nil {
				return nil, err
			}
			fmt.Fprintf(b.Stderr, "round %d/%d  %-12s %s\n", r, rounds, fr.Engine, progressLine(&fr))
			all = append(all, fr)
		}
	}
	rows := MedianRounds(all, ColOpsPerSec)
	var ratios []Ratio
	for i := range rows {
		label, ok := pairs[rows[i].Engine]
		if !ok {
			continue
		}
		for k := range rows {
			if rows[k].Engine == label && rows[k].Name == rows[i].Name {
				rs := Ratios([]Result{rows[k], rows[i]}, label, fileRatioCols...)
				ratios = append(ratios, rs...)
				if len(rs) > 0 {
					rows[i].SetExtra("fio_iops_ratio", rs[0].Value)
				}
			}
		}
	}
	cols := FileTableColumns()
	if vsFio {
		cols = append(cols, ExtraCol("vs-fio", "fio_iops_ratio", 2))
	}
	if b.JSON {
		if err := WriteJSONLines(b.Stdout, cols, rows); err != nil {
			return rows, err
		}
	} else {
		fmt.Fprintf(b.Stdout, "%s  %s of %s, %v per run, %d round(s)%s\n", b.Job.Scenario(), FormatBytes(b.Job.Size),
			b.Job.Path, b.Job.Duration, rounds, map[bool]string{true: ", median round per engine", false: ""}[rounds > 1])
		if err := WriteTable(b.Stdout, cols, rows); err != nil {
			return rows, err
		}
		if len(ratios) > 0 {
			fmt.Fprintln(b.Stdout)
			if err := WriteRatios(b.Stdout, ratios); err != nil {
				return rows, err
			}
		}
	}
	if b.Report != "" {
		rep := Report{Title: "uringd bench file: " + b.Job.Scenario(), Command: b.Command, Columns: cols,
			Results: rows, Ratios: ratios, Notes: b.notes(jobs, vsFio),
			Charts: []Chart{
				{Column: fileRatioCols[0], Title: "IOPS", File: "iops.svg"},
				{Column: ColP99us, Title: "p99 latency (µs)", File: "p99.svg"},
				{Column: fileRatioCols[2], Title: "IOPS per CPU-second", File: "iops_per_cpu.svg"},
				{Column: ColOSThreads, Title: "OS threads at peak", File: "threads.svg"},
			}}
		if err := WriteReport(b.Report, rep); err != nil {
			return rows, err
		}
		fmt.Fprintf(b.Stderr, "report written to %s/report.md\n", b.Report)
	}
	return rows, nil
}

func progressLine(r *Result) string {
	return fmt.Sprintf("%8s IOPS  %7.1f MB/s  p99 %7.1f µs  cpu %.2fs  threads %d (idle %d)  io-wq %d",
		SI(r.OpsPerSec), r.MBPerSec, us(r.P99), r.CPUUser+r.CPUSys, r.OSThreads, r.IdleThreads, r.IOWQWorkers)
}

func (b *FileBench) notes(jobs []FileJob, vsFio bool) []string {
	j := b.Job
	n := []string{fmt.Sprintf("Job: %s, block size %d, queue depth %d in total, %d thread(s) (see below), file %s (%s), O_DIRECT %v, %v per run, %d round(s) (median round per engine by IOPS).",
		j.RW, j.BS, j.QD, j.Threads, j.Path, FormatBytes(j.Size), j.Direct, j.Duration, max(1, b.Rounds)),
		"Threads: uring = submitting goroutines, each with its own ring (Queue) when it keeps more than one operation in flight, else blocking calls through the engine's shared ring; " +
			"threadpool = worker OS threads fed by one goroutine's Queue; std = submitting goroutines, each running QD/threads os.File calls at a time.",
		"os_threads is the process's threads at peak (io_uring io-wq workers included, and counted apart in iowq_workers); idle_threads the same process with the engine started, the file open and the queues ready, just before the first IO (a thread pool's workers count as idle)" +
			map[bool]string{true: " (each engine run in a fresh process).", false: " (all engines in one process: threads left by earlier engines count as idle)."}[len(b.Child) > 0]}
	if vsFio {
		var lines []string
		seen := map[string]bool{}
		for _, jj := range jobs {
			label, args := FioJob(jj)
			if !seen[label] {
				seen[label] = true
				lines = append(lines, "`fio "+ShellQuote(args)+"`")
			}
		}
		n = append(n, "fio rows ran right after their engine, with: "+strings.Join(lines, "; "))
	}
	return n
}
