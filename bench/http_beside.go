package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Loads bench http can run beside every phase (--beside) that no server serves. They tell
// what the machine adds to a server's latency from what the server does: on a virtual machine
// the host may emulate the disk on the CPUs it lends, so reading the disk while the CPUs are
// busy can stall every thread, the server's and its clients'.
const (
	BesideFio = "fio" // fio reading the cold files at random, O_DIRECT, at --conns depth
	BesideCPU = "cpu" // one busy process per CPU
)

// BesideLoads is what --beside accepts.
var BesideLoads = []string{BesideFio, BesideCPU}

// besideSettle is how long a beside load runs before the phase is timed: fio opens its files
// and starts reading in well under it.
const besideSettle = time.Second

// besideLoad is the processes --beside started for one phase.
type besideLoad struct {
	start time.Time
	procs []*besideProc
}

type besideProc struct {
	name   string
	cmd    *exec.Cmd
	fio    bool         // stopped with SIGTERM, so that it prints what it read
	stdout bytes.Buffer // fio's JSON; read only after done
	out    syncBuffer   // its stderr, for the error when it fails
	done   chan struct{}
	err    error
}

// syncBuffer is a bytes.Buffer a child process's output goroutine and the bench may share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.buf.Len() > 4096 { // the tail is all an error needs
		s.buf.Next(s.buf.Len() - 2048)
	}
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.TrimSpace(s.buf.String())
}

// checkBeside refuses loads it does not know, a load named twice, and a fio load without fio
// installed.
func checkBeside(loads []string) error {
	for i, l := range loads {
		if !slices.Contains(BesideLoads, l) {
			return fmt.Errorf("bench http: unknown --beside load %q (%s)", l, strings.Join(BesideLoads, ", "))
		}
		if slices.Contains(loads[:i], l) {
			return fmt.Errorf("bench http: --beside names %q twice", l)
		}
	}
	if slices.Contains(loads, BesideFio) && !FioAvailable() {
		return errors.New("bench http: --beside fio: fio is not installed (apt-get install fio)")
	}
	return nil
}

// besideFigures is what the loads did over their run.
type besideFigures struct {
	fioMBps float64 // what fio read per second (0 without a fio load)
	cpuPct  float64 // the busy loops' CPU time, in percent of all the machine's CPUs (0 without)
}

// startBeside starts the --beside loads and lets them settle. They run until stop.
func (r *httpRun) startBeside(ctx context.Context) (*besideLoad, error) {
	b := r.b
	var argvs [][]string
	var names []string
	for _, l := range b.Beside {
		switch l {
		case BesideFio:
			// Longer than any phase: stop ends it, and fio ending first is an error.
			argvs = append(argvs, append([]string{"fio"}, fioColdArgs(b, 24*time.Hour)...))
			names = append(names, "fio")
		case BesideCPU:
			for i := range runtime.NumCPU() {
				argvs = append(argvs, []string{"/bin/sh", "-c", "while :; do :; done"})
				names = append(names, fmt.Sprintf("cpu burner %d", i+1))
			}
		}
	}
	load := &besideLoad{start: time.Now()}
	for i, argv := range argvs {
		p := &besideProc{name: names[i], cmd: exec.Command(argv[0], argv[1:]...), fio: argv[0] == "fio", done: make(chan struct{})}
		p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.out
		// Its own group, which stop kills whole; and gone if the bench dies first.
		p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		p.cmd.WaitDelay = time.Second // a descendant holding its pipes does not hold up stop
		if err := p.cmd.Start(); err != nil {
			load.stop()
			return nil, fmt.Errorf("bench http: --beside: starting %s: %w", ShellQuote(argv), err)
		}
		go func() {
			p.err = p.cmd.Wait()
			close(p.done)
		}()
		load.procs = append(load.procs, p)
	}
	select {
	case <-time.After(besideSettle):
	case <-ctx.Done():
		load.stop()
		return nil, ctx.Err()
	}
	if err := load.check(); err != nil {
		load.stop()
		return nil, fmt.Errorf("bench http: %w", err)
	}
	return load, nil
}

// check reports a load that ended on its own: the phase would have run without it.
func (l *besideLoad) check() error {
	var errs []error
	for _, p := range l.procs {
		select {
		case <-p.done:
			errs = append(errs, fmt.Errorf("--beside %s ended before the phase did (%v): %s", p.name, p.err, p.out.String()))
		default:
		}
	}
	return errors.Join(errs...)
}

// besideStopWait is how long fio may take to print its figures after SIGTERM.
const besideStopWait = 10 * time.Second

// stop ends the loads and says what they did, or that one had ended before it was asked to.
func (l *besideLoad) stop() (besideFigures, error) {
	var fig besideFigures
	errs := []error{l.check()}
	var burned time.Duration
	for _, p := range l.procs {
		if !p.fio {
			if u, s, err := ProcessCPU(p.cmd.Process.Pid); err == nil {
				burned += u + s
			}
		}
		select {
		case <-p.done:
		default:
			// The group, though with --thread fio is one process and the busy loop never forks.
			pgid := p.cmd.Process.Pid
			if p.fio {
				syscall.Kill(-pgid, syscall.SIGTERM)
				select {
				case <-p.done:
				case <-time.After(besideStopWait):
				}
			}
			syscall.Kill(-pgid, syscall.SIGKILL)
			<-p.done
		}
		if p.fio && errs[0] == nil {
			var r Result
			if err := parseFio(p.stdout.Bytes(), false, &r); err != nil {
				errs = append(errs, fmt.Errorf("--beside fio: %w", err))
			}
			fig.fioMBps += r.MBPerSec
		}
	}
	if wall := time.Since(l.start); burned > 0 && wall > 0 {
		fig.cpuPct = 100 * burned.Seconds() / (wall.Seconds() * float64(runtime.NumCPU()))
	}
	l.procs = nil
	return fig, errors.Join(errs...)
}
