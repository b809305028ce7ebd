package bench

import (
	"bytes"
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

// checkBeside refuses loads it does not know and a fio load without fio installed.
func checkBeside(loads []string) error {
	for _, l := range loads {
		if !slices.Contains(BesideLoads, l) {
			return fmt.Errorf("bench http: unknown --beside load %q (%s)", l, strings.Join(BesideLoads, ", "))
		}
	}
	if slices.Contains(loads, BesideFio) && !FioAvailable() {
		return errors.New("bench http: --beside fio: fio is not installed (apt-get install fio)")
	}
	return nil
}

// startBeside starts the --beside loads and lets them settle. They run until stop.
func (r *httpRun) startBeside() (*besideLoad, error) {
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
	load := &besideLoad{}
	for i, argv := range argvs {
		p := &besideProc{name: names[i], cmd: exec.Command(argv[0], argv[1:]...), fio: argv[0] == "fio", done: make(chan struct{})}
		p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.out
		// Its own group, which stop kills whole; and gone if the bench dies first.
		p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
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
	time.Sleep(besideSettle)
	if err := load.check(); err != nil {
		load.stop()
		return nil, err
	}
	return load, nil
}

// check reports a load that ended on its own: the phase would have run without it.
func (l *besideLoad) check() error {
	var errs []error
	for _, p := range l.procs {
		select {
		case <-p.done:
			errs = append(errs, fmt.Errorf("bench http: --beside %s ended before the phase did (%v): %s", p.name, p.err, p.out.String()))
		default:
		}
	}
	return errors.Join(errs...)
}

// besideStopWait is how long fio may take to print its figures after SIGTERM.
const besideStopWait = 10 * time.Second

// stop ends the loads, and says so if one had ended before it was asked to. fioMBps is what
// the fio load read per second over its run (0 without one).
func (l *besideLoad) stop() (fioMBps float64, err error) {
	errs := []error{l.check()}
	for _, p := range l.procs {
		pgid := p.cmd.Process.Pid
		select {
		case <-p.done:
		default:
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
		syscall.Kill(-pgid, syscall.SIGKILL) // children that outlived their parent
		if p.fio && errs[0] == nil {
			var r Result
			if err := parseFio(p.stdout.Bytes(), false, &r); err != nil {
				errs = append(errs, fmt.Errorf("bench http: --beside fio: %w", err))
			}
			fioMBps += r.MBPerSec
		}
	}
	l.procs = nil
	return fioMBps, errors.Join(errs...)
}
