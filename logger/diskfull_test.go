package logger

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// A fullDisk makes the log's file system refuse writes part way through a batch, and then
// accept them again: a real tmpfs filled by a filler file (ENOSPC), or RLIMIT_FSIZE (EFBIG),
// which needs no privilege.
type fullDisk struct {
	dir   string
	errno syscall.Errno
	fill  func(t *testing.T, l *Logger, path string)
	free  func(t *testing.T)
}

// tmpfsDisk mounts a 64 KiB tmpfs; filling it writes a filler file until ENOSPC, freeing
// removes the filler. It skips the test where mounting is not allowed (not root).
func tmpfsDisk(t *testing.T) *fullDisk {
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=64k"); err != nil {
		t.Skipf("mount -t tmpfs -o size=64k tmpfs %s: %v (needs root; TestPartialWritesFSIZE covers the same without it)", dir, err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	filler := filepath.Join(dir, "filler")
	return &fullDisk{
		dir:   dir,
		errno: syscall.ENOSPC,
		fill: func(t *testing.T, _ *Logger, _ string) {
			f, err := os.Create(filler)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			chunk := make([]byte, 4096)
			for {
				if _, err := f.Write(chunk); err != nil {
					if !errors.Is(err, syscall.ENOSPC) {
						t.Fatalf("filling %s: %v", dir, err)
					}
					return
				}
			}
		},
		free: func(t *testing.T) {
			if err := os.Remove(filler); err != nil {
				t.Fatal(err)
			}
		},
	}
}

// fsizeDisk limits the size of files this process writes (RLIMIT_FSIZE) to a little more
// than the log holds, in the middle of a record; freeing restores the limit. Go ignores
// SIGXFSZ, so the writes fail with EFBIG.
func fsizeDisk(t *testing.T) *fullDisk {
	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	restore := func() {
		if err := unix.Setrlimit(unix.RLIMIT_FSIZE, &old); err != nil {
			t.Errorf("restoring RLIMIT_FSIZE: %v", err)
		}
	}
	t.Cleanup(restore)
	return &fullDisk{
		dir:   t.TempDir(),
		errno: syscall.EFBIG,
		fill: func(t *testing.T, l *Logger, path string) {
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			lim := unix.Rlimit{Cur: uint64(fi.Size()) + 3001, Max: old.Max}
			if err := unix.Setrlimit(unix.RLIMIT_FSIZE, &lim); err != nil {
				t.Fatalf("setrlimit RLIMIT_FSIZE %d: %v", lim.Cur, err)
			}
		},
		free: func(t *testing.T) { restore() },
	}
}

// TestPartialWritesTmpfs puts the log on a 64 KiB tmpfs, fills it, logs, frees it and logs
// again (issue 18, item 8): no torn line, no blank line, no line in a foreign format, every
// record in the file once or counted as dropped. Every engine, raw lines (as netio's
// RecordLog writes them) and JSON records.
func TestPartialWritesTmpfs(t *testing.T) {
	testPartialWrites(t, tmpfsDisk)
}

// TestPartialWritesFSIZE is TestPartialWritesTmpfs with RLIMIT_FSIZE standing for the full
// disk, so it runs without privilege too.
func TestPartialWritesFSIZE(t *testing.T) {
	testPartialWrites(t, fsizeDisk)
}

func testPartialWrites(t *testing.T, disk func(*testing.T) *fullDisk) {
	for _, eng := range engines {
		for _, raw := range []bool{true, false} {
			name := string(eng) + "/json"
			if raw {
				name = string(eng) + "/raw"
			}
			t.Run(name, func(t *testing.T) { partialWrites(t, disk(t), eng, raw) })
		}
	}
}

// Phases of the scenario, and the records logged in each.
const (
	pwBefore = 150  // room on the disk
	pwFull   = 1500 // the disk fills up
	pwAfter  = 150  // room again
)

// pwPad is record seq's payload: different lengths, so records straddle the point where
// the disk is full at different offsets.
func pwPad(seq int) string { return strings.Repeat(string(rune('a'+seq%26)), 10+seq*7%61) }

var combinedRE = regexp.MustCompile(`^127\.0\.0\.1 - - \[02/Dec/2025:05:53:00 \+0000\] "GET /r/(\d+)/([a-z]*) HTTP/1\.1" 200 (\d+) "-" "curl/8"$`)

func partialWrites(t *testing.T, d *fullDisk, eng Engine, raw bool) {
	path := filepath.Join(d.dir, "access.log")
	var mu sync.Mutex
	var errs []error
	o := Options{Path: path, Engine: eng, BufferSize: 1024, QueueSize: 8,
		OnError: func(err error) { mu.Lock(); errs = append(errs, err); mu.Unlock() }}
	if raw {
		o.DropReport = DropReportOnError // the access log's lines are not the logger's JSON
	}
	probe := new(uringProbe)
	o.uring.probe = probe
	l, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	var line []byte
	logRange := func(from, to int) {
		for seq := from; seq < to; seq++ {
			if raw {
				line = fmt.Appendf(line[:0], "127.0.0.1 - - [02/Dec/2025:05:53:00 +0000] \"GET /r/%d/%s HTTP/1.1\" 200 %d \"-\" \"curl/8\"\n",
					seq, pwPad(seq), seq*3)
				if _, err := l.Write(line); err != nil && eng != EngineSync {
					t.Fatalf("Write %d: %v", seq, err)
				}
			} else {
				l.Info("rec", Int("seq", seq), String("pad", pwPad(seq)))
			}
		}
	}
	logRange(0, pwBefore)
	if err := l.Sync(); err != nil {
		t.Fatalf("Sync before the disk is full: %v", err)
	}
	d.fill(t, l, path)
	logRange(pwBefore, pwBefore+pwFull)
	if err := l.Sync(); !errors.Is(err, d.errno) {
		t.Errorf("Sync after records were lost to a full disk: %v, want an error wrapping %v", err, d.errno)
	}
	d.free(t)
	logRange(pwBefore+pwFull, pwBefore+pwFull+pwAfter)
	if err := l.Close(); err != nil {
		t.Errorf("Close, nothing lost since the last Sync: %v", err)
	}
	st := l.Stats()
	t.Logf("%+v", st)
	if eng == EngineUring {
		t.Logf("repairs %d, batches written again %d", probe.repairs.Load(), probe.rewritten.Load())
		if probe.repairs.Load() == 0 {
			t.Errorf("no failed write was repaired")
		}
	}

	// The file, line by line.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		t.Errorf("the file ends mid-line: %q", tail(data))
	}
	const total = pwBefore + pwFull + pwAfter
	seen := make([]bool, total)
	var present, reported uint64
	for i, ln := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		seq := -1
		switch {
		case len(bytes.TrimSpace(ln)) == 0:
			t.Errorf("line %d is blank: %q", i+1, ln)
			continue
		case raw:
			m := combinedRE.FindSubmatch(ln)
			if m == nil {
				t.Errorf("line %d is not a whole combined-format line: %.160q", i+1, ln)
				continue
			}
			seq, _ = strconv.Atoi(string(m[1]))
			if seq >= total || string(m[2]) != pwPad(seq) || string(m[3]) != strconv.Itoa(seq*3) {
				t.Errorf("line %d carries the wrong bytes: %.160q", i+1, ln)
				continue
			}
		default:
			var r struct {
				Msg     string
				Seq     *int
				Pad     string
				Dropped uint64
			}
			if err := json.Unmarshal(ln, &r); err != nil {
				t.Errorf("line %d is torn (%v): %.160q", i+1, err, ln)
				continue
			}
			if r.Msg == "logger dropped records" {
				reported += r.Dropped
				continue
			}
			if r.Msg != "rec" || r.Seq == nil || *r.Seq < 0 || *r.Seq >= total || r.Pad != pwPad(*r.Seq) {
				t.Errorf("line %d is no record of ours: %.160q", i+1, ln)
				continue
			}
			seq = *r.Seq
		}
		if seen[seq] {
			t.Errorf("line %d: record %d is in the file twice", i+1, seq)
		}
		seen[seq] = true
		present++
	}
	for seq := range total {
		if !seen[seq] && (seq < pwBefore || seq >= pwBefore+pwFull) {
			t.Errorf("record %d, logged while the disk had room, is missing", seq)
		}
	}
	if present == total {
		t.Errorf("all %d records are in the file: the disk never refused a write", total)
	}
	if st.Written != present || st.Written+st.Dropped != total || st.DroppedError != st.Dropped || !errors.Is(st.LastError, d.errno) {
		t.Errorf("%d of %d records in the file; want Written = that, Written+DroppedError = %d, LastError %v: %+v",
			present, total, total, d.errno, st)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, err := range errs {
		var de *DropError
		switch {
		case errors.As(err, &de):
			if !raw || de.Path != path {
				t.Errorf("OnError got %v", err)
			}
			reported += de.Dropped
		case !errors.Is(err, d.errno):
			t.Errorf("OnError got %v, want errors wrapping %v", err, d.errno)
		}
	}
	// Everything lost was announced once writing worked again: in the file (JSON), or to
	// OnError (raw lines).
	if reported != st.Dropped || st.Reported != st.Dropped {
		t.Errorf("%d drops announced, Stats.Reported %d, want both = Dropped %d", reported, st.Reported, st.Dropped)
	}
}

// TestUringPartialWriteRepair fails every fifth write of EngineUring half way with ENOSPC
// (uringTuning.enospcEvery) while the writes behind it, in flight at later offsets, succeed:
// repair must cut the torn half off and write those again from there. Every record must be
// in the file once and whole, or counted as lost and reported; no line may be torn or blank.
func TestUringPartialWriteRepair(t *testing.T) {
	const goroutines = 4
	per := 5000
	if raceEnabled || testing.Short() {
		per = 1500
	}
	path := logPath(t)
	o := Options{Path: path, Engine: EngineUring, QueueSize: 8, BufferSize: 2048}
	o.uring.enospcEvery = 5
	probe := new(uringProbe)
	o.uring.probe = probe
	l, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	logFaultRecords(l, goroutines, per)
	closeErr := l.Close()
	st := l.Stats()
	t.Logf("Close: %v; %+v; repairs %d, batches written again %d", closeErr, st, probe.repairs.Load(), probe.rewritten.Load())
	if st.DroppedError == 0 || !errors.Is(closeErr, syscall.ENOSPC) {
		t.Errorf("%d records lost, Close: %v; want some lost and Close wrapping ENOSPC", st.DroppedError, closeErr)
	}
	if probe.repairs.Load() == 0 || probe.rewritten.Load() == 0 {
		t.Errorf("repairs %d, batches written again %d: the write behind a failed one was never redone",
			probe.repairs.Load(), probe.rewritten.Load())
	}
	// (Reported may fall short: the faults go on to the end, and may fail the last report.)
	checkFaultFile(t, path, goroutines, per, st)
}
