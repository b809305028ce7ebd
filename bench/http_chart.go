package bench

import (
	"fmt"
	"io"
	"math"
	"strings"

	chart "github.com/wcharczuk/go-chart/v2"
	"github.com/wcharczuk/go-chart/v2/drawing"
)

type cdfSeries struct {
	name string
	pts  []cdfPoint
}

// LatencyCDFSVG draws latency percentile curves, one per series, the way HdrHistogram plots
// them: the x axis stretches the tail (50%, 90%, 99%, 99.9%, ... evenly spaced) and the y axis
// is logarithmic, so a p99.9 stall and a p50 of tens of microseconds both show.
func LatencyCDFSVG(w io.Writer, title string, series []cdfSeries) error {
	esc := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
	x := func(pct float64) float64 { return math.Min(-math.Log10(1-pct/100), 5) }
	y := func(d float64) float64 { return math.Log10(math.Max(d/1e3, 1)) } // µs
	lo, hi := math.Inf(1), math.Inf(-1)
	colors := []drawing.Color{chart.ColorBlue, chart.ColorRed, chart.ColorGreen, chart.ColorOrange,
		{R: 0x8e, G: 0x44, B: 0xad, A: 255}, chart.ColorBlack, {R: 0x16, G: 0xa0, B: 0x85, A: 255},
		{R: 0x7f, G: 0x8c, B: 0x8d, A: 255}, {R: 0x80, G: 0x80, B: 0x00, A: 255}}
	var ss []chart.Series
	for i, s := range series {
		cs := chart.ContinuousSeries{Name: esc.Replace(s.name),
			Style: chart.Style{StrokeColor: colors[i%len(colors)], StrokeWidth: 2}}
		for _, p := range s.pts {
			if p.lat <= 0 {
				continue
			}
			cs.XValues = append(cs.XValues, x(p.pct))
			v := y(float64(p.lat))
			cs.YValues = append(cs.YValues, v)
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		if len(cs.XValues) > 1 {
			ss = append(ss, cs)
		}
	}
	if len(ss) == 0 {
		return fmt.Errorf("bench: latency chart %q: no data", title)
	}
	lo, hi = math.Floor(lo), math.Max(math.Ceil(hi), math.Floor(lo)+1)
	var yt []chart.Tick
	for v := lo; v <= hi+1e-9; v++ {
		yt = append(yt, chart.Tick{Value: v, Label: latencyLabel(math.Pow(10, v))})
	}
	xt := []chart.Tick{{Value: 0, Label: "0%"}, {Value: 1, Label: "90%"}, {Value: 2, Label: "99%"},
		{Value: 3, Label: "99.9%"}, {Value: 4, Label: "99.99%"}, {Value: 5, Label: "max"}}
	g := chart.Chart{
		Title:      esc.Replace(title),
		Width:      760,
		Height:     440,
		Background: chart.Style{Padding: chart.Box{Top: 50, Left: 140, Right: 20, Bottom: 20}},
		XAxis:      chart.XAxis{Name: "percentile", Range: &chart.ContinuousRange{Min: 0, Max: 5}, Ticks: xt},
		// The title says the axis is latency: a rotated axis name would leave the renderer's
		// rotation set for the title, once the secondary axis below no longer resets it.
		YAxis: chart.YAxis{Range: &chart.ContinuousRange{Min: lo, Max: hi}, Ticks: yt},
		// No series uses the secondary axis: drawn, its empty range puts "0.00" ticks at
		// overflowed coordinates, which some renderers show in the corner.
		YAxisSecondary: chart.YAxis{Style: chart.Hidden()},
		Series:         ss,
	}
	g.Elements = []chart.Renderable{chart.LegendLeft(&g)}
	return g.Render(chart.SVG, w)
}

// latencyLabel prints a latency given in µs: "10 µs", "1 ms", "10 s".
func latencyLabel(us float64) string {
	switch {
	case us >= 1e6:
		return fmt.Sprintf("%g s", us/1e6)
	case us >= 1e3:
		return fmt.Sprintf("%g ms", us/1e3)
	}
	return fmt.Sprintf("%g µs", us)
}
