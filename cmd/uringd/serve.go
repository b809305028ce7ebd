package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/uringd/uringd/netio"
	"github.com/uringd/uringd/ring"
)

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "serve a directory over HTTP/1.1 with io_uring event loops",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "root", Value: ".", Usage: "directory to serve"},
			&cli.StringFlag{Name: "addr", Value: "127.0.0.1:8080", Usage: "listen address"},
			&cli.IntFlag{Name: "loops", Usage: "event loops, one ring and OS thread each (default: CPUs)"},
			&cli.StringFlag{Name: "net", Value: "uring", Usage: "network engine: uring, or std (Go's net package, where io_uring is unavailable)"},
			&cli.StringFlag{Name: "file-io", Value: "uring", Usage: "file IO: uring (in the loop's ring) or threadpool"},
			&cli.IntFlag{Name: "threads", Value: 32, Usage: "OS threads of the file IO thread pool (--file-io threadpool), shared by the loops"},
			&cli.IntFlag{Name: "max-header-bytes", Value: 8 << 10, Usage: "largest request header block (431 above)"},
			&cli.DurationFlag{Name: "read-header-timeout", Value: netioDefault("read-header-timeout"), Usage: "time allowed for a request head"},
			&cli.DurationFlag{Name: "idle-timeout", Value: netioDefault("idle-timeout"), Usage: "keep-alive idle time"},
			&cli.DurationFlag{Name: "write-timeout", Value: netioDefault("write-timeout"), Usage: "time allowed to send a response"},
			&cli.DurationFlag{Name: "shutdown-timeout", Value: netioDefault("shutdown-timeout"), Usage: "time in-flight responses get at SIGINT/SIGTERM"},
			&cli.DurationFlag{Name: "batch-wait", Value: netioDefault("batch-wait"), Usage: "under load, how long a loop waits for more completions before handling them (6.12+; negative: never)"},
			&cli.IntFlag{Name: "max-conns", Value: 10000, Usage: "open connections; above it new ones get 503"},
			&cli.StringFlag{Name: "access-log", Value: "off", Usage: "access log: PATH, - (stdout) or off"},
			&cli.StringFlag{Name: "log-format", Value: "combined", Usage: "access log format: combined or json"},
			&cli.StringFlag{Name: "cpuprofile", Usage: "write a CPU profile of the run to `FILE`"},
			&cli.StringFlag{Name: "kernel-compat", Usage: "cap io_uring features to kernel `VERSION`", EnvVars: []string{ring.CompatEnv}},
		},
		Action: func(c *cli.Context) error {
			cfg := netio.Config{
				Addr: c.String("addr"), Root: c.String("root"), Loops: c.Int("loops"),
				Net: c.String("net"), FileIO: c.String("file-io"), Threads: c.Int("threads"),
				MaxHeaderBytes: c.Int("max-header-bytes"), ReadHeaderTimeout: c.Duration("read-header-timeout"),
				IdleTimeout: c.Duration("idle-timeout"), WriteTimeout: c.Duration("write-timeout"),
				ShutdownTimeout: c.Duration("shutdown-timeout"), MaxConns: c.Int("max-conns"),
				BatchWait:    c.Duration("batch-wait"),
				KernelCompat: c.String("kernel-compat"),
				Logf: func(format string, args ...any) {
					fmt.Fprintf(c.App.ErrWriter, "uringd: "+format+"\n", args...)
				},
			}
			closeLog, err := openAccessLog(c, &cfg)
			if err != nil {
				return err
			}
			defer closeLog()
			srv, err := netio.NewServer(cfg)
			if err != nil {
				return err
			}
			if p := c.String("cpuprofile"); p != "" {
				f, err := os.Create(p)
				if err != nil {
					return fmt.Errorf("cpuprofile: %w", err)
				}
				if err := pprof.StartCPUProfile(f); err != nil {
					return fmt.Errorf("cpuprofile: %w", err)
				}
				defer func() { pprof.StopCPUProfile(); f.Close() }()
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			fmt.Fprintf(c.App.ErrWriter, "uringd: serving %s on http://%s with %s\n", cfg.Root, srv.Addr(), srv)
			return srv.Serve(ctx)
		},
	}
}

func netioDefault(name string) time.Duration {
	cfg := netio.DefaultConfig()
	switch name {
	case "read-header-timeout":
		return cfg.ReadHeaderTimeout
	case "idle-timeout":
		return cfg.IdleTimeout
	case "write-timeout":
		return cfg.WriteTimeout
	case "batch-wait":
		return cfg.BatchWait
	}
	return cfg.ShutdownTimeout
}

func openAccessLog(c *cli.Context, cfg *netio.Config) (func(), error) {
	var w io.Writer
	closer := func() {}
	switch p := c.String("access-log"); p {
	case "off", "":
		return closer, nil
	case "-":
		w = c.App.Writer
	default:
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("access log: %w", err)
		}
		w, closer = f, func() { f.Close() }
	}
	al, err := netio.NewWriterLog(w, c.String("log-format"))
	if err != nil {
		closer()
		return nil, err
	}
	cfg.AccessLog = al
	return closer, nil
}
