package logger

import (
	"encoding/binary"
	"math/bits"
	"time"
)

// stamp is a formatted timestamp: RFC 3339 in UTC with nine digits of nanoseconds,
// 2024-05-06T07:08:09.012345678Z. Its fixed width keeps lines aligned and lets timestamps
// sort as text. It is passed by value (30 bytes), so it never escapes to the heap.
type stamp [30]byte

// stampOf formats sec.nsec (Unix time). ok is false for years outside 0000–9999, which
// RFC 3339 cannot express in this width.
func stampOf(sec, nsec int64) (ts stamp, ok bool) {
	days := sec / 86400
	rem := sec % 86400
	if rem < 0 {
		rem += 86400
		days--
	}
	y, m, d := civil(days)
	if y < 0 || y > 9999 {
		return ts, false
	}
	put4(ts[0:], int(y))
	ts[4] = '-'
	put2(ts[5:], int(m))
	ts[7] = '-'
	put2(ts[8:], int(d))
	ts[10] = 'T'
	put2(ts[11:], int(rem/3600))
	ts[13] = ':'
	put2(ts[14:], int(rem/60%60))
	ts[16] = ':'
	put2(ts[17:], int(rem%60))
	ts[19] = '.'
	put9(ts[20:], nsec)
	ts[29] = 'Z'
	return ts, true
}

// put9 writes n (0 ≤ n < 1e9) as nine digits: the first, then the other eight as one word
// (digits8).
func put9(b []byte, n int64) {
	_ = b[8]
	u := uint32(n)
	top := u / 1e8
	b[0] = byte('0' + top)
	binary.LittleEndian.PutUint64(b[1:9], digits8(u-top*1e8)|zeros8)
}

// zeros8 is eight '0' digits as a word: digits8's result plus zeros8 is text.
const zeros8 = 0x3030303030303030

// digits8 is the eight decimal digits of v (v < 1e8, with leading zeros) as a little-endian
// word of digit values 0–9, the most significant digit in the lowest byte: add zeros8 for
// the text. It splits v into two halves of four digits, each half into two pairs, each pair
// into two digits, dividing every lane of a word at once by a multiplication and a shift
// (x*10486>>20 is x/100 for x < 10000, x*103>>10 is x/10 for x < 100); the lanes are wide
// enough that no product spills into the next lane's kept bits.
func digits8(v uint32) uint64 {
	hi := v / 10000
	x := uint64(hi) | uint64(v-hi*10000)<<32    // abcd, efgh in 32-bit lanes
	q := (x * 10486 >> 20) & 0x0000007f0000007f // ab, ef
	x = q | (x-q*100)<<16                       // ab, cd, ef, gh in 16-bit lanes
	q = (x * 103 >> 10) & 0x000f000f000f000f    // a, c, e, g
	return q | (x-q*10)<<8                      // a, b, c, … h in bytes
}

const digitPairs = "00010203040506070809101112131415161718192021222324252627282930313233343536373839" +
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879" +
	"8081828384858687888990919293949596979899"

// appendInt appends v in decimal, like strconv.AppendInt(dst, v, 10) but cheaper for the
// numbers logs are full of: the digits are written two at a time straight into dst.
func appendInt(dst []byte, v int64) []byte {
	if v >= 0 {
		return appendUint(dst, uint64(v))
	}
	dst = append(dst, '-')
	return appendUint(dst, -uint64(v))
}

// appendUint appends v in decimal.
func appendUint(dst []byte, v uint64) []byte {
	if v < 10 {
		return append(dst, byte('0'+v))
	}
	n := decimalLen(v)
	l := len(dst)
	if cap(dst)-l < n {
		dst = append(dst, make([]byte, n)...)[:l] // grow once, with append's growth policy
	}
	dst = dst[:l+n]
	b := dst[l : l+n]
	i := n
	// Four digits at a time, each four as two independent pairs, so the chain of dependent
	// divisions (multiplications, really) is a quarter as long as digit by digit.
	for v >= 10000 {
		q := v / 10000
		r := v - q*10000
		hi, lo := r/100*2, r%100*2
		b[i-4], b[i-3], b[i-2], b[i-1] = digitPairs[hi], digitPairs[hi+1], digitPairs[lo], digitPairs[lo+1]
		i -= 4
		v = q
	}
	if v >= 100 {
		q := v / 100
		d := (v - q*100) * 2
		b[i-2], b[i-1] = digitPairs[d], digitPairs[d+1]
		i -= 2
		v = q
	}
	if v >= 10 {
		b[i-2], b[i-1] = digitPairs[v*2], digitPairs[v*2+1]
	} else {
		b[i-1] = byte('0' + v)
	}
	return dst
}

// decimalLen is the number of decimal digits of v: log10 from the bit length, corrected by
// one comparison.
func decimalLen(v uint64) int {
	n := (bits.Len64(v) * 1233) >> 12 // 1233/4096 ≈ log10(2)
	if n < len(pow10) && v >= pow10[n] {
		n++
	}
	return max(n, 1)
}

// pow10[i] is 10^i.
var pow10 = [...]uint64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14,
	1e15, 1e16, 1e17, 1e18, 1e19}

// appendTime appends the instant sec.nsec (Unix time) as a stamp (see stamp), or in
// time.RFC3339Nano form for years a stamp cannot hold.
func appendTime(dst []byte, sec int64, nsec int64) []byte {
	ts, ok := stampOf(sec, nsec)
	if !ok {
		return time.Unix(sec, nsec).UTC().AppendFormat(dst, time.RFC3339Nano)
	}
	return append(dst, ts[:]...)
}

// appendUnixNano is appendTime for a count of nanoseconds since the Unix epoch.
func appendUnixNano(dst []byte, ns int64) []byte {
	sec, nsec := ns/1e9, ns%1e9
	if nsec < 0 {
		nsec += 1e9
		sec--
	}
	return appendTime(dst, sec, nsec)
}

// civil converts days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
// days_from_civil inverse).
func civil(days int64) (year, month, day int64) {
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	day = doy - (153*mp+2)/5 + 1
	if mp < 10 {
		month = mp + 3
	} else {
		month = mp - 9
	}
	year = yoe + era*400
	if month <= 2 {
		year++
	}
	return year, month, day
}

func put2(b []byte, v int) {
	b[0] = byte('0' + v/10)
	b[1] = byte('0' + v%10)
}

func put4(b []byte, v int) {
	b[0] = byte('0' + v/1000)
	b[1] = byte('0' + v/100%10)
	b[2] = byte('0' + v/10%10)
	b[3] = byte('0' + v%10)
}

// appendDuration appends d exactly as d.String() would, without allocating.
func appendDuration(dst []byte, d time.Duration) []byte {
	var buf [32]byte
	w := len(buf)
	u := uint64(d)
	neg := d < 0
	if neg {
		u = -u
	}
	if u < uint64(time.Second) {
		var prec int
		w--
		buf[w] = 's'
		w--
		switch {
		case u == 0:
			buf[w] = '0'
			return append(dst, buf[w:]...)
		case u < uint64(time.Microsecond):
			prec = 0
			buf[w] = 'n'
		case u < uint64(time.Millisecond):
			prec = 3
			w--
			copy(buf[w:], "µ")
		default:
			prec = 6
			buf[w] = 'm'
		}
		w, u = fmtFrac(buf[:w], u, prec)
		w = fmtInt(buf[:w], u)
	} else {
		w--
		buf[w] = 's'
		w, u = fmtFrac(buf[:w], u, 9)
		w = fmtInt(buf[:w], u%60)
		u /= 60
		if u > 0 {
			w--
			buf[w] = 'm'
			w = fmtInt(buf[:w], u%60)
			u /= 60
			if u > 0 {
				w--
				buf[w] = 'h'
				w = fmtInt(buf[:w], u)
			}
		}
	}
	if neg {
		w--
		buf[w] = '-'
	}
	return append(dst, buf[w:]...)
}

// fmtFrac formats the fraction of v/10**prec (e.g., ".12345") into the tail of buf, omitting
// trailing zeros and the dot when the fraction is zero. It returns the index where the
// output begins and v/10**prec.
func fmtFrac(buf []byte, v uint64, prec int) (int, uint64) {
	w := len(buf)
	print := false
	for i := 0; i < prec; i++ {
		digit := v % 10
		print = print || digit != 0
		if print {
			w--
			buf[w] = byte(digit) + '0'
		}
		v /= 10
	}
	if print {
		w--
		buf[w] = '.'
	}
	return w, v
}

// fmtInt formats v into the tail of buf and returns the index where the output begins.
func fmtInt(buf []byte, v uint64) int {
	w := len(buf)
	if v == 0 {
		w--
		buf[w] = '0'
		return w
	}
	for v > 0 {
		w--
		buf[w] = byte(v%10) + '0'
		v /= 10
	}
	return w
}
