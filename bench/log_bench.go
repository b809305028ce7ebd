package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
)

// LogBench is the whole `uringd bench log` run: one engine or all of them (uringd's uring,
// thread and sync engines, zap, zerolog, slog) side by side, with or without fsync or both,
// repeated Rounds times, engines interleaved within each round, and reduced to the median
// round per engine and scenario (by records per second).
type LogBench struct {
	Job LogJob // Engine may be "all"; Fsync is set per run from Fsync below
	// Fsync is "none" (the default), "batch" (fdatasync after every buffer written, see
	// LogJob) or "both" (every engine without, then with).
	Fsync   string
	Rounds  int    // default 1
	JSON    bool   // one JSON object per row instead of the table
	Report  string // directory for report.md and the charts ("" for none)
	Command string // the command line, for the report
	// Child, when set, runs every job in a fresh process: Child[0] is the executable,
	// Child[1:] its arguments, and the job's JSON is appended; that process must call
	// RunLogChild with it. Each logger then starts from the same idle process: no threads
	// left by an earlier one (the Go runtime keeps idle threads for good) and no io-wq
	// workers of an earlier ring (they linger for seconds). Without it the jobs run in this
	// process one after another.
	Child []string

	Stdout io.Writer // results
	Stderr io.Writer // progress
}

// Run runs the benchmark and prints (and writes) its results; it returns the median rows.
func (b *LogBench) Run(ctx context.Context) ([]Result, error) {
	if b.Stdout == nil {
		b.Stdout = io.Discard
	}
	if b.Stderr == nil {
		b.Stderr = io.Discard
	}
	var fsyncs []bool
	switch b.Fsync {
	case "", "none":
		fsyncs = []bool{false}
	case "batch":
		fsyncs = []bool{true}
	case "both":
		fsyncs = []bool{false, true}
	default:
		return nil, fmt.Errorf("bench log: --fsync %q: want none, batch or both", b.Fsync)
	}
	engines := []string{b.Job.Engine}
	if b.Job.Engine == "all" {
		engines = LogEngines
	}
	var jobs []LogJob
	for _, fs := range fsyncs {
		for _, e := range engines {
			j := b.Job
			j.Engine, j.Fsync, j.Keep = e, fs, false
			if err := j.Validate(); err != nil {
				return nil, err
			}
			jobs = append(jobs, j)
		}
	}
	rounds := max(1, b.Rounds)
	var all []Result
	for r := 1; r <= rounds; r++ {
		for _, j := range jobs {
			var res Result
			var err error
			if len(b.Child) > 0 {
				res, err = runLogJobChild(ctx, b.Child, j)
			} else {
				res, _, err = RunLogJob(ctx, j)
			}
			if err != nil {
				return nil, err
			}
			fmt.Fprintf(b.Stderr, "round %d/%d  %-14s %-8s %s\n", r, rounds, res.Name, res.Engine, logSummary(&res))
			all = append(all, res)
		}
	}
	rows := MedianRounds(all, ColOpsPerSec)
	ratios := logRatios(rows)

	cols := LogTableColumns()
	if b.JSON {
		if err := WriteJSONLines(b.Stdout, cols, rows); err != nil {
			return rows, err
		}
	} else {
		fmt.Fprintf(b.Stdout, "%d producer(s), %d records of %d fields, %d round(s)%s\n", b.Job.Producers, b.Job.Records,
			b.Job.Fields, rounds, map[bool]string{true: ", median round per engine (by rec/s)", false: ""}[rounds > 1])
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
		rep := Report{Title: "uringd bench log", Command: b.Command, Columns: cols, Results: rows, Ratios: ratios,
			Notes: b.notes(rounds),
			Charts: []Chart{
				{Column: cols[2], Title: "records per second", File: "records_per_s.svg"},
				{Column: ColP50ns, Title: "caller p50 (ns)", File: "p50.svg"},
				{Column: ColP99ns, Title: "caller p99 (ns)", File: "p99.svg"},
				{Column: ColOSThreads, Title: "OS threads at peak", File: "threads.svg"},
			}}
		if err := WriteReport(b.Report, rep); err != nil {
			return rows, err
		}
		fmt.Fprintf(b.Stderr, "report written to %s/report.md\n", b.Report)
	}
	return rows, nil
}

// logRatioCols are compared against zap in each scenario.
var logRatioCols = []Column{ColOpsPerSec.As("rec/s", "records_per_s"), ColP50ns, ColP99ns}

// logRatios compares every engine with zap within each scenario, and, where a scenario ran
// with and without fsync, each engine's latency with fsync against without (name
// "fsync/none", pair "engine/engine").
func logRatios(rows []Result) []Ratio {
	rs := Ratios(rows, "zap", logRatioCols...)
	for i := range rows {
		with := &rows[i]
		base, ok := strings.CutSuffix(with.Name, "-fsync")
		if !ok {
			continue
		}
		for k := range rows {
			without := &rows[k]
			if without.Name != base || without.Engine != with.Engine {
				continue
			}
			for _, c := range []Column{ColP50ns, ColP99ns, ColP999ns, ColOpsPerSec.As("rec/s", "records_per_s")} {
				v := math.NaN()
				if d := c.Num(without); d != 0 {
					v = c.Num(with) / d
				}
				rs = append(rs, Ratio{Name: "fsync/none", Metric: c.Key, Num: with.Engine, Den: without.Engine, Value: v})
			}
		}
	}
	return rs
}

func (b *LogBench) notes(rounds int) []string {
	j := b.Job
	return []string{
		fmt.Sprintf("Job: %d producer goroutine(s) logging %d records in total, each a message and %d fields (seq, method, status, ok, …), %d round(s), engines interleaved in each round; the median round per engine by records per second.",
			j.Producers, j.Records, j.Fields, rounds),
		"rec/s counts records in the file from the first call until the logger's Close (or final flush) returned. p50 … max are the callers' latency per call, timed with two reads of Go's monotonic clock around each call; " +
			"timer is the p50 of the same loop around an empty call (field building, the call, the clock reads), and net-p50, net-p99 are p50, p99 minus the empty call's.",
		fmt.Sprintf("uring, thread, sync: uringd's logger (%[1]d KiB batches, 8 of them, PolicyBlock). zap: JSON encoder over a %[1]d KiB BufferedWriteSyncer. zerolog: diode writer (8192 records, 10 ms poll) over a %[1]d KiB bufio.Writer; its drops are records the diode overwrote. slog: JSONHandler over a %[1]d KiB bufio.Writer.", logBufferSize>>10),
		"fsync (scenarios ending in -fsync): fdatasync after every buffer written to the file — by the logger's writer goroutine for uring and thread, after every record in the caller for sync, " +
			"and by a wrapper under zap's, zerolog's and slog's buffer (which have no such option), so the goroutine flushing their buffer (the caller for zap and slog, the diode's drainer for zerolog) waits for the disk once per buffer.",
		"os_threads is the process's threads at peak (io_uring io-wq workers included, and counted apart in iowq_workers); idle_threads the same process before the logger was created" +
			map[bool]string{true: " (each logger run in a fresh process).", false: " (all loggers in one process: threads left by earlier ones count as idle)."}[len(b.Child) > 0],
	}
}

// runLogJobChild runs j in a fresh process (see LogBench.Child and runChild).
func runLogJobChild(ctx context.Context, child []string, j LogJob) (Result, error) {
	return runChild(ctx, child, "bench log", j.Engine, j)
}

// RunLogChild is the child process's side of LogBench.Child: it runs the LogJob given as
// JSON and writes its Result as JSON to w.
func RunLogChild(ctx context.Context, jobJSON string, w io.Writer) error {
	var j LogJob
	if err := json.Unmarshal([]byte(jobJSON), &j); err != nil {
		return fmt.Errorf("bench log: child job: %w", err)
	}
	res, _, err := RunLogJob(ctx, j)
	if err != nil {
		return err
	}
	return json.NewEncoder(w).Encode(&res)
}
