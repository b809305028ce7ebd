package logger

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

// TestClockTSC reads a TSC clock for 1.5 s and checks every reading against time.Now taken
// around it, and that the TSC's rate was measured and used (where the TSC is reliable).
func TestClockTSC(t *testing.T) {
	if !tscReliable() {
		t.Skip("no reliable TSC here (not amd64, or the clocksource is not tsc)")
	}
	c := clock{tsc: true}
	const slack = 5 * time.Microsecond // the readings' uncertainty is 1 µs; leave room
	start := time.Now()
	usedTSC := 0
	for n := 0; time.Since(start) < 1500*time.Millisecond; n++ {
		before := time.Now()
		ts := c.now()
		after := time.Now()
		got, err := time.Parse(time.RFC3339Nano, string(ts[:]))
		if err != nil {
			t.Fatal(err)
		}
		if got.Before(before.Add(-slack)) || got.After(after.Add(slack)) {
			t.Fatalf("reading %d: %v outside [%v, %v] (mult %d)", n, got, before.UTC(), after.UTC(), c.cur.Load().mult)
		}
		if c.cur.Load().mult != 0 {
			usedTSC++
		}
		if n%64 == 0 {
			time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond)
		}
	}
	s := c.cur.Load()
	if usedTSC == 0 || s.mult == 0 {
		t.Fatalf("the TSC rate was never measured (%d readings with it)", usedTSC)
	}
	t.Logf("%d readings with the TSC; %.4f ns per tick", usedTSC, float64(s.mult)/(1<<32))
}

// TestClockTSCEarly checks that a new clock uses the TSC within a millisecond of its first
// reading, with a provisional rate, and that those readings are as close to time.Now as the
// fully calibrated ones.
func TestClockTSCEarly(t *testing.T) {
	if !tscReliable() {
		t.Skip("no reliable TSC here")
	}
	for round := range 5 {
		c := clock{tsc: true}
		c.read()
		first := time.Now()
		const slack = 5 * time.Microsecond
		var usedAt time.Duration = -1
		var worst time.Duration
		seconds := map[*second]bool{}
		for time.Since(first) < 200*time.Millisecond {
			before := time.Now()
			ts := c.now()
			after := time.Now()
			got, err := time.Parse(time.RFC3339Nano, string(ts[:]))
			if err != nil {
				t.Fatal(err)
			}
			if after.Sub(before) > slack {
				continue // preempted between the reads: no bound to check against
			}
			if got.Before(before.Add(-slack)) || got.After(after.Add(slack)) {
				t.Fatalf("round %d: reading at %v: %v outside [%v, %v]", round, before.Sub(first), got, before.UTC(), after.UTC())
			}
			worst = max(worst, before.Sub(got), got.Sub(after))
			s := c.cur.Load()
			seconds[s] = true
			if s.mult != 0 && usedAt < 0 {
				usedAt = before.Sub(first)
			}
		}
		t.Logf("round %d: TSC used from %v on; %d readings of the time; worst error %v", round, usedAt, len(seconds), worst)
		if usedAt < 0 || usedAt > 5*time.Millisecond {
			t.Errorf("round %d: the TSC was first used %v after the first reading, want within 5ms", round, usedAt)
		}
		if len(seconds) > 20 {
			t.Errorf("round %d: %d readings of the time in 200ms, want a handful", round, len(seconds))
		}
	}
}

// TestClockTSCJump checks that a TSC reading far from the calibrated second falls back to a
// fresh reading instead of extrapolating.
func TestClockTSCJump(t *testing.T) {
	if !tscReliable() {
		t.Skip("no reliable TSC here")
	}
	c := clock{tsc: true}
	c.read()
	s := *c.cur.Load()
	s.mult, s.maxTicks = 1<<32, 1000 // pretend a rate, and a reading 1000 ticks at most away
	s.tsc0 = rdtsc() - 1e9           // ... which is long past
	c.cur.Store(&s)
	before := time.Now()
	ts := c.now()
	got, _ := time.Parse(time.RFC3339Nano, string(ts[:]))
	if got.Before(before.Add(-time.Microsecond)) || c.cur.Load() == &s {
		t.Fatalf("extrapolated past maxTicks: %v, before %v", got, before.UTC())
	}
}

// TestAppendUint compares appendInt and appendUint with strconv.
func TestAppendUint(t *testing.T) {
	checkU := func(v uint64) {
		if got, want := string(appendUint([]byte("x"), v)), "x"+strconv.FormatUint(v, 10); got != want {
			t.Fatalf("appendUint(%d) = %s", v, got)
		}
	}
	checkI := func(v int64) {
		if got, want := string(appendInt(nil, v)), strconv.FormatInt(v, 10); got != want {
			t.Fatalf("appendInt(%d) = %s", v, got)
		}
	}
	for i := range uint64(100000) {
		checkU(i)
		checkI(-int64(i))
	}
	for _, p := range pow10 {
		checkU(p - 1)
		checkU(p)
		checkU(p + 1)
	}
	checkU(math.MaxUint64)
	checkI(math.MinInt64)
	checkI(math.MaxInt64)
	r := rand.New(rand.NewPCG(1, 1))
	for range 100000 {
		v := r.Uint64() >> r.IntN(64)
		checkU(v)
		checkI(int64(v))
	}
}

// TestPut9 compares put9 with strconv: every value below 10^6, every multiple of 997 below
// 10^9, the values around each power of ten, and the largest.
func TestPut9(t *testing.T) {
	var b [9]byte
	check := func(n int64) {
		put9(b[:], n)
		if want := fmt.Sprintf("%09d", n); string(b[:]) != want {
			t.Fatalf("put9(%d) = %s, want %s", n, b[:], want)
		}
	}
	below, step := int64(1e6), int64(997)
	if testing.Short() { // the same code paths, fewer values (the emulated kernels' runs)
		below, step = 1e4, 99991
	}
	for n := range below {
		check(n)
	}
	for n := int64(0); n < 1e9; n += step {
		check(n)
	}
	for _, p := range pow10[:10] {
		for d := int64(-2); d <= 2; d++ {
			if v := int64(p) + d; v >= 0 && v < 1e9 {
				check(v)
			}
		}
	}
	check(999999999)
}
