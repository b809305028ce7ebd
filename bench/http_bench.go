package bench

import (
	"golang.org/x/sys/unix"

	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
)

// Workloads of bench http.
const (
	WorkloadHot   = "hot"   // one file per size, cached
	WorkloadCold  = "cold"  // random files of a data set many times the servers' page cache
	WorkloadMixed = "mixed" // the cold load plus a hot client
)

// HTTPBench runs static-file servers side by side under wrk and a fixed-rate client, and
// reports throughput, latency and what each server cost the machine.
type HTTPBench struct {
	Servers    []string      // names from HTTPServers; empty: all
	Workloads  []string      // hot, cold, mixed
	PathSizes  []int64       // the hot files' sizes (default 4 KiB and 1 MiB)
	Conns      int           // wrk's connections (the cold load's, in mixed)
	HotConns   int           // the hot client's connections in mixed and at the fixed rate (default 8)
	Duration   time.Duration // per measured phase
	Rounds     int           // servers alternate round by round; the median round is reported
	DataSize   int64         // the cold data set
	FileSize   int64         // its files
	CacheLimit int64         // the servers' memory (page cache) cap for cold and mixed
	HotRate    float64       // requests/s of the fixed-rate client (0: no latency phase)
	DataDir    string        // where the served tree lives (reused while it matches)
	UringdArgs []string      // more `uringd serve` flags for every uringd mode
	NoFio      bool          // leave out fio's figure for the cold reads
	NoStall    bool          // leave out the stall probe (StallProbe) of the latency phases
	Beside     []string      // loads no server serves, run beside every phase: BesideFio, BesideCPU

	Self    []string // argv prefix running this uringd binary (its "serve" is appended)
	NetHTTP []string // argv prefix of the net/http reference (ROOT ADDR are appended)

	JSON    bool
	Report  string
	Command string
	Stdout  io.Writer
	Stderr  io.Writer
}

// HTTPTableColumns is bench http's table and JSON keys.
func HTTPTableColumns() []Column {
	return []Column{ColName.As("workload", "workload"), ColEngine.As("server", "server"),
		ColOpsPerSec.As("req/s", "req_per_s"), ExtraCol("±%", "spread_pct", 0), ColMBPerSec,
		ExtraCol("cold-MB/s", "cold_mbps", 0), ExtraCol("vs-fio", "vs_fio", 2), ExtraCol("cold@rate-MB/s", "cold_at_rate_mbps", 0),
		NumCol("p50(ms)", "p50_ms", 2, func(r *Result) float64 { return ms(r.P50) }),
		NumCol("p99(ms)", "p99_ms", 2, func(r *Result) float64 { return ms(r.P99) }),
		NumCol("p99.9(ms)", "p999_ms", 2, func(r *Result) float64 { return ms(r.P999) }),
		NumCol("max(ms)", "max_ms", 1, func(r *Result) float64 { return ms(r.Max) }),
		ExtraCol("rate-ok%", "rate_ok_pct", 1),
		ExtraCol("cpu/req(µs)", "cpu_us_per_req", 1), ExtraCol("sys/req", "syscalls_per_req", 2),
		ExtraCol("cs/req", "ctxsw_per_req", 2), ExtraCol("wq/req", "iowq_per_req", 2),
		ColOSThreads, ColIOWQ, ExtraCol("rss(MiB)", "rss_mib", 0), ExtraCol("KiB/conn", "kib_per_conn", 1),
		ExtraCol("wrk-cpu%", "wrk_cpu_pct", 0), ExtraCol("cold-wrk-cpu%", "cold_wrk_cpu_pct", 0), ExtraCol("idle%", "idle_pct", 0), ExtraCol("steal%", "steal_pct", 1),
		ExtraCol("stall>2ms%", "stall_over_pct", 2), ExtraCol("stall-max(ms)", "stall_max_ms", 1),
		ExtraCol("beside-fio-MB/s", "beside_fio_mbps", 0), ExtraCol("beside-cpu%", "beside_cpu_pct", 0)}
}

func ms(d time.Duration) float64 {
	if d == 0 {
		return math.NaN()
	}
	return float64(d) / 1e6
}

// maxConns is the most connections a server holds open at once: the cold wrk's beside the
// hot client's in mixed, else the larger of wrk's and the fixed-rate client's (one phase
// runs after the other).
func (b *HTTPBench) maxConns() int {
	if slices.Contains(b.Workloads, WorkloadMixed) {
		return b.Conns + b.HotConns
	}
	return max(b.Conns, b.HotConns)
}

// fdMargin is what a process needs beside its connections: listeners, rings, open files,
// logs (uringd keeps up to its open-file cache's size open).
const fdMargin = 4096

// raiseNoFile makes this process's RLIMIT_NOFILE at least need, raising the hard limit too
// when it is lower and the process may (root). The servers and wrk inherit it: Go gives a
// child the limit it started with only while the program has not set its own.
func raiseNoFile(need int) error {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return fmt.Errorf("bench http: RLIMIT_NOFILE: %w", err)
	}
	want := uint64(need)
	if rl.Cur >= want {
		return unix.Setrlimit(unix.RLIMIT_NOFILE, &rl) // explicit, so children inherit rl.Cur
	}
	nl := unix.Rlimit{Cur: want, Max: max(rl.Max, want)}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &nl); err != nil {
		return fmt.Errorf("bench http: %d connections need %d file descriptors per process, and RLIMIT_NOFILE is %d (hard %d): raising it: %w",
			need-fdMargin, need, rl.Cur, rl.Max, err)
	}
	return nil
}

func (b *HTTPBench) defaults() error {
	if b.Stdout == nil {
		b.Stdout = io.Discard
	}
	if b.Stderr == nil {
		b.Stderr = io.Discard
	}
	if len(b.Workloads) == 0 {
		b.Workloads = []string{WorkloadHot}
	}
	if len(b.PathSizes) == 0 {
		b.PathSizes = []int64{4 << 10, 1 << 20}
	}
	if b.Conns <= 0 {
		b.Conns = 64
	}
	if b.HotConns <= 0 {
		b.HotConns = 8
	}
	if b.Duration <= 0 {
		b.Duration = 10 * time.Second
	}
	b.Rounds = max(b.Rounds, 1)
	if b.FileSize <= 0 {
		b.FileSize = 256 << 10
	}
	if b.DataSize <= 0 {
		b.DataSize = 4 << 30
	}
	if b.CacheLimit <= 0 {
		b.CacheLimit = 512 << 20
	}
	if b.DataDir == "" {
		b.DataDir = filepath.Join(os.TempDir(), "uringd-bench-http")
	}
	for _, w := range b.Workloads {
		if w != WorkloadHot && w != WorkloadCold && w != WorkloadMixed {
			return fmt.Errorf("bench http: unknown workload %q (hot, cold, mixed or all)", w)
		}
	}
	if err := checkBeside(b.Beside); err != nil {
		return err
	}
	if b.needsCold() && b.DataSize < 8*b.CacheLimit {
		return fmt.Errorf("bench http: --data-size %s is less than 8 times --cache-limit %s: the cold files would not be cold",
			FormatBytes(b.DataSize), FormatBytes(b.CacheLimit))
	}
	return nil
}

func (b *HTTPBench) needsCold() bool {
	return slices.Contains(b.Workloads, WorkloadCold) || slices.Contains(b.Workloads, WorkloadMixed)
}

// servers picks the servers to run; a reference that is not installed is skipped with a
// line naming its package.
func (b *HTTPBench) servers() ([]HTTPServer, error) {
	all := HTTPServers()
	want := b.Servers
	if len(want) == 0 {
		for _, s := range all {
			want = append(want, s.Name)
		}
	}
	var out []HTTPServer
	for _, name := range want {
		// "uringd:--iowq-max-workers 2" is a uringd mode with more flags, run as its own server.
		base, flags, variant := strings.Cut(name, ":")
		i := slices.IndexFunc(all, func(s HTTPServer) bool { return s.Name == base })
		if i < 0 {
			var names []string
			for _, s := range all {
				names = append(names, s.Name)
			}
			return nil, fmt.Errorf("bench http: unknown server %q (%s)", name, strings.Join(names, ", "))
		}
		s := all[i]
		if variant {
			if s.Binary != "" || s.Name == "nethttp" {
				return nil, fmt.Errorf("bench http: %q: only uringd's modes take flags after a colon", name)
			}
			extra, orig := strings.Fields(flags), s.config
			s.Name, s.About = name, s.About+", with `"+flags+"`"
			s.config = func(e *serverEnv) ([]string, []string, error) {
				argv, env, err := orig(e)
				return append(argv, extra...), env, err
			}
		}
		if s.Binary != "" {
			if _, err := exec.LookPath(s.Binary); err != nil {
				fmt.Fprintf(b.Stderr, "bench http: %s is not installed (apt-get install %s): skipped\n", s.Name, s.Package)
				continue
			}
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, errors.New("bench http: no server to run")
	}
	return out, nil
}

// step is one server in one workload and round.
type step struct {
	workload string
	server   *HTTPServer
	round    int
}

// Run runs every step and prints (and writes) the results.
func (b *HTTPBench) Run(ctx context.Context) ([]Result, error) {
	if err := b.defaults(); err != nil {
		return nil, err
	}
	servers, err := b.servers()
	if err != nil {
		return nil, err
	}
	if _, err := exec.LookPath("wrk"); err != nil {
		return nil, errors.New("bench http: wrk is not installed (apt-get install wrk)")
	}
	if err := raiseNoFile(b.maxConns() + fdMargin); err != nil {
		return nil, err
	}
	count := 0
	if b.needsCold() {
		if os.Geteuid() != 0 {
			return nil, errors.New("bench http: the cold and mixed workloads need root, to cap the servers' page cache with a memory cgroup and drop the cache between rounds")
		}
	}
	if b.needsCold() || slices.Contains(b.Beside, BesideFio) {
		count = int((b.DataSize + b.FileSize - 1) / b.FileSize)
	}
	if err := prepareTree(b.DataDir, b.PathSizes, count, b.FileSize, b.Stderr); err != nil {
		return nil, err
	}
	var cg *memCgroup
	if b.needsCold() {
		if cg, err = newMemCgroup(fmt.Sprintf("uringd-bench-http-%d", os.Getpid()), b.CacheLimit); err != nil {
			return nil, fmt.Errorf("bench http: %w", err)
		}
		defer cg.remove()
	}
	work, err := os.MkdirTemp("", "uringd-bench-http-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	script, err := writeWrkScript(work)
	if err != nil {
		return nil, err
	}
	usePerf := PerfAvailable()
	if !usePerf {
		fmt.Fprintln(b.Stderr, "bench http: perf is not available (apt-get install linux-perf): context switches and read/write syscalls come from /proc")
	}
	fio := !b.NoFio && b.needsCold() && FioAvailable()
	if !b.NoFio && b.needsCold() && !fio {
		fmt.Fprintln(b.Stderr, "bench http: fio is not installed (apt-get install fio): no disk figure beside the cold reads")
	}

	total := len(b.Workloads) * b.Rounds * len(servers)
	prog := newStepProgress(b.Stderr, total)
	defer prog.done()
	r := &httpRun{b: b, work: work, script: script, perf: usePerf, cg: cg, count: count, prog: prog,
		cdf: map[cdfKey][]cdfPoint{}}
	var all []Result
	fioRounds := map[int]bool{}
	for _, w := range b.Workloads {
		for round := 0; round < b.Rounds; round++ {
			for i := range servers {
				st := step{w, &servers[(i+round)%len(servers)], round} // the order alternates
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				prog.begin(fmt.Sprintf("%s round %d/%d: %s", st.workload, round+1, b.Rounds, st.server.Name))
				rows, err := r.step(ctx, st)
				if err != nil {
					return nil, err
				}
				for i := range rows {
					prog.line(stepLine(&rows[i]))
				}
				all = append(all, rows...)
			}
			if fio && w != WorkloadHot && !fioRounds[round] {
				fioRounds[round] = true // one fio run per round of the cold workloads
				prog.line(fmt.Sprintf("round %d/%d: fio on the cold files", round+1, b.Rounds))
				fr, err := r.fio(ctx, round)
				if err != nil {
					return nil, err
				}
				prog.line(stepLine(&fr))
				all = append(all, fr)
			}
		}
	}
	prog.done()
	rows := medianWithSpread(all)
	fioCompare(rows)
	cols := HTTPTableColumns()
	if b.JSON {
		if err := WriteJSONLines(b.Stdout, cols, rows); err != nil {
			return rows, err
		}
	} else {
		fmt.Fprintf(b.Stdout, "bench http: %s; %d round(s), median round per server (±%% is half the spread of req/s)\n",
			strings.Join(b.Workloads, ", "), b.Rounds)
		if err := WriteTable(b.Stdout, cols, rows); err != nil {
			return rows, err
		}
	}
	if b.Report != "" {
		if err := b.writeReport(rows, r.cdf, servers); err != nil {
			return rows, err
		}
		fmt.Fprintf(b.Stderr, "report written to %s/report.md\n", b.Report)
	}
	return rows, nil
}

func stepLine(r *Result) string {
	s := fmt.Sprintf("  %-10s %-18s %9.0f req/s %8.1f MB/s", r.Name, r.Engine, r.OpsPerSec, r.MBPerSec)
	if v, ok := r.Extra["cold_mbps"]; ok {
		s += fmt.Sprintf("  cold %6.1f MB/s", v)
	}
	if v, ok := r.Extra["cold_at_rate_mbps"]; ok {
		s += fmt.Sprintf("  (%.1f at the fixed rate)", v)
	}
	if r.P99 > 0 {
		s += fmt.Sprintf("  p50 %.2f ms  p99 %.2f ms", ms(r.P50), ms(r.P99))
	}
	if r.OSThreads > 0 {
		s += fmt.Sprintf("  threads %d  io-wq %d", r.OSThreads, r.IOWQWorkers)
	}
	if v, ok := r.Extra["wrk_cpu_pct"]; ok {
		s += fmt.Sprintf("  wrk-cpu %.0f%%", v)
	}
	if v, ok := r.Extra["idle_pct"]; ok {
		s += fmt.Sprintf("  idle %.0f%%", v)
	}
	if v := r.Extra["steal_pct"]; v >= 0.05 {
		s += fmt.Sprintf("  steal %.1f%%", v)
	}
	if v, ok := r.Extra["stall_over_pct"]; ok {
		s += fmt.Sprintf("  stalls>2ms %.2f%% (max %.1f ms)", v, r.Extra["stall_max_ms"])
	}
	if v, ok := r.Extra["beside_fio_mbps"]; ok {
		s += fmt.Sprintf("  fio beside %.0f MB/s", v)
	}
	if v, ok := r.Extra["beside_cpu_pct"]; ok {
		s += fmt.Sprintf("  busy loops beside %.0f%%", v)
	}
	return s
}

// medianWithSpread reduces rounds to their median round by req/s and records half the
// spread of req/s around it, in percent.
func medianWithSpread(all []Result) []Result {
	rows := MedianRounds(all, ColOpsPerSec)
	for i := range rows {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, a := range all {
			if a.Name == rows[i].Name && a.Engine == rows[i].Engine {
				lo, hi = min(lo, a.OpsPerSec), max(hi, a.OpsPerSec)
			}
		}
		if rows[i].Rounds > 1 && rows[i].OpsPerSec > 0 {
			rows[i].SetExtra("spread_pct", 100*(hi-lo)/2/rows[i].OpsPerSec)
		}
	}
	return rows
}

// fioCompare sets vs_fio, a server's cold MB/s over fio's for the same files and depth.
func fioCompare(rows []Result) {
	var disk float64
	for _, r := range rows {
		if strings.HasPrefix(r.Engine, "fio") {
			disk = r.MBPerSec
		}
	}
	if disk <= 0 {
		return
	}
	for i := range rows {
		r := &rows[i]
		switch {
		case strings.HasPrefix(r.Engine, "fio"):
		case strings.HasPrefix(r.Name, WorkloadCold):
			r.SetExtra("vs_fio", r.MBPerSec/disk)
		case r.Name == WorkloadMixed:
			if v, ok := r.Extra["cold_mbps"]; ok {
				r.SetExtra("vs_fio", v/disk)
			}
		}
	}
}

// httpRun holds what the steps share.
type httpRun struct {
	b      *HTTPBench
	work   string
	script string
	perf   bool
	cg     *memCgroup
	count  int
	prog   *stepProgress
	cdf    map[cdfKey][]cdfPoint
	// stallErr is why the stall probe could not start, once it failed: it is not tried again.
	stallErr error
}

type cdfKey struct {
	name, engine string
	round        int
}

type cdfPoint struct {
	pct float64
	lat time.Duration
}

func (r *httpRun) hot(size int64) PathSet {
	return PathSet{Fixed: hotPath(size), Size: size}
}

func (r *httpRun) cold() PathSet {
	return PathSet{Count: r.count, Size: r.b.FileSize}
}

func (r *httpRun) step(ctx context.Context, st step) ([]Result, error) {
	b := r.b
	env := serverEnv{root: b.DataDir, self: b.Self, netHTTP: b.NetHTTP, uringdArgs: b.UringdArgs, maxConns: b.maxConns()}
	var cg *memCgroup
	if st.workload != WorkloadHot {
		cg = r.cg
	}
	rs, err := startServer(ctx, st.server, env, cg)
	if err != nil {
		return nil, err
	}
	defer rs.stop()
	paths, sizes := []string{}, []int64{}
	for _, s := range b.PathSizes {
		paths, sizes = append(paths, hotPath(s)), append(sizes, s)
	}
	if st.workload != WorkloadHot {
		for _, i := range []int{0, r.count / 2, r.count - 1} {
			paths, sizes = append(paths, dataSetPath(i)), append(sizes, b.FileSize)
		}
	}
	if err := verifyServer(ctx, rs.addr, paths, sizes, 15*time.Second); err != nil {
		if e := rs.exited(); e != nil {
			return nil, e
		}
		return nil, fmt.Errorf("bench http: %s does not serve the files right, so no figure: %w (its log: %s)", st.server.Name, err, rs.logTail())
	}
	var rows []Result
	switch st.workload {
	case WorkloadHot:
		for _, size := range b.PathSizes {
			res, err := r.phase(ctx, rs, "hot-"+sizeLabel(size), st.round, r.hot(size), nil, b.Conns)
			if err != nil {
				return nil, err
			}
			rows = append(rows, res)
		}
	case WorkloadCold:
		res, err := r.phase(ctx, rs, "cold-"+sizeLabel(b.FileSize), st.round, r.cold(), nil, b.Conns)
		if err != nil {
			return nil, err
		}
		rows = append(rows, res)
	case WorkloadMixed:
		cold := r.cold()
		res, err := r.phase(ctx, rs, WorkloadMixed, st.round, r.hot(b.PathSizes[0]), &cold, b.HotConns)
		if err != nil {
			return nil, err
		}
		rows = append(rows, res)
	}
	return rows, rs.exited()
}

// phase measures one row: a closed-loop wrk run on main (beside a wrk run on background, for
// mixed) for throughput and what the server costs, then the fixed-rate client on main
// (beside the background load again) for latency.
// With --beside, its loads run through the whole row.
func (r *httpRun) phase(ctx context.Context, rs *runningServer, name string, round int, main PathSet, background *PathSet, conns int) (res Result, err error) {
	if len(r.b.Beside) == 0 {
		return r.measure(ctx, rs, name, round, main, background, conns)
	}
	load, err := r.startBeside(ctx)
	if err != nil {
		return Result{}, err
	}
	defer func() {
		fig, serr := load.stop()
		if serr != nil {
			err = errors.Join(err, fmt.Errorf("bench http: %s %s: no figure: %w", name, rs.srv.Name, serr))
		}
		if slices.Contains(r.b.Beside, BesideFio) {
			res.SetExtra("beside_fio_mbps", fig.fioMBps)
		}
		if slices.Contains(r.b.Beside, BesideCPU) {
			res.SetExtra("beside_cpu_pct", fig.cpuPct)
		}
	}()
	res, err = r.measure(ctx, rs, name, round, main, background, conns)
	return res, err
}

func (r *httpRun) measure(ctx context.Context, rs *runningServer, name string, round int, main PathSet, background *PathSet, conns int) (Result, error) {
	b := r.b
	res := Result{Name: name, Engine: rs.srv.Name}
	res.SetExtra("round", float64(round))
	if rs.cg != nil {
		if err := dropCaches(); err != nil {
			return res, err
		}
	}
	// The hypervisor's share of the CPUs over the whole row, throughput and latency phases.
	cpu0, cpuErr := ReadCPUTimes()
	setSteal := func() {
		if cpu1, err := ReadCPUTimes(); err == nil && cpuErr == nil {
			res.SetExtra("steal_pct", StealPct(cpu0, cpu1))
		}
	}
	pids := rs.pids()
	sampler, err := StartProcSampler(ctx, 0, pids...)
	if err != nil {
		return res, err
	}
	counter := startCounter(ctx, r.perf, r.work, pids)
	r.prog.phase("throughput", b.Duration)
	var bg *wrkRun
	if background != nil {
		if bg, err = startWrk(ctx, r.script, rs.addr, *background, b.Conns, b.Duration); err != nil {
			sampler.Stop()
			counter.stop()
			return res, err
		}
	}
	tp0, tpErr := ReadCPUTimes()
	fg, err := startWrk(ctx, r.script, rs.addr, main, conns, b.Duration)
	if err != nil {
		sampler.Stop()
		counter.stop()
		return res, err
	}
	w, ferr := fg.wait()
	if tp1, err := ReadCPUTimes(); err == nil && tpErr == nil {
		res.SetExtra("idle_pct", IdlePct(tp0, tp1))
	}
	var bw WrkResult
	var berr error
	if bg != nil {
		bw, berr = bg.wait()
	}
	st := sampler.Stop()
	counts, cerr := counter.stop()
	if err := errors.Join(ferr, berr); err != nil {
		return res, fmt.Errorf("bench http: %s %s: %w", name, rs.srv.Name, err)
	}
	if w.Status > 0 || bw.Status > 0 {
		return res, fmt.Errorf("bench http: %s %s answered %d requests with a status of 400 or more during the round: no figure",
			name, rs.srv.Name, w.Status+bw.Status)
	}
	if cerr != nil {
		fmt.Fprintf(r.b.Stderr, "bench http: counting %s's syscalls: %v\n", rs.srv.Name, cerr)
	}
	res.SetProc(st)
	if st.PeakRSS > 0 {
		open := conns
		if background != nil {
			open += b.Conns
		}
		res.SetExtra("rss_mib", float64(st.PeakRSS)/(1<<20))
		res.SetExtra("kib_per_conn", float64(st.PeakRSS-st.IdleRSS)/1024/float64(open))
	}
	res.Ops, res.Wall = w.Requests, w.Wall()
	if w.CPU > 0 && w.DurationUS > 0 {
		res.SetExtra("wrk_cpu_pct", 100*w.CPU.Seconds()/w.Wall().Seconds())
	}
	if bw.CPU > 0 && bw.DurationUS > 0 {
		res.SetExtra("cold_wrk_cpu_pct", 100*bw.CPU.Seconds()/bw.Wall().Seconds())
	}
	res.Bytes = w.Requests * main.Size
	res.Errors = w.Connect + w.Read + w.Write + w.Timeout + bw.Connect + bw.Read + bw.Write + bw.Timeout
	res.Latency = w.Latency()
	res.Derive()
	reqs := float64(w.Requests + bw.Requests)
	if background != nil {
		if v, ok := bw.MBPerSec(background.Size); ok {
			res.SetExtra("cold_mbps", v)
		}
	}
	if reqs > 0 {
		res.SetExtra("cpu_us_per_req", (res.CPUUser+res.CPUSys)*1e6/reqs)
		setPer := func(key string, v float64) {
			if !math.IsNaN(v) {
				res.SetExtra(key, v/reqs)
			}
		}
		setPer("syscalls_per_req", counts.Syscalls)
		setPer("ctxsw_per_req", counts.CtxSwitches)
		setPer("iowq_per_req", counts.IOWQ)
		for op, v := range counts.IOWQByOp {
			setPer("iowq_"+op+"_per_req", v)
		}
	}
	if b.HotRate <= 0 {
		setSteal()
		return res, nil
	}

	// Latency at a fixed offered rate, the background load running again.
	if rs.cg != nil {
		if err := dropCaches(); err != nil {
			return res, err
		}
	}
	r.prog.phase("latency at a fixed rate", b.Duration)
	bg = nil
	if background != nil {
		if bg, err = startWrk(ctx, r.script, rs.addr, *background, b.Conns, b.Duration); err != nil {
			return res, err
		}
	}
	probe := r.startStallProbe()
	rr, rerr := RateLoad{Addr: rs.addr, Paths: main, Rate: b.HotRate, Conns: b.HotConns, Duration: b.Duration}.Run(ctx)
	if probe != nil {
		f := probe.Stop()
		res.SetExtra("stall_over_pct", f.OverShare)
		res.SetExtra("stall_max_ms", ms(f.Max))
	}
	if bg != nil {
		if bw, err := bg.wait(); err == nil && bw.Status > 0 {
			rerr = errors.Join(rerr, fmt.Errorf("%d answers with a status of 400 or more", bw.Status))
		} else if err != nil {
			rerr = errors.Join(rerr, err)
		} else if v, ok := bw.MBPerSec(background.Size); ok {
			res.SetExtra("cold_at_rate_mbps", v)
		}
	}
	if rerr != nil {
		return res, fmt.Errorf("bench http: %s %s, fixed rate: %w", name, rs.srv.Name, rerr)
	}
	if rr.Bad > 0 && strings.Contains(rr.FirstBad, "status") {
		return res, fmt.Errorf("bench http: %s %s, fixed rate: %d bad answers, the first: %s: no figure", name, rs.srv.Name, rr.Bad, rr.FirstBad)
	}
	res.Latency = rr.Hist.Latency()
	res.Errors += rr.Bad
	if rr.Sent > 0 {
		res.SetExtra("rate_ok_pct", 100*float64(rr.OK)/(b.HotRate*b.Duration.Seconds()))
	}
	var pts []cdfPoint
	for _, p := range cdfPercentiles {
		pts = append(pts, cdfPoint{p, rr.Hist.Percentile(p)})
	}
	r.cdf[cdfKey{name, rs.srv.Name, round}] = pts
	setSteal()
	return res, nil
}

// stallNote names the rows whose fixed-rate phase had the CPUs gone for more than StallOver
// over 1% of its time, or is empty: their p99s say as much about the machine as the server.
func stallNote(rows []Result) string {
	var l []string
	for _, r := range rows {
		if v, ok := r.Extra["stall_over_pct"]; ok && v >= 1 {
			l = append(l, fmt.Sprintf("`%s %s` %.1f%% (p99 %.2f ms)", r.Name, r.Engine, v, ms(r.P99)))
		}
	}
	if len(l) == 0 {
		return ""
	}
	return fmt.Sprintf("The CPUs were gone for more than %v over 1%% of the fixed-rate phase (stall>2ms%%) in these rows, whose p99 above %v is the machine's as much as the server's: %s.",
		StallOver, StallOver, strings.Join(l, "; "))
}

// clientBound is the share of a CPU (percent) at which a wrk run counts as bound by the
// client: wrk drives its connections from one thread, which cannot go faster.
const clientBound = 95

// clientNote names the rows whose wrk ran its one thread at clientBound or more, with wrk's
// CPU a request: their req/s is the client's ceiling, so a ratio between two of them tells
// how much of wrk's CPU each server's answers cost, not how fast the servers are.
func clientNote(rows []Result) string {
	var l []string
	for _, r := range rows {
		v, ok := r.Extra["wrk_cpu_pct"]
		if !ok || v < clientBound || r.OpsPerSec <= 0 {
			continue
		}
		l = append(l, fmt.Sprintf("`%s %s` %.0f%%, %.1f µs a request", r.Name, r.Engine, v, v/100*1e6/r.OpsPerSec))
	}
	if len(l) == 0 {
		return ""
	}
	return fmt.Sprintf("wrk ran its one thread at %d%% of a CPU or more (wrk-cpu%%) in these rows, so their req/s is what the client can ask for, not what the server can serve: between two of them the ratio tells how much of wrk's CPU each server's answers cost, not how fast the servers are. wrk's CPU a request: %s.",
		clientBound, strings.Join(l, "; "))
}

// startStallProbe starts a StallProbe for a latency phase, or returns nil: with --no-stall-probe,
// or when it cannot start (without CAP_SYS_NICE), which it says once.
func (r *httpRun) startStallProbe() *StallProbe {
	if r.b.NoStall || r.stallErr != nil {
		return nil
	}
	p, err := StartStallProbe()
	if err != nil {
		r.stallErr = err
		fmt.Fprintf(r.b.Stderr, "%v: the stall columns stay empty\n", err)
		return nil
	}
	return p
}

var cdfPercentiles = []float64{1, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 99.999, 100}

// fio reads the cold files with fio (O_DIRECT, io_uring, the same depth): the disk's limit.
func (r *httpRun) fio(ctx context.Context, round int) (Result, error) {
	b := r.b
	if err := dropCaches(); err != nil {
		return Result{}, err
	}
	args := fioColdArgs(b, b.Duration)
	cmd := exec.CommandContext(ctx, "fio", args...)
	out, err := cmd.Output()
	res := Result{Name: "cold-" + sizeLabel(b.FileSize), Engine: "fio"}
	if err != nil {
		return res, fmt.Errorf("bench http: fio %s: %w", ShellQuote(args), err)
	}
	if err := parseFio(out, false, &res); err != nil {
		return res, fmt.Errorf("bench http: fio: %w", err)
	}
	res.Derive()
	res.SetExtra("round", float64(round))
	return res, nil
}

// fioColdArgs makes fio read the cold files at random as the cold clients make a server read
// them: whole files, O_DIRECT, io_uring, --conns deep, for d. --thread keeps its job in fio's
// process: a forked job calls setsid and outlives a killed fio.
func fioColdArgs(b *HTTPBench, d time.Duration) []string {
	return []string{"--name=cold", "--thread", "--opendir=" + filepath.Join(b.DataDir, "c"), "--rw=randread",
		fmt.Sprintf("--bs=%d", b.FileSize), "--direct=1", "--ioengine=io_uring", fmt.Sprintf("--iodepth=%d", b.Conns),
		fmt.Sprintf("--runtime=%.0f", max(1, d.Seconds())), "--time_based", "--openfiles=256",
		"--file_service_type=random", "--invalidate=0", "--group_reporting", "--output-format=json"}
}

// writeReport writes report.md, report.json, throughput bars and a latency CDF per workload.
func (b *HTTPBench) writeReport(rows []Result, cdf map[cdfKey][]cdfPoint, servers []HTTPServer) error {
	notes := []string{
		fmt.Sprintf("Load: wrk (one thread, %d connections, %v per phase) for throughput and for what the server costs; "+
			"cpu/req, sys/req (syscalls), cs/req (context switches) and wq/req (io_uring requests queued to io-wq workers) are over every thread of the server's processes during that phase; rss(MiB) is their resident memory at peak and KiB/conn its growth over the phase per connection wrk held open (user memory only: the kernel's socket buffers are not in it). "+
			"wrk-cpu%% is the CPU time of the wrk whose rate is reported, over its run: wrk drives its connections from one thread, so near 100 the client, not the server, sets req/s; cold-wrk-cpu%% is the same for the cold load's wrk in mixed. "+
			"idle%% is the share of the machine's CPU time left idle while that wrk ran (/proc/stat, idle and iowait): in a hot row, where the client shares the CPUs with the server and no disk is read, CPUs left idle while wrk is below 100%% are the server's threads and wrk waiting on each other. "+
			"steal%% is the share of the machine's CPU time the hypervisor gave to others while the row was measured (/proc/stat): a virtual machine whose host is busy loses its CPUs for milliseconds at a time, and every server's and client's latency shows it.", b.Conns, b.Duration),
		fmt.Sprintf("Latency (p50 … max): %s's own fixed-rate client, %d keep-alive connections offering %.0f requests/s in all, each request timed from when it was due to be sent, so a stalled server is charged for the requests it held up (wrk measures from when it sends, which hides stalls). rate-ok%% is the share of the offered requests answered right in time.",
			"bench http", b.HotConns, b.HotRate),
	}
	if b.HotRate <= 0 {
		notes[1] = "Latency (p50 … max): wrk's own, timed from when it sends each request, which hides stalls (--hot-rate 0: no fixed-rate phase)."
	} else if slices.ContainsFunc(rows, func(r Result) bool { _, ok := r.Extra["stall_over_pct"]; return ok }) {
		notes[1] += fmt.Sprintf(" Stalls: through each fixed-rate phase a thread of the lowest real-time priority on each CPU, above every server's and client's, sleeps %v at a time and records how late it wakes; only interrupts and the CPU itself going away (the host running something else) can make it late (or, in bench http's own process, a wait for a Go P, which its light fixed-rate client leaves idle). "+
			"stall>2ms%% is the share of the time at which a thread running on a CPU, or woken there, would have waited more than %v for it (the late wakeups' time beyond %v, over the phase, averaged over the CPUs), and stall-max the latest wakeup: a request caught on a CPU in such a stall waits with it, so where stall>2ms%% is far above 1, a p99 of %v is out of any server's reach.",
			stallTick, StallOver, StallOver, StallOver)
	}
	if b.needsCold() {
		notes = append(notes, fmt.Sprintf("Cold: %d files of %s (%s) under /c, read at random; each server runs in a memory cgroup capped at %s and the page cache is dropped before each phase. "+
			"Mixed: the cold load plus %d connections on %s: req/s and latency are the hot client's, cold-MB/s the cold load's. vs-fio compares the cold MB/s with fio reading the same files at random with O_DIRECT at depth %d. cold@rate-MB/s is the cold load's MB/s in the latency phase, when every server is offered the same hot load: in the throughput phase a server that answers more hot requests has less of the CPUs left for the cold ones.",
			int((b.DataSize+b.FileSize-1)/b.FileSize), FormatBytes(b.FileSize), FormatBytes(b.DataSize), FormatBytes(b.CacheLimit), b.HotConns, hotPath(b.PathSizes[0]), b.Conns))
	}
	if len(b.Beside) > 0 {
		var l []string
		for _, x := range b.Beside {
			switch x {
			case BesideFio:
				l = append(l, fmt.Sprintf("fio reading the %d cold files of %s under /c at random (O_DIRECT, depth %d; beside-fio-MB/s is what it read over its run)",
					int((b.DataSize+b.FileSize-1)/b.FileSize), FormatBytes(b.FileSize), b.Conns))
			case BesideCPU:
				l = append(l, fmt.Sprintf("a busy loop on each of the %d CPUs (beside-cpu%% is the CPU time they got, in percent of all the CPUs, over their run)", runtime.NumCPU()))
			}
		}
		note := "Beside every server's row (--beside), a load no server serves: " + strings.Join(l, " and ") +
			", started a second before the row and running through it, to tell what the machine adds to the latency from what the server does."
		if b.needsCold() && !b.NoFio {
			note += " fio's own row, which vs-fio compares with, runs alone."
		}
		notes = append(notes, note)
	}
	var about []string
	for _, s := range servers {
		about = append(about, "`"+s.Name+"`: "+s.About)
	}
	notes = append(notes, "Servers (each alternating with the others, round by round, started afresh for each workload): "+strings.Join(about, "; ")+".")
	if len(b.UringdArgs) > 0 {
		notes = append(notes, "uringd flags added: `"+ShellQuote(b.UringdArgs)+"`.")
	}
	var wq []string
	for _, r := range rows {
		if v, ok := r.Extra["iowq_per_req"]; ok && v > 0 {
			line := fmt.Sprintf("`%s %s`: %.2f", r.Name, r.Engine, v)
			for _, op := range asyncOps {
				if v := r.Extra["iowq_"+opNames[op]+"_per_req"]; v > 0 {
					line += fmt.Sprintf(", %s %.2f", opNames[op], v)
				}
			}
			wq = append(wq, line)
		}
	}
	if len(wq) > 0 {
		notes = append(notes, "io_uring requests queued to io-wq workers per request (perf, tracepoint io_uring:io_uring_queue_async_work), in all and by operation: "+strings.Join(wq, "; ")+".")
	}
	if note := stallNote(rows); note != "" {
		notes = append(notes, note)
	}
	if note := clientNote(rows); note != "" {
		notes = append(notes, note)
	}
	names := []string{}
	for _, r := range rows {
		if !slices.Contains(names, r.Name) {
			names = append(names, r.Name)
		}
	}
	if err := os.MkdirAll(b.Report, 0o755); err != nil {
		return err
	}
	rep := Report{Title: "uringd bench http: " + strings.Join(b.Workloads, ", "), Command: b.Command,
		Columns: HTTPTableColumns(), Results: rows, Notes: notes}
	var extra []string
	for _, name := range names {
		var sub []Result
		for _, r := range rows {
			if r.Name == name {
				sub = append(sub, r)
			}
		}
		col := ColOpsPerSec
		title := name + ": requests/s"
		if strings.HasPrefix(name, WorkloadCold) {
			col, title = ColMBPerSec, name+": MB/s"
		}
		file := name + "-throughput.svg"
		f, err := os.Create(filepath.Join(b.Report, file))
		if err != nil {
			return err
		}
		ok, err := BarChartSVG(f, title, col, sub)
		f.Close()
		if err != nil {
			return err
		}
		if ok {
			extra = append(extra, fmt.Sprintf("![%s](%s)", title, file))
		}
		var series []cdfSeries
		for _, r := range sub {
			if pts := cdf[cdfKey{r.Name, r.Engine, int(r.Extra["round"])}]; len(pts) > 0 {
				series = append(series, cdfSeries{r.Engine, pts})
			}
		}
		if len(series) > 0 {
			file := name + "-latency.svg"
			f, err := os.Create(filepath.Join(b.Report, file))
			if err != nil {
				return err
			}
			err = LatencyCDFSVG(f, fmt.Sprintf("%s: latency at %.0f req/s", name, b.HotRate), series)
			f.Close()
			if err != nil {
				return err
			}
			extra = append(extra, fmt.Sprintf("![%s latency](%s)", name, file))
		}
	}
	rep.Notes = append(rep.Notes, strings.Join(extra, "\n"))
	rep.Charts = []Chart{} // the charts above, per workload, instead of WriteReport's defaults
	return WriteReport(b.Report, rep)
}

// stepProgress shows which step runs and how far the whole bench is: a redrawn line on a
// terminal, a line per step otherwise.
type stepProgress struct {
	w      io.Writer
	tty    bool
	total  int
	n      int
	label  string
	what   string
	until  time.Time
	start  time.Time
	stop   chan struct{}
	ticker *time.Ticker
	ended  bool
	mu     sync.Mutex
}

func newStepProgress(w io.Writer, total int) *stepProgress {
	p := &stepProgress{w: w, tty: IsTerminal(w), total: total, start: time.Now(), stop: make(chan struct{})}
	return p
}

func (p *stepProgress) begin(label string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	p.label, p.what = label, ""
	if !p.tty {
		fmt.Fprintf(p.w, "[%d/%d] %s\n", p.n, p.total, label)
	}
}

func (p *stepProgress) phase(what string, d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.what, p.until = what, time.Now().Add(d)
	if !p.tty {
		return
	}
	p.draw()
	if p.ticker == nil {
		p.ticker = time.NewTicker(250 * time.Millisecond)
		go func() {
			for {
				select {
				case <-p.ticker.C:
					p.mu.Lock()
					p.draw()
					p.mu.Unlock()
				case <-p.stop:
					return
				}
			}
		}()
	}
}

func (p *stepProgress) draw() {
	if p.ended {
		return
	}
	pct := 100 * float64(p.n-1) / float64(p.total)
	bar := strings.Repeat("#", int(pct/5)) + strings.Repeat(".", 20-int(pct/5))
	left := max(0, time.Until(p.until).Round(time.Second))
	fmt.Fprintf(p.w, "\r[%s] %3.0f%% %d/%d %s: %s %v  \033[K", bar, pct, p.n, p.total, p.label, p.what, left)
}

func (p *stepProgress) line(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s\n", s)
		return
	}
	fmt.Fprintln(p.w, s)
}

func (p *stepProgress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ended {
		return
	}
	p.ended = true
	if p.ticker != nil {
		p.ticker.Stop()
		close(p.stop)
	}
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K")
	}
	fmt.Fprintf(p.w, "bench http: %d steps in %v\n", p.total, time.Since(p.start).Round(time.Second))
}
