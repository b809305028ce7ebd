package logger

import (
	"encoding/binary"
	"unsafe"
)

// fastSlack is the spare capacity the queue's fast path keeps beyond a record's bound:
// appendJSONRecord writes at an index and never grows its buffer, and some of its writes
// are whole words that may reach past the bytes they mean (remembered keys, integers).
const fastSlack = 8

// The outcomes of appendJSONRecord.
const (
	fastOK      = iota
	fastNoRoom  // the record might not fit in dst's spare capacity
	fastNotFast // a field may run the caller's code (Err, Stringer, Any)
)

// jsonTimeKey is `{"time":` as a little-endian word: a record's first eight bytes.
const jsonTimeKey = uint64('{') | uint64('"')<<8 | uint64('t')<<16 | uint64('i')<<24 |
	uint64('m')<<32 | uint64('e')<<40 | uint64('"')<<48 | uint64(':')<<56

// jsonLevel is what follows the timestamp for one of the four standard levels,
// `","level":"INFO","msg":"`, as four little-endian words (zero-padded), and its length.
type jsonLevel struct {
	w [4]uint64
	n int
}

// jsonLevels holds LevelDebug, LevelInfo, LevelWarn and LevelError's jsonLevel (read-only).
var jsonLevels = func() (t [4]jsonLevel) {
	for k, lv := range []Level{LevelDebug, LevelInfo, LevelWarn, LevelError} {
		var text [32]byte
		t[k].n = copy(text[:], `","level":"`+lv.String()+`","msg":"`)
		for j := range t[k].w {
			t[k].w[j] = binary.LittleEndian.Uint64(text[8*j:])
		}
	}
	return t
}()

// jsonLevelOf is level's entry in jsonLevels, or nil for a level of another value.
func jsonLevelOf(level Level) *jsonLevel {
	switch level {
	case LevelDebug:
		return &jsonLevels[0]
	case LevelInfo:
		return &jsonLevels[1]
	case LevelWarn:
		return &jsonLevels[2]
	case LevelError:
		return &jsonLevels[3]
	}
	return nil
}

// appendJSONRecord appends what encoder.record appends for FormatJSON, for the queue's fast
// path, into dst's spare capacity, which it never grows. It checks for room as it goes,
// against recordBound's bounds (the header's before the header, each field's before the
// field, each with fastSlack to spare), and stops at a field that may run the caller's
// code; either way it reports why (fastNoRoom, fastNotFast) and returns dst unchanged in
// length, so the caller takes another path and what was written is ignored.
//
// It writes at an index instead of appending piece by piece, so no piece checks for room
// or grows a slice; keys go through keyMemo, short strings and integers are written as
// words (plain8, digits8), what is rarer through putJSONString and putUint.
// TestJSONFastMatches holds its output to encoder.record's, byte for byte.
func appendJSONRecord(dst []byte, m *keyMemo, t instant, level Level, msg string, prefix []byte, fields []Field) ([]byte, int) {
	n := len(dst)
	b := dst[n:cap(dst)]
	if len(b) < maxHeaderLen+6*len(msg)+len(prefix)+1+fastSlack {
		return dst, fastNoRoom
	}
	// The header's constant pieces and the per-second text are written as whole words,
	// without a memmove call each, into a fixed window (one bounds check for all):
	// `{"time":"`, the 30-byte stamp (its last word overlaps the one before), then the
	// level's `","level":"…","msg":"` from jsonLevels.
	h := (*[71]byte)(b)
	binary.LittleEndian.PutUint64(h[0:8], jsonTimeKey)
	h[8] = '"'
	ts := t.text
	binary.LittleEndian.PutUint64(h[9:17], binary.LittleEndian.Uint64(ts[0:8]))
	binary.LittleEndian.PutUint64(h[17:25], binary.LittleEndian.Uint64(ts[8:16]))
	binary.LittleEndian.PutUint64(h[25:33], binary.LittleEndian.Uint64(ts[16:24]))
	binary.LittleEndian.PutUint64(h[31:39], binary.LittleEndian.Uint64(ts[22:30]))
	if ns := uint32(t.ns); t.ns >= 0 { // put9, by hand: the compiler would not inline it
		top := ns / 1e8
		h[29] = byte('0' + top)
		binary.LittleEndian.PutUint64(h[30:38], digits8(ns-top*1e8)|zeros8)
	}
	i := 9 + len(stamp{})
	if lv := jsonLevelOf(level); lv != nil {
		binary.LittleEndian.PutUint64(h[39:47], lv.w[0])
		binary.LittleEndian.PutUint64(h[47:55], lv.w[1])
		binary.LittleEndian.PutUint64(h[55:63], lv.w[2])
		binary.LittleEndian.PutUint64(h[63:71], lv.w[3])
		i += lv.n
	} else {
		i += copy(b[i:], `","level":"`)
		i += copy(b[i:], level.String()) // level names never need escaping
		i += copy(b[i:], `","msg":"`)
	}
	// The message as a value below, but not through keyMemo: remembering it would make msg
	// escape (keys already do). Messages are short: 4 to 16 plain bytes are two words here.
	if n := len(msg); n >= 8 && n <= 16 && plain8(load64(msg, 0)) && plain8(load64(msg, n-8)) {
		binary.LittleEndian.PutUint64(b[i:i+8], load64(msg, 0))
		binary.LittleEndian.PutUint64(b[i+n-8:i+n], load64(msg, n-8))
		i += n
	} else if n >= 4 && n < 8 && plain8(uint64(load32(msg, 0))|uint64(load32(msg, n-4))<<32) {
		binary.LittleEndian.PutUint32(b[i:i+4], load32(msg, 0))
		binary.LittleEndian.PutUint32(b[i+n-4:i+n], load32(msg, n-4))
		i += n
	} else {
		i = putJSONString(b, i, msg)
	}
	b[i] = '"'
	i++
	if len(prefix) > 0 {
		b[i] = ','
		i++
		i += copy(b[i:], prefix)
	}
	for k := range fields {
		f := &fields[k]
		if f.kind == kindSkip {
			continue
		}
		if f.kind >= kindError { // kindError, kindStringer, kindAny
			return dst, fastNotFast
		}
		if len(b)-i < maxFieldLen+6*(len(f.Key)+len(f.str))+maxValueLen+fastSlack {
			return dst, fastNoRoom
		}
		// `,"` and a remembered key (two whole words, see keyMemo) go into one window of
		// the room just checked, so they need one bounds check, not three. Written here
		// rather than in a method, which the compiler would not inline.
		kw := b[i : i+18]
		binary.LittleEndian.PutUint16(kw[0:2], uint16(',')|uint16('"')<<8)
		if e := m.entry(f.Key); e.holds(f.Key) {
			binary.LittleEndian.PutUint64(kw[2:10], e.w[0])
			binary.LittleEndian.PutUint64(kw[10:18], e.w[1])
			i += 2 + len(f.Key)
		} else {
			i = e.learn(b, i+2, f.Key)
		}
		binary.LittleEndian.PutUint16(b[i:i+2], uint16('"')|uint16(':')<<8)
		i += 2
		switch f.kind {
		case kindString, kindBytes:
			// Values of 8 to 16 plain bytes, the most common, are two words written here;
			// putJSONString does the rest.
			b[i] = '"'
			s := f.str
			if n := len(s); n >= 8 && n <= 16 && plain8(load64(s, 0)) && plain8(load64(s, n-8)) {
				binary.LittleEndian.PutUint64(b[i+1:i+9], load64(s, 0))
				binary.LittleEndian.PutUint64(b[i+1+n-8:i+1+n], load64(s, n-8))
				i += 1 + n
			} else {
				i = putJSONString(b, i+1, s)
			}
			b[i] = '"'
			i++
		case kindInt64, kindUint64:
			v := f.num
			if f.kind == kindInt64 && int64(v) < 0 {
				b[i] = '-'
				i++
				v = -v
			}
			if v < 1e8 { // putUint's first case, by hand
				n := decimalLen8(uint32(v))
				binary.LittleEndian.PutUint64(b[i:i+8], (digits8(uint32(v))|zeros8)>>((8-n)*8))
				i += n
			} else {
				i = putUint(b, i, v)
			}
		case kindBool:
			if f.num != 0 {
				i += copy(b[i:], "true")
			} else {
				i += copy(b[i:], "false")
			}
		default: // float, duration, time: rare enough for the general encoder
			i = len(jsonEncoder{}.value(b[:i], f))
		}
	}
	b[i], b[i+1] = '}', '\n'
	return dst[:n+i+2], fastOK
}

// putJSONString writes s JSON-escaped at b[i:], which has room for 6*len(s) bytes, and
// returns the index just past it; it writes nothing beyond that. It checks and copies s a word (8 bytes) at
// a time, with overlapping words for the ends (see plain8); short strings are gathered
// into one word. The first word that holds a byte needing escaping hands over to
// appendEscapedFrom, which writes s again from its start, escaped (appending within b's
// capacity, which the bound guarantees).
func putJSONString(b []byte, i int, s string) int {
	n := len(s)
	switch {
	case n >= 8:
		j := 0
		for ; j+8 < n; j += 8 {
			w := load64(s, j)
			if !plain8(w) {
				return i + len(appendEscapedFrom(b[i:i], s, j))
			}
			binary.LittleEndian.PutUint64(b[i+j:i+j+8], w)
		}
		w := load64(s, n-8) // the last 8 bytes, overlapping the word before
		if !plain8(w) {
			return i + len(appendEscapedFrom(b[i:i], s, j))
		}
		binary.LittleEndian.PutUint64(b[i+n-8:i+n], w)
	case n >= 4:
		lo, hi := load32(s, 0), load32(s, n-4) // overlapping when n < 8
		if !plain8(uint64(lo) | uint64(hi)<<32) {
			return i + len(appendEscapedFrom(b[i:i], s, 0))
		}
		binary.LittleEndian.PutUint32(b[i:i+4], lo)
		binary.LittleEndian.PutUint32(b[i+n-4:i+n], hi)
	case n > 0:
		// 1 to 3 bytes: the first, middle and last byte cover them all; the word's other
		// bytes are a plain 'a'.
		c0, c1, c2 := s[0], s[n/2], s[n-1]
		if !plain8(uint64(c0) | uint64(c1)<<8 | uint64(c2)<<16 | 0x6161616161<<24) {
			return i + len(appendEscapedFrom(b[i:i], s, 0))
		}
		b[i], b[i+n/2], b[i+n-1] = c0, c1, c2
	}
	return i + n
}

// Bytes repeated across a word, for plain8.
const (
	ones8  = 0x0101010101010101
	highs8 = 0x8080808080808080
)

// plain8 reports whether all 8 bytes of w may stand in a JSON string as they are: whether
// each is in safeASCII (0x20 to 0x7e, except '"' and '\\'). Each test below sets a byte's
// high bit where it finds a byte that may not, and sets none when there is no such byte
// (a borrow only ever starts at a byte that was found, so it can only mark bytes above it):
//
//   - w | (w&0x7f… + 0x01…): 0x80 and above, and 0x7f (whose low seven bits carry);
//   - (w - 0x20…) &^ w: below 0x20 (the subtraction borrows; &^ w drops bytes ≥ 0x80);
//   - (q - 0x01…) &^ q for q = w ^ '"'… and w ^ '\\'…: a zero byte of q, that is a quote
//     or a backslash in w.
func plain8(w uint64) bool {
	q, bs := w^(ones8*'"'), w^(ones8*'\\')
	m := w | (w&^highs8 + ones8)
	m |= (w - ones8*0x20) &^ w
	m |= (q - ones8) &^ q
	m |= (bs - ones8) &^ bs
	return m&highs8 == 0
}

// load64 is s[j:j+8] as a little-endian word (one load: the compiler merges the bytes).
func load64(s string, j int) uint64 {
	_ = s[j+7]
	return uint64(s[j]) | uint64(s[j+1])<<8 | uint64(s[j+2])<<16 | uint64(s[j+3])<<24 |
		uint64(s[j+4])<<32 | uint64(s[j+5])<<40 | uint64(s[j+6])<<48 | uint64(s[j+7])<<56
}

// load32 is s[j:j+4] as a little-endian word.
func load32(s string, j int) uint32 {
	_ = s[j+3]
	return uint32(s[j]) | uint32(s[j+1])<<8 | uint32(s[j+2])<<16 | uint32(s[j+3])<<24
}

// putUint writes v in decimal at b[i:], which has room for 20 bytes, and returns the index
// just past it. Numbers below 10^8, nearly all a log holds, are one digits8 word with its
// leading zeros shifted out (it may write up to 8 bytes past the digits: the room is there
// and what follows overwrites them); below 10^16, two. The length comes from v by
// comparisons, not from the digits, so the index the rest of the record is written at does
// not wait for digits8's chain of multiplications.
func putUint(b []byte, i int, v uint64) int {
	if v < 1e8 {
		n := decimalLen8(uint32(v))
		binary.LittleEndian.PutUint64(b[i:i+8], (digits8(uint32(v))|zeros8)>>((8-n)*8))
		return i + n
	}
	if v < 1e16 {
		hi := v / 1e8
		n := decimalLen8(uint32(hi))
		binary.LittleEndian.PutUint64(b[i:i+8], (digits8(uint32(hi))|zeros8)>>((8-n)*8))
		binary.LittleEndian.PutUint64(b[i+n:i+n+8], digits8(uint32(v-hi*1e8))|zeros8)
		return i + n + 8
	}
	return len(appendUint(b[:i], v))
}

// decimalLen8 is the number of decimal digits of v < 1e8 (1 for 0): four comparisons.
func decimalLen8(v uint32) int {
	if v < 1e4 {
		if v < 100 {
			if v < 10 {
				return 1
			}
			return 2
		}
		if v < 1000 {
			return 3
		}
		return 4
	}
	if v < 1e6 {
		if v < 1e5 {
			return 5
		}
		return 6
	}
	if v < 1e7 {
		return 7
	}
	return 8
}

// keyMemo remembers field keys (strings of 1 to 16 bytes) that were found to need no JSON
// escaping, so the next record with the same key skips the byte-by-byte check and writes it
// as two words. Keys are nearly always string constants, so the same few come back record
// after record, at the same address. An entry keeps the string itself: while it is
// remembered its bytes cannot be freed and reused, so a string with the same data pointer
// and length is the same bytes (Go strings are immutable). Two keys that map to one slot
// take turns. The queue's fast path uses it under the queue's lock. A Logger keeps at most
// 64 keys of at most 16 bytes this way. (Keys escaped to the heap already, through the
// ordinary path; the message does not, so it is not remembered here.)
type keyMemo [64]memoEntry

type memoEntry struct {
	s string
	w [2]uint64 // the bytes of s, little-endian, zero-padded to 16
}

// entry is the slot for s. A key the slot holds (holds) is written as the slot's two words,
// e.w, at b[i:], which must have room for 16 bytes even when s is shorter (the record bound
// leaves maxFieldLen+maxValueLen after a key): whatever the words write past s's end is
// overwritten by what follows or cut off with the record's end. Any other key goes to learn.
func (m *keyMemo) entry(s string) *memoEntry {
	return &m[(uint64(uintptr(unsafe.Pointer(unsafe.StringData(s))))+uint64(len(s)))*0x9e3779b97f4a7c15>>58] // Fibonacci hashing
}

// holds reports whether e remembers s itself: the same bytes at the same address.
func (e *memoEntry) holds(s string) bool {
	return unsafe.StringData(e.s) == unsafe.StringData(s) && len(e.s) == len(s)
}

// learn writes s with putJSONString and remembers it in e if it needed no escaping.
func (e *memoEntry) learn(b []byte, i int, s string) int {
	j := putJSONString(b, i, s)
	if n := len(s); n > 0 && n <= 16 && j == i+n {
		var t [16]byte
		copy(t[:], s)
		e.s = s
		e.w = [2]uint64{binary.LittleEndian.Uint64(t[:8]), binary.LittleEndian.Uint64(t[8:])}
	}
	return j
}
