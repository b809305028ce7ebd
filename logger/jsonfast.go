package logger

import (
	"encoding/binary"
	"unsafe"
)

// fastSlack is the spare capacity the queue's fast path keeps beyond a record's bound:
// appendJSONRecord writes at an index and never grows its buffer, and some of its writes
// are whole words that may reach past the bytes they mean (keyMemo.put).
const fastSlack = 8

// The outcomes of appendJSONRecord.
const (
	fastOK      = iota
	fastNoRoom  // the record might not fit in dst's spare capacity
	fastNotFast // a field may run the caller's code (Err, Stringer, Any)
)

// appendJSONRecord appends what encoder.record appends for FormatJSON, for the queue's fast
// path, into dst's spare capacity, which it never grows. It checks for room as it goes,
// against recordBound's bounds (the header's before the header, each field's before the
// field, each with fastSlack to spare), and stops at a field that may run the caller's
// code; either way it reports why (fastNoRoom, fastNotFast) and returns dst unchanged in
// length, so the caller takes another path and what was written is ignored.
//
// It writes at an index instead of appending piece by piece, so no piece checks for room
// or grows a slice; keys and the message go through keyMemo, integers through putUint.
// TestJSONFastMatches holds its output to encoder.record's, byte for byte.
func appendJSONRecord(dst []byte, m *keyMemo, t instant, level Level, msg string, prefix []byte, fields []Field) ([]byte, int) {
	n := len(dst)
	b := dst[n:cap(dst)]
	if len(b) < maxHeaderLen+6*len(msg)+len(prefix)+1+fastSlack {
		return dst, fastNoRoom
	}
	i := copy(b, `{"time":"`)
	*(*stamp)(b[i:]) = *t.text
	if t.ns >= 0 {
		put9(b[i+20:i+29], t.ns)
	}
	i += len(stamp{})
	switch level {
	case LevelDebug:
		i += copy(b[i:], `","level":"DEBUG","msg":"`)
	case LevelInfo:
		i += copy(b[i:], `","level":"INFO","msg":"`)
	case LevelWarn:
		i += copy(b[i:], `","level":"WARN","msg":"`)
	case LevelError:
		i += copy(b[i:], `","level":"ERROR","msg":"`)
	default:
		i += copy(b[i:], `","level":"`)
		i += copy(b[i:], level.String()) // level names never need escaping
		i += copy(b[i:], `","msg":"`)
	}
	i = putJSONString(b, i, msg) // not m.put: that would make msg escape (keys already do)
	b[i] = '"'
	i++
	if len(prefix) > 0 {
		b[i] = ','
		i++
		i += copy(b[i:], prefix)
	}
	for k := range fields {
		f := &fields[k]
		switch f.kind {
		case kindSkip:
			continue
		case kindError, kindStringer, kindAny:
			return dst, fastNotFast
		}
		if len(b)-i < maxFieldLen+6*(len(f.Key)+len(f.str))+maxValueLen+fastSlack {
			return dst, fastNoRoom
		}
		b[i], b[i+1] = ',', '"'
		i = m.put(b, i+2, f.Key)
		b[i], b[i+1] = '"', ':'
		i += 2
		switch f.kind {
		case kindString, kindBytes:
			b[i] = '"'
			i = putJSONString(b, i+1, f.str)
			b[i] = '"'
			i++
		case kindInt64:
			v := f.num
			if int64(v) < 0 {
				b[i] = '-'
				i++
				v = -v
			}
			i = putUint(b, i, v)
		case kindUint64:
			i = putUint(b, i, f.num)
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
// returns the index just past it. A short string is checked and copied byte by byte in one
// loop; a longer one is copied with copy (memmove) and then checked. The first byte that
// needs escaping hands over to appendEscapedFrom, which writes s again from its start,
// escaped (appending within b's capacity, which the bound guarantees).
func putJSONString(b []byte, i int, s string) int {
	if len(s) <= 16 {
		d := b[i : i+len(s)] // one bounds check here, none in the loop
		for j := range d {
			c := s[j]
			if !safeASCII[c] {
				return i + len(appendEscapedFrom(b[i:i], s, j))
			}
			d[j] = c
		}
		return i + len(s)
	}
	copy(b[i:], s)
	for j := 0; j < len(s); j++ {
		if !safeASCII[s[j]] {
			return i + len(appendEscapedFrom(b[i:i], s, j))
		}
	}
	return i + len(s)
}

// putUint writes v in decimal at b[i:], which has room for 20 bytes, and returns the index
// just past it. Numbers below 10^8, nearly all a log holds, take at most two divisions that
// do not depend on each other's digits.
func putUint(b []byte, i int, v uint64) int {
	if v < 10000 {
		return putSmall(b, i, uint32(v))
	}
	if v < 1e8 {
		hi := v / 10000
		i = putSmall(b, i, uint32(hi))
		put4pairs(b[i:i+4], uint32(v-hi*10000))
		return i + 4
	}
	return len(appendUint(b[:i], v))
}

// putSmall writes v < 10000 in decimal at b[i:] and returns the index just past it.
func putSmall(b []byte, i int, v uint32) int {
	switch {
	case v < 10:
		b[i] = byte('0' + v)
		return i + 1
	case v < 100:
		b[i], b[i+1] = digitPairs[v*2], digitPairs[v*2+1]
		return i + 2
	case v < 1000:
		h := v / 100
		l := (v - h*100) * 2
		b[i], b[i+1], b[i+2] = byte('0'+h), digitPairs[l], digitPairs[l+1]
		return i + 3
	}
	put4pairs(b[i:i+4], v)
	return i + 4
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

// put writes s, a key or message, JSON-escaped at b[i:] as putJSONString does and returns
// the index past it. b must have room for 16 bytes at i even when s is shorter (the record
// bound leaves far more than that around a key or the message: maxFieldLen+maxValueLen
// after a key, maxHeaderLen around the message): a remembered string is written as two
// whole words, and whatever they write past s's end is overwritten by what follows or cut
// off with the record's end. Small enough to be inlined; misses go to learn.
func (m *keyMemo) put(b []byte, i int, s string) int {
	p := unsafe.StringData(s)
	e := &m[(uint64(uintptr(unsafe.Pointer(p)))+uint64(len(s)))*0x9e3779b97f4a7c15>>58] // Fibonacci hashing
	if unsafe.StringData(e.s) != p || len(e.s) != len(s) {
		return e.learn(b, i, s)
	}
	binary.LittleEndian.PutUint64(b[i:i+8], e.w[0])
	binary.LittleEndian.PutUint64(b[i+8:i+16], e.w[1])
	return i + len(s)
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
