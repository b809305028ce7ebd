package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/uringd/uringd/bench"
	"github.com/uringd/uringd/ring"
)

func benchCommand() *cli.Command {
	return &cli.Command{
		Name:            "bench",
		Usage:           "run uringd's benchmarks",
		HideHelpCommand: true,
		Subcommands:     []*cli.Command{benchFileCommand(), benchLogCommand(), benchHTTPCommand()},
	}
}

func benchFileCommand() *cli.Command {
	return &cli.Command{
		Name:  "file",
		Usage: "file IO engines (uring, threadpool, std) against each other and against fio",
		Description: "Prepares --file when it is missing or short, runs the job for each engine and prints IOPS, MB/s,\n" +
			"latency, CPU, IOPS per CPU-second, OS threads at peak and io_uring io-wq workers.\n\n" +
			"--threads: uring = submitting goroutines, each keeping qd/threads in flight (its own ring when that is\n" +
			"more than one, else blocking calls through the engine's shared ring); threadpool = worker OS threads\n" +
			"fed by one goroutine keeping qd in flight; std = submitting goroutines, qd/threads os.File calls each.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "engine", Value: "uring", Usage: "uring, threadpool, std or all"},
			&cli.StringFlag{Name: "rw", Value: "randread", Usage: "randread, read, randwrite or write"},
			&cli.StringFlag{Name: "bs", Value: "4k", Usage: "bytes per operation"},
			&cli.IntFlag{Name: "qd", Value: 32, Usage: "operations in flight in total"},
			&cli.IntFlag{Name: "threads", Value: 1, Usage: "submitting goroutines (uring, std) or worker threads (threadpool)"},
			&cli.StringFlag{Name: "size", Value: "1G", Usage: "bytes of the file to use (created or extended if needed)"},
			&cli.StringFlag{Name: "file", Value: "uringd-bench.bin", Usage: "the file `PATH`"},
			&cli.BoolFlag{Name: "direct", Usage: "O_DIRECT"},
			&cli.DurationFlag{Name: "duration", Value: 10 * time.Second, Usage: "measured time per run"},
			&cli.IntFlag{Name: "rounds", Value: 1, Usage: "repeat each run and report the median round"},
			&cli.BoolFlag{Name: "json", Usage: "one JSON object per engine"},
			&cli.BoolFlag{Name: "vs-fio", Usage: "run fio's equivalent job right after each engine and print the ratio"},
			&cli.StringFlag{Name: "report", Usage: "write report.md and SVG charts into `DIR`"},
			&cli.IntFlag{Name: "rings", Value: 1, Usage: "uring: rings of the engine's shared loops"},
			&cli.IntFlag{Name: "batch", Value: 1, Usage: "uring: operations per io_uring_enter, 0 = all ready (passed to fio as iodepth_batch_submit)"},
			&cli.BoolFlag{Name: "park", Usage: "uring: Queues park on an eventfd in the netpoller instead of waiting in io_uring_enter"},
			&cli.StringFlag{Name: "child-job", Hidden: true, Usage: "run one job given as JSON and print its result (used by bench file itself)"},
			&cli.StringFlag{Name: "kernel-compat", Usage: "cap io_uring features to kernel `VERSION` (e.g. 5.10)", EnvVars: []string{ring.CompatEnv}},
		},
		Action: func(c *cli.Context) error {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
			defer stop()
			if job := c.String("child-job"); job != "" {
				return bench.RunFileChild(ctx, job, c.App.Writer)
			}
			bs, err := bench.ParseSize(c.String("bs"))
			if err != nil {
				return err
			}
			size, err := bench.ParseSize(c.String("size"))
			if err != nil {
				return err
			}
			b := &bench.FileBench{
				Job: bench.FileJob{Engine: c.String("engine"), RW: c.String("rw"), BS: int(bs), QD: c.Int("qd"),
					Threads: c.Int("threads"), Size: size, Path: c.String("file"), Direct: c.Bool("direct"),
					Duration: c.Duration("duration"), Rings: c.Int("rings"), Batch: c.Int("batch"), Park: c.Bool("park"),
					KernelCompat: c.String("kernel-compat")},
				Rounds: c.Int("rounds"), VsFio: c.Bool("vs-fio"), JSON: c.Bool("json"), Report: c.String("report"),
				Command: bench.ShellQuote(os.Args), Stdout: c.App.Writer, Stderr: c.App.ErrWriter,
			}
			// Every engine runs in a fresh copy of this program, so each starts from the same
			// idle process (threads, GOMAXPROCS, heap).
			if exe, err := os.Executable(); err == nil {
				b.Child = []string{exe, "bench", "file", "--child-job"}
			}
			_, err = b.Run(ctx)
			return err
		},
	}
}

func benchHTTPCommand() *cli.Command {
	return &cli.Command{
		Name:  "http",
		Usage: "uringd's serving modes against nginx, h2o, lighttpd, Caddy and net/http on hot, cold and mixed files",
		Description: "Each server is started with a generated configuration, checked to answer every path with 200 and the\n" +
			"exact bytes, then loaded by wrk for throughput (and what it costs: CPU, syscalls, context switches,\n" +
			"threads, io-wq workers per request), and by a fixed-rate client for latency. Servers alternate round\n" +
			"by round; the median round is reported. cold: random files of a data set 8x the servers' page cache\n" +
			"(a memory cgroup caps it; caches are dropped before each phase; needs root). mixed: the cold load\n" +
			"plus a hot client on the smallest --path-size file, whose rate and latency are reported.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "servers", Usage: "comma-separated `LIST` (default: all installed): uringd, uringd-threadpool, uringd-std, nginx, nginx-aio, h2o, lighttpd, caddy, nethttp; a uringd mode with more serve flags is NAME:FLAGS, e.g. 'uringd:--iowq-max-workers 2'"},
			&cli.StringFlag{Name: "workload", Value: "hot", Usage: "hot, cold, mixed or all (comma-separated list allowed)"},
			&cli.StringFlag{Name: "path-size", Value: "4k,1m", Usage: "sizes of the hot files (the first is mixed's hot file)"},
			&cli.IntFlag{Name: "conns", Value: 64, Usage: "wrk connections (the cold load's in mixed)"},
			&cli.IntFlag{Name: "hot-conns", Value: 8, Usage: "connections of the hot client (mixed) and of the fixed-rate client"},
			&cli.DurationFlag{Name: "duration", Value: 10 * time.Second, Usage: "per measured phase"},
			&cli.IntFlag{Name: "rounds", Value: 3, Usage: "rounds; the servers alternate and the median round is reported"},
			&cli.StringFlag{Name: "data-size", Value: "4G", Usage: "bytes of the cold data set"},
			&cli.StringFlag{Name: "file-size", Value: "256k", Usage: "bytes per cold file"},
			&cli.StringFlag{Name: "cache-limit", Value: "512M", Usage: "memory (page cache) cap of the servers in cold and mixed"},
			&cli.StringFlag{Name: "data-dir", Usage: "where the served files are made and kept (default: $TMPDIR/uringd-bench-http)"},
			&cli.Float64Flag{Name: "hot-rate", Value: 1000, Usage: "requests/s the fixed-rate latency client offers (0: no latency phase)"},
			&cli.StringFlag{Name: "uringd-args", Usage: "more `uringd serve` flags for every uringd mode, e.g. '--large-files read'"},
			&cli.BoolFlag{Name: "no-fio", Usage: "leave out fio's figure for the cold reads"},
			&cli.BoolFlag{Name: "no-stall-probe", Usage: "leave out the stall probe: a real-time thread per CPU, through each fixed-rate phase, that tells how long the machine took the CPUs away (needs root)"},
			&cli.StringFlag{Name: "beside", Usage: "run `LOADS` no server serves beside every row, to tell what the machine adds to the latency: fio (reading the cold files at random, O_DIRECT, --conns deep), cpu (a busy loop per CPU), or fio,cpu"},
			&cli.BoolFlag{Name: "json", Usage: "one JSON object per row"},
			&cli.StringFlag{Name: "report", Usage: "write report.md, report.json and SVG charts into `DIR`"},
			&cli.BoolFlag{Name: "serve-nethttp", Hidden: true, Usage: "serve ROOT on ADDR with net/http's FileServer (the net/http reference)"},
		},
		Action: func(c *cli.Context) error {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if c.Bool("serve-nethttp") {
				if c.NArg() != 2 {
					return fmt.Errorf("bench http --serve-nethttp ROOT ADDR")
				}
				return bench.ServeNetHTTP(ctx, c.Args().Get(0), c.Args().Get(1))
			}
			sizes := func(flag string) ([]int64, error) {
				var out []int64
				for _, f := range strings.Split(c.String(flag), ",") {
					n, err := bench.ParseSize(strings.TrimSpace(f))
					if err != nil || n <= 0 {
						return nil, fmt.Errorf("--%s %q: want sizes such as 4k,1m", flag, c.String(flag))
					}
					out = append(out, n)
				}
				return out, nil
			}
			paths, err := sizes("path-size")
			if err != nil {
				return err
			}
			var one [3]int64
			for i, f := range []string{"data-size", "file-size", "cache-limit"} {
				v, err := sizes(f)
				if err != nil || len(v) != 1 {
					return fmt.Errorf("--%s %q: want one size such as 4G", f, c.String(f))
				}
				one[i] = v[0]
			}
			workloads := strings.Split(c.String("workload"), ",")
			if c.String("workload") == "all" {
				workloads = []string{bench.WorkloadHot, bench.WorkloadCold, bench.WorkloadMixed}
			}
			var servers []string
			if s := c.String("servers"); s != "" {
				servers = strings.Split(s, ",")
			}
			for _, f := range []string{"conns", "hot-conns", "rounds"} {
				if c.Int(f) <= 0 {
					return fmt.Errorf("--%s %d: want a positive number", f, c.Int(f))
				}
			}
			if c.Duration("duration") <= 0 || c.Float64("hot-rate") < 0 {
				return fmt.Errorf("--duration wants a positive time and --hot-rate a rate of 0 or more")
			}
			b := &bench.HTTPBench{Servers: servers, Workloads: workloads, PathSizes: paths, Conns: c.Int("conns"),
				HotConns: c.Int("hot-conns"), Duration: c.Duration("duration"), Rounds: c.Int("rounds"),
				DataSize: one[0], FileSize: one[1], CacheLimit: one[2], DataDir: c.String("data-dir"),
				HotRate: c.Float64("hot-rate"), UringdArgs: strings.Fields(c.String("uringd-args")), NoFio: c.Bool("no-fio"), NoStall: c.Bool("no-stall-probe"),
				Beside: besideLoads(c.String("beside")), JSON: c.Bool("json"), Report: c.String("report"), Command: bench.ShellQuote(os.Args),
				Stdout: c.App.Writer, Stderr: c.App.ErrWriter}
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("bench http: finding this binary to run its server: %w", err)
			}
			b.Self = []string{exe}
			b.NetHTTP = []string{exe, "bench", "http", "--serve-nethttp"}
			_, err = b.Run(ctx)
			return err
		},
	}
}

// besideLoads splits --beside's comma-separated list.
func besideLoads(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
