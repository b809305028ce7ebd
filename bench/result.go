package bench

import (
	"encoding/json"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"
)

// Result is one row of a benchmark's output: one engine (uring, fio, nginx, zap, ...) in one
// scenario. Fill what the benchmark knows, then call Derive for the rates. Its JSON form
// (snake_case, durations in integer ns) round-trips and holds every field; the per-benchmark
// output formats choose their own columns and keys with Column.
type Result struct {
	Name   string `json:"name,omitempty"` // scenario, e.g. "randread-4k-qd32"
	Engine string `json:"engine"`         // e.g. "uring", "fio", "nginx", "zap"

	Ops   int64         `json:"ops"`             // operations, requests or records completed
	Bytes int64         `json:"bytes,omitempty"` // payload bytes moved
	Wall  time.Duration `json:"wall_ns"`         // measured phase

	OpsPerSec float64 `json:"ops_per_s"`
	MBPerSec  float64 `json:"mb_per_s"` // 10^6 bytes per second

	Latency // p50_ns, p99_ns, ...; assign Histogram.Latency()

	CPUUser      float64 `json:"cpu_user_s"`    // CPU seconds between start and stop
	CPUSys       float64 `json:"cpu_sys_s"`     //
	OpsPerCPUSec float64 `json:"ops_per_cpu_s"` // Ops / (CPUUser + CPUSys)

	OSThreads     int `json:"os_threads"`               // threads at peak, io_uring ones included
	IdleThreads   int `json:"idle_threads"`             // threads when idle (sampler baseline)
	IOWQWorkers   int `json:"iowq_workers"`             // io-wq workers at peak
	SQPollThreads int `json:"sqpoll_threads,omitempty"` // SQPOLL threads at peak

	Drops  int64 `json:"drops"`            // records or requests dropped (a log queue full, ...)
	Errors int64 `json:"errors,omitempty"` // failed operations
	Rounds int   `json:"rounds,omitempty"` // rounds this row was chosen from (MedianRounds)

	Extra map[string]float64 `json:"extra,omitempty"` // benchmark-specific numbers; see ExtraCol
}

// Label names the row in charts and ratios: "name engine", or the engine alone.
func (r *Result) Label() string {
	if r.Name == "" {
		return r.Engine
	}
	return r.Name + " " + r.Engine
}

// SetProc copies a ProcSampler's measurements: CPU seconds, peak and idle threads, io-wq and
// SQPOLL threads at peak, and the wall time if Wall is still zero.
func (r *Result) SetProc(st ProcStats) {
	r.CPUUser = st.CPUUser.Seconds()
	r.CPUSys = st.CPUSys.Seconds()
	r.OSThreads = st.Peak.Threads
	r.IdleThreads = st.Idle.Threads
	r.IOWQWorkers = st.Peak.IOWQ
	r.SQPollThreads = st.Peak.SQPoll
	if r.Wall == 0 {
		r.Wall = st.Wall
	}
}

// SetExtra sets a benchmark-specific number, shown by ExtraCol(…, key, …).
func (r *Result) SetExtra(key string, v float64) {
	if r.Extra == nil {
		r.Extra = make(map[string]float64)
	}
	r.Extra[key] = v
}

// Derive fills the rates that are still zero and can be computed: OpsPerSec and MBPerSec from
// Ops, Bytes and Wall; OpsPerCPUSec from Ops (or OpsPerSec and Wall) and the CPU seconds. A
// rate reported by an external tool (fio's iops) is left as it is.
func (r *Result) Derive() {
	secs := r.Wall.Seconds()
	if r.OpsPerSec == 0 && r.Ops > 0 && secs > 0 {
		r.OpsPerSec = float64(r.Ops) / secs
	}
	if r.MBPerSec == 0 && r.Bytes > 0 && secs > 0 {
		r.MBPerSec = float64(r.Bytes) / 1e6 / secs
	}
	if cpu := r.CPUUser + r.CPUSys; r.OpsPerCPUSec == 0 && cpu > 0 {
		ops := float64(r.Ops)
		if ops == 0 {
			ops = r.OpsPerSec * secs
		}
		r.OpsPerCPUSec = ops / cpu
	}
}

// Column is one column of a table and one key of a JSON line: a header, a JSON key and an
// accessor. Exactly one of Text and Num is set. Benchmarks pick a []Column (FileColumns,
// HTTPColumns, LogColumns, or their own from the Col* values, renamed with As) and pass it
// to WriteTable, WriteMarkdown, WriteJSONLines, Ratios and the report.
type Column struct {
	Header string                // table header; one word reads best (awk-friendly)
	Key    string                // JSON key, snake_case
	Prec   int                   // decimals in tables and Markdown (JSON keeps at least 3)
	Text   func(*Result) string  // text columns
	Num    func(*Result) float64 // numeric columns
}

// NumCol makes a numeric column.
func NumCol(header, key string, prec int, f func(*Result) float64) Column {
	return Column{Header: header, Key: key, Prec: prec, Num: f}
}

// TextCol makes a text column.
func TextCol(header, key string, f func(*Result) string) Column {
	return Column{Header: header, Key: key, Text: f}
}

// ExtraCol shows Result.Extra[key] (NaN, shown "-", when absent).
func ExtraCol(header, key string, prec int) Column {
	return NumCol(header, key, prec, func(r *Result) float64 {
		if v, ok := r.Extra[key]; ok {
			return v
		}
		return math.NaN()
	})
}

// As returns the column with another header and JSON key, e.g.
// ColOpsPerSec.As("IOPS", "iops").
func (c Column) As(header, key string) Column {
	c.Header, c.Key = header, key
	return c
}

// WithPrec returns the column with prec decimals in tables.
func (c Column) WithPrec(prec int) Column {
	c.Prec = prec
	return c
}

// IsText reports whether the column holds text rather than numbers.
func (c Column) IsText() bool { return c.Num == nil }

// Value returns the column's number for r (NaN for text columns).
func (c Column) Value(r *Result) float64 {
	if c.Num == nil {
		return math.NaN()
	}
	return c.Num(r)
}

// Format returns the table cell for r: text as is, numbers with Prec decimals, "-" for NaN.
func (c Column) Format(r *Result) string {
	if c.Num == nil {
		if c.Text == nil {
			return ""
		}
		return c.Text(r)
	}
	v := c.Num(r)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', max(c.Prec, 0), 64)
}

func us(d time.Duration) float64 { return float64(d) / 1e3 }
func ns(d time.Duration) float64 { return float64(d) }

// Predefined columns. Latency comes in µs (…us, one decimal) and ns (…ns, integers).
var (
	ColName   = TextCol("name", "name", func(r *Result) string { return r.Name })
	ColEngine = TextCol("engine", "engine", func(r *Result) string { return r.Engine })

	ColOps       = NumCol("ops", "ops", 0, func(r *Result) float64 { return float64(r.Ops) })
	ColWall      = NumCol("wall(s)", "wall_s", 2, func(r *Result) float64 { return r.Wall.Seconds() })
	ColOpsPerSec = NumCol("ops/s", "ops_per_s", 0, func(r *Result) float64 { return r.OpsPerSec })
	ColMBPerSec  = NumCol("MB/s", "mbps", 1, func(r *Result) float64 { return r.MBPerSec })

	ColP50us  = NumCol("p50(µs)", "p50_us", 1, func(r *Result) float64 { return us(r.P50) })
	ColP90us  = NumCol("p90(µs)", "p90_us", 1, func(r *Result) float64 { return us(r.P90) })
	ColP99us  = NumCol("p99(µs)", "p99_us", 1, func(r *Result) float64 { return us(r.P99) })
	ColP999us = NumCol("p99.9(µs)", "p999_us", 1, func(r *Result) float64 { return us(r.P999) })
	ColMaxus  = NumCol("max(µs)", "max_us", 1, func(r *Result) float64 { return us(r.Max) })
	ColMeanus = NumCol("mean(µs)", "mean_us", 1, func(r *Result) float64 { return us(r.Mean) })

	ColP50ns  = NumCol("p50(ns)", "p50_ns", 0, func(r *Result) float64 { return ns(r.P50) })
	ColP90ns  = NumCol("p90(ns)", "p90_ns", 0, func(r *Result) float64 { return ns(r.P90) })
	ColP99ns  = NumCol("p99(ns)", "p99_ns", 0, func(r *Result) float64 { return ns(r.P99) })
	ColP999ns = NumCol("p99.9(ns)", "p999_ns", 0, func(r *Result) float64 { return ns(r.P999) })
	ColMaxns  = NumCol("max(ns)", "max_ns", 0, func(r *Result) float64 { return ns(r.Max) })
	ColMeanns = NumCol("mean(ns)", "mean_ns", 0, func(r *Result) float64 { return ns(r.Mean) })

	ColCPUUser      = NumCol("usr(s)", "cpu_user_s", 2, func(r *Result) float64 { return r.CPUUser })
	ColCPUSys       = NumCol("sys(s)", "cpu_sys_s", 2, func(r *Result) float64 { return r.CPUSys })
	ColOpsPerCPUSec = NumCol("ops/cpu-s", "ops_per_cpu_s", 0, func(r *Result) float64 { return r.OpsPerCPUSec })

	ColOSThreads   = NumCol("threads", "os_threads", 0, func(r *Result) float64 { return float64(r.OSThreads) })
	ColIdleThreads = NumCol("idle", "idle_threads", 0, func(r *Result) float64 { return float64(r.IdleThreads) })
	ColIOWQ        = NumCol("io-wq", "iowq_workers", 0, func(r *Result) float64 { return float64(r.IOWQWorkers) })
	ColSQPoll      = NumCol("sqpoll", "sqpoll_threads", 0, func(r *Result) float64 { return float64(r.SQPollThreads) })

	ColDrops  = NumCol("drops", "drops", 0, func(r *Result) float64 { return float64(r.Drops) })
	ColErrors = NumCol("errors", "errors", 0, func(r *Result) float64 { return float64(r.Errors) })
)

// FileColumns is the file IO benchmark's set: engine, iops, mbps, p50_us, p99_us,
// cpu_user_s, cpu_sys_s, os_threads, iowq_workers.
func FileColumns() []Column {
	return []Column{ColEngine, ColOpsPerSec.As("IOPS", "iops"), ColMBPerSec, ColP50us, ColP99us,
		ColCPUUser, ColCPUSys, ColOSThreads, ColIOWQ}
}

// HTTPColumns is the HTTP load benchmark's set: engine, req_per_s, mbps, p50_us, p99_us,
// p999_us, cpu_user_s, cpu_sys_s, req_per_cpu_s, os_threads, iowq_workers, errors.
func HTTPColumns() []Column {
	return []Column{ColEngine, ColOpsPerSec.As("req/s", "req_per_s"), ColMBPerSec, ColP50us, ColP99us,
		ColP999us, ColCPUUser, ColCPUSys, ColOpsPerCPUSec.As("req/cpu-s", "req_per_cpu_s"),
		ColOSThreads, ColIOWQ, ColErrors}
}

// LogColumns is the logging benchmark's set: engine, records_per_s, p50_ns, p99_ns, p999_ns,
// max_ns, drops, os_threads, iowq_workers.
func LogColumns() []Column {
	return []Column{ColEngine, ColOpsPerSec.As("rec/s", "records_per_s"), ColP50ns, ColP99ns,
		ColP999ns, ColMaxns, ColDrops, ColOSThreads, ColIOWQ}
}

// cells formats rows; numeric cells are left-padded to their column's width so that they
// end up right-aligned.
func cells(cols []Column, rs []Result) (header []string, rows [][]string) {
	header = make([]string, len(cols))
	rows = make([][]string, len(rs))
	for i := range rs {
		rows[i] = make([]string, len(cols))
	}
	for j, c := range cols {
		header[j] = c.Header
		w := utf8.RuneCountInString(c.Header)
		for i := range rs {
			rows[i][j] = c.Format(&rs[i])
			w = max(w, utf8.RuneCountInString(rows[i][j]))
		}
		if c.IsText() {
			continue
		}
		header[j] = padLeft(header[j], w)
		for i := range rs {
			rows[i][j] = padLeft(rows[i][j], w)
		}
	}
	return header, rows
}

func padLeft(s string, w int) string {
	if n := utf8.RuneCountInString(s); n < w {
		return strings.Repeat(" ", w-n) + s
	}
	return s
}

// WriteTable writes rs as an aligned text table (text/tabwriter): text columns left-aligned,
// numbers right-aligned, two spaces between columns.
func WriteTable(w io.Writer, cols []Column, rs []Result) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	header, rows := cells(cols, rs)
	for _, row := range append([][]string{header}, rows...) {
		for j, cell := range row {
			if j > 0 {
				io.WriteString(tw, "\t")
			}
			io.WriteString(tw, strings.NewReplacer("\t", " ", "\n", " ").Replace(cell))
		}
		io.WriteString(tw, "\n")
	}
	return tw.Flush()
}

// WriteMarkdown writes rs as a Markdown table, numeric columns right-aligned.
func WriteMarkdown(w io.Writer, cols []Column, rs []Result) error {
	var b strings.Builder
	esc := strings.NewReplacer("|", `\|`, "\n", " ")
	b.WriteString("|")
	for _, c := range cols {
		b.WriteString(" " + esc.Replace(c.Header) + " |")
	}
	b.WriteString("\n|")
	for _, c := range cols {
		if c.IsText() {
			b.WriteString(" --- |")
		} else {
			b.WriteString(" ---: |")
		}
	}
	b.WriteString("\n")
	for i := range rs {
		b.WriteString("|")
		for _, c := range cols {
			b.WriteString(" " + esc.Replace(c.Format(&rs[i])) + " |")
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// AppendJSON appends r as one JSON object with cols' keys in cols' order (no newline).
// Numbers keep max(Prec, 3) decimals; NaN and infinities become null.
func AppendJSON(dst []byte, cols []Column, r *Result) []byte {
	dst = append(dst, '{')
	for j, c := range cols {
		if j > 0 {
			dst = append(dst, ',')
		}
		k, _ := json.Marshal(c.Key)
		dst = append(dst, k...)
		dst = append(dst, ':')
		if c.IsText() {
			var s string
			if c.Text != nil {
				s = c.Text(r)
			}
			v, _ := json.Marshal(s)
			dst = append(dst, v...)
			continue
		}
		v := c.Num(r)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			dst = append(dst, "null"...)
			continue
		}
		p := math.Pow10(max(c.Prec, 3))
		if rv := math.Round(v*p) / p; !math.IsInf(v*p, 0) {
			v = rv
		}
		if v == 0 {
			v = 0 // no "-0"
		}
		dst = strconv.AppendFloat(dst, v, 'f', -1, 64)
	}
	return append(dst, '}')
}

// WriteJSONLines writes one JSON object per result, one per line (see AppendJSON).
func WriteJSONLines(w io.Writer, cols []Column, rs []Result) error {
	var b []byte
	for i := range rs {
		b = AppendJSON(b, cols, &rs[i])
		b = append(b, '\n')
	}
	_, err := w.Write(b)
	return err
}
