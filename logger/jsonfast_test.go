package logger

import (
	"bytes"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
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
		buf, intact := guardedBuf("previous records\n", bound+fastSlack)
		got, res := appendJSONRecord(buf, &memo, ts, lvl, msg, prefix, fs)
		if !intact() {
			t.Fatalf("record %d: written past the buffer's capacity", n)
		}
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

// guardedBuf returns a buffer holding head with exactly room bytes of spare capacity, and a
// function that reports whether the guard bytes right past that capacity (in the same
// allocation, where a stray write would land unnoticed) are as they were. appendJSONRecord
// writes through unchecked stores (st64 and friends), which must stay within the capacity.
func guardedBuf(head string, room int) (buf []byte, intact func() bool) {
	const guard, fill = 64, 0xa5
	mem := make([]byte, len(head)+room+guard)
	copy(mem, head)
	end := len(head) + room
	for k := end; k < len(mem); k++ {
		mem[k] = fill
	}
	return mem[:len(head):end], func() bool {
		for _, c := range mem[end:] {
			if c != fill {
				return false
			}
		}
		return true
	}
}

// FuzzJSONFast holds appendJSONRecord to encoder.record for any message, key and string
// value, any number and any room: with room for the record's bound it must write the
// record byte for byte; with less it may refuse (fastNoRoom, the buffer's length as it
// was); either way it must not write past the buffer's capacity.
func FuzzJSONFast(f *testing.F) {
	for k, s := range trickyStrings {
		f.Add(s, "key", s, int64(k)*7919-1000, uint16(k*37))
	}
	f.Add("request", "method", "GET", int64(1234567), uint16(1000))
	f.Add("0123456789abcdef", "0123456789abcdef", "0123456789abcde\"", int64(math.MinInt64), uint16(400))
	var memo keyMemo
	var c clock
	enc := newEncoder(FormatJSON)
	f.Fuzz(func(t *testing.T, msg, key, val string, num int64, room uint16) {
		fs := []Field{String(key, val), Int64("n", num), Bytes(val, []byte(key)), Uint64(key, uint64(num)),
			Bool(key, num&1 == 0), Err(nil), Float64(val, float64(num)/7), String("k", val[:len(val)/2])}
		ts := c.read()
		want := enc.record([]byte("x"), ts, LevelInfo, msg, nil, fs)
		bound := recordBound(msg, nil, fs) + fastSlack
		for _, r := range []int{int(room) % (bound + 1), bound} {
			buf, intact := guardedBuf("x", r)
			got, res := appendJSONRecord(buf, &memo, ts, LevelInfo, msg, nil, fs)
			if !intact() {
				t.Fatalf("room %d of %d: written past the buffer's capacity", r, bound)
			}
			switch {
			case res == fastOK && bytes.Equal(got, want):
			case res == fastNoRoom && r < bound && len(got) == 1:
			default:
				t.Fatalf("room %d of %d: result %d\n got %q\nwant %q", r, bound, res, got, want)
			}
		}
	})
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
	// Besides the usual record, long ones of short fields: their header's room (checked
	// first, and generous) runs out early, so each field's own check is what keeps the
	// words written for it within the room.
	var many, long []Field
	for k := range 40 {
		many = append(many, Bool("b", k%2 == 0), Int("i", -k), String("s", "v"), Uint64("u", uint64(k)<<(k%64)),
			String("t", "0123456789abcdef"[:k%17]), Float64("f", float64(k)/3))
		long = append(long, String(strings.Repeat("k", k%20), strings.Repeat("\"é", k%9)))
	}
	for _, fs := range [][]Field{fs, many, long} {
		want := enc.record([]byte("abc"), ts, LevelInfo, "request", nil, fs)
		bound := recordBound("request", nil, fs)
		refused := 0
		for room := 0; room <= bound+fastSlack; room++ {
			buf, intact := guardedBuf("abc", room)
			got, res := appendJSONRecord(buf, &memo, ts, LevelInfo, "request", nil, fs)
			if !intact() {
				t.Fatalf("%d fields, room %d: written past the buffer's capacity", len(fs), room)
			}
			switch {
			case res == fastNoRoom && len(got) == 3:
				refused++
			case res == fastOK && bytes.Equal(got, want) && &got[0] == &buf[0]:
			default:
				t.Fatalf("%d fields, room %d of %d: result %d, %q", len(fs), room, bound+fastSlack, res, got)
			}
		}
		if refused == 0 || refused > bound+fastSlack {
			t.Fatalf("%d fields: refused %d of %d rooms", len(fs), refused, bound+fastSlack+1)
		}
	}
	want := enc.record([]byte("abc"), ts, LevelInfo, "request", nil, fs)
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

// TestPutJSONString holds putJSONString, which checks strings a word at a time, to
// appendEscaped, which checks them a byte at a time: every length from 0 to 40, with each
// byte value at each position of an otherwise plain string, and random strings. It also
// checks that nothing is written past the returned index.
func TestPutJSONString(t *testing.T) {
	check := func(s string) {
		t.Helper()
		want := appendEscaped(nil, s)
		b := make([]byte, 3+6*len(s)+16)
		for k := range b {
			b[k] = '#'
		}
		end := putJSONString(b, 3, s)
		if got := b[3:end]; !bytes.Equal(got, want) {
			t.Fatalf("%q: got %q want %q", s, got, want)
		}
		for k, c := range b {
			if (k < 3 || k >= end) && c != '#' {
				t.Fatalf("%q: byte %d outside [3, %d) written", s, k, end)
			}
		}
	}
	for n := range 41 {
		plain := []byte(strings.Repeat("abcdefghij", 5)[:n])
		check(string(plain))
		for pos := range n {
			for c := range 256 {
				s := bytes.Clone(plain)
				s[pos] = byte(c)
				check(string(s))
			}
		}
	}
	r := rand.New(rand.NewPCG(9, 10))
	for range 100000 {
		s := make([]byte, r.IntN(40))
		for k := range s {
			s[k] = byte(0x20 + r.IntN(0x60)) // mostly plain, sometimes '"', '\\' or 0x7f
			if r.IntN(50) == 0 {
				s[k] = byte(r.IntN(256))
			}
		}
		check(string(s))
	}
}

// TestPutUint holds putUint and put9, which format eight digits at once (digits8), to
// strconv: every number below 10^6, every 997th below 10^9, every power of ten and its
// neighbours up to the largest uint64, and random numbers of every width. It also checks
// that putUint writes only within the 20 bytes it is promised.
func TestPutUint(t *testing.T) {
	b := make([]byte, 2+20+2)
	check := func(v uint64) {
		for k := range b {
			b[k] = '#'
		}
		end := putUint(b, 2, v)
		if got, want := string(b[2:end]), strconv.FormatUint(v, 10); got != want {
			t.Fatalf("putUint(%d) = %q", v, got)
		}
		if b[0] != '#' || b[1] != '#' || b[22] != '#' || b[23] != '#' {
			t.Fatalf("putUint(%d) wrote outside its 20 bytes: %q", v, b)
		}
		if v < 1e9 {
			var d [9]byte
			put9(d[:], int64(v))
			if got, want := string(d[:]), strconv.FormatUint(1e9+v, 10)[1:]; got != want {
				t.Fatalf("put9(%d) = %q", v, got)
			}
		}
	}
	below, step, random := uint64(1e6), uint64(997), 200000
	if testing.Short() { // the same code paths, fewer values (the emulated kernels' runs)
		below, step, random = 1e4, 99991, 2000
	}
	for v := uint64(0); v < below; v++ {
		check(v)
	}
	for v := below; v < 1e9; v += step {
		check(v)
	}
	for p := uint64(1); ; p *= 10 {
		check(p - 1)
		check(p)
		check(p + 1)
		if p > math.MaxUint64/10 {
			break
		}
	}
	check(math.MaxUint64)
	r := rand.New(rand.NewPCG(11, 12))
	for range random {
		check(r.Uint64() >> r.UintN(64))
	}
}

// TestJSONFastStrings sweeps the strings the fast path writes by words without a call (the
// message, and string values of up to 16 bytes): every length from 0 to 20 with each byte
// that needs escaping (and some that do not) at each position, as the message and as a
// value, against encoder.record.
func TestJSONFastStrings(t *testing.T) {
	var c clock
	var memo keyMemo
	enc := newEncoder(FormatJSON)
	ts := c.read()
	for n := range 21 {
		for pos := range max(n, 1) {
			for _, ch := range []byte{0x00, 0x1f, ' ', '"', '\\', 'a', 0x7e, 0x7f, 0x80, 0xc3, 0xff} {
				s := []byte(strings.Repeat("abcdefghij", 3)[:n])
				if n > 0 {
					s[pos] = ch
				}
				str := string(s)
				fs := []Field{String("k", str), Bytes("b", s)}
				want := enc.record(nil, ts, LevelWarn, str, nil, fs)
				buf, intact := guardedBuf("", recordBound(str, nil, fs)+fastSlack)
				got, res := appendJSONRecord(buf, &memo, ts, LevelWarn, str, nil, fs)
				if !intact() {
					t.Fatalf("%q: written past the buffer's capacity", str)
				}
				if res != fastOK || !bytes.Equal(got, want) {
					t.Fatalf("%q: result %d\n got %q\nwant %q", str, res, got, want)
				}
			}
		}
	}
}
