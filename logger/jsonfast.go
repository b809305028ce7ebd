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

// jsonTrue and jsonFalse are "true" and "false" as little-endian words (zero-padded).
const (
	jsonTrue  = uint64('t') | uint64('r')<<8 | uint64('u')<<16 | uint64('e')<<24
	jsonFalse = uint64('f') | uint64('a')<<8 | uint64('l')<<16 | uint64('s')<<24 | uint64('e')<<32
)

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
// or grows a slice, and through unchecked stores (st64), so no write has a bounds check of
// its own: the room checks are what keep the writes within dst's capacity. Keys go
// through keyMemo, strings of up to 16 bytes and integers are written as words (plain8,
// digits8), what is rarer through putJSONString and putUint.
// TestJSONFastMatches holds its output to encoder.record's, byte for byte.
func appendJSONRecord(dst []byte, m *keyMemo, t instant, level Level, msg string, prefix []byte, fields []Field) ([]byte, int) {
	n := len(dst)
	b := dst[n:cap(dst)]
	if len(b) < maxHeaderLen+6*len(msg)+len(prefix)+1+fastSlack {
		return dst, fastNoRoom
	}
	// From here on every write into b goes through st64 and friends, unchecked, at an
	// index the room checks cover: the one above for the header (maxHeaderLen is more than
	// the 71 bytes of words below), each field's below. The header's constant pieces and
	// the per-second text are whole words: `{"time":"`, the 30-byte stamp (its last word overlaps the one before),
	// then the level's `","level":"…","msg":"` from jsonLevels.
	p := unsafe.Pointer(unsafe.SliceData(b))
	st64(p, 0, jsonTimeKey)
	st8(p, 8, '"')
	ts := t.text
	st64(p, 9, binary.LittleEndian.Uint64(ts[0:8]))
	st64(p, 17, binary.LittleEndian.Uint64(ts[8:16]))
	st64(p, 25, binary.LittleEndian.Uint64(ts[16:24]))
	st64(p, 31, binary.LittleEndian.Uint64(ts[22:30]))
	if ns := uint32(t.ns); t.ns >= 0 { // put9, by hand: the compiler would not inline it
		top := ns / 1e8
		st8(p, 29, byte('0'+top))
		st64(p, 30, digits8(ns-top*1e8)|zeros8)
	}
	i := 9 + len(stamp{})
	if lv := jsonLevelOf(level); lv != nil {
		st64(p, 39, lv.w[0])
		st64(p, 47, lv.w[1])
		st64(p, 55, lv.w[2])
		st64(p, 63, lv.w[3])
		i += lv.n
	} else {
		i += copy(b[i:], `","level":"`)
		i += copy(b[i:], level.String()) // level names never need escaping
		i += copy(b[i:], `","msg":"`)
	}
	// The message as a value below, but not through keyMemo: remembering it would make msg
	// escape (keys already do). Messages are short: 4 to 16 plain bytes are two words here.
	if n := len(msg); n >= 8 && n <= 16 && plain8(load64(msg, 0)) && plain8(load64(msg, n-8)) {
		st64(p, i, load64(msg, 0))
		st64(p, i+n-8, load64(msg, n-8))
		i += n
	} else if n >= 4 && n < 8 && plain8(uint64(load32(msg, 0))|uint64(load32(msg, n-4))<<32) {
		st32(p, i, load32(msg, 0))
		st32(p, i+n-4, load32(msg, n-4))
		i += n
	} else {
		i = putJSONString(b, i, msg)
	}
	st8(p, i, '"')
	i++
	if len(prefix) > 0 {
		st8(p, i, ',')
		i++
		i += copy(b[i:], prefix)
	}
	// A field needs maxFieldLen+maxValueLen+fastSlack bytes and 6 per byte of its key and
	// string value (recordBound's count): past end, it does not fit.
	end := len(b) - (maxFieldLen + maxValueLen + fastSlack)
	for k := range fields {
		f := &fields[k]
		kind := f.kind
		if kind-1 >= kindError-1 { // kindSkip (wrapping around), kindError, kindStringer, kindAny
			if kind == kindSkip {
				continue
			}
			return dst, fastNotFast
		}
		if i+6*(len(f.Key)+len(f.str)) > end {
			return dst, fastNoRoom
		}
		// The room just checked is at least 64 bytes (and 6 per byte of key and string
		// value): enough for the key's three words, and for any value below after a key
		// of up to 16 bytes (an escaped or longer one is within the 6 per byte).
		//
		// `,"key":`: a remembered key is three whole words (see keyMemo). Written here
		// rather than in a method, which the compiler would not inline.
		if e := m.entry(f.Key); e.holds(f.Key) {
			st64(p, i, e.w[0])
			st64(p, i+8, e.w[1])
			st64(p, i+16, e.w[2])
			i += e.n
		} else {
			i = e.learn(b, i, f.Key)
		}
		switch kind {
		case kindString, kindBytes:
			// Values of up to 16 plain bytes, nearly all, are written here with whole
			// words (or, below 4 bytes, three bytes that cover them); putJSONString does
			// the rest.
			s := f.str
			st8(p, i, '"')
			switch n := len(s); {
			case n >= 8 && n <= 16:
				lo, hi := load64(s, 0), load64(s, n-8)
				if !plain8(lo) || !plain8(hi) {
					i = putJSONString(b, i+1, s)
					break
				}
				st64(p, i+1, lo)
				st64(p, i+n-7, hi)
				i += 1 + n
			case n >= 4 && n < 8:
				lo, hi := load32(s, 0), load32(s, n-4)
				if !plain8(uint64(lo) | uint64(hi)<<32) {
					i = putJSONString(b, i+1, s)
					break
				}
				st32(p, i+1, lo)
				st32(p, i+n-3, hi)
				i += 1 + n
			case n > 0 && n < 4:
				c0, c1, c2 := s[0], s[n/2], s[n-1]
				if !plain8(uint64(c0) | uint64(c1)<<8 | uint64(c2)<<16 | 0x6161616161<<24) {
					i = putJSONString(b, i+1, s)
					break
				}
				st8(p, i+1, c0)
				st8(p, i+1+n/2, c1)
				st8(p, i+n, c2)
				i += 1 + n
			case n == 0:
				i++
			default:
				i = putJSONString(b, i+1, s)
			}
			st8(p, i, '"')
			i++
		case kindInt64, kindUint64:
			v := f.num
			if kind == kindInt64 && int64(v) < 0 {
				st8(p, i, '-')
				i++
				v = -v
			}
			if v < 1e8 { // putUint's first case, by hand
				n := decimalLen8(uint32(v))
				st64(p, i, (digits8(uint32(v))|zeros8)>>((8-n)*8))
				i += n
			} else {
				i = putUint(b, i, v)
			}
		case kindBool:
			// "true" or "false" as one word; what it writes past them is overwritten.
			w, n := uint64(jsonFalse), 5
			if f.num != 0 {
				w, n = jsonTrue, 4
			}
			st64(p, i, w)
			i += n
		default: // float, duration, time: rare enough for the general encoder
			i = len(jsonEncoder{}.value(b[:i], f))
		}
	}
	st16(p, i, uint16('}')|uint16('\n')<<8)
	return dst[:n+i+2], fastOK
}

// st64, st32, st16 and st8 store a little-endian word (or a byte) at p+i, unaligned, without
// a bounds check: appendJSONRecord writes through them into the spare capacity of a batch
// buffer, at indexes its room checks cover (each piece's room is checked, as recordBound
// bounds it, before the piece is written, and a word that reaches past the piece's end
// stays within the room checked for it). Going through (*[8]byte) keeps the byte order
// little-endian on every architecture and lets the compiler emit one store where
// unaligned stores are allowed; under -race, checkptr checks each conversion against the
// buffer's allocation. TestJSONFastRefuses (every room up to the bound, for records long
// enough that each field's own check decides) and FuzzJSONFast hold the writes within the
// capacity given, with guard bytes right after it.
func st64(p unsafe.Pointer, i int, w uint64) {
	binary.LittleEndian.PutUint64((*[8]byte)(unsafe.Add(p, i))[:], w)
}

func st32(p unsafe.Pointer, i int, w uint32) {
	binary.LittleEndian.PutUint32((*[4]byte)(unsafe.Add(p, i))[:], w)
}

func st16(p unsafe.Pointer, i int, w uint16) {
	binary.LittleEndian.PutUint16((*[2]byte)(unsafe.Add(p, i))[:], w)
}

func st8(p unsafe.Pointer, i int, c byte) { *(*byte)(unsafe.Add(p, i)) = c }

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
// escaping, so the next record with the same key skips the byte-by-byte check and writes
// the key with its punctuation, `,"key":`, as three words. Keys are nearly always string
// constants, so the same few come back record after record, at the same address. An entry
// keeps the string itself: while it is remembered its bytes cannot be freed and reused, so
// a string with the same data pointer and length is the same bytes (Go strings are
// immutable). Two keys that map to one slot take turns. The queue's fast path uses it under
// the queue's lock. A Logger keeps at most 64 keys of at most 16 bytes this way. (Keys
// escaped to the heap already, through the ordinary path; the message does not, so it is
// not remembered here.)
type keyMemo [64]memoEntry

type memoEntry struct {
	s string
	n int       // len(s) + 4: the length of `,"s":`; 0 while the slot is empty
	w [3]uint64 // `,"s":`, little-endian, zero-padded to 24 bytes
}

// entry is the slot for s. A key the slot holds (holds) is written as the slot's three
// words, e.w, at b[i:], which must have room for 24 bytes even when s is shorter (the
// record bound leaves maxFieldLen+maxValueLen after a key): whatever the words write past
// `,"s":` is overwritten by the value or cut off with the record's end. Any other key goes
// to learn.
func (m *keyMemo) entry(s string) *memoEntry {
	return &m[(uint64(uintptr(unsafe.Pointer(unsafe.StringData(s))))+uint64(len(s)))*0x9e3779b97f4a7c15>>58] // Fibonacci hashing
}

// holds reports whether e remembers s itself: the same bytes at the same address. (An
// empty slot's n is 0, which no key's len+4 is, so it holds nothing, not even "".)
func (e *memoEntry) holds(s string) bool {
	return unsafe.StringData(e.s) == unsafe.StringData(s) && e.n == len(s)+4
}

// learn writes `,"s":` at b[i:], s through putJSONString, and returns the index just past
// it; it remembers s in e if s needed no escaping and is 1 to 16 bytes long.
func (e *memoEntry) learn(b []byte, i int, s string) int {
	b[i], b[i+1] = ',', '"'
	j := putJSONString(b, i+2, s)
	b[j], b[j+1] = '"', ':'
	if n := len(s); n > 0 && n <= 16 && j == i+2+n {
		var t [24]byte
		copy(t[:], b[i:j+2])
		e.s, e.n = s, n+4
		e.w = [3]uint64{binary.LittleEndian.Uint64(t[:8]), binary.LittleEndian.Uint64(t[8:16]), binary.LittleEndian.Uint64(t[16:])}
	}
	return j + 2
}
