package logger

import (
	"context"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/uringd/uringd/ring"
	"golang.org/x/sys/unix"
)

// TestLevels checks the level check, SetLevel, and that With shares the level.
func TestLevels(t *testing.T) {
	path := logPath(t)
	l := newLogger(t, Options{Path: path, Level: LevelWarn})
	child := l.With(String("c", "1"))
	if l.Enabled(LevelInfo) || !l.Enabled(LevelWarn) || l.Level() != LevelWarn {
		t.Fatal("Options.Level not applied")
	}
	l.Debug("no")
	l.Info("no")
	l.Warn("yes")
	child.Error("yes")
	l.SetLevel(LevelDebug)
	child.Debug("yes")
	if err := l.Log(context.Background(), LevelInfo+2, "custom"); err != nil {
		t.Fatal(err)
	}
	l.Sync()
	recs := readJSON(t, path)
	var levels []string
	for _, r := range recs {
		levels = append(levels, r["level"].(string))
	}
	if got := strings.Join(levels, ","); got != "WARN,ERROR,DEBUG,INFO+2" {
		t.Errorf("levels %s", got)
	}
	if recs[1]["c"] != "1" || recs[2]["c"] != "1" || recs[0]["c"] != nil {
		t.Errorf("With fields: %v", recs)
	}
}

// TestOversizedRecord logs records larger than a whole batch buffer: each is written intact.
func TestOversizedRecord(t *testing.T) {
	for _, eng := range engines {
		t.Run(string(eng), func(t *testing.T) {
			path := logPath(t)
			l := newLogger(t, Options{Path: path, Engine: eng, BufferSize: 4096, QueueSize: 2})
			big := strings.Repeat("0123456789", 100_000) // 1 MB
			for i := range 5 {
				l.Info("big", Int("i", i), String("data", big))
				l.Info("small", Int("i", i))
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			recs := readJSON(t, path)
			if len(recs) != 10 {
				t.Fatalf("%d records", len(recs))
			}
			for i, r := range recs {
				if i%2 == 0 && r["data"] != big {
					t.Fatalf("record %d damaged", i)
				}
			}
		})
	}
}

// TestWriterIdle checks that idle writers sleep rather than spin: with 8 loggers of each
// async engine open and nothing logged, the process uses (almost) no CPU, and no batch is
// written.
func TestWriterIdle(t *testing.T) {
	var ls []*Logger
	for _, eng := range []Engine{EngineUring, EngineThread} {
		for range 8 {
			l := newLogger(t, Options{Path: logPath(t), Engine: eng, FlushInterval: time.Millisecond})
			l.Info("one")
			ls = append(ls, l)
		}
	}
	// Let each logger write its one record (the flush interval is 1ms; a loaded machine
	// may take longer), then measure the idle period.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		flushed := 0
		for _, l := range ls {
			if l.Stats().Batches == 1 {
				flushed++
			}
		}
		if flushed == len(ls) {
			break
		}
	}
	var before []Stats
	for _, l := range ls {
		before = append(before, l.Stats())
	}
	// The runtime's own work on earlier tests' garbage (a GC cycle, the scavenger returning
	// their memory) is done now, not in the measured period: on an emulated kernel it cost
	// more than the bound.
	runtime.GC()
	debug.FreeOSMemory()
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	// A tenth of a CPU at most (one spinning writer would take all of one). Over a shorter
	// period, an emulated kernel's slow, coarse accounting of the runtime's few wakeups came
	// past that.
	const period = time.Second
	cpu0 := cpuTime(t)
	time.Sleep(period)
	used := cpuTime(t) - cpu0
	runtime.ReadMemStats(&ms1)
	t.Logf("16 idle loggers used %v of CPU in %v (%d GC cycles in it)", used, period, ms1.NumGC-ms0.NumGC)
	if used > period/10 {
		t.Errorf("idle loggers used %v of CPU in %v", used, period)
	}
	for i, l := range ls {
		if after := l.Stats(); before[i].Batches != 1 || after != before[i] {
			t.Errorf("idle writer changed stats: %+v -> %+v", before[i], after)
		}
	}
}

func cpuTime(t *testing.T) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestEngineFallback caps the kernel features to Linux 5.1 (ring's compatibility switch),
// where io_uring lacks what the logger needs: the default engine falls back to EngineThread,
// while an explicit EngineUring fails with ring's explanation.
func TestEngineFallback(t *testing.T) {
	t.Setenv("URINGD_KERNEL_COMPAT", "5.1")
	l := newLogger(t, Options{Path: logPath(t)})
	if l.Engine() != EngineThread {
		t.Errorf("default engine on a capped kernel: %s", l.Engine())
	}
	l.Info("still works")
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{Path: logPath(t), Engine: EngineUring}); err == nil {
		t.Error("explicit EngineUring on a capped kernel should fail")
	} else {
		t.Logf("explicit EngineUring: %v", err)
	}
	t.Setenv("URINGD_KERNEL_COMPAT", "")
	if l := newLogger(t, Options{Path: logPath(t)}); l.Engine() != EngineUring {
		t.Errorf("default engine: %s", l.Engine())
	}
}

// TestEngineKernelCompat caps the logger's ring through Options.KernelCompat, as serve
// --kernel-compat does, with the environment variable unset: the option alone must reach
// the ring, with the same fallback as the variable, and a version that does not parse is
// an error naming it.
func TestEngineKernelCompat(t *testing.T) {
	t.Setenv("URINGD_KERNEL_COMPAT", "")
	l := newLogger(t, Options{Path: logPath(t), KernelCompat: "5.1"})
	if l.Engine() != EngineThread {
		t.Errorf("default engine capped to 5.1 by the option: %s", l.Engine())
	}
	if _, err := New(Options{Path: logPath(t), Engine: EngineUring, KernelCompat: "5.1"}); err == nil {
		t.Error("explicit EngineUring capped to 5.1 should fail")
	} else if _, unavailable := ring.IsUnavailable(err); !unavailable {
		t.Errorf("explicit EngineUring capped to 5.1: %v, want ring's unavailable error", err)
	}
	// 5.10 has what the logger needs: the ring is capped, not refused.
	o := Options{Path: logPath(t), KernelCompat: "5.10"}
	probe := new(uringProbe)
	o.uring.probe = probe
	l = newLogger(t, o)
	if l.Engine() != EngineUring {
		t.Errorf("engine capped to 5.10: %s", l.Engine())
	}
	if f := probe.features; f == nil || f.Effective() != (ring.Version{Major: 5, Minor: 10}) || f.ExtArg {
		t.Errorf("ring capped to 5.10: features %+v", f)
	}
	l.Info("capped")
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{Path: logPath(t), KernelCompat: "five"}); err == nil || !strings.Contains(err.Error(), "five") {
		t.Errorf("KernelCompat %q: %v, want an error naming it", "five", err)
	}
}
