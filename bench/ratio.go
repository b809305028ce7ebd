package bench

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Ratio compares one metric of two engines in one scenario: Value = Num's / Den's.
type Ratio struct {
	Name   string  `json:"name,omitempty"` // scenario (Result.Name)
	Metric string  `json:"metric"`         // Column.Key, e.g. "iops"
	Num    string  `json:"num"`            // engine on top, e.g. "uring"
	Den    string  `json:"den"`            // base engine, e.g. "fio"
	Value  float64 `json:"ratio"`          // NaN when the base is 0 or missing
}

// String is "uring/fio=0.97" ("uring/fio=n/a" when undefined).
func (r Ratio) String() string { return r.Num + "/" + r.Den + "=" + formatRatio(r.Value) }

func formatRatio(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "n/a"
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// Ratios compares, within each scenario (Result.Name), every engine with the base engine on
// each numeric column: for throughput above 1 means better than base, for latency or CPU
// below 1 does. Scenarios without a base row are skipped. Order follows rs, then cols.
func Ratios(rs []Result, base string, cols ...Column) []Ratio {
	var out []Ratio
	for _, name := range names(rs) {
		var b *Result
		for i := range rs {
			if rs[i].Name == name && rs[i].Engine == base {
				b = &rs[i]
				break
			}
		}
		if b == nil {
			continue
		}
		for i := range rs {
			r := &rs[i]
			if r.Name != name || r.Engine == base {
				continue
			}
			for _, c := range cols {
				if c.IsText() {
					continue
				}
				v := math.NaN()
				if d := c.Num(b); d != 0 {
					v = c.Num(r) / d
				}
				out = append(out, Ratio{Name: name, Metric: c.Key, Num: r.Engine, Den: base, Value: v})
			}
		}
	}
	return out
}

// names returns the distinct Result.Name values in order of first appearance.
func names(rs []Result) []string {
	var ns []string
	for i := range rs {
		if !slices.Contains(ns, rs[i].Name) {
			ns = append(ns, rs[i].Name)
		}
	}
	return ns
}

type ratioLine struct {
	name, pair string
	metrics    []string
}

func ratioLines(rs []Ratio) []ratioLine {
	var lines []ratioLine
	for _, r := range rs {
		pair := r.Num + "/" + r.Den
		i := slices.IndexFunc(lines, func(l ratioLine) bool { return l.name == r.Name && l.pair == pair })
		if i < 0 {
			lines = append(lines, ratioLine{name: r.Name, pair: pair})
			i = len(lines) - 1
		}
		lines[i].metrics = append(lines[i].metrics, r.Metric+"="+formatRatio(r.Value))
	}
	return lines
}

// WriteRatios prints ratios side by side, one line per scenario and engine pair:
//
//	randread-4k  uring/fio  iops=0.97  mbps=0.97  p99_us=1.10
func WriteRatios(w io.Writer, rs []Ratio) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	for _, l := range ratioLines(rs) {
		name := l.name
		if name == "" {
			name = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", name, l.pair, strings.Join(l.metrics, "\t"))
	}
	return tw.Flush()
}

// Median returns the median of xs (the mean of the middle two for an even count), NaN when
// xs is empty. xs is not modified.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// MedianRound returns the round whose by value is the median (the lower middle for an even
// count), with Rounds set to len(rounds). Picking a real round, rather than per-field
// medians, keeps its throughput, latency and CPU consistent with each other.
func MedianRound(rounds []Result, by Column) Result {
	if len(rounds) == 0 {
		return Result{}
	}
	idx := make([]int, len(rounds))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		va, vb := by.Value(&rounds[a]), by.Value(&rounds[b])
		switch {
		case va < vb || (math.IsNaN(va) && !math.IsNaN(vb)):
			return -1
		case va > vb || (math.IsNaN(vb) && !math.IsNaN(va)):
			return 1
		}
		return 0
	})
	r := rounds[idx[(len(idx)-1)/2]]
	r.Rounds = len(rounds)
	return r
}

// MedianRounds groups rounds by (Name, Engine), in order of first appearance, and returns the
// MedianRound of each group: run engines interleaved, round after round, then reduce.
func MedianRounds(rs []Result, by Column) []Result {
	type key struct{ name, engine string }
	var order []key
	groups := map[key][]Result{}
	for _, r := range rs {
		k := key{r.Name, r.Engine}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], r)
	}
	out := make([]Result, 0, len(order))
	for _, k := range order {
		out = append(out, MedianRound(groups[k], by))
	}
	return out
}
