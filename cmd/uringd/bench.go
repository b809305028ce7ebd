package main

import (
	"context"
	"os"
	"os/signal"
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
		Subcommands:     []*cli.Command{benchFileCommand(), benchLogCommand()},
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
