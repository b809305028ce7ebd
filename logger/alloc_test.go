package logger

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"testing"
	"time"
)

// TestZeroAllocs checks that the typed API allocates nothing per call, for every engine:
// fields, the variadic slice, encoding, the timestamp and the enqueue.
func TestZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop buffers at random")
	}
	errBoom := errors.New("boom")
	for _, eng := range engines {
		for _, f := range []Format{FormatJSON, FormatLogfmt} {
			t.Run(string(eng)+"/"+string(f), func(t *testing.T) {
				l := newLogger(t, Options{Path: logPath(t), Engine: eng, Format: f})
				child := l.With(String("service", "api"))
				payload := []byte("payload")
				allocs := testing.AllocsPerRun(10000, func() {
					l.Info("request", String("method", "GET"), Int("status", 200),
						Duration("took", 1500*time.Microsecond), Err(errBoom))
					child.Warn("slow", Int64("bytes", 1<<20), Uint64("id", 7), Float64("ratio", 0.25),
						Bool("cached", false), Time("at", time.Unix(1700000000, 5)), Bytes("body", payload))
					l.Debug("filtered out", Int("n", 1))
				})
				if allocs != 0 {
					t.Errorf("%v allocations per call, want 0", allocs)
				}
				// AllocsPerRun rounds down; count exactly over many calls, which also covers the
				// writer's side (batches, wakeups), to show allocations are not merely rare.
				const calls = 100000
				total := mallocs(func() {
					for range calls {
						l.Info("request", String("method", "GET"), Int("status", 200),
							Duration("took", 1500*time.Microsecond), Err(errBoom))
					}
					l.Sync()
				})
				t.Logf("%d calls: %d allocations in the whole process", calls, total)
				if total > calls/1000 {
					t.Errorf("%d allocations in %d calls", total, calls)
				}
				if err := l.Sync(); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// TestSlogZeroAllocs checks the slog adapter: slog.Logger.LogAttrs with up to five attrs
// allocates nothing in slog, and nothing in our Handler either.
func TestSlogZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop buffers at random")
	}
	for _, eng := range engines {
		t.Run(string(eng), func(t *testing.T) {
			l := newLogger(t, Options{Path: logPath(t), Engine: eng})
			sl := slog.New(l.Handler()).With(slog.String("service", "api")).WithGroup("req")
			ctx := context.Background()
			allocs := testing.AllocsPerRun(10000, func() {
				sl.LogAttrs(ctx, slog.LevelInfo, "request", slog.String("method", "GET"), slog.Int("status", 200),
					slog.Duration("took", time.Millisecond), slog.Bool("cached", true))
			})
			if allocs != 0 {
				t.Errorf("%v allocations per call, want 0", allocs)
			}
		})
	}
}

// mallocs returns the heap allocations the process made while f ran.
func mallocs(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.Mallocs - before.Mallocs
}
