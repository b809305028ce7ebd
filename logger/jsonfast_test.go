package logger

import (
	"bytes"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// TestJSONFastMatches holds appendJSONRecord (the fast path's encoder) to encoder.record,
// byte for byte, over random records of every plain field kind with strings that need every
// kind of escaping, at every level, with and without a With prefix, written at the very end
// of a buffer with no more spare capacity than the fast path guarantees.
func TestJSONFastMatches(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	strs := append([]string{"", "request", "GET", "a\"b", "\\", "tab\there", "é", "\u2028", "\xff",
		strings.Repeat("x", 16), strings.Repeat("y", 17), strings.Repeat("z", 15) + "\n"}, trickyStrings...)
	for range 300 {
		strs = append(strs, randomString(r))
	}
	pick := func() string { return strs[r.IntN(len(strs))] }
	var c clock
	enc := newEncoder(FormatJSON)
	levels := []Level{LevelDebug, LevelInfo, LevelWarn, LevelError, LevelInfo + 2, LevelDebug - 3}
	for n := range 20000 {
		var fs []Field
		for range r.IntN(9) {
			switch r.IntN(10) {
			case 0:
				fs = append(fs, String(pick(), pick()))
			case 1:
				fs = append(fs, Bytes(pick(), []byte(pick())))
			case 2:
				fs = append(fs, Int64(pick(), r.Int64()-r.Int64()), Int(pick(), r.IntN(1000)))
			case 3:
				fs = append(fs, Uint64(pick(), r.Uint64()>>r.IntN(64)))
			case 4:
				fs = append(fs, Float64(pick(), r.NormFloat64()*math.Pow(10, float64(r.IntN(40)-20))))
			case 5:
				fs = append(fs, Duration(pick(), time.Duration(r.Int64N(1e12))))
			case 6:
				fs = append(fs, Time(pick(), time.Unix(r.Int64N(1<<33), r.Int64N(1e9))))
			case 7:
				fs = append(fs, Bool(pick(), r.IntN(2) == 0))
			case 8:
				fs = append(fs, Int(pick(), math.MinInt64), Uint64(pick(), math.MaxUint64), Int(pick(), 0))
			default:
				fs = append(fs, Err(nil))
			}
		}
		var prefix []byte
		if n%3 == 0 {
			prefix = enc.field(nil, "", String(pick(), pick()))
		}
		msg, lvl := pick(), levels[r.IntN(len(levels))]
		ts := c.read()
		if n%5 == 0 {
			ts.ns = -1
		}
		want := enc.record([]byte("previous records\n"), ts, lvl, msg, prefix, fs)

		// Exactly the room the fast path checks for, after some earlier bytes.
		bound := recordBound(msg, prefix, fs)
		buf := make([]byte, len("previous records\n"), len("previous records\n")+bound+fastSlack)
		copy(buf, "previous records\n")
		got := appendJSONRecord(buf, ts, lvl, msg, prefix, fs)
		if !bytes.Equal(got, want) {
			t.Fatalf("record %d:\n got %q\nwant %q", n, got, want)
		}
		if &got[0] != &buf[0] {
			t.Fatalf("record %d: appendJSONRecord grew the buffer", n)
		}
	}
}
