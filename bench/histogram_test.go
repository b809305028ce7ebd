package bench

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// within reports whether got is within the histogram's precision (0.1%) of want.
func within(got, want time.Duration) bool {
	d := got - want
	if d < 0 {
		d = -d
	}
	return d <= want/1000+1
}

func TestHistogramQuantiles(t *testing.T) {
	h := NewHistogram()
	// 1 µs .. 10000 µs, once each, shuffled: the p-th percentile is p*100 µs.
	vals := make([]time.Duration, 10000)
	for i := range vals {
		vals[i] = time.Duration(i+1) * time.Microsecond
	}
	rand.Shuffle(len(vals), func(i, j int) { vals[i], vals[j] = vals[j], vals[i] })
	for _, v := range vals {
		h.Record(v)
	}
	if h.Count() != 10000 {
		t.Fatalf("Count = %d", h.Count())
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{
		{50, 5000 * time.Microsecond},
		{90, 9000 * time.Microsecond},
		{99, 9900 * time.Microsecond},
		{99.9, 9990 * time.Microsecond},
		{100, 10000 * time.Microsecond},
	} {
		if got := h.Percentile(c.p); !within(got, c.want) {
			t.Errorf("p%v = %v, want %v", c.p, got, c.want)
		}
	}
	l := h.Latency()
	for name, c := range map[string][2]time.Duration{
		"min":  {l.Min, time.Microsecond},
		"p50":  {l.P50, 5000 * time.Microsecond},
		"p99":  {l.P99, 9900 * time.Microsecond},
		"p999": {l.P999, 9990 * time.Microsecond},
		"max":  {l.Max, 10000 * time.Microsecond},
		"mean": {l.Mean, 5000500 * time.Nanosecond},
	} {
		if !within(c[0], c[1]) {
			t.Errorf("%s = %v, want %v", name, c[0], c[1])
		}
	}
	if l.Count != 10000 {
		t.Errorf("Latency.Count = %d", l.Count)
	}
}

func TestHistogramSmallValuesExact(t *testing.T) {
	// Below 2048 ns, 3 significant digits keep every nanosecond.
	h := NewHistogram()
	for _, v := range []time.Duration{100, 200, 300, 400, 1000} {
		h.Record(v)
	}
	if got := h.Percentile(50); got != 300 {
		t.Errorf("p50 = %v, want 300ns", got)
	}
	if got := h.Max(); got != 1000 {
		t.Errorf("max = %v, want 1µs", got)
	}
	if got := h.Min(); got != 100 {
		t.Errorf("min = %v, want 100ns", got)
	}
	if got := h.Mean(); got != 400 {
		t.Errorf("mean = %v, want 400ns", got)
	}
}

func TestHistogramEmpty(t *testing.T) {
	h := NewHistogram()
	if l := h.Latency(); l != (Latency{}) {
		t.Errorf("empty Latency = %+v", l)
	}
	if h.Percentile(99) != 0 || h.Max() != 0 || h.Min() != 0 || h.Mean() != 0 {
		t.Error("empty histogram reports non-zero values")
	}
}

func TestHistogramClamp(t *testing.T) {
	h := NewHistogram()
	h.Record(-5)
	h.Record(0) // below resolution, not an error
	h.Record(2 * time.Minute)
	if h.Count() != 3 {
		t.Fatalf("Count = %d", h.Count())
	}
	if h.Clamped() != 2 {
		t.Errorf("Clamped = %d, want 2", h.Clamped())
	}
	if got := h.Max(); !within(got, HistogramMax) {
		t.Errorf("max = %v, want %v", got, HistogramMax)
	}
	if got := h.Min(); got != HistogramMin {
		t.Errorf("min = %v, want %v", got, HistogramMin)
	}
	h.Reset()
	if h.Count() != 0 || h.Clamped() != 0 {
		t.Error("Reset left values")
	}
}

func TestHistogramMerge(t *testing.T) {
	// Per-goroutine histograms merged at the end equal one histogram that saw everything.
	const workers, per = 4, 5000
	all := NewHistogram()
	parts := make([]*Histogram, workers)
	vals := make([][]time.Duration, workers)
	for w := range workers {
		r := rand.New(rand.NewPCG(uint64(w), 1))
		for range per {
			vals[w] = append(vals[w], time.Duration(r.ExpFloat64()*float64(50*time.Microsecond)))
		}
		for _, v := range vals[w] {
			all.Record(v)
		}
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			h := NewHistogram()
			for _, v := range vals[w] {
				h.Record(v)
			}
			parts[w] = h
		})
	}
	wg.Wait()
	parts[0].Record(-1) // clamped counts merge too
	merged := NewHistogram()
	for _, p := range parts {
		merged.Merge(p)
	}
	if merged.Count() != workers*per+1 {
		t.Fatalf("merged Count = %d", merged.Count())
	}
	if merged.Clamped() != 1 {
		t.Errorf("merged Clamped = %d", merged.Clamped())
	}
	all.Record(-1)
	if got, want := merged.Latency(), all.Latency(); got != want {
		t.Errorf("merged %+v\n   want %+v", got, want)
	}
	if parts[1].Count() != per {
		t.Errorf("Merge changed its argument: %d", parts[1].Count())
	}
}

func TestHistogramRecordAllocs(t *testing.T) {
	h := NewHistogram()
	d := time.Duration(1)
	allocs := testing.AllocsPerRun(1000, func() {
		h.Record(d)
		h.Record(-d)
		h.Record(HistogramMax + d)
		d = d*3 + 7
		if d > HistogramMax {
			d = 1
		}
	})
	if allocs != 0 {
		t.Errorf("Record allocates %v times per run", allocs)
	}
	start := time.Now()
	if a := testing.AllocsPerRun(100, func() { h.RecordSince(start) }); a != 0 {
		t.Errorf("RecordSince allocates %v times per run", a)
	}
}

func BenchmarkHistogramRecord(b *testing.B) {
	h := NewHistogram()
	d := time.Duration(1)
	for b.Loop() {
		h.Record(d)
		d = (d*7 + 13) % (10 * time.Millisecond)
	}
}
