package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	chart "github.com/wcharczuk/go-chart/v2"
)

// Report is what WriteReport writes: report.md, one SVG bar chart per Chart, and
// report.json (the same data, machine-readable, with every Result field).
type Report struct {
	Title   string       // default "uringd benchmark"
	Command string       // command line; default os.Args, shell-quoted
	Date    time.Time    // default now
	Machine *MachineInfo // default Machine()
	Columns []Column     // results table; default DefaultColumns()
	Results []Result
	Ratios  []Ratio  // optional, e.g. Ratios(results, "fio", ...)
	Charts  []Chart  // default DefaultCharts(); a chart with no positive value is skipped
	Notes   []string // Markdown paragraphs
}

// Chart is a bar chart of one numeric column, one bar per result (labelled Result.Label).
type Chart struct {
	Column Column
	Title  string // default Column.Header
	File   string // SVG file name inside the report directory; default Column.Key + ".svg"
}

func (c Chart) title() string {
	if c.Title != "" {
		return c.Title
	}
	return c.Column.Header
}

func (c Chart) file() string {
	if c.File != "" {
		return c.File
	}
	return c.Column.Key + ".svg"
}

// DefaultColumns is the report table used when Report.Columns is nil (without the name
// column when no result has a Name).
func DefaultColumns() []Column {
	return []Column{ColName, ColEngine, ColOps, ColOpsPerSec, ColMBPerSec, ColP50us, ColP99us,
		ColCPUUser, ColCPUSys, ColOSThreads, ColIdleThreads, ColIOWQ, ColDrops}
}

// DefaultCharts is throughput (ops/s) and p99 latency (µs) per engine, used when
// Report.Charts is nil. Benchmarks with their own units pass e.g.
// []Chart{{Column: iopsCol, Title: "IOPS"}, {Column: ColP99us, Title: "p99 latency (µs)"}}.
func DefaultCharts() []Chart {
	return []Chart{
		{Column: ColOpsPerSec, Title: "Throughput (ops/s)", File: "throughput.svg"},
		{Column: ColP99us, Title: "p99 latency (µs)", File: "p99.svg"},
	}
}

// WriteReport writes r into dir (created if needed): report.md, report.json and the charts.
func WriteReport(dir string, r Report) error {
	if r.Title == "" {
		r.Title = "uringd benchmark"
	}
	if r.Command == "" {
		r.Command = ShellQuote(os.Args)
	}
	if r.Date.IsZero() {
		r.Date = time.Now()
	}
	if r.Machine == nil {
		m := Machine()
		r.Machine = &m
	}
	if r.Columns == nil {
		r.Columns = DefaultColumns()
		if !slices.ContainsFunc(r.Results, func(x Result) bool { return x.Name != "" }) {
			r.Columns = r.Columns[1:] // no scenario names: drop the empty name column
		}
	}
	if r.Charts == nil {
		r.Charts = DefaultCharts()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}

	var drawn []Chart
	var skipped []string
	for _, c := range r.Charts {
		var buf bytes.Buffer
		ok, err := BarChartSVG(&buf, c.title(), c.Column, r.Results)
		if err != nil {
			return fmt.Errorf("bench: chart %s: %w", c.file(), err)
		}
		if !ok {
			skipped = append(skipped, c.title())
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, c.file()), buf.Bytes(), 0o644); err != nil {
			return err
		}
		drawn = append(drawn, c)
	}

	var md bytes.Buffer
	writeMarkdownReport(&md, &r, drawn, skipped)
	if err := os.WriteFile(filepath.Join(dir, "report.md"), md.Bytes(), 0o644); err != nil {
		return err
	}

	js, err := json.MarshalIndent(struct {
		Title   string      `json:"title"`
		Command string      `json:"command"`
		Date    time.Time   `json:"date"`
		Machine MachineInfo `json:"machine"`
		Results []Result    `json:"results"`
		Ratios  []jsonRatio `json:"ratios,omitempty"`
		Notes   []string    `json:"notes,omitempty"`
	}{r.Title, r.Command, r.Date, *r.Machine, finiteResults(r.Results), jsonRatios(r.Ratios), r.Notes}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "report.json"), append(js, '\n'), 0o644)
}

// finiteResults returns rs with non-finite numbers (which JSON cannot hold) set to 0, and
// non-finite Extra values left out.
func finiteResults(rs []Result) []Result {
	fin := func(v *float64) {
		if math.IsNaN(*v) || math.IsInf(*v, 0) {
			*v = 0
		}
	}
	out := slices.Clone(rs)
	for i := range out {
		r := &out[i]
		for _, v := range []*float64{&r.OpsPerSec, &r.MBPerSec, &r.CPUUser, &r.CPUSys, &r.OpsPerCPUSec} {
			fin(v)
		}
		if r.Extra != nil {
			r.Extra = maps.Clone(r.Extra)
			maps.DeleteFunc(r.Extra, func(_ string, v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) })
		}
	}
	return out
}

// jsonRatio is a Ratio whose undefined value encodes as null (JSON has no NaN).
type jsonRatio struct {
	Ratio
	Value *float64 `json:"ratio"`
}

func jsonRatios(rs []Ratio) []jsonRatio {
	out := make([]jsonRatio, len(rs))
	for i, r := range rs {
		out[i].Ratio = r
		if !math.IsNaN(r.Value) && !math.IsInf(r.Value, 0) {
			v := r.Value
			out[i].Value = &v
		}
	}
	return out
}

func writeMarkdownReport(b *bytes.Buffer, r *Report, charts []Chart, skipped []string) {
	m := r.Machine
	fmt.Fprintf(b, "# %s\n\n", r.Title)
	fmt.Fprintf(b, "%s on %s.\n\n", r.Date.Format("2006-01-02 15:04:05 MST"), m.String())

	b.WriteString("## Machine\n\n")
	fmt.Fprintf(b, "- Kernel: %s (%s)\n", m.Kernel, m.Arch)
	if m.OS != "" {
		fmt.Fprintf(b, "- OS: %s\n", m.OS)
	}
	fmt.Fprintf(b, "- CPU: %s, %d cores", orUnknown(m.CPUModel), m.Cores)
	if m.OnlineCPUs > m.Cores {
		fmt.Fprintf(b, " (of %d online)", m.OnlineCPUs)
	}
	b.WriteString("\n")
	if m.MemBytes > 0 {
		fmt.Fprintf(b, "- Memory: %s\n", FormatBytes(int64(m.MemBytes)))
	}
	if m.TCPCongestion != "" {
		fmt.Fprintf(b, "- TCP congestion control: %s\n", m.TCPCongestion)
	}
	fmt.Fprintf(b, "- Go: %s, GOMAXPROCS=%d\n\n", m.GoVersion, m.GOMAXPROCS)

	fence := "```"
	for strings.Contains(r.Command, fence) {
		fence += "`"
	}
	fmt.Fprintf(b, "## Command\n\n%ssh\n%s\n%s\n\n", fence, r.Command, fence)

	b.WriteString("## Results\n\n")
	WriteMarkdown(b, r.Columns, r.Results)
	b.WriteString("\n")

	if len(r.Ratios) > 0 {
		b.WriteString("## Ratios\n\n```\n")
		WriteRatios(b, r.Ratios)
		b.WriteString("```\n\n")
	}

	if len(charts) > 0 || len(skipped) > 0 {
		b.WriteString("## Charts\n\n")
		for _, c := range charts {
			fmt.Fprintf(b, "![%s](%s)\n\n", strings.NewReplacer("[", `\[`, "]", `\]`).Replace(c.title()), c.file())
		}
		for _, s := range skipped {
			fmt.Fprintf(b, "(%s: no data to chart.)\n\n", s)
		}
	}

	if len(r.Notes) > 0 {
		b.WriteString("## Notes\n\n")
		for _, n := range r.Notes {
			b.WriteString(strings.TrimSpace(n) + "\n\n")
		}
	}
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// BarChartSVG draws col's value for each result as a bar chart in SVG (with go-chart), each
// bar labelled with Result.Name, Engine and the value. Non-finite and negative values are
// drawn as 0. It draws nothing and returns false when there are no results or no positive
// value.
func BarChartSVG(w io.Writer, title string, col Column, rs []Result) (bool, error) {
	if len(rs) == 0 || col.IsText() {
		return false, nil
	}
	// go-chart writes text into the SVG unescaped.
	esc := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
	var top float64
	n := len(rs)
	width := max(520, 110+140*n)
	slot := (width - 110) / n
	lines := 2 // label lines under the bars, the most any bar has
	bars := make([]chart.Value, len(rs))
	for i := range rs {
		v := col.Num(&rs[i])
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			v = 0
		}
		top = max(top, v)
		label := rs[i].Engine + "\n" + SI(v)
		if rs[i].Name != "" {
			label = rs[i].Name + "\n" + label
		}
		lines = max(lines, labelLines(label, slot))
		bars[i] = chart.Value{Value: v, Label: esc.Replace(label)}
	}
	if top <= 0 {
		return false, nil
	}
	step := niceStep(top / 5)
	var ticks []chart.Tick
	for t := 0.0; ; t += step {
		ticks = append(ticks, chart.Tick{Value: t, Label: SI(t)})
		if t >= top*1.04 {
			break
		}
	}
	g := chart.BarChart{
		Title:      esc.Replace(title),
		Background: chart.Style{Padding: chart.Box{Top: 50, Left: 20, Right: 10, Bottom: 12 + 8*lines}}, // go-chart applies the bottom padding twice
		Width:      width,
		Height:     440,
		BarWidth:   slot * 11 / 20,
		BarSpacing: slot - slot*11/20,
		YAxis: chart.YAxis{
			Range: &chart.ContinuousRange{Min: 0, Max: ticks[len(ticks)-1].Value},
			Ticks: ticks,
		},
		Bars: bars,
	}
	return true, g.Render(chart.SVG, w)
}

// labelLines is how many lines go-chart draws label in under a bar of slot pixels: it wraps
// a line longer than the slot, at about labelCharWidth pixels a character in its font.
func labelLines(label string, slot int) int {
	n := 0
	for _, l := range strings.Split(label, "\n") {
		n += max(1, (len(l)*labelCharWidth+slot-1)/slot)
	}
	return n
}

// labelCharWidth is the widest a character of go-chart's default 10-point label font draws.
const labelCharWidth = 7

// niceStep rounds x up to 1, 2, 2.5 or 5 times a power of ten.
func niceStep(x float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*p >= x*(1-1e-9) {
			return m * p
		}
	}
	return 10 * p
}

// SI formats v with three significant digits and an SI suffix: 950, 12.3k, 1.23M, 4.56G.
func SI(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	a := math.Abs(v)
	for _, u := range []struct {
		div float64
		suf string
	}{{1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e3, "k"}} {
		if a >= u.div*0.9995 {
			return strconv.FormatFloat(v/u.div, 'g', 3, 64) + u.suf
		}
	}
	if a >= 100 || a == 0 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// ShellQuote joins args into a command line a POSIX shell would split back into args.
func ShellQuote(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-") == "" {
			q[i] = a
		} else {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(q, " ")
}
