package logger

import (
	"bytes"
	"io"
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
	var memo keyMemo
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
		got, res := appendJSONRecord(buf, &memo, ts, lvl, msg, prefix, fs)
		if res != fastOK {
			t.Fatalf("record %d: %d with recordBound's room", n, res)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("record %d:\n got %q\nwant %q", n, got, want)
		}
		if &got[0] != &buf[0] {
			t.Fatalf("record %d: appendJSONRecord grew the buffer", n)
		}
	}
}

// TestJSONFastRefuses checks that appendJSONRecord, given any room from none to a record's
// bound, either writes the record right within that room or gives up leaving the buffer's
// length as it was; that it gives up on fields that could run the caller's code; and that
// records it writes after refusals are still right.
func TestJSONFastRefuses(t *testing.T) {
	var memo keyMemo
	var c clock
	enc := newEncoder(FormatJSON)
	fs := []Field{Int("seq", 7), String("method", "GET"), Int("status", 200), Bool("ok", true)}
	ts := c.read()
	want := enc.record([]byte("abc"), ts, LevelInfo, "request", nil, fs)
	bound := recordBound("request", nil, fs)
	refused := 0
	for room := 0; room <= bound+fastSlack; room++ {
		buf := make([]byte, 3, 3+room)
		copy(buf, "abc")
		got, res := appendJSONRecord(buf, &memo, ts, LevelInfo, "request", nil, fs)
		switch {
		case res == fastNoRoom && len(got) == 3:
			refused++
		case res == fastOK && bytes.Equal(got, want) && &got[0] == &buf[0]:
		default:
			t.Fatalf("room %d of %d: result %d, %q", room, bound+fastSlack, res, got)
		}
	}
	if refused == 0 || refused > bound+fastSlack {
		t.Fatalf("refused %d of %d rooms", refused, bound+fastSlack+1)
	}
	for _, f := range []Field{Err(io.EOF), Stringer("s", LevelWarn), Any("a", struct{ X int }{1})} {
		buf := make([]byte, 0, 4096)
		if got, res := appendJSONRecord(buf, &memo, ts, LevelInfo, "request", nil, append(fs[:4:4], f)); res != fastNotFast || len(got) != 0 {
			t.Fatalf("%v: result %d, length %d", f.kind, res, len(got))
		}
	}
	got, res := appendJSONRecord([]byte("abc"), &memo, ts, LevelInfo, "request", nil, fs)
	if res != fastNoRoom || string(got) != "abc" {
		t.Fatalf("no spare capacity: %d %q", res, got)
	}
	got, res = appendJSONRecord(make([]byte, 0, 4096), &memo, ts, LevelInfo, "request", nil, fs)
	if res != fastOK || !bytes.Equal(got, want[3:]) {
		t.Fatalf("after refusals: %d\n got %q\nwant %q", res, got, want[3:])
	}
}
