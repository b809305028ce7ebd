package logger

import (
	"bytes"
	"math/bits"
	"os"
	"sync/atomic"
	"time"
)

// clock makes the timestamps of records, for one Logger.
//
// time.Now reads two clocks (wall and monotonic, two vDSO calls). The clock instead reads
// the time once per second of wall time, formats that second's date and time once, and for
// every record in that second adds the time elapsed since that reading, so a record costs
// one cheap counter read and nine digits of nanoseconds. Each new second takes a fresh
// time.Now, so a stepped wall clock is picked up within a second, and allocates one small
// object (one allocation per second, not per record).
//
// The elapsed time comes from one of two counters:
//
//   - Go's monotonic clock (time.Since: one vDSO call). Wall and monotonic time run at
//     the same NTP-adjusted rate, so the derived time matches time.Now.
//   - On amd64, when the kernel itself keeps time with the TSC (the clocksource is "tsc",
//     which the kernel picks only for a constant, synchronised, invariant TSC), the
//     processor's time-stamp counter (RDTSC: one instruction, cheaper than a vDSO call),
//     converted to nanoseconds with a rate measured against the monotonic clock (see
//     calibrate): over the time since the Logger's first reading, provisionally (each such
//     rate is used only for as long as its error allows, see provisionalRate) until that
//     is 0.1 s, then over the last one to two seconds. The readings' own uncertainty keeps
//     a derived time within 1 µs of time.Now. NTP adjusts the monotonic clock's rate, not
//     the TSC's; a change of that rate (chrony starting to slew a large offset) makes derived
//     times drift from time.Now by the change times the time since the second's reading.
//     Each new second compares the TSC's prediction with time.Now and measures the rate
//     afresh if they differ by more than 20 µs. Until a rate is known, and whenever a
//     reading looks wrong (the counter went back or jumped), the monotonic clock is used.
type clock struct {
	cur atomic.Pointer[second]
	tsc bool // use the TSC: set by New (tscReliable) before the first reading
}

// second is one second of wall time: a reading in it and its text. Immutable once stored.
type second struct {
	start time.Time // carries the monotonic reading
	nsec  int64     // start's nanoseconds within its second
	text  stamp

	// TSC conversion (clock.tsc only). With mult 0 the monotonic clock is used.
	tsc0     uint64 // TSC at start
	mult     uint64 // nanoseconds per TSC tick, fixed point with 32 fraction bits
	maxTicks uint64 // ticks in 1.5 s (less with a provisional rate): beyond, take a new reading
	// provisional says mult was measured over less than calMin: it holds for maxTicks only,
	// chosen so that the derived time stays within 1 µs of time.Now (see provisionalRate).
	provisional bool
	retry       int64 // without mult: try to calibrate once this many ns have passed since start
	cal         calibration
}

// calibration is the reading the TSC rate is measured from.
type calibration struct {
	at    time.Time // monotonic
	tsc   uint64    // 0: none yet
	width uint64    // ticks between the TSC reads around time.Now
}

// Calibration limits: a rate is measured over at least calMin and is trusted only if the
// readings' uncertainty makes it wrong by less than calMaxErr (relative), that is by less
// than 1 µs after a second; the anchor moves to a newer reading after calRenew, and is
// dropped after calMaxAge without readings (an idle logger starts over).
const (
	calMin    = 100 * time.Millisecond
	calMaxErr = 1e-6
	calRenew  = time.Second
	calMaxAge = 10 * time.Second
	// tscMaxDrift is how far the TSC's prediction of a new second's reading may be from
	// time.Now before the rate is measured afresh.
	tscMaxDrift = 20 * time.Microsecond
)

// tscReliable reports whether this is amd64 and the kernel keeps time with the TSC.
func tscReliable() bool {
	if !haveTSC {
		return false
	}
	cs, err := os.ReadFile("/sys/devices/system/clocksource/clocksource0/current_clocksource")
	return err == nil && bytes.Equal(bytes.TrimSpace(cs), []byte("tsc"))
}

// instant is a timestamp to write: text, with its nanosecond digits replaced by ns unless
// ns is negative. A clock reading points text at its second's shared, immutable text, so
// reading the clock copies nothing; the digits are written into the record itself.
type instant struct {
	text *stamp
	ns   int64
}

// stampInstant is the instant whose text is ts as it is.
func stampInstant(ts *stamp) instant { return instant{text: ts, ns: -1} }

// appendTo appends the timestamp (30 bytes).
func (t instant) appendTo(dst []byte) []byte {
	n := len(dst)
	dst = append(dst, t.text[:]...)
	if t.ns >= 0 {
		put9(dst[n+20:n+29], t.ns)
	}
	return dst
}

// read returns the current time. (A wall clock set outside the years 0000–9999 would be
// written as 0000-01-01T00:00:00.000000000Z.)
func (c *clock) read() instant {
	if s := c.cur.Load(); s != nil {
		var ns int64
		if s.mult != 0 {
			d := rdtsc() - s.tsc0 // wraps to a huge value if the counter went back
			if d >= s.maxTicks {
				return c.next()
			}
			ns = s.nsec + int64(d*s.mult>>32) // d*mult < 1.5e9<<32: no overflow
		} else {
			d := int64(time.Since(s.start))
			if s.retry > 0 && d >= s.retry {
				return c.next() // time to measure the TSC's rate
			}
			ns = s.nsec + d
		}
		if ns < 1e9 {
			return instant{text: &s.text, ns: ns}
		}
	}
	return c.next()
}

// next starts a new second: the slow path of read, once a second (and, while the TSC's rate
// is being measured, when s.retry says). Callers racing here each store a second of their
// own; any of them is right.
func (c *clock) next() instant {
	prev := c.cur.Load()
	s := &second{}
	var width uint64
	if c.tsc {
		s.start, s.tsc0, width = sampleTSC()
	} else {
		s.start = time.Now()
	}
	s.nsec = int64(s.start.Nanosecond())
	if ts, ok := stampOf(s.start.Unix(), s.nsec); ok {
		s.text = ts
	} else {
		s.text, _ = stampOf(-62167219200, 0)
		s.nsec = 1e9 // never reused
	}
	if c.tsc {
		if prev != nil && prev.mult != 0 && s.tsc0 > prev.tsc0 && s.tsc0-prev.tsc0 < prev.maxTicks {
			// How far off was the TSC? Far: the rate changed (or was wrong); start over.
			predicted := prev.start.Add(time.Duration((s.tsc0 - prev.tsc0) * prev.mult >> 32))
			if d := s.start.Sub(predicted); d > tscMaxDrift || d < -tscMaxDrift {
				prev = nil
			}
		}
		s.calibrate(prev, width)
	}
	c.cur.Store(s)
	return instant{text: &s.text, ns: -1}
}

// sampleTSC reads the time and the TSC together: the TSC is read before and after time.Now
// and the midpoint is kept, with the width between the two reads (its uncertainty). A width
// above 4096 ticks (1.6 µs at 2.6 GHz, far longer than a time.Now) means the goroutine was
// preempted or descheduled in between: it retries a few times, then returns tsc 0.
func sampleTSC() (t time.Time, tsc, width uint64) {
	for range 4 {
		a := rdtsc()
		t = time.Now()
		b := rdtsc()
		if b > a && b-a < 1<<12 {
			return t, a + (b-a)/2, b - a
		}
	}
	return t, 0, 0
}

// calibrate sets s's TSC rate, measured from the calibration anchor (an earlier reading) to
// s's reading, and carries the anchor forward. The error of the rate is the two readings'
// widths over the time between them; the rate is used only when that is below calMaxErr,
// which, with readings about as wide as a time.Now, typically takes calMin. Until then,
// and when a reading is too wide, s uses the previous second's rate if it had one, or the
// monotonic clock and a retry time. The anchor moves to s's reading once it is calRenew
// old, so the rate follows NTP's rate changes within a second or two.
func (s *second) calibrate(prev *second, width uint64) {
	here := calibration{at: s.start, tsc: s.tsc0, width: width}
	if prev != nil {
		s.cal = prev.cal
	}
	if s.tsc0 == 0 {
		s.retry = int64(time.Millisecond) // a bad reading: try again soon
		return
	}
	el := s.start.Sub(s.cal.at)
	if s.cal.tsc == 0 || s.tsc0 <= s.cal.tsc || el < 0 || el > calMaxAge {
		s.cal = here // the first reading, or start over
		s.retry = int64(2 * provisionalMinEl)
		return
	}
	ticks := s.tsc0 - s.cal.tsc
	if el >= calMin && float64(s.cal.width+width) <= 2*calMaxErr*float64(ticks) {
		// mult = el<<32 / ticks, computed in 128 bits.
		if mult, ok := rateOf(el, ticks); ok {
			s.setRate(mult)
		}
		if el >= calRenew {
			s.cal = here
		}
	} else if prev != nil && prev.mult != 0 && !prev.provisional {
		s.setRate(prev.mult)
	} else {
		s.provisionalRate(el, ticks, width)
	}
	if s.mult == 0 {
		s.retry = max(min(int64(calMin-el), 2*int64(el)), int64(100*time.Microsecond))
	}
}

// provisionalRate uses the rate measured over el (shorter than calMin, or with readings too
// wide for calMaxErr) for as long as it is good for: the derived time's error is at most
// half this reading's width (its midpoint) plus the rate's relative error, half the two
// readings' widths over the ticks between them, times the ticks since this reading. The
// reading holds for as many ticks as keep that below provisionalMaxErr; then read takes a
// new one and measures the rate over the longer time, so each span is many times the last
// until calMin gives the full rate. Without this a new Logger would read the slower
// monotonic clock for its first calMin, which in a logging burst that starts with the
// Logger covers a great many records.
func (s *second) provisionalRate(el time.Duration, ticks, width uint64) {
	if el < provisionalMinEl {
		return
	}
	mult, ok := rateOf(el, ticks)
	if !ok {
		return
	}
	budget := float64(provisionalMaxErr) * float64(ticks) / float64(el) // in ticks
	span := (budget - float64(width)/2) * 2 * float64(ticks) / float64(s.cal.width+width)
	if span < float64(ticks) {
		return // the readings are too wide to gain anything
	}
	s.setRate(mult)
	if s.mult != 0 && span < float64(s.maxTicks) {
		s.maxTicks = uint64(span)
		s.provisional = true
	}
}

// provisionalMinEl is the least time a provisional rate is measured over, and
// provisionalMaxErr the error it may cause.
const (
	provisionalMinEl  = 10 * time.Microsecond
	provisionalMaxErr = time.Microsecond
)

// rateOf returns el<<32 / ticks, computed in 128 bits, if it fits in 64.
func rateOf(el time.Duration, ticks uint64) (uint64, bool) {
	hi, lo := uint64(el)>>32, uint64(el)<<32
	if hi >= ticks {
		return 0, false
	}
	mult, _ := bits.Div64(hi, lo, ticks)
	return mult, true
}

// setRate sets mult unless it says the TSC runs below 50 MHz or above 20 GHz.
func (s *second) setRate(mult uint64) {
	if mult < (1<<32)/20 || mult > 20<<32 {
		return
	}
	s.mult = mult
	s.maxTicks = (uint64(1500*time.Millisecond) << 32) / mult
}

// now returns the current time as a stamp.
func (c *clock) now() stamp {
	var ts stamp
	c.read().appendTo(ts[:0])
	return ts
}
