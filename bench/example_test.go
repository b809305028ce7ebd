package bench_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/uringd/uringd/bench"
	"github.com/uringd/uringd/fileio"
)

// A benchmark in miniature: time real 4 KiB reads of a file through two fileio engines,
// one Histogram per run, one Result row per engine, and print them with WriteTable. The
// rates and latencies vary from run to run, so this table shows only the columns that do
// not; a real benchmark passes FileColumns() or its own set.
func Example() {
	dir, _ := os.MkdirTemp("", "bench-example")
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "data"), make([]byte, 64<<10), 0o644)
	root, err := fileio.OpenDir(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer root.Close()
	ctx := context.Background()

	var rows []bench.Result
	for _, engine := range []string{fileio.EngineUring, fileio.EngineStd} {
		eng, err := fileio.New(engine, fileio.Options{})
		if err != nil {
			log.Fatal(err)
		}
		f, err := eng.Open(ctx, root, "data", os.O_RDONLY, 0)
		if err != nil {
			log.Fatal(err)
		}
		h := bench.NewHistogram() // one per goroutine; Merge them when there are several
		buf := make([]byte, 4096)
		r := bench.Result{Name: "read-4k", Engine: engine}
		start := time.Now()
		for off := int64(0); off < 64<<10; off += 4096 {
			t := time.Now()
			n, err := f.ReadAt(buf, off)
			if err != nil {
				log.Fatal(err)
			}
			h.RecordSince(t)
			r.Ops++
			r.Bytes += int64(n)
		}
		r.Wall = time.Since(start)
		r.Latency = h.Latency() // p50, p99, … for the latency columns
		r.Derive()              // OpsPerSec and MBPerSec from Ops, Bytes and Wall
		rows = append(rows, r)
		f.Close()
		eng.Close()
	}

	cols := []bench.Column{
		bench.ColName,
		bench.ColEngine,
		bench.ColOps,
		bench.NumCol("bytes", "bytes", 0, func(r *bench.Result) float64 { return float64(r.Bytes) }),
		bench.NumCol("timed", "latency_count", 0, func(r *bench.Result) float64 { return float64(r.Count) }),
	}
	if err := bench.WriteTable(os.Stdout, cols, rows); err != nil {
		log.Fatal(err)
	}
	// Output:
	// name     engine  ops  bytes  timed
	// read-4k  uring    16  65536     16
	// read-4k  std      16  65536     16
}

// Histogram keeps three significant digits: a percentile comes back as the top of its
// bucket, within 0.1% of the value recorded. A Result carries them into the latency columns.
func ExampleHistogram() {
	h := bench.NewHistogram()
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * time.Microsecond) // 1 µs .. 1 ms, evenly
	}
	fmt.Println("count", h.Count(), "p50", h.Percentile(50), "p99", h.Percentile(99), "max", h.Max())

	r := bench.Result{Engine: "example", Ops: h.Count(), Latency: h.Latency()}
	cols := []bench.Column{bench.ColEngine, bench.ColOps, bench.ColP50us, bench.ColP99us, bench.ColMaxus}
	if err := bench.WriteTable(os.Stdout, cols, []bench.Result{r}); err != nil {
		log.Fatal(err)
	}
	// Output:
	// count 1000 p50 500.223µs p99 990.207µs max 1.000447ms
	// engine    ops  p50(µs)  p99(µs)  max(µs)
	// example  1000    500.2    990.2   1000.4
}

// How much of a second the machine took the CPUs away: a StallProbe runs beside whatever is
// measured (here, nothing) and says how late its real-time threads woke. It needs
// CAP_SYS_NICE; without it StartStallProbe says so. (No output shown: it depends on the
// machine and on what else runs.)
func ExampleStallProbe() {
	p, err := bench.StartStallProbe()
	if err != nil {
		log.Print(err) // e.g. SCHED_FIFO on CPU 0 (needs CAP_SYS_NICE): operation not permitted
		return
	}
	time.Sleep(time.Second) // the measured work runs here
	f := p.Stop()
	fmt.Printf("over %v: the CPUs gone for more than %v %.2f%% of the time, the latest wakeup %v late\n",
		f.Wall.Round(time.Millisecond), bench.StallOver, f.OverShare, f.Max.Round(time.Microsecond))
}
