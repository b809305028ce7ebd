package main

import (
	"context"
	"os"
	"os/signal"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/uringd/uringd/bench"
)

// benchLogCommand is `uringd bench log`: uringd's logger engines against zap, zerolog and
// slog (bench.LogBench does the work).
func benchLogCommand() *cli.Command {
	return &cli.Command{
		Name:  "log",
		Usage: "the logger's engines (uring, thread, sync) side by side with zap, zerolog and slog",
		Description: "Each logger writes --records records (split over --producers goroutines) of --fields fields into a\n" +
			"fresh file in --dir; every call is timed. Prints records/s into the file, the callers' latency\n" +
			"(p50, p99, p99.9, max; net = minus the cost of timing an empty call), drops, OS threads and io-wq\n" +
			"workers at peak. --fsync batch: fdatasync after every buffer written (see bench.LogJob for what\n" +
			"that means for each logger); --fsync both runs every logger without and with.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "engine", Value: "all", Usage: "uring, thread, sync, zap, zerolog, slog or all"},
			&cli.IntFlag{Name: "producers", Value: 1, Usage: "goroutines logging at once"},
			&cli.Int64Flag{Name: "records", Value: 2_000_000, Usage: "records in total, per logger"},
			&cli.IntFlag{Name: "fields", Value: 4, Usage: "fields per record"},
			&cli.StringFlag{Name: "fsync", Value: "none", Usage: "none, batch (fdatasync after every buffer written) or both"},
			&cli.StringFlag{Name: "dir", Usage: "directory for the log files (default: the temporary directory)"},
			&cli.DurationFlag{Name: "max-time", Value: 20 * time.Second, Usage: "stop a logger early after this long (its row counts what it logged)"},
			&cli.IntFlag{Name: "rounds", Value: 1, Usage: "repeat every logger and report the median round"},
			&cli.BoolFlag{Name: "json", Usage: "one JSON object per row"},
			&cli.StringFlag{Name: "report", Usage: "write report.md and SVG charts into `DIR`"},
			&cli.BoolFlag{Name: "in-process", Usage: "run every logger in this process instead of a fresh one each"},
			&cli.StringFlag{Name: "child-job", Hidden: true, Usage: "run one job given as JSON and print its result (used by bench log itself)"},
		},
		Action: func(c *cli.Context) error {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
			defer stop()
			if job := c.String("child-job"); job != "" {
				return bench.RunLogChild(ctx, job, c.App.Writer)
			}
			b := &bench.LogBench{
				Job: bench.LogJob{Engine: c.String("engine"), Producers: c.Int("producers"), Records: c.Int64("records"),
					Fields: c.Int("fields"), Dir: c.String("dir"), MaxTime: c.Duration("max-time")},
				Fsync: c.String("fsync"), Rounds: c.Int("rounds"), JSON: c.Bool("json"), Report: c.String("report"),
				Command: bench.ShellQuote(os.Args), Stdout: c.App.Writer, Stderr: c.App.ErrWriter,
			}
			if !c.Bool("in-process") {
				if exe, err := os.Executable(); err == nil {
					b.Child = []string{exe, "bench", "log", "--child-job"}
				}
			}
			_, err := b.Run(ctx)
			return err
		},
	}
}
