package logger

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestDevFull logs to /dev/full, where every write fails with ENOSPC for real. Nothing may
// deadlock, every record must be counted as lost, and the error must reach Stats, the
// OnError callback (naming the operation, the path and the errno) and Sync.
func TestDevFull(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	for _, eng := range engines {
		for _, pol := range []Policy{PolicyBlock, PolicyDrop} {
			t.Run(string(eng)+"/"+string(pol), func(t *testing.T) {
				var mu sync.Mutex
				var got []error
				l, err := New(Options{Path: "/dev/full", Engine: eng, Policy: pol, QueueSize: 2, BufferSize: 4096,
					OnError: func(err error) { mu.Lock(); got = append(got, err); mu.Unlock() }})
				if err != nil {
					t.Fatal(err)
				}
				const n = 20000
				for i := range n {
					l.Info("doomed", Int("i", i))
				}
				if err := l.Sync(); !errors.Is(err, syscall.ENOSPC) {
					t.Fatalf("Sync: %v, want the records' loss (ENOSPC)", err)
				}
				// Sync reported the loss; nothing was accepted since.
				if err := l.Close(); err != nil {
					t.Fatalf("Close: %v", err)
				}
				st := l.Stats()
				t.Logf("%+v", st)
				if st.Written != 0 || st.Written+st.Dropped != n || st.Accepted != st.DroppedError || st.WriteErrors == 0 {
					t.Errorf("counts: %+v", st)
				}
				if !errors.Is(st.LastError, syscall.ENOSPC) {
					t.Errorf("LastError = %v, want ENOSPC", st.LastError)
				}
				mu.Lock()
				defer mu.Unlock()
				if len(got) == 0 {
					t.Fatal("OnError was never called")
				}
				if msg := got[0].Error(); !errors.Is(got[0], syscall.ENOSPC) || !strings.Contains(msg, "/dev/full") || !strings.Contains(msg, "write") {
					t.Errorf("callback error %q should name the write, the path and ENOSPC", msg)
				}
			})
		}
	}
}

// TestRecoverAfterErrors points the log at /dev/full through a symlink, logs (all lost),
// then replaces the link with a real file and calls Reopen: logging goes on, and the first
// lines of the new file report exactly the records lost to the errors.
func TestRecoverAfterErrors(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	for _, eng := range engines {
		t.Run(string(eng), func(t *testing.T) {
			path := logPath(t)
			if err := os.Symlink("/dev/full", path); err != nil {
				t.Fatal(err)
			}
			l := newLogger(t, Options{Path: path, Engine: eng})
			for i := range 100 {
				l.Info("lost", Int("i", i))
			}
			if err := l.Sync(); !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("Sync after 100 lost records: %v, want ENOSPC", err)
			}
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			if err := l.Reopen(); err != nil {
				t.Fatal(err)
			}
			for i := range 10 {
				l.Info("kept", Int("i", i))
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			st := l.Stats()
			recs := readJSON(t, path)
			var reported float64
			kept := 0
			for _, r := range recs {
				switch r["msg"] {
				case "logger dropped records":
					reported += r["dropped"].(float64)
				case "kept":
					kept++
				default:
					t.Errorf("unexpected record %v", r)
				}
			}
			if kept != 10 || reported != 100 || st.DroppedError != 100 || st.Reported != 100 || st.Written != 10 {
				t.Errorf("kept %d, reported %v; %+v", kept, reported, st)
			}
		})
	}
}

// stalledFIFO makes a FIFO with a reader that does not read yet, its pipe buffer already
// full, so a writer blocks at its first write: a real stalled sink. (Filled by the logger
// instead, a slow writer's calls could also wait, and give up, before it stalled.) drain
// starts reading everything and returns a function that waits for the writer to close the
// FIFO and returns what the writer wrote.
func stalledFIFO(t *testing.T) (path string, drain func() func() []byte) {
	path = filepath.Join(t.TempDir(), "fifo")
	if err := unix.Mkfifo(path, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	rfd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	wfd, err := unix.Open(path, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	filler := bytes.Repeat([]byte{'f'}, 512)
	prefilled := 0
	for {
		n, err := unix.Write(wfd, filler)
		if err == unix.EAGAIN {
			break
		}
		if err != nil {
			t.Fatalf("filling the FIFO: %v", err)
		}
		prefilled += n
	}
	unix.Close(wfd)
	return path, func() func() []byte {
		unix.SetNonblock(rfd, false)
		done := make(chan []byte)
		go func() {
			var out bytes.Buffer
			buf := make([]byte, 1<<16)
			for {
				n, err := unix.Read(rfd, buf)
				if n > 0 {
					out.Write(buf[:n])
				}
				if n == 0 || (err != nil && err != unix.EINTR) {
					break
				}
			}
			unix.Close(rfd)
			if out.Len() < prefilled {
				t.Errorf("read %d bytes from the FIFO, %d of them filled in by the test", out.Len(), prefilled)
				prefilled = out.Len()
			}
			done <- out.Bytes()[prefilled:]
		}()
		return func() []byte { return <-done }
	}
}

// TestStalledSink stalls the writer on a FIFO nobody reads. Under PolicyBlock a caller
// waits, and a slog call gives up when its context ends (counted as dropped); under
// PolicyDrop calls never block and drops are counted. Once the FIFO is read again, Close
// writes everything accepted and the drop reports add up.
func TestStalledSink(t *testing.T) {
	for _, eng := range []Engine{EngineUring, EngineThread} {
		for _, pol := range []Policy{PolicyBlock, PolicyDrop} {
			t.Run(string(eng)+"/"+string(pol), func(t *testing.T) {
				path, drain := stalledFIFO(t)
				l, err := New(Options{Path: path, Engine: eng, Policy: pol, QueueSize: 2, BufferSize: 4096})
				if err != nil {
					t.Fatal(err)
				}
				h := l.Handler()
				ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
				defer cancel()
				start := time.Now()
				logged := 0
				for ; logged < 20000; logged++ {
					err = l.Log(ctx, LevelInfo, "filler", Int("i", logged), String("pad", strings.Repeat("x", 100)))
					if err != nil && pol == PolicyBlock {
						logged++
						break
					}
				}
				elapsed := time.Since(start)
				st := l.Stats()
				switch pol {
				case PolicyBlock:
					if !errors.Is(err, context.DeadlineExceeded) || st.DroppedFull != 1 || st.Waits == 0 {
						t.Fatalf("blocked call: err %v, %+v", err, st)
					}
					// slog's Handle honours its context the same way.
					ctx2, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
					defer cancel2()
					if err := h.Handle(ctx2, slogRecord("via slog")); !errors.Is(err, context.DeadlineExceeded) {
						t.Fatalf("slog Handle: %v", err)
					}
					logged++
				case PolicyDrop:
					if elapsed > 2*time.Second || st.DroppedFull == 0 || st.Waits != 0 {
						t.Fatalf("drop policy: %v elapsed, %+v", elapsed, st)
					}
				}
				wait := drain()
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
				data := wait()
				st = l.Stats()
				var reported uint64
				records := 0
				for line := range bytes.SplitSeq(bytes.TrimSuffix(data, []byte{'\n'}), []byte{'\n'}) {
					var r struct {
						Msg     string
						Dropped uint64
					}
					if err := json.Unmarshal(line, &r); err != nil {
						t.Fatalf("bad line %q: %v", line, err)
					}
					if r.Msg == "logger dropped records" {
						reported += r.Dropped
					} else {
						records++
					}
				}
				t.Logf("logged %d, %+v", logged, st)
				if uint64(records) != st.Written || st.Written+st.Dropped != uint64(logged) || reported != st.DroppedFull || reported != st.Reported {
					t.Errorf("records %d, reported %d, logged %d; %+v", records, reported, logged, st)
				}
			})
		}
	}
}

// TestCloseAndAfter checks Close twice, logging after Close, and Sync/Reopen after Close.
func TestCloseAndAfter(t *testing.T) {
	for _, eng := range engines {
		t.Run(string(eng), func(t *testing.T) {
			path := logPath(t)
			l, err := New(Options{Path: path, Engine: eng, FlushInterval: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 10 {
				l.Info("before", Int("i", i))
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if err := l.Close(); err != nil {
				t.Fatalf("second Close: %v", err)
			}
			l.Info("after")
			if err := l.Log(context.Background(), LevelError, "after"); !errors.Is(err, ErrClosed) {
				t.Errorf("Log after Close: %v", err)
			}
			if err := slogHandle(l, "after"); !errors.Is(err, ErrClosed) {
				t.Errorf("slog after Close: %v", err)
			}
			if err := l.Sync(); !errors.Is(err, ErrClosed) {
				t.Errorf("Sync after Close: %v", err)
			}
			if err := l.Reopen(); !errors.Is(err, ErrClosed) {
				t.Errorf("Reopen after Close: %v", err)
			}
			st := l.Stats()
			if st.Written != 10 || st.DroppedClosed != 3 || st.Dropped != 3 {
				t.Errorf("%+v", st)
			}
			if n := len(readLines(t, path)); n != 10 {
				t.Errorf("%d lines, want 10 (Close must flush despite the hour-long FlushInterval)", n)
			}
		})
	}
}

// TestSyncAndFlushInterval: Sync makes records visible at once; without Sync they appear
// after FlushInterval; fsync policies call fdatasync.
func TestSyncAndFlushInterval(t *testing.T) {
	for _, eng := range engines {
		t.Run(string(eng), func(t *testing.T) {
			path := logPath(t)
			l := newLogger(t, Options{Path: path, Engine: eng, FlushInterval: time.Hour, Fsync: FsyncBatch})
			l.Info("one")
			if err := l.Sync(); err != nil {
				t.Fatal(err)
			}
			if n := len(readLines(t, path)); n != 1 {
				t.Fatalf("after Sync: %d lines", n)
			}
			if st := l.Stats(); st.Fsyncs == 0 {
				t.Errorf("FsyncBatch did not fsync: %+v", st)
			}

			path2 := logPath(t)
			l2 := newLogger(t, Options{Path: path2, Engine: eng, FlushInterval: 20 * time.Millisecond,
				Fsync: FsyncInterval, FsyncInterval: 10 * time.Millisecond})
			l2.Info("two")
			deadline := time.Now().Add(5 * time.Second)
			for len(readLinesMaybe(path2)) != 1 || l2.Stats().Fsyncs == 0 {
				if time.Now().After(deadline) {
					t.Fatalf("record not flushed and fsynced by the intervals: %+v", l2.Stats())
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
}

func readLinesMaybe(path string) []string {
	b, _ := os.ReadFile(path)
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")[:strings.Count(string(b), "\n")]
}

func TestOptionsErrors(t *testing.T) {
	for _, o := range []Options{
		{},
		{Path: "x", Engine: "fast"},
		{Path: "x", Policy: "maybe"},
		{Path: "x", Format: "xml"},
		{Path: "x", Fsync: "sometimes"},
		{Path: "x", QueueSize: 1},
		{Path: "x", BufferSize: -1},
		{Path: filepath.Join(t.TempDir(), "missing", "dir", "app.log")},
	} {
		if l, err := New(o); err == nil {
			l.Close()
			t.Errorf("New(%+v) succeeded", o)
		} else if !strings.HasPrefix(err.Error(), "logger: ") {
			t.Errorf("error %q should start with the package name", err)
		}
	}
	_, err := New(Options{Path: filepath.Join(t.TempDir(), "missing", "app.log")})
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "open") || !strings.Contains(err.Error(), "missing") {
		t.Errorf("open error %v should wrap ENOENT and name the operation and path", err)
	}
}
