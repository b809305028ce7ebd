package logger

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestJSONFastMatches holds appendJSONRecord (the fast path's encoder) to encoder.record,
// byte for byte, over random records of every plain field kind with strings that need every
// kind of escaping, at every level, with and without a With prefix, written at the very end
// of a buffer with no more spare capacity than the fast path guarantees.
func TestJSONFastMatches(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	pick := stringPicker(r, 300, "", "request", "GET", "a\"b", "\\", "tab\there", "é", "\u2028", "\xff",
		strings.Repeat("x", 16), strings.Repeat("y", 17), strings.Repeat("z", 15)+"\n")
	var c clock
	enc := newEncoder(FormatJSON)
	levels := []Level{LevelDebug, LevelInfo, LevelWarn, LevelError, LevelInfo + 2, LevelDebug - 3}
	for n := range 20000 {
		fs := randomPlainFields(r, pick)
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
