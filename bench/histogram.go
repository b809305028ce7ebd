package bench

import (
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram range and precision: every latency the benchmarks record fits in 1 ns .. 60 s and
// is kept to 3 significant digits (0.1% relative error).
const (
	HistogramMin     = time.Nanosecond
	HistogramMax     = 60 * time.Second
	HistogramSigFigs = 3
)

// Histogram records latencies. Record does not allocate, so it can sit in a benchmark's hot
// loop. A Histogram is not safe for concurrent use: give each goroutine its own and Merge
// them once the run is over.
type Histogram struct {
	h       *hdrhistogram.Histogram
	clamped int64
}

// NewHistogram returns an empty histogram covering HistogramMin..HistogramMax. It holds about
// 220 KiB of counters, so make one per goroutine, not one per operation.
func NewHistogram() *Histogram {
	return &Histogram{h: hdrhistogram.New(int64(HistogramMin), int64(HistogramMax), HistogramSigFigs)}
}

// Record adds one latency. Values outside the range are clamped to it and counted in Clamped.
func (h *Histogram) Record(d time.Duration) {
	if d < HistogramMin {
		if d < 0 {
			h.clamped++
		}
		d = HistogramMin
	} else if d > HistogramMax {
		h.clamped++
		d = HistogramMax
	}
	// In range by construction, so RecordValue cannot fail (and so never builds an error).
	_ = h.h.RecordValue(int64(d))
}

// RecordSince records time.Since(start).
func (h *Histogram) RecordSince(start time.Time) { h.Record(time.Since(start)) }

// Merge adds every value recorded in o to h. o is unchanged.
func (h *Histogram) Merge(o *Histogram) {
	h.clamped += o.clamped + h.h.Merge(o.h)
}

// Reset forgets every recorded value.
func (h *Histogram) Reset() {
	h.h.Reset()
	h.clamped = 0
}

// Count is the number of recorded values.
func (h *Histogram) Count() int64 { return h.h.TotalCount() }

// Clamped is the number of values that were negative or above HistogramMax when recorded.
func (h *Histogram) Clamped() int64 { return h.clamped }

// Percentile returns the value at percentile p (0..100, so 99.9 for p99.9), or 0 when empty.
func (h *Histogram) Percentile(p float64) time.Duration {
	return time.Duration(h.h.ValueAtPercentile(p))
}

// Min returns the smallest recorded value (to the histogram's precision), or 0 when empty.
func (h *Histogram) Min() time.Duration {
	if h.Count() == 0 {
		return 0
	}
	return time.Duration(h.h.Min())
}

// Max returns the largest recorded value (to the histogram's precision), or 0 when empty.
func (h *Histogram) Max() time.Duration {
	if h.Count() == 0 {
		return 0
	}
	return time.Duration(h.h.Max())
}

// Mean returns the mean of the recorded values, or 0 when empty.
func (h *Histogram) Mean() time.Duration { return time.Duration(h.h.Mean() + 0.5) }

// Latency returns the summary that a Result carries.
func (h *Histogram) Latency() Latency {
	if h.Count() == 0 {
		return Latency{}
	}
	return Latency{
		Count: h.Count(),
		Min:   h.Min(),
		P50:   h.Percentile(50),
		P90:   h.Percentile(90),
		P99:   h.Percentile(99),
		P999:  h.Percentile(99.9),
		Max:   h.Max(),
		Mean:  h.Mean(),
	}
}

// Latency summarises a latency distribution. It is embedded in Result, so its fields appear
// flat in Result's JSON (as integer nanoseconds).
type Latency struct {
	Count int64         `json:"latency_count,omitempty"`
	Min   time.Duration `json:"min_ns"`
	P50   time.Duration `json:"p50_ns"`
	P90   time.Duration `json:"p90_ns"`
	P99   time.Duration `json:"p99_ns"`
	P999  time.Duration `json:"p999_ns"`
	Max   time.Duration `json:"max_ns"`
	Mean  time.Duration `json:"mean_ns"`
}
