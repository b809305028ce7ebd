// Package bench owns uringd's measurements: the file, HTTP and log benchmarks, the load
// generator, and the reports (tables, JSON and charts) they print and write.
//
// The pieces every benchmark shares live here too:
//
//   - Histogram records latencies (1 ns .. 60 s, 3 significant digits) without allocating;
//     one per goroutine, merged at the end, summarised as a Latency (p50, p99, p99.9, max,
//     mean).
//   - ProcSampler samples a process (this one, or others by pid, such as an nginx master and
//     its workers) from its own goroutine: OS threads at peak against idle, io_uring io-wq
//     workers ("iou-wrk-*") and SQPOLL threads ("iou-sqp-*") at peak, and the CPU user and
//     system time spent between Start and Stop. Threads, IOWQWorkers and Tasks count once.
//   - StallProbe tells how long the machine takes each CPU away from every thread (the
//     host running something else, on a virtual machine): a real-time thread per CPU that
//     records how late it wakes. bench http runs one through each fixed-rate phase.
//   - Result is one output row (engine, rates, latency, CPU, threads, drops, extras). A
//     benchmark chooses its columns and JSON keys as a []Column (FileColumns, HTTPColumns,
//     LogColumns, or its own from the Col* values) and prints them with WriteTable,
//     WriteMarkdown or WriteJSONLines.
//   - Ratios compares engines side by side ("uring/fio=0.97"); Median and MedianRounds reduce
//     repeated rounds.
//   - WriteReport writes report.md (machine, command, results, ratios, notes), report.json
//     and SVG bar charts drawn with go-chart; Machine describes the machine.
//   - Progress shows a "preparing file" progress line on a terminal, and a summary otherwise.
//
// Everything is Linux-only, as uringd is: it reads /proc and uses io_uring.
package bench
