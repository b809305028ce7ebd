package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/uringd/uringd/logger"
	"github.com/uringd/uringd/netio"
	"github.com/uringd/uringd/ring"
)

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "serve a directory over HTTP/1.1 with io_uring event loops",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Usage: "read settings from a TOML `FILE` (keys are these flags' names; flags given here override it)"},
			&cli.StringFlag{Name: "root", Value: ".", Usage: "directory to serve"},
			&cli.StringSliceFlag{Name: "addr", Value: cli.NewStringSlice("127.0.0.1:8080"), Usage: "listen address, repeatable: HOST:PORT ([::1]:8080 for IPv6, which listens on IPv6 only), or unix:PATH for a unix socket (removed at exit; a stale one is replaced, one in use refused); an address already in use is refused, naming the process that holds it (see --join-port). Under systemd socket activation (LISTEN_FDS) the sockets passed are served instead"},
			&cli.StringFlag{Name: "unix-mode", Usage: "octal `MODE` of the unix:PATH socket files, such as 0660 (clients need write permission to connect; default: 0777 less the umask)"},
			&cli.StringFlag{Name: "user", Usage: "drop root privileges to `USER` (and its groups) once the sockets are bound, before serving: files are then opened with that user's permissions. The access log is opened before the drop"},
			&cli.BoolFlag{Name: "join-port", Usage: "share --addr with a uringd already listening there (SO_REUSEPORT: the kernel spreads new connections over both), for a zero-downtime upgrade: start the new one with --join-port, then stop the old"},
			&cli.IntFlag{Name: "loops", Usage: "event loops, one ring and OS thread each (default: CPUs)"},
			&cli.StringFlag{Name: "net", Value: "uring", Usage: "network engine: uring, or std (Go's net package, where io_uring is unavailable)"},
			&cli.StringFlag{Name: "file-io", Value: "uring", Usage: "file IO: uring (in the loop's ring) or threadpool"},
			&cli.IntFlag{Name: "threads", Value: 32, Usage: "OS threads of the file IO thread pool (--file-io threadpool), shared by the loops"},
			&cli.IntFlag{Name: "max-header-bytes", Value: 8 << 10, Usage: "largest request header block (431 above)"},
			&cli.DurationFlag{Name: "read-header-timeout", Value: netioDefault("read-header-timeout"), Usage: "time allowed for a request head"},
			&cli.DurationFlag{Name: "idle-timeout", Value: netioDefault("idle-timeout"), Usage: "keep-alive idle time"},
			&cli.DurationFlag{Name: "write-timeout", Value: netioDefault("write-timeout"), Usage: "longest time a response may go without any of it being sent (between two writes, as nginx's send_timeout: a download that keeps moving is never cut)"},
			&cli.DurationFlag{Name: "shutdown-timeout", Value: netioDefault("shutdown-timeout"), Usage: "time in-flight responses get at SIGINT/SIGTERM"},
			&cli.StringFlag{Name: "large-files", Value: "sendfile", Usage: "how file pieces of 64 KiB and more are sent: sendfile (sendfile(2) from the loop for ranges cachestat(2) finds cached, 6.5+; else READ+SEND), splice (SPLICE file→pipe→socket on kernel io-wq threads) or read (READ into a buffer, then SEND)"},
			&cli.StringFlag{Name: "cold-reads", Value: "direct", Usage: "how --large-files sendfile reads large ranges not in the page cache: direct (O_DIRECT on a file's first use, buffered after) or buffered"},
			&cli.DurationFlag{Name: "batch-wait", Value: netioDefault("batch-wait"), Usage: "under load, how long a loop waits for more completions before handling them, when its rate brings two or more in that time (6.12+; default: never)"},
			&cli.StringFlag{Name: "tcp-congestion", Usage: "TCP congestion control `NAME` of accepted connections, e.g. cubic (default: the system's net.ipv4.tcp_congestion_control)"},
			&cli.IntFlag{Name: "iowq-max-workers", Usage: "cap each loop's kernel io-wq workers to N bounded (file) and N unbounded (socket) threads (5.15+; default: the kernel's limit)"},
			&cli.IntFlag{Name: "fixed-buffers", Value: 32, Usage: "256 KiB send buffers each loop registers with its ring, so the file reads into them need no page pinning each time (pinned memory, counted against RLIMIT_MEMLOCK; 0: none)"},
			&cli.IntFlag{Name: "max-conns", Value: 10000, Usage: "open connections; above it new ones get 503"},
			&cli.IntFlag{Name: "max-listing-entries", Value: 10000, Usage: "entries shown in a directory listing (a directory without index.html); a longer listing is cut and says so"},
			&cli.StringFlag{Name: "precompressed", Usage: "serve file.br, file.zst or file.gz beside file to clients that accept that encoding: the encodings, in order of preference (e.g. br,zstd,gzip; default: none)"},
			&cli.StringSliceFlag{Name: "header", Usage: "add a header to file responses whose path matches: 'PATTERN: Name: value' (PATTERN: /assets/* or *.woff2; repeatable, later rules win)"},
			&cli.StringSliceFlag{Name: "cache-control", Usage: "Cache-Control for file responses whose path matches: 'PATTERN=VALUE' (repeatable; applied after --header rules)"},
			&cli.StringFlag{Name: "cors", Usage: "send Access-Control-Allow-Origin: ORIGIN (or *) on every response and answer OPTIONS preflights"},
			&cli.StringFlag{Name: "fallback", Usage: "answer a missing path whose last segment has no '.' (a single-page app's route) with this file and 200, e.g. /index.html"},
			&cli.StringSliceFlag{Name: "error-page", Usage: "answer an error status with a file's contents: 'STATUS=/path', e.g. 404=/404.html (repeatable)"},
			&cli.StringFlag{Name: "metrics", Usage: "serve Prometheus metrics at http://`ADDR`/metrics (HOST:PORT, or unix:PATH), on a listener of its own: requests by status and method, bytes, connections, open-file cache, large-file paths, the rings' SQEs, enters and CQ overflows, io-wq workers, access log losses"},
			&cli.StringFlag{Name: "access-log", Value: "off", Usage: "access log: PATH (written by the io_uring logger; SIGHUP reopens it for logrotate), - (stdout) or off"},
			&cli.StringFlag{Name: "log-format", Value: "combined", Usage: "access log format: combined or json"},
			&cli.StringFlag{Name: "cpuprofile", Usage: "write a CPU profile of the run to `FILE`"},
			&cli.StringFlag{Name: "kernel-compat", Usage: "cap io_uring features to kernel `VERSION`", EnvVars: []string{ring.CompatEnv}},
		},
		// The --config file sets the flags the command line left out, before any check.
		Before: applyConfig,
		Action: func(c *cli.Context) (err error) {
			if err := checkServeFlags(c); err != nil {
				return err
			}
			// With SIGPIPE ignored, a write to a closed stdout (--access-log - | head -1)
			// fails with EPIPE, which the access log counts and reports, instead of
			// killing the server.
			signal.Ignore(syscall.SIGPIPE)
			var as *runAs
			if name := c.String("user"); name != "" {
				if as, err = lookupUser(name); err != nil {
					return err
				}
			}
			cfg := netio.Config{
				Root: c.String("root"), Loops: c.Int("loops"),
				Net: c.String("net"), FileIO: c.String("file-io"), Threads: c.Int("threads"),
				MaxHeaderBytes: c.Int("max-header-bytes"), ReadHeaderTimeout: c.Duration("read-header-timeout"),
				IdleTimeout: c.Duration("idle-timeout"), WriteTimeout: c.Duration("write-timeout"),
				ShutdownTimeout: c.Duration("shutdown-timeout"), MaxConns: c.Int("max-conns"),
				BatchWait:         c.Duration("batch-wait"),
				LargeFiles:        c.String("large-files"),
				ColdReads:         c.String("cold-reads"),
				KernelCompat:      c.String("kernel-compat"),
				JoinPort:          c.Bool("join-port"),
				MaxListingEntries: c.Int("max-listing-entries"),
				IOWQMaxWorkers:    c.Int("iowq-max-workers"),
				FixedBuffers:      fixedBuffers(c.Int("fixed-buffers")),
				TCPCongestion:     c.String("tcp-congestion"),
				Logf: func(format string, args ...any) {
					fmt.Fprintf(c.App.ErrWriter, "uringd: "+format+"\n", args...)
				},
			}
			if err := listenConfig(c, &cfg, cfg.Logf); err != nil {
				return err
			}
			if err := headerFlags(c, &cfg); err != nil {
				return err
			}
			alog, err := openAccessLog(c, &cfg)
			if err != nil {
				return err
			}
			defer func() {
				if cerr := alog.close(c); cerr != nil && err == nil {
					err = cerr
				}
			}()
			srv, err := netio.NewServer(cfg)
			if err != nil {
				return err
			}
			if p := c.String("cpuprofile"); p != "" {
				f, err := os.Create(p)
				if err != nil {
					srv.Close()
					return fmt.Errorf("cpuprofile: %w", err)
				}
				if err := pprof.StartCPUProfile(f); err != nil {
					srv.Close()
					return fmt.Errorf("cpuprofile: %w", err)
				}
				defer func() { pprof.StopCPUProfile(); f.Close() }()
			}
			var mx *metrics
			if a := c.String("metrics"); a != "" {
				if mx, err = listenMetrics(a, srv, alog); err != nil {
					srv.Close()
					return err
				}
				defer mx.close()
			}
			// After binding, before any loop or ring starts (Serve starts them).
			if as != nil {
				if err := as.drop(); err != nil {
					srv.Close()
					return err
				}
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			go func() {
				for {
					select {
					case <-hup:
						if err := alog.reopen(); err != nil {
							fmt.Fprintf(c.App.ErrWriter, "uringd: SIGHUP: reopen access log: %v\n", err)
						}
					case <-ctx.Done():
						return
					}
				}
			}()
			// Before the serving line, which says the server is ready.
			if alog.lg != nil {
				fmt.Fprintf(c.App.ErrWriter, "uringd: requests logged to %s by the logger's %s engine\n", c.String("access-log"), alog.lg.Engine())
			}
			fmt.Fprintf(c.App.ErrWriter, "uringd: serving %s on %s with %s\n", cfg.Root, servingLine(srv), srv)
			if mx != nil {
				mx.serve()
				fmt.Fprintf(c.App.ErrWriter, "uringd: metrics at %s\n", mx.url)
			}
			return srv.Serve(ctx)
		},
	}
}

// fixedBuffers maps --fixed-buffers to netio.Config.FixedBuffers, where 0 is the default
// and a negative count is none.
func fixedBuffers(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

// checkServeFlags refuses values that have no meaning, naming the flag, instead of letting
// netio.Config take its default for them: a count or a time must be positive when given.
// (--loops is the exception: left out, it is one per CPU; --batch-wait negative means never.)
func checkServeFlags(c *cli.Context) error {
	for _, name := range []string{"loops", "threads", "max-header-bytes", "max-conns", "max-listing-entries", "iowq-max-workers"} {
		if c.IsSet(name) && c.Int(name) <= 0 {
			return fmt.Errorf("--%s %d: must be at least 1", name, c.Int(name))
		}
	}
	for _, name := range []string{"read-header-timeout", "idle-timeout", "write-timeout", "shutdown-timeout"} {
		if c.IsSet(name) && c.Duration(name) <= 0 {
			return fmt.Errorf("--%s %v: must be more than 0", name, c.Duration(name))
		}
	}
	if n := c.Int("fixed-buffers"); n < 0 || n > 1<<14 {
		return fmt.Errorf("--fixed-buffers %d: must be 0 (none) to 16384", n)
	}
	if c.IsSet("batch-wait") && c.Duration("batch-wait") == 0 {
		return fmt.Errorf("--batch-wait 0s: give a wait, or a negative value for none")
	}
	return nil
}

// headerFlags reads --precompressed, --header, --cache-control, --cors, --fallback and
// --error-page into cfg.
func headerFlags(c *cli.Context, cfg *netio.Config) error {
	if p := c.String("precompressed"); p != "" {
		for _, e := range strings.Split(p, ",") {
			cfg.Precompressed = append(cfg.Precompressed, strings.TrimSpace(e))
		}
	}
	for _, h := range c.StringSlice("header") {
		r, err := netio.ParseHeaderRule(h)
		if err != nil {
			return fmt.Errorf("--header: %w", err)
		}
		cfg.Headers = append(cfg.Headers, r)
	}
	for _, h := range c.StringSlice("cache-control") {
		r, err := netio.ParseCacheControl(h)
		if err != nil {
			return fmt.Errorf("--cache-control: %w", err)
		}
		cfg.Headers = append(cfg.Headers, r)
	}
	cfg.CORS = c.String("cors")
	cfg.Fallback = c.String("fallback")
	for _, e := range c.StringSlice("error-page") {
		code, p, err := netio.ParseErrorPage(e)
		if err != nil {
			return fmt.Errorf("--error-page: %w", err)
		}
		if cfg.ErrorPages == nil {
			cfg.ErrorPages = map[int]string{}
		}
		if _, dup := cfg.ErrorPages[code]; dup {
			return fmt.Errorf("--error-page: %d given twice", code)
		}
		cfg.ErrorPages[code] = p
	}
	return nil
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

// accessLog is the --access-log destination: a logger.Logger for a file (written through
// io_uring where the kernel has it, reopened on SIGHUP for logrotate), a buffered writer on
// stdout for "-", nothing for "off".
type accessLog struct {
	lg *logger.Logger   // nil unless a file
	wl *netio.WriterLog // nil unless stdout
}

// lost returns the entries lost so far and the write errors, for --metrics.
func (a *accessLog) lost() (dropped, errors uint64) {
	switch {
	case a.lg != nil:
		st := a.lg.Stats()
		return st.Dropped, st.WriteErrors
	case a.wl != nil:
		n, failed := a.wl.Lost()
		if failed {
			errors = 1 // the first error stops the writes: there is never a second
		}
		return n, errors
	}
	return 0, 0
}

func openAccessLog(c *cli.Context, cfg *netio.Config) (*accessLog, error) {
	a := &accessLog{}
	format := c.String("log-format")
	switch p := c.String("access-log"); p {
	case "off", "":
		return a, nil
	case "-":
		al, err := netio.NewWriterLog(c.App.Writer, format)
		if err != nil {
			return nil, err
		}
		al.OnError = func(err error) {
			fmt.Fprintf(c.App.ErrWriter, "uringd: access log: %v; later entries are counted, not written\n", err)
		}
		cfg.AccessLog = al
		a.wl = al
		return a, nil
	default:
		lg, err := logger.New(logger.Options{
			Path: p,
			// The access log says what was served: a full queue makes the loop wait for the
			// disk rather than lose entries, as nginx's blocking write(2) does.
			Policy: logger.PolicyBlock,
			// Entries lost to a failing disk are announced on the error output, not as a
			// JSON warning among the access log's own lines.
			DropReport: logger.DropReportOnError,
			OnError:    (&errorLines{w: c.App.ErrWriter, every: time.Second}).report,
			// The log's ring is capped with the loops' rings, so one flag tests every fallback.
			KernelCompat: c.String("kernel-compat"),
		})
		if err != nil {
			return nil, fmt.Errorf("access log: %w", err)
		}
		al, err := netio.NewRecordLog(lg, format)
		if err != nil {
			lg.Close()
			return nil, err
		}
		a.lg = lg
		cfg.AccessLog = al
		return a, nil
	}
}

// errorLines prints the access log's errors on the error output, at most one line per
// interval: a full disk fails every batch, and a line per batch would flood the output.
// The next line printed says how many were held back.
type errorLines struct {
	w     io.Writer
	every time.Duration

	mu     sync.Mutex
	last   time.Time
	held   int
	lastEr error
}

func (e *errorLines) report(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := time.Now()
	if !e.last.IsZero() && now.Sub(e.last) < e.every {
		e.held++
		e.lastEr = err
		return
	}
	if e.held > 0 {
		fmt.Fprintf(e.w, "uringd: access log: %d more errors in the last %v, the last: %v\n", e.held, now.Sub(e.last).Round(time.Millisecond), e.lastEr)
		e.held = 0
	}
	e.last = now
	fmt.Fprintf(e.w, "uringd: access log: %v\n", err)
}

// reopen opens the access log file again after logrotate renamed it (SIGHUP).
func (a *accessLog) reopen() error {
	if a.lg == nil {
		return nil
	}
	return a.lg.Reopen()
}

// close flushes and closes the file, and says if any entry was lost.
func (a *accessLog) close(c *cli.Context) error {
	if a.lg == nil {
		return nil
	}
	err := a.lg.Close()
	if st := a.lg.Stats(); st.Dropped > 0 || st.WriteErrors > 0 {
		fmt.Fprintf(c.App.ErrWriter, "uringd: access log: %d entries written, %d lost, %d write errors (last: %v)\n",
			st.Written, st.Dropped, st.WriteErrors, st.LastError)
	}
	if err != nil {
		return fmt.Errorf("access log: %w", err)
	}
	return nil
}
