package logger

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// TestRecordBound checks the promise the fast path relies on: a record of plain fields is
// never longer than recordBound says, in either format, whatever its strings hold; and
// fields that run the caller's code make recordBound refuse.
func TestRecordBound(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	pick := stringPicker(r, 500, strings.Repeat("\x01", 50), strings.Repeat("\xff", 50), strings.Repeat("\u2028", 20))
	var c clock
	levels := []Level{LevelDebug, LevelInfo, LevelWarn, LevelError, LevelInfo + 2, Level(math.MinInt32)}
	for _, format := range []Format{FormatJSON, FormatLogfmt} {
		enc := newEncoder(format)
		for range 3000 {
			fs := randomPlainFields(r, pick)
			msg := pick()
			prefix := enc.field(nil, "", String(pick(), pick()))
			lvl := levels[r.IntN(len(levels))]
			got := len(enc.record(nil, c.read(), lvl, msg, prefix, fs))
			if bound := recordBound(msg, prefix, fs); got > bound {
				t.Fatalf("%s: record of %d bytes, bound %d: msg %q fields %+v", format, got, bound, msg, fs)
			}
		}
	}
	for _, f := range []Field{Err(errors.New("x")), Stringer("s", time.Second), Any("a", struct{}{})} {
		if n := recordBound("m", nil, []Field{String("k", "v"), f}); n != -1 {
			t.Errorf("recordBound with %s field = %d, want -1", f.Key, n)
		}
	}
}

// TestFastPath checks when a call encodes straight into the batch buffer, and that records
// from the fast and the ordinary path interleave in call order.
func TestFastPath(t *testing.T) {
	path := logPath(t)
	l := newLogger(t, Options{Path: path, Engine: EngineThread})
	q := l.core.q
	// The writer goroutine takes the queue's lock now and then (it may be starting up, and
	// on an emulated kernel it can be descheduled while holding it), so a refused fast path
	// is retried for a while; refusing for 5 s means it refuses a free lock too.
	fast := false
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if fast = q.tryAppend(LevelInfo, "fast", nil, []Field{Int("seq", 0)}); fast {
			break
		}
	}
	if !fast {
		t.Fatal("plain fields: the fast path was not taken in 5 s of tries")
	}
	if q.tryAppend(LevelInfo, "slow", nil, []Field{Int("seq", 1), Err(errors.New("boom"))}) {
		t.Fatal("an Err field took the fast path")
	}
	q.mu.Lock()
	busy := q.tryAppend(LevelInfo, "slow", nil, []Field{Int("seq", 1)})
	q.mu.Unlock()
	if busy {
		t.Fatal("the fast path was taken while the queue's lock was held")
	}
	if q.tryAppend(LevelInfo, strings.Repeat("x", DefaultBufferSize), nil, nil) {
		t.Fatal("a record that may not fit a buffer took the fast path")
	}

	// Alternate the paths; the file must hold every record, in order, as JSON.
	boom := errors.New("boom")
	child := l.With(String("svc", "api"))
	for i := 1; i <= 3000; i++ {
		switch i % 3 {
		case 0:
			l.Info("r", Int("seq", i), Err(boom)) // ordinary path
		case 1:
			child.Warn("r", Int("seq", i)) // fast path, With prefix
		default:
			l.Info(strings.Repeat("m", i%200), Int("seq", i)) // fast path, buffers seal along the way
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	recs := readJSON(t, path)
	if len(recs) != 3001 {
		t.Fatalf("%d records, want 3001", len(recs))
	}
	for i, m := range recs {
		if m["seq"] != float64(i) {
			t.Fatalf("record %d: %v", i, m)
		}
		if i%3 == 1 && m["svc"] != "api" {
			t.Fatalf("record %d lacks the With field: %v", i, m)
		}
	}
}
