package logger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"
)

// BenchmarkInfo is one caller logging a message with four fields, per engine. ns/op is the
// caller's cost; the writer goroutine works in parallel.
func BenchmarkInfo(b *testing.B) {
	errBoom := errors.New("boom")
	for _, eng := range engines {
		b.Run(string(eng), func(b *testing.B) {
			l := newLogger(b, Options{Path: logPath(b), Engine: eng})
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				l.Info("request", String("method", "GET"), Int("status", 200), Duration("took", time.Millisecond), Err(errBoom))
			}
			b.StopTimer()
			l.Close()
			reportStats(b, l)
		})
	}
}

// BenchmarkInfo4Fields is the call `uringd bench log --fields 4` makes, on the uring engine:
// a record number, then method="GET", status=200, ok=true, from a slice built once (the
// number is set per call). ns/op is the caller's CPU per record, which is what limits
// records/s with one producer; the writer goroutine works on the other core.
func BenchmarkInfo4Fields(b *testing.B) {
	l := newLogger(b, Options{Path: logPath(b), Engine: EngineUring})
	fs := []Field{Int("seq", 0), String("method", "GET"), Int("status", 200), Bool("ok", true)}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		fs[0] = Int("seq", i)
		l.Info("request", fs...)
	}
	b.StopTimer()
	l.Close()
	reportStats(b, l)
}

// BenchmarkInfoParallel is BenchmarkInfo from GOMAXPROCS goroutines at once.
func BenchmarkInfoParallel(b *testing.B) {
	for _, eng := range engines {
		b.Run(string(eng), func(b *testing.B) {
			l := newLogger(b, Options{Path: logPath(b), Engine: eng})
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for i := 0; pb.Next(); i++ {
					l.Info("request", String("method", "GET"), Int("status", 200), Int("seq", i), Bool("ok", true))
				}
			})
			b.StopTimer()
			l.Close()
			reportStats(b, l)
		})
	}
}

// BenchmarkSlog is the slog adapter: slog.Logger.LogAttrs with four attrs.
func BenchmarkSlog(b *testing.B) {
	for _, eng := range engines {
		b.Run(string(eng), func(b *testing.B) {
			l := newLogger(b, Options{Path: logPath(b), Engine: eng})
			sl := slog.New(l.Handler())
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				sl.LogAttrs(ctx, slog.LevelInfo, "request", slog.String("method", "GET"), slog.Int("status", 200),
					slog.Duration("took", time.Millisecond), slog.Bool("ok", true))
			}
		})
	}
}

// BenchmarkDisabled is the level check of a filtered-out call.
func BenchmarkDisabled(b *testing.B) {
	l := newLogger(b, Options{Path: logPath(b)})
	b.ReportAllocs()
	for b.Loop() {
		l.Debug("not logged", String("method", "GET"), Int("status", 200))
	}
}

// BenchmarkLatency times every call of one producer logging four fields and reports the
// caller's p50, p99 and p99.9. Each includes the clock reads around the call (time.Now and
// time.Since, the clock's own cost); `uringd bench log` measures that cost and reports net
// figures too.
func BenchmarkLatency(b *testing.B) {
	for _, eng := range engines {
		b.Run(string(eng), func(b *testing.B) {
			l := newLogger(b, Options{Path: logPath(b), Engine: eng})
			lat := make([]time.Duration, 0, 1<<20)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				t0 := time.Now()
				l.Info("request", String("method", "GET"), Int("status", 200), Int("seq", i), Bool("ok", true))
				if len(lat) < cap(lat) {
					lat = append(lat, time.Since(t0))
				}
			}
			b.StopTimer()
			slices.Sort(lat)
			pct := func(p float64) float64 { return float64(lat[int(float64(len(lat)-1)*p)].Nanoseconds()) }
			b.ReportMetric(pct(0.50), "p50-ns")
			b.ReportMetric(pct(0.99), "p99-ns")
			b.ReportMetric(pct(0.999), "p99.9-ns")
			l.Close()
			st := l.Stats()
			b.ReportMetric(float64(st.Waits)/float64(b.N), "waits/op")
		})
	}
}

func reportStats(b *testing.B, l *Logger) {
	st := l.Stats()
	if st.Written+st.Dropped != st.Accepted+st.DroppedFull+st.DroppedClosed {
		b.Errorf("inconsistent stats: %+v", st)
	}
	if st.Batches > 0 {
		b.ReportMetric(float64(st.Written)/float64(st.Batches), "records/write")
	}
}

var _ = fmt.Sprint

// BenchmarkEncode4Fields is the encoding alone of BenchmarkInfo4Fields's record: the clock
// read and the encoding into a batch-sized buffer, without the queue's lock or a writer
// competing for the CPU. "fast" is what tryAppend does (appendJSONRecord), "record" the
// general encoder that the ordinary path and logfmt use.
func BenchmarkEncode4Fields(b *testing.B) {
	enc := newEncoder(FormatJSON)
	for _, fast := range []bool{true, false} {
		name := "record"
		if fast {
			name = "fast"
		}
		b.Run(name, func(b *testing.B) {
			var c clock
			c.tsc = tscReliable()
			c.read()
			fs := []Field{Int("seq", 0), String("method", "GET"), Int("status", 200), Bool("ok", true)}
			buf := make([]byte, 0, DefaultBufferSize)
			var memo keyMemo
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				fs[0] = Int("seq", i)
				need := recordBound("request", nil, fs) + fastSlack
				if cap(buf)-len(buf) < need {
					buf = buf[:0]
				}
				if fast {
					buf, _ = appendJSONRecord(buf, &memo, c.read(), LevelInfo, "request", nil, fs)
				} else {
					buf = enc.record(buf, c.read(), LevelInfo, "request", nil, fs)
				}
			}
		})
	}
}
