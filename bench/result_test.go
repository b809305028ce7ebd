package bench

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func sampleResults() []Result {
	return []Result{
		{Name: "randread-4k", Engine: "uring", Ops: 970_000, Bytes: 970_000 * 4096, Wall: 10 * time.Second,
			Latency: Latency{Count: 970_000, Min: 2100, P50: 31_400, P90: 52_000, P99: 88_800, P999: 120_000, Max: 2_500_000, Mean: 33_000},
			CPUUser: 1.25, CPUSys: 6.5, OSThreads: 7, IdleThreads: 5, IOWQWorkers: 0, Drops: 0},
		{Name: "randread-4k", Engine: "fio", OpsPerSec: 100_000, MBPerSec: 409.6, Wall: 10 * time.Second,
			Latency: Latency{P50: 30_100, P99: 80_500},
			CPUUser: 1.5, CPUSys: 7, OSThreads: 3, IdleThreads: 3, IOWQWorkers: 32},
		{Name: "randread-4k", Engine: "threadpool", Ops: 900_000, Bytes: 900_000 * 4096, Wall: 10 * time.Second,
			Latency: Latency{P50: 35_000, P99: 150_000}, CPUUser: 3, CPUSys: 9, OSThreads: 70, IdleThreads: 6,
			Extra: map[string]float64{"ctx_switches": 123456}},
	}
}

func derived(rs []Result) []Result {
	for i := range rs {
		rs[i].Derive()
	}
	return rs
}

func TestResultDerive(t *testing.T) {
	rs := derived(sampleResults())
	u, f := rs[0], rs[1]
	if u.OpsPerSec != 97_000 || math.Abs(u.MBPerSec-97_000*4096/1e6) > 1e-9 {
		t.Errorf("uring rates: %v ops/s, %v MB/s", u.OpsPerSec, u.MBPerSec)
	}
	if math.Abs(u.OpsPerCPUSec-970_000/7.75) > 1e-6 {
		t.Errorf("uring ops/cpu-s = %v", u.OpsPerCPUSec)
	}
	// Rates given by an external tool stay; ops/cpu-s comes from rate × wall.
	if f.OpsPerSec != 100_000 || f.MBPerSec != 409.6 || math.Abs(f.OpsPerCPUSec-1_000_000/8.5) > 1e-6 {
		t.Errorf("fio: %+v", f)
	}
	var z Result
	z.Derive()
	if z.OpsPerSec != 0 || z.OpsPerCPUSec != 0 {
		t.Errorf("Derive on empty result: %+v", z)
	}
}

func TestResultSetProc(t *testing.T) {
	var r Result
	r.SetProc(ProcStats{Idle: TaskCount{Threads: 5}, Peak: TaskCount{Threads: 9, IOWQ: 3, SQPoll: 1},
		CPUUser: 1500 * time.Millisecond, CPUSys: 250 * time.Millisecond, Wall: 2 * time.Second})
	want := Result{CPUUser: 1.5, CPUSys: 0.25, OSThreads: 9, IdleThreads: 5, IOWQWorkers: 3, SQPollThreads: 1, Wall: 2 * time.Second}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("SetProc: %+v\nwant %+v", r, want)
	}
}

func TestResultJSONRoundTrip(t *testing.T) {
	rs := derived(sampleResults())
	rs[0].SetExtra("k", 1.5)
	rs[0].Rounds, rs[0].Errors, rs[0].SQPollThreads, rs[0].Drops = 5, 2, 1, 3
	b, err := json.Marshal(rs)
	if err != nil {
		t.Fatal(err)
	}
	var back []Result
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, rs) {
		t.Errorf("round trip:\n%+v\n%+v", back, rs)
	}
	// Keys are snake_case and flat.
	one, _ := json.Marshal(rs[0])
	var m map[string]any
	if err := json.Unmarshal(one, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"engine", "ops", "ops_per_s", "mb_per_s", "p50_ns", "p99_ns", "p999_ns", "max_ns",
		"cpu_user_s", "cpu_sys_s", "ops_per_cpu_s", "os_threads", "idle_threads", "iowq_workers", "drops", "wall_ns"} {
		if _, ok := m[k]; !ok {
			t.Errorf("Result JSON lacks %q: %s", k, one)
		}
	}
}

func TestJSONLinesKeysAndValues(t *testing.T) {
	rs := derived(sampleResults())
	for _, c := range []struct {
		name string
		cols []Column
		keys []string
	}{
		{"file", FileColumns(), []string{"engine", "iops", "mbps", "p50_us", "p99_us", "cpu_user_s", "cpu_sys_s", "os_threads", "iowq_workers"}},
		{"log", LogColumns(), []string{"engine", "records_per_s", "p50_ns", "p99_ns", "p999_ns", "max_ns", "drops", "os_threads", "iowq_workers"}},
		{"http", HTTPColumns(), []string{"engine", "req_per_s", "mbps", "p50_us", "p99_us", "p999_us", "cpu_user_s", "cpu_sys_s", "req_per_cpu_s", "os_threads", "iowq_workers", "errors"}},
	} {
		var buf bytes.Buffer
		if err := WriteJSONLines(&buf, c.cols, rs); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
		if len(lines) != len(rs) {
			t.Fatalf("%s: %d lines for %d results", c.name, len(lines), len(rs))
		}
		for i, line := range lines {
			// Keys in column order.
			dec := json.NewDecoder(strings.NewReader(line))
			dec.UseNumber()
			var keys []string
			dec.Token()
			for dec.More() {
				k, _ := dec.Token()
				keys = append(keys, k.(string))
				var v any
				dec.Decode(&v)
			}
			if !slices.Equal(keys, c.keys) {
				t.Errorf("%s keys %v, want %v", c.name, keys, c.keys)
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("%s: %v: %s", c.name, err, line)
			}
			if m["engine"] != rs[i].Engine {
				t.Errorf("%s: engine %v, want %s", c.name, m["engine"], rs[i].Engine)
			}
			for _, col := range c.cols[1:] {
				want := col.Value(&rs[i])
				if got := m[col.Key].(float64); math.Abs(got-want) > 0.0005 {
					t.Errorf("%s row %d %s = %v, want %v", c.name, i, col.Key, got, want)
				}
			}
		}
	}
	// A line from the file set: exact bytes.
	var buf bytes.Buffer
	WriteJSONLines(&buf, FileColumns(), rs[:1])
	want := `{"engine":"uring","iops":97000,"mbps":397.312,"p50_us":31.4,"p99_us":88.8,"cpu_user_s":1.25,"cpu_sys_s":6.5,"os_threads":7,"iowq_workers":0}` + "\n"
	if buf.String() != want {
		t.Errorf("file line\n got %s want %s", buf.String(), want)
	}
}

func TestJSONLinesExtraAndNaN(t *testing.T) {
	rs := sampleResults()
	cols := []Column{ColEngine, ExtraCol("ctx", "ctx_switches", 0), NumCol("tricky", "tricky", 0,
		func(*Result) float64 { return 0.1 + 0.2 })}
	var buf bytes.Buffer
	WriteJSONLines(&buf, cols, rs)
	lines := strings.Split(buf.String(), "\n")
	if lines[0] != `{"engine":"uring","ctx_switches":null,"tricky":0.3}` {
		t.Errorf("line 0: %s", lines[0])
	}
	if lines[2] != `{"engine":"threadpool","ctx_switches":123456,"tricky":0.3}` {
		t.Errorf("line 2: %s", lines[2])
	}
}

func TestWriteTableAligned(t *testing.T) {
	rs := derived(sampleResults())
	cols := append([]Column{ColName}, FileColumns()...)
	cols = append(cols, ExtraCol("ctx", "ctx_switches", 0))
	var buf bytes.Buffer
	if err := WriteTable(&buf, cols, rs); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	t.Logf("\n%s", out)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 1+len(rs) {
		t.Fatalf("%d lines", len(lines))
	}
	// Every header and cell is one word here, so each line has one token per column.
	tok := regexp.MustCompile(`\S+`)
	type span struct{ start, end int }
	var spans [][]span
	for _, l := range lines {
		var row []span
		for _, ix := range tok.FindAllStringIndex(l, -1) {
			// Count runes, as tabwriter does ("µ" is two bytes).
			row = append(row, span{utf8.RuneCountInString(l[:ix[0]]), utf8.RuneCountInString(l[:ix[1]])})
		}
		if len(row) != len(cols) {
			t.Fatalf("line %q has %d tokens, want %d", l, len(row), len(cols))
		}
		spans = append(spans, row)
	}
	for j, c := range cols {
		for i := 1; i < len(spans); i++ {
			if c.IsText() && spans[i][j].start != spans[0][j].start {
				t.Errorf("text column %s not left-aligned in line %d", c.Header, i)
			}
			if !c.IsText() && spans[i][j].end != spans[0][j].end {
				t.Errorf("numeric column %s not right-aligned in line %d", c.Header, i)
			}
		}
		if j > 0 && spans[0][j].start-spans[0][j-1].end < 2 {
			t.Errorf("columns %d and %d less than two spaces apart", j-1, j)
		}
	}
	if !strings.Contains(lines[3], "123456") || !strings.Contains(lines[1], " -") {
		t.Errorf("extra column cells wrong:\n%s", out)
	}
	if !strings.HasPrefix(lines[0], "name ") || !strings.Contains(lines[0], "IOPS") {
		t.Errorf("header: %q", lines[0])
	}
}

func TestWriteMarkdown(t *testing.T) {
	rs := derived(sampleResults())
	rs[0].Engine = "a|b"
	var buf bytes.Buffer
	WriteMarkdown(&buf, FileColumns(), rs)
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 2+len(rs) {
		t.Fatalf("%d lines:\n%s", len(lines), buf.String())
	}
	if lines[0] != "| engine | IOPS | MB/s | p50(µs) | p99(µs) | usr(s) | sys(s) | threads | io-wq |" {
		t.Errorf("header %q", lines[0])
	}
	if lines[1] != "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |" {
		t.Errorf("separator %q", lines[1])
	}
	if lines[2] != `| a\|b | 97000 | 397.3 | 31.4 | 88.8 | 1.25 | 6.50 | 7 | 0 |` {
		t.Errorf("row %q", lines[2])
	}
}

func TestColumnAs(t *testing.T) {
	c := ColOpsPerSec.As("rec/s", "records_per_s").WithPrec(1)
	if c.Header != "rec/s" || c.Key != "records_per_s" || c.Prec != 1 {
		t.Errorf("%+v", c)
	}
	if ColOpsPerSec.Key != "ops_per_s" {
		t.Error("As changed the original column")
	}
	r := Result{OpsPerSec: 12.345}
	if got := c.Format(&r); got != "12.3" {
		t.Errorf("Format = %q", got)
	}
}

func TestRatios(t *testing.T) {
	rs := derived(sampleResults())
	rs = append(rs, Result{Name: "seqwrite", Engine: "uring", OpsPerSec: 10}, // no fio row: skipped
		Result{Name: "seqread", Engine: "fio", OpsPerSec: 0}, Result{Name: "seqread", Engine: "uring", OpsPerSec: 5})
	iops := ColOpsPerSec.As("IOPS", "iops")
	got := Ratios(rs, "fio", ColEngine, iops, ColP99us)
	want := []string{
		"randread-4k iops uring/fio=0.97",
		"randread-4k p99_us uring/fio=1.10",
		"randread-4k iops threadpool/fio=0.90",
		"randread-4k p99_us threadpool/fio=1.86",
		"seqread iops uring/fio=n/a",
		"seqread p99_us uring/fio=n/a",
	}
	var have []string
	for _, r := range got {
		have = append(have, r.Name+" "+r.Metric+" "+r.String())
	}
	if !slices.Equal(have, want) {
		t.Errorf("Ratios:\n%s\nwant\n%s", strings.Join(have, "\n"), strings.Join(want, "\n"))
	}
	var buf bytes.Buffer
	WriteRatios(&buf, got)
	wantText := "randread-4k  uring/fio       iops=0.97  p99_us=1.10\n" +
		"randread-4k  threadpool/fio  iops=0.90  p99_us=1.86\n" +
		"seqread      uring/fio       iops=n/a   p99_us=n/a\n"
	if buf.String() != wantText {
		t.Errorf("WriteRatios:\n%s\nwant\n%s", buf.String(), wantText)
	}
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		xs   []float64
		want float64
	}{{[]float64{3, 1, 2}, 2}, {[]float64{4, 1, 3, 2}, 2.5}, {[]float64{7}, 7}} {
		orig := slices.Clone(c.xs)
		if got := Median(c.xs); got != c.want {
			t.Errorf("Median(%v) = %v, want %v", c.xs, got, c.want)
		}
		if !slices.Equal(orig, c.xs) {
			t.Error("Median modified its input")
		}
	}
	if !math.IsNaN(Median(nil)) {
		t.Error("Median(nil) is not NaN")
	}
}

func TestMedianRounds(t *testing.T) {
	var rounds []Result
	// Interleaved rounds of two engines; fio's ops/s: 5, 1, 3 -> the 3 round.
	for i, v := range []float64{10, 5, 30, 1, 20, 3} {
		e := "uring"
		if i%2 == 1 {
			e = "fio"
		}
		rounds = append(rounds, Result{Engine: e, OpsPerSec: v, Latency: Latency{P99: time.Duration(i)}})
	}
	got := MedianRounds(rounds, ColOpsPerSec)
	if len(got) != 2 || got[0].Engine != "uring" || got[1].Engine != "fio" {
		t.Fatalf("groups: %+v", got)
	}
	if got[0].OpsPerSec != 20 || got[0].P99 != 4 || got[0].Rounds != 3 {
		t.Errorf("uring median round %+v", got[0])
	}
	if got[1].OpsPerSec != 3 || got[1].P99 != 5 {
		t.Errorf("fio median round %+v", got[1])
	}
	even := MedianRound([]Result{{OpsPerSec: 4}, {OpsPerSec: 1}, {OpsPerSec: 3}, {OpsPerSec: 2}}, ColOpsPerSec)
	if even.OpsPerSec != 2 || even.Rounds != 4 {
		t.Errorf("even median round %+v", even)
	}
	if r := MedianRound(nil, ColOpsPerSec); !reflect.DeepEqual(r, Result{}) {
		t.Errorf("MedianRound(nil) = %+v", r)
	}
}

func TestSIAndBytes(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 0.5: "0.5", 12.34: "12.3", 950: "950", 12_345: "12.3k",
		1_234_567: "1.23M", 4.56e9: "4.56G", math.NaN(): "-"} {
		if got := SI(v); got != want {
			t.Errorf("SI(%v) = %q, want %q", v, got, want)
		}
	}
	for n, want := range map[int64]string{512: "512 B", 4096: "4.0 KiB", 3 << 29: "1.5 GiB"} {
		if got := FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestShellQuote(t *testing.T) {
	got := ShellQuote([]string{"uringd", "bench", "--size=1G", "it's", "", "a b"})
	want := `uringd bench --size=1G 'it'\''s' '' 'a b'`
	if got != want {
		t.Errorf("ShellQuote = %s, want %s", got, want)
	}
}
