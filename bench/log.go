package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"time"
)

// LogJob is one run of the logging benchmark: one logger (an engine of uringd's logger or a
// comparison target) writing Records records of Fields fields from Producers goroutines into
// a fresh file, every call timed.
//
// Engines:
//   - uring, thread, sync: uringd's logger (package logger) with that Engine, its defaults
//     otherwise (logger.DefaultBufferSize batches, 8 of them, PolicyBlock, JSON), typed fast API:
//     l.Info("request", fields...).
//   - zap: go.uber.org/zap, a JSON encoder (RFC 3339 nanosecond time, like ours) over a
//     zapcore.BufferedWriteSyncer of the same size on the file: records are encoded and buffered
//     in the caller, which also writes each full buffer.
//   - zerolog: github.com/rs/zerolog over its diode writer (github.com/rs/zerolog/diode, a
//     lock-free ring of 8192 records drained every 10 ms by a goroutine, as its README
//     shows) over a bufio.Writer of that size on the file: callers never block, and records the
//     drainer cannot keep up with are dropped and counted. zerolog's own default time format
//     (RFC 3339, whole seconds) is kept: changing it means a package-wide variable.
//   - slog: log/slog's JSONHandler over a bufio.Writer of that size on the file (the handler's
//     mutex serialises callers; the caller that fills the buffer writes it).
//
// With Fsync every buffer written to the file is followed by fdatasync: for uring and thread
// the logger's writer does it (Options.Fsync = FsyncBatch), for sync every record is a write
// and an fdatasync in the caller. zap, zerolog and slog have no such option; their file is
// wrapped in a writer that calls fdatasync after each write it passes on, so the goroutine
// that flushes their buffer (the caller for zap and slog, the diode's drainer for zerolog)
// waits for the disk, exactly once per buffer.
type LogJob struct {
	Engine    string        // uring, thread, sync, zap, zerolog or slog
	Producers int           // goroutines logging at once; default 1
	Records   int64         // records in total, split evenly over the producers
	Fields    int           // fields per record besides the message (see logFieldSpecs); default 4
	Fsync     bool          // fdatasync after every buffer written (see above)
	Dir       string        // directory of the log file; default os.TempDir()
	MaxTime   time.Duration // stop early after this long (0: no limit); the row counts what was logged
	Keep      bool          // keep the log file (its path is in LogOutcome.Path)
}

// LogEngines are the loggers a LogJob can run, uringd's engines first.
var LogEngines = []string{"uring", "thread", "sync", "zap", "zerolog", "slog"}

// Validate checks the job and fills defaults.
func (j *LogJob) Validate() error {
	if j.Producers <= 0 {
		j.Producers = 1
	}
	if j.Fields < 0 {
		return fmt.Errorf("bench log: --fields %d: must not be negative", j.Fields)
	}
	if j.Dir == "" {
		j.Dir = os.TempDir()
	}
	switch {
	case !slices.Contains(LogEngines, j.Engine):
		return fmt.Errorf("bench log: engine %q: want uring, thread, sync, zap, zerolog or slog", j.Engine)
	case j.Records <= 0:
		return fmt.Errorf("bench log: --records %d: must be positive", j.Records)
	case j.Records < int64(j.Producers):
		return fmt.Errorf("bench log: --records %d is fewer than --producers %d", j.Records, j.Producers)
	}
	return nil
}

// Scenario names the job's workload, e.g. "p1-f4" or "p4-f4-fsync".
func (j *LogJob) Scenario() string {
	s := "p" + strconv.Itoa(j.Producers) + "-f" + strconv.Itoa(j.Fields)
	if j.Fsync {
		s += "-fsync"
	}
	return s
}

// Extra keys of a log benchmark Result.
const (
	LogTimerP50   = "timer_p50_ns"  // p50 of timing an empty call: the measurement's own cost
	LogTimerP99   = "timer_p99_ns"  // its p99
	LogNetP50     = "net_p50_ns"    // p50 minus timer p50
	LogNetP99     = "net_p99_ns"    // p99 minus timer p99
	LogCloseMs    = "close_ms"      // time Close (or the final flush) took after the last call
	LogFsyncs     = "fsyncs"        // fdatasync calls made for the target's file
	LogFileLines  = "records_file"  // records found in the file afterwards
	LogCallerRPS  = "caller_rec_ps" // records per second while the callers ran (before Close)
	LogTimedRPS   = "timed_rec_ps"  // records per second of the latency pass
	LogTimedDrops = "timed_drops"   // drops in the latency pass
	LogWaits      = "queue_waits"   // throughput pass: calls that waited for queue space (uringd's logger only)
	// LogDiodeMissed is what zerolog's diode reported as overwritten; its drops column is
	// calls minus records in the file.
	LogDiodeMissed = "diode_missed"
)

// LogTableColumns are the log benchmark's table, JSON and report columns: LogColumns
// (engine, records_per_s, p50_ns, p99_ns, p999_ns, max_ns, drops, os_threads,
// iowq_workers) with MB/s, the timer's p50 and the net p50 and p99 (minus the timer's),
// the throughput pass's queue waits (uringd's logger), the idle threads and CPU seconds
// added.
func LogTableColumns() []Column {
	lc := LogColumns()
	cols := []Column{ColName, lc[0], lc[1], ColMBPerSec}
	cols = append(cols, lc[2:6]...)
	cols = append(cols, ExtraCol("timer", LogTimerP50, 0), ExtraCol("net-p50", LogNetP50, 0), ExtraCol("net-p99", LogNetP99, 0))
	cols = append(cols, lc[6], ExtraCol("waits", LogWaits, 0), lc[7], ColIdleThreads, lc[8], ColCPUUser, ColCPUSys)
	return cols
}

// LogOutcome is what RunLogJob found besides the row: what each of its two passes logged
// and left in its file.
type LogOutcome struct {
	Throughput, Latency LogPass
}

// LogPass is one pass of a LogJob over a fresh file.
type LogPass struct {
	Path    string // the log file (removed unless LogJob.Keep)
	Logged  int64  // calls made
	Records int64  // records in the file
	Drops   int64  // calls whose record is not in the file (PolicyDrop, zerolog's diode)
}

// RunLogJob runs j once in this process and returns its row. A row is three passes with the
// same producers and records:
//
//  1. the timer: the latency loop around an empty call of the same shape (field building,
//     the call, the clock reads), whose p50 and p99 are the measurement's own cost;
//  2. throughput: the logger writes the records into a fresh file with nothing else in the
//     loop, from the first call until Close returned: records/s, MB/s, drops;
//  3. latency: the same again into another fresh file, every call timed with two reads of
//     the monotonic clock: p50 … max, and net p50 and p99 (minus the timer's). The clock
//     reads and the histogram add a cost per record that is not the logger's, which is why
//     the throughput is measured without them; the latency pass's own rate is reported too
//     (extra timed_rec_ps).
//
// Threads and io-wq workers are sampled through both logger passes and reported at peak,
// against this process before the first logger existed. After each pass the file must hold
// one record per call that was not dropped, each line a JSON object.
func RunLogJob(ctx context.Context, j LogJob) (Result, LogOutcome, error) {
	var out LogOutcome
	if err := j.Validate(); err != nil {
		return Result{}, out, err
	}
	res := Result{Name: j.Scenario(), Engine: j.Engine}

	timer, err := runProducers(ctx, j, min(j.Records, 1<<20), true, func(int) logFunc { return newEmptyLog(j.Fields) })
	if err != nil {
		return res, out, err
	}
	runtime.GC() // the timer's garbage is not the logger's
	sampler := NewProcSampler(0)
	if _, err := sampler.Baseline(); err != nil {
		return res, out, err
	}
	if err := sampler.Start(ctx); err != nil {
		return res, out, err
	}
	tp, err := runLogPass(ctx, j, false)
	out.Throughput = tp.LogPass
	if err != nil {
		sampler.Stop()
		return res, out, err
	}
	lp, err := runLogPass(ctx, j, true)
	out.Latency = lp.LogPass
	st := sampler.Stop()
	if err != nil {
		return res, out, err
	}

	res.Ops, res.Drops, res.Bytes, res.Wall = tp.Records, tp.Drops, tp.bytes, tp.wall
	res.Latency = lp.hist.Latency()
	res.SetProc(st)
	res.Wall = tp.wall // SetProc keeps it; both passes are in the CPU and thread figures
	t50, t99 := timer.hist.Percentile(50), timer.hist.Percentile(99)
	res.SetExtra(LogTimerP50, float64(t50))
	res.SetExtra(LogTimerP99, float64(t99))
	res.SetExtra(LogNetP50, float64(res.P50-t50))
	res.SetExtra(LogNetP99, float64(res.P99-t99))
	res.SetExtra(LogCloseMs, float64(tp.closeTime)/1e6)
	res.SetExtra(LogFsyncs, float64(tp.fsyncs))
	if tp.callers > 0 {
		res.SetExtra(LogCallerRPS, float64(tp.Logged)/tp.callers.Seconds())
	}
	if lp.wall > 0 {
		res.SetExtra(LogTimedRPS, float64(lp.Records)/lp.wall.Seconds())
	}
	res.SetExtra(LogTimedDrops, float64(lp.Drops))
	if tp.waits >= 0 {
		res.SetExtra(LogWaits, float64(tp.waits))
	}
	if tp.diodeMissed >= 0 {
		res.SetExtra(LogDiodeMissed, float64(tp.diodeMissed))
	}
	res.Derive()
	return res, out, nil
}

// passResult is one logger pass, measured.
type passResult struct {
	LogPass
	bytes       int64
	wall        time.Duration // first call to Close returned
	callers     time.Duration // first call to last call returned
	closeTime   time.Duration
	fsyncs      int64
	waits       int64      // -1: the target has no queue
	diodeMissed int64      // zerolog: what the diode reported; -1 otherwise
	hist        *Histogram // timed passes
}

// runLogPass creates j's logger on a fresh file, makes j.Records calls (timed or not),
// closes it and checks the file.
func runLogPass(ctx context.Context, j LogJob, timed bool) (passResult, error) {
	pr := passResult{diodeMissed: -1}
	f, err := os.CreateTemp(j.Dir, "uringd-bench-log-"+j.Engine+"-*.log")
	if err != nil {
		return pr, fmt.Errorf("bench log: %w", err)
	}
	pr.Path = f.Name()
	f.Close()
	if !j.Keep {
		defer os.Remove(pr.Path)
	}
	tgt, err := newLogTarget(&j, pr.Path)
	if err != nil {
		return pr, err
	}
	run, err := runProducers(ctx, j, j.Records, timed, tgt.producer)
	closeStart := time.Now()
	cerr := tgt.close()
	end := time.Now()
	if err == nil {
		err = cerr
	}
	if err != nil {
		return pr, err
	}
	pr.Logged, pr.Drops, pr.hist, pr.fsyncs, pr.waits = run.calls, tgt.drops(), run.hist, tgt.fsyncs(), tgt.waits()
	pr.wall, pr.callers, pr.closeTime = end.Sub(run.start), run.end.Sub(run.start), end.Sub(closeStart)

	n, size, err := checkLogFile(pr.Path)
	if err != nil {
		return pr, err
	}
	pr.Records, pr.bytes = n, size
	if tgt.approxDrops() {
		// zerolog's diode counts what it overwrote by gaps in its sequence numbers, which
		// collisions between producers also make: the file says what was really written.
		pr.diodeMissed, pr.Drops = pr.Drops, run.calls-n
	}
	if n != run.calls-pr.Drops {
		return pr, fmt.Errorf("bench log: %s: %d records in %s, want %d (%d calls, %d dropped)",
			j.Engine, n, pr.Path, run.calls-pr.Drops, run.calls, pr.Drops)
	}
	return pr, nil
}

// logFunc logs record number seq. Each producer goroutine has its own.
type logFunc func(seq int)

// producersRun is what runProducers measured.
type producersRun struct {
	hist       *Histogram // timed: every call's latency, all producers merged
	calls      int64
	start, end time.Time // first call started, last call returned
}

// runProducers runs j.Producers goroutines that together make n calls, each producer
// calling the logFunc that mk returns for it. Timed, it times every call with two reads of
// the monotonic clock (time.Since of one base: one vDSO call each) into a Histogram per
// producer. Producers start together and stop early at j.MaxTime.
func runProducers(ctx context.Context, j LogJob, n int64, timed bool, mk func(producer int) logFunc) (producersRun, error) {
	p := j.Producers
	hists := make([]*Histogram, p)
	counts := make([]int64, p)
	fns := make([]logFunc, p)
	for i := range p {
		if timed {
			hists[i] = NewHistogram()
		}
		fns[i] = mk(i)
	}
	deadline := j.MaxTime
	var wg sync.WaitGroup
	ready := make(chan struct{})
	base := time.Now()
	for i := range p {
		lo, hi := n*int64(i)/int64(p), n*int64(i+1)/int64(p)
		wg.Add(1)
		go func() {
			defer wg.Done()
			h, fn := hists[i], fns[i]
			<-ready
			k := lo
			for ; k < hi; k++ {
				if k&4095 == 0 && ((deadline > 0 && time.Since(base) > deadline) || ctx.Err() != nil) {
					break
				}
				if !timed {
					fn(int(k))
					continue
				}
				t0 := time.Since(base)
				fn(int(k))
				h.Record(time.Since(base) - t0)
			}
			counts[i] = k - lo
		}()
	}
	run := producersRun{start: time.Now()}
	base = run.start // the producers read it after <-ready
	close(ready)
	wg.Wait()
	run.end = time.Now()
	if err := ctx.Err(); err != nil {
		return run, err
	}
	for i := range p {
		run.calls += counts[i]
		if timed {
			if i == 0 {
				run.hist = hists[0]
			} else {
				run.hist.Merge(hists[i])
			}
		}
	}
	return run, nil
}

// checkLogFile counts the records (lines) in path and checks that the first and the last
// are JSON objects. It returns the count and the file's size.
func checkLogFile(path string) (records, size int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, fmt.Errorf("bench log: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var first, last []byte
	for {
		line, err := r.ReadSlice('\n')
		size += int64(len(line))
		if len(line) > 0 && line[len(line)-1] == '\n' {
			records++
			if first == nil {
				first = slices.Clone(line)
			}
			last = append(last[:0], line...)
		} else if len(line) > 0 {
			return records, size, fmt.Errorf("bench log: %s ends in a partial record: %q", path, line)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			return records, size, fmt.Errorf("bench log: %s: a record longer than 1 MiB", path)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return records, size, fmt.Errorf("bench log: %w", err)
		}
	}
	for _, l := range [][]byte{first, last} {
		if l != nil && !json.Valid(bytes.TrimSpace(l)) {
			return records, size, fmt.Errorf("bench log: %s holds a record that is not JSON: %q", path, l)
		}
	}
	return records, size, nil
}

// logSummary is the one-line progress report of a row.
func logSummary(r *Result) string {
	return fmt.Sprintf("%8s rec/s  p50 %5.0f ns (net %4.0f)  p99 %6.0f ns (net %5.0f)  p99.9 %7.0f ns  max %6.1f µs  drops %d  threads %d (idle %d)  io-wq %d",
		SI(r.OpsPerSec), ns(r.P50), r.Extra[LogNetP50], ns(r.P99), r.Extra[LogNetP99], ns(r.P999), us(r.Max),
		r.Drops, r.OSThreads, r.IdleThreads, r.IOWQWorkers)
}
