package http1

import "time"

// TimeFormat is the IMF-fixdate layout used for Date and Last-Modified
// (the same as net/http.TimeFormat).
const TimeFormat = "Mon, 02 Jan 2006 15:04:05 GMT"

const (
	dayNames   = "SunMonTueWedThuFriSat"
	monthNames = "JanFebMarAprMayJunJulAugSepOctNovDec"
)

var longDayNames = [7]string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}

// AppendHTTPDate appends t in IMF-fixdate form (t.UTC().Format(TimeFormat)) without
// allocating when dst has room for 29 more bytes. Years outside 0..9999 are clamped.
func AppendHTTPDate(dst []byte, t time.Time) []byte {
	t = t.UTC()
	y, mo, d := t.Date()
	hh, mm, ss := t.Clock()
	if y < 0 {
		y = 0
	} else if y > 9999 {
		y = 9999
	}
	wd := int(t.Weekday())
	dst = append(dst, dayNames[wd*3:wd*3+3]...)
	dst = append(dst, ',', ' ', byte('0'+d/10), byte('0'+d%10), ' ')
	dst = append(dst, monthNames[(mo-1)*3:(mo-1)*3+3]...)
	dst = append(dst, ' ', byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), ' ',
		byte('0'+hh/10), byte('0'+hh%10), ':', byte('0'+mm/10), byte('0'+mm%10), ':',
		byte('0'+ss/10), byte('0'+ss%10), ' ', 'G', 'M', 'T')
	return dst
}

// DateCache holds the current Date header value, reformatted at most once a second.
// It is not safe for concurrent use: keep one per event loop.
type DateCache struct {
	sec   int64
	valid bool
	buf   [len(TimeFormat)]byte
}

// Get returns the IMF-fixdate for now. The slice aliases the cache and changes on the
// next Get in a later second. Get never allocates.
func (c *DateCache) Get(now time.Time) []byte {
	if s := now.Unix(); !c.valid || s != c.sec {
		AppendHTTPDate(c.buf[:0], now)
		c.sec, c.valid = s, true
	}
	return c.buf[:]
}

// ParseHTTPDate parses an HTTP-date in any of the three RFC 9110 §5.6.7 forms:
// IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), obsolete RFC 850
// ("Sunday, 06-Nov-94 08:49:37 GMT") and asctime ("Sun Nov  6 08:49:37 1994").
// Day and month names are matched ASCII case-insensitively; the day name is not
// checked against the date (as in net/http). Two-digit RFC 850 years follow Go's
// time package: 69..99 are 19xx, 00..68 are 20xx. The grammar is otherwise strict:
// unlike net/http.ParseTime (time.Parse) it rejects extra spaces, one-digit hours and
// zones other than GMT. It never allocates.
func ParseHTTPDate(b []byte) (time.Time, bool) {
	sec, ok := parseHTTPDate(b)
	if !ok {
		return time.Time{}, false
	}
	return time.Unix(sec, 0).UTC(), true
}

// parseHTTPDate returns the date as Unix seconds.
func parseHTTPDate(b []byte) (int64, bool) {
	var y, mo, d, hh, mm, ss int
	var ok bool
	switch {
	case len(b) == 29 && b[3] == ',': // IMF-fixdate
		if dayIndex(b[:3]) < 0 || b[4] != ' ' || b[7] != ' ' || b[11] != ' ' ||
			b[16] != ' ' || string(b[25:]) != " GMT" {
			return 0, false
		}
		d, ok = num(b[5:7])
		if !ok {
			return 0, false
		}
		mo = monthIndex(b[8:11]) + 1
		if y, ok = num(b[12:16]); !ok {
			return 0, false
		}
		if hh, mm, ss, ok = clock(b[17:25]); !ok {
			return 0, false
		}
	case len(b) == 24 && b[3] == ' ': // asctime
		if dayIndex(b[:3]) < 0 || b[7] != ' ' || b[10] != ' ' || b[19] != ' ' {
			return 0, false
		}
		mo = monthIndex(b[4:7]) + 1
		if b[8] == ' ' {
			d, ok = num(b[9:10])
		} else {
			d, ok = num(b[8:10])
		}
		if !ok {
			return 0, false
		}
		if hh, mm, ss, ok = clock(b[11:19]); !ok {
			return 0, false
		}
		if y, ok = num(b[20:24]); !ok {
			return 0, false
		}
	default: // RFC 850: day-name-l "," SP 2DIGIT "-" month "-" 2DIGIT SP time SP "GMT"
		c := 0
		for c < len(b) && b[c] != ',' {
			c++
		}
		if c < 6 || c > 9 || len(b) != c+24 || !longDayName(b[:c]) {
			return 0, false
		}
		r := b[c+1:]
		if r[0] != ' ' || r[3] != '-' || r[7] != '-' || r[10] != ' ' || string(r[19:]) != " GMT" {
			return 0, false
		}
		if d, ok = num(r[1:3]); !ok {
			return 0, false
		}
		mo = monthIndex(r[4:7]) + 1
		if y, ok = num(r[8:10]); !ok {
			return 0, false
		}
		if y >= 69 {
			y += 1900
		} else {
			y += 2000
		}
		if hh, mm, ss, ok = clock(r[11:19]); !ok {
			return 0, false
		}
	}
	if mo < 1 || d < 1 || d > daysIn(time.Month(mo), y) {
		return 0, false
	}
	return time.Date(y, time.Month(mo), d, hh, mm, ss, 0, time.UTC).Unix(), true
}

// clock parses "hh:mm:ss".
func clock(b []byte) (hh, mm, ss int, ok bool) {
	if b[2] != ':' || b[5] != ':' {
		return 0, 0, 0, false
	}
	h, ok1 := num(b[0:2])
	m, ok2 := num(b[3:5])
	s, ok3 := num(b[6:8])
	if !ok1 || !ok2 || !ok3 || h > 23 || m > 59 || s > 59 {
		return 0, 0, 0, false
	}
	return h, m, s, true
}

// num parses a short all-digit field.
func num(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, len(b) > 0
}

func dayIndex(b []byte) int {
	for i := range 7 {
		if eqFoldMixed(b, dayNames[i*3:i*3+3]) {
			return i
		}
	}
	return -1
}

func monthIndex(b []byte) int {
	for i := range 12 {
		if eqFoldMixed(b, monthNames[i*3:i*3+3]) {
			return i
		}
	}
	return -1
}

func longDayName(b []byte) bool {
	for _, n := range longDayNames {
		if eqFoldMixed(b, n) {
			return true
		}
	}
	return false
}

// eqFoldMixed compares ASCII case-insensitively against s of any case.
func eqFoldMixed(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(s) {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

func daysIn(m time.Month, y int) int {
	switch m {
	case time.February:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case time.April, time.June, time.September, time.November:
		return 30
	}
	return 31
}
