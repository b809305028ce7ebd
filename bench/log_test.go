package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// checkLogRecords reads a log file of the benchmark and checks that it holds want records,
// each a JSON object with the message "request", the benchmark's fields and a distinct seq
// below calls.
func checkLogRecords(t *testing.T, path string, want, calls int64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seen := make(map[int64]bool)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s: line %d is not JSON (%v): %s", path, len(seen)+1, err, sc.Bytes())
		}
		if m["msg"] != "request" && m["message"] != "request" {
			t.Fatalf("%s: not a benchmark record: %s", path, sc.Bytes())
		}
		if m["method"] != "GET" || m["status"] != float64(200) || m["ok"] != true {
			t.Fatalf("%s: fields missing: %s", path, sc.Bytes())
		}
		seq, ok := m["seq"].(float64)
		if !ok || seq < 0 || int64(seq) >= calls || seen[int64(seq)] {
			t.Fatalf("%s: bad or repeated seq: %s", path, sc.Bytes())
		}
		seen[int64(seq)] = true
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if int64(len(seen)) != want {
		t.Fatalf("%s: %d records, want %d", path, len(seen), want)
	}
}

// logChildEnv marks a run of this test binary as a LogBench child (logChild).
const logChildEnv = "URINGD_BENCH_LOG_CHILD"

// logChild is LogBench.Child for tests: this test binary, running TestLogChildHelper.
func logChild(t *testing.T) []string {
	t.Setenv(logChildEnv, "1")
	return []string{os.Args[0], "-test.run=^TestLogChildHelper$", "--"}
}

func TestLogChildHelper(t *testing.T) {
	if os.Getenv(logChildEnv) != "1" {
		t.Skip("only as a LogBench child")
	}
	args := flag.Args()
	if err := RunLogChild(context.Background(), args[len(args)-1], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// TestRunLogJob runs every logger with two producers and a few thousand records, and checks
// its row and both of its files record by record.
func TestRunLogJob(t *testing.T) {
	const records = 5000
	for _, eng := range LogEngines {
		t.Run(eng, func(t *testing.T) {
			j := LogJob{Engine: eng, Producers: 2, Records: records, Fields: 4, Dir: t.TempDir(), Keep: true}
			res, out, err := RunLogJob(context.Background(), j)
			if err != nil {
				t.Fatal(err)
			}
			t.Log(logSummary(&res))
			if res.Engine != eng || res.Name != "p2-f4" {
				t.Errorf("row names %q %q", res.Name, res.Engine)
			}
			if eng != "zerolog" && (res.Drops != 0 || out.Throughput.Drops != 0 || out.Latency.Drops != 0) {
				t.Errorf("%d drops from a blocking logger", res.Drops)
			}
			if res.Ops+res.Drops != records || out.Throughput.Logged != records || out.Latency.Logged != records {
				t.Errorf("ops %d + drops %d, logged %d and %d: want %d", res.Ops, res.Drops, out.Throughput.Logged, out.Latency.Logged, records)
			}
			if res.OpsPerSec <= 0 || res.MBPerSec <= 0 || res.Bytes < res.Ops*50 || res.Wall <= 0 {
				t.Errorf("rates: %+v", res)
			}
			l := res.Latency
			if l.Count != records || l.P50 <= 0 || l.P50 > l.P99 || l.P99 > l.P999 || l.P999 > l.Max {
				t.Errorf("latency: %+v", l)
			}
			if res.Extra[LogTimerP50] <= 0 || res.Extra[LogNetP50] != float64(l.P50)-res.Extra[LogTimerP50] {
				t.Errorf("timer %v, net p50 %v, p50 %v", res.Extra[LogTimerP50], res.Extra[LogNetP50], l.P50)
			}
			if res.OSThreads < res.IdleThreads || res.IdleThreads < 1 {
				t.Errorf("threads %d, idle %d", res.OSThreads, res.IdleThreads)
			}
			// io-wq workers of an earlier subtest's ring linger in this process for seconds,
			// so the "no ring, no io-wq" check runs the job again in a fresh process.
			if eng != "uring" {
				cj := j
				cj.Dir = t.TempDir()
				cres, err := runLogJobChild(context.Background(), logChild(t), cj)
				if err != nil {
					t.Fatal(err)
				}
				if cres.IOWQWorkers != 0 {
					t.Errorf("%d io-wq workers without a ring", cres.IOWQWorkers)
				}
			}
			for _, p := range []LogPass{out.Throughput, out.Latency} {
				checkLogRecords(t, p.Path, p.Records, records)
				if p.Records != records-p.Drops {
					t.Errorf("%s: %d records, %d drops", p.Path, p.Records, p.Drops)
				}
			}
		})
	}
}

// TestLogBench runs the whole benchmark as the command does (in this process), with and
// without fsync, as JSON lines and as a report, and checks every row is there.
func TestLogBench(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	b := &LogBench{
		Job:   LogJob{Engine: "all", Producers: 1, Records: 600, Fields: 4, Dir: dir},
		Fsync: "both", JSON: true, Report: filepath.Join(dir, "report"), Stdout: &stdout, Stderr: &stderr,
	}
	rows, err := b.Run(context.Background())
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if len(rows) != 2*len(LogEngines) {
		t.Fatalf("%d rows, want %d", len(rows), 2*len(LogEngines))
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != len(rows) {
		t.Fatalf("%d JSON lines for %d rows:\n%s", len(lines), len(rows), stdout.String())
	}
	seen := map[string]bool{}
	for _, line := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not JSON: %s", line)
		}
		for _, k := range []string{"engine", "records_per_s", "p50_ns", "p99_ns", "p999_ns", "max_ns", "drops", "os_threads", "iowq_workers", "net_p50_ns", "timer_p50_ns"} {
			if _, ok := m[k]; !ok {
				t.Errorf("no %q in %s", k, line)
			}
		}
		if m["records_per_s"].(float64) <= 0 || m["p50_ns"].(float64) <= 0 {
			t.Errorf("implausible row %s", line)
		}
		seen[m["name"].(string)+" "+m["engine"].(string)] = true
	}
	for _, e := range LogEngines {
		for _, n := range []string{"p1-f4", "p1-f4-fsync"} {
			if !seen[n+" "+e] {
				t.Errorf("no row for %s %s", n, e)
			}
		}
	}
	for _, r := range rows {
		if strings.HasSuffix(r.Name, "-fsync") && r.Extra[LogFsyncs] < 1 {
			t.Errorf("%s %s: no fdatasync made", r.Name, r.Engine)
		}
		if !strings.HasSuffix(r.Name, "-fsync") && r.Extra[LogFsyncs] != 0 {
			t.Errorf("%s %s: %v fdatasyncs without fsync", r.Name, r.Engine, r.Extra[LogFsyncs])
		}
	}
	rep, err := os.ReadFile(filepath.Join(dir, "report", "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"zerolog", "fsync/none", "uring/zap", "net-p50"} {
		if !bytes.Contains(rep, []byte(want)) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "uringd-bench-log-*")); len(left) != 0 {
		t.Errorf("log files left behind: %v", left)
	}
}

// TestLogJobValidate checks the job's errors and defaults.
func TestLogJobValidate(t *testing.T) {
	for _, j := range []LogJob{
		{Engine: "log4j", Records: 10},
		{Engine: "uring", Records: 0},
		{Engine: "uring", Records: 2, Producers: 3},
		{Engine: "zap", Records: 10, Fields: -1},
	} {
		if err := j.Validate(); err == nil {
			t.Errorf("%+v: no error", j)
		}
	}
	j := LogJob{Engine: "slog", Records: 10}
	if err := j.Validate(); err != nil || j.Producers != 1 || j.Dir == "" || j.Scenario() != "p1-f0" {
		t.Errorf("defaults: %+v, %v", j, err)
	}
	if fs := logFieldSpecs(10); fs[0].key != "seq" || fs[8].key != "seq2" || fs[9].key != "method2" {
		t.Errorf("field keys: %+v", fs)
	}
	if _, err := (&LogBench{Job: LogJob{Engine: "uring", Records: 1}, Fsync: "sometimes"}).Run(context.Background()); err == nil {
		t.Error("--fsync sometimes accepted")
	}
}
