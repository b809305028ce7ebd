package logger

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// An encoder turns one record into bytes: the caller appends a header, then fields, then the
// end, each call extending dst (record does all three). An encoder holds only its format,
// chosen once at New, so one value serves every goroutine, and it keeps nothing it is given.
//
// It is a value type whose methods pick the JSON or logfmt implementation (jsonEncoder,
// logfmtEncoder) with one branch that is always predicted right, not an interface: an
// interface call hides the callee from the compiler, which then can neither inline it nor
// prove that the caller's variadic ...Field array stays on the caller's stack. Fields are
// passed one at a time by value for the same reason.
type encoder struct{ logfmt bool }

// newEncoder returns the encoder for f (already validated).
func newEncoder(f Format) encoder { return encoder{logfmt: f == FormatLogfmt} }

// header begins a record with the time, level and message.
func (e encoder) header(dst []byte, t instant, level Level, msg string) []byte {
	if e.logfmt {
		return logfmtEncoder{}.header(dst, t, level, msg)
	}
	return jsonEncoder{}.header(dst, t, level, msg)
}

// begin begins a record with no built-in fields (used by the slog adapter when the time is
// zero or ReplaceAttr rewrites the built-ins; they then follow as ordinary fields).
func (e encoder) begin(dst []byte) []byte {
	if e.logfmt {
		return dst
	}
	return append(dst, '{')
}

// field appends one field. keyPrefix qualifies the key with its enclosing groups ("a.b."):
// logfmt writes it, JSON ignores it because its groups are nested objects.
func (e encoder) field(dst []byte, keyPrefix string, f Field) []byte {
	if e.logfmt {
		return logfmtEncoder{}.field(dst, keyPrefix, &f)
	}
	return jsonEncoder{}.field(dst, &f)
}

// openGroup starts a group named name; closeGroup ends the innermost open group.
func (e encoder) openGroup(dst []byte, name string) []byte {
	if e.logfmt {
		return dst
	}
	return jsonEncoder{}.openGroup(dst, name)
}

func (e encoder) closeGroup(dst []byte) []byte {
	if e.logfmt {
		return dst
	}
	return append(dst, '}')
}

// sep appends the separator due before a field, for splicing in pre-encoded fields that were
// encoded without a leading separator.
func (e encoder) sep(dst []byte) []byte {
	if e.logfmt {
		return logfmtEncoder{}.sep(dst)
	}
	return jsonEncoder{}.sep(dst)
}

// end finishes the record, including the newline.
func (e encoder) end(dst []byte) []byte {
	if e.logfmt {
		return append(dst, '\n')
	}
	return append(dst, '}', '\n')
}

// nested reports whether groups are nested objects (JSON) rather than key prefixes.
func (e encoder) nested() bool { return !e.logfmt }

// record appends a whole record of the typed API: header, the fields added by With
// (prefix, already encoded without a leading separator), fields, end.
func (e encoder) record(dst []byte, t instant, level Level, msg string, prefix []byte, fields []Field) []byte {
	dst = e.header(dst, t, level, msg)
	if len(prefix) > 0 {
		dst = e.sep(dst)
		dst = append(dst, prefix...)
	}
	if e.logfmt {
		for i := range fields {
			dst = logfmtEncoder{}.field(dst, "", &fields[i])
		}
	} else {
		// Every field follows the header: no need to look back for the separator.
		for i := range fields {
			if f := &fields[i]; f.kind != kindSkip {
				dst = append(dst, ',')
				dst = jsonEncoder{}.member(dst, f)
			}
		}
	}
	return e.end(dst)
}

// Bounds for recordBound. A string grows at most sixfold when escaped (a control byte or an
// invalid UTF-8 byte becomes a six-byte escape such as \u001f); every other value is at most
// maxValueLen bytes, quotes included (the longest are durations and times).
const (
	maxHeaderLen = 128 // the time, level and message punctuation, a non-standard level name
	maxFieldLen  = 8   // a field's punctuation: separator, quotes around key and value, '='
	maxValueLen  = 48
)

// recordBound returns a number of bytes that record's output cannot exceed for these
// arguments, in either format, or -1 if a field may run code of the caller's while it is
// encoded (Err, Stringer, Any: an Error or String method, or a MarshalJSON). The queue
// encodes a record straight into its batch buffer only when it knows beforehand that the
// record fits and that encoding cannot call back into the logger or block.
func recordBound(msg string, prefix []byte, fields []Field) int {
	n := maxHeaderLen + 6*len(msg) + len(prefix) + 1
	for i := range fields {
		f := &fields[i]
		switch f.kind {
		case kindError, kindStringer, kindAny:
			return -1
		}
		n += maxFieldLen + 6*(len(f.Key)+len(f.str)) + maxValueLen
	}
	return n
}

// levelString names l without allocating for the four standard levels.
func levelString(l Level) string {
	switch l {
	case LevelDebug:
		return "DEBUG"
	case LevelInfo:
		return "INFO"
	case LevelWarn:
		return "WARN"
	case LevelError:
		return "ERROR"
	}
	return l.String()
}

// safeASCII[c] is true for bytes a JSON string may hold unescaped: printable ASCII except
// '"' and '\\'. It doubles as "needs no quoting" for logfmt, minus ' ' and '='. It has 256
// entries (false from 0x80 on) so that indexing it with any byte needs no bounds check.
var safeASCII = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// appendEscaped appends s with JSON string escaping, without the quotes. Invalid UTF-8 bytes
// become \ufffd; U+2028 and U+2029 are escaped so the output is also valid JavaScript.
//
// It is small enough to be inlined: most keys and values are plain printable ASCII and are
// appended as they are; the first byte that needs care hands over to appendEscapedFrom.
func appendEscaped(dst []byte, s string) []byte {
	for i := range len(s) {
		if !safeASCII[s[i]] {
			return appendEscapedFrom(dst, s, i)
		}
	}
	return append(dst, s...)
}

// appendEscapedFrom is appendEscaped for an s whose bytes before i need no escaping.
func appendEscapedFrom(dst []byte, s string, i int) []byte {
	start := 0
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if safeASCII[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(dst, s[start:]...)
}

// appendQuoted appends s as a JSON string literal.
func appendQuoted(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = appendEscaped(dst, s)
	return append(dst, '"')
}

// appendFloat appends f the way encoding/json does; NaN and ±Inf become strings
// ("NaN", "+Inf", "-Inf") because JSON has no literal for them.
func appendFloat(dst []byte, f float64, quoteSpecial bool) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		s := "NaN"
		if math.IsInf(f, 1) {
			s = "+Inf"
		} else if math.IsInf(f, -1) {
			s = "-Inf"
		}
		if quoteSpecial {
			return appendQuoted(dst, s)
		}
		return append(dst, s...)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// Turn e-09 into e-9, as encoding/json does.
		if n := len(dst) - start; n >= 4 && dst[len(dst)-4] == 'e' && dst[len(dst)-3] == '-' && dst[len(dst)-2] == '0' {
			dst[len(dst)-2] = dst[len(dst)-1]
			dst = dst[:len(dst)-1]
		}
	}
	return dst
}

// jsonEncoder writes one JSON object per line.
type jsonEncoder struct{}

func (jsonEncoder) header(dst []byte, t instant, level Level, msg string) []byte {
	dst = append(dst, `{"time":"`...)
	dst = t.appendTo(dst)
	switch level { // one append of a constant for the standard levels
	case LevelDebug:
		dst = append(dst, `","level":"DEBUG","msg":`...)
	case LevelInfo:
		dst = append(dst, `","level":"INFO","msg":`...)
	case LevelWarn:
		dst = append(dst, `","level":"WARN","msg":`...)
	case LevelError:
		dst = append(dst, `","level":"ERROR","msg":`...)
	default:
		dst = append(dst, `","level":"`...)
		dst = append(dst, level.String()...) // level names never need escaping
		dst = append(dst, `","msg":`...)
	}
	return appendQuoted(dst, msg)
}

// sep appends ',' unless dst is empty or ends an object opening: JSON values never end in
// '{', so the last byte tells whether a field precedes.
func (jsonEncoder) sep(dst []byte) []byte {
	if len(dst) == 0 || dst[len(dst)-1] == '{' {
		return dst
	}
	return append(dst, ',')
}

// field appends f, preceded by ',' unless it is the first member of an object. f is a
// pointer only to save copying 64 bytes; it is read, never kept.
func (e jsonEncoder) field(dst []byte, f *Field) []byte {
	if f.kind == kindSkip {
		return dst
	}
	if n := len(dst); n > 0 && dst[n-1] != '{' {
		dst = append(dst, ',')
	}
	return e.member(dst, f)
}

// member appends f as "key":value, without a separator. f.kind is not kindSkip.
func (e jsonEncoder) member(dst []byte, f *Field) []byte {
	dst = append(dst, '"')
	dst = appendEscaped(dst, f.Key)
	dst = append(dst, '"', ':')
	return e.value(dst, f)
}

// value appends f's value. f.kind is not kindSkip.
func (jsonEncoder) value(dst []byte, f *Field) []byte {
	switch f.kind {
	case kindString, kindBytes:
		dst = append(dst, '"')
		dst = appendEscaped(dst, f.str)
		return append(dst, '"')
	case kindInt64:
		return appendInt(dst, int64(f.num))
	case kindUint64:
		return appendUint(dst, f.num)
	case kindFloat64:
		return appendFloat(dst, math.Float64frombits(f.num), true)
	case kindBool:
		return strconv.AppendBool(dst, f.num != 0)
	case kindDuration:
		dst = append(dst, '"')
		dst = appendDuration(dst, time.Duration(f.num))
		return append(dst, '"')
	case kindTime:
		dst = append(dst, '"')
		dst = appendUnixNano(dst, int64(f.num))
		return append(dst, '"')
	case kindError:
		return appendQuoted(dst, safeError(f.iface.(error)))
	case kindStringer:
		return appendQuoted(dst, safeString(f.iface.(fmt.Stringer)))
	default:
		return appendJSONAny(dst, f.iface)
	}
}

// appendJSONAny writes v with encoding/json, or as a string describing the failure.
func appendJSONAny(dst []byte, v any) []byte {
	if v == nil {
		return append(dst, "null"...)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return appendQuoted(dst, fmt.Sprintf("!ERROR: %v", err))
	}
	return append(dst, b...)
}

// safeString calls s.String(), turning a panic (typically a nil pointer receiver) into text
// instead of crashing the logging call.
func safeString(s fmt.Stringer) (str string) {
	defer func() {
		if r := recover(); r != nil {
			str = fmt.Sprintf("!PANIC in String: %v", r)
		}
	}()
	return s.String()
}

// safeError is safeString for errors.
func safeError(e error) (str string) {
	defer func() {
		if r := recover(); r != nil {
			str = fmt.Sprintf("!PANIC in Error: %v", r)
		}
	}()
	return e.Error()
}

func (e jsonEncoder) openGroup(dst []byte, name string) []byte {
	dst = e.sep(dst)
	dst = appendQuoted(dst, name)
	return append(dst, ':', '{')
}

// logfmtEncoder writes key=value pairs separated by spaces, one record per line. Values (and
// keys) that are empty or hold spaces, '=', '"', control or non-ASCII characters are quoted
// with JSON string escaping. Groups qualify keys: a.b.key=value.
type logfmtEncoder struct{}

func (logfmtEncoder) header(dst []byte, t instant, level Level, msg string) []byte {
	dst = append(dst, "time="...)
	dst = t.appendTo(dst)
	switch level {
	case LevelDebug:
		dst = append(dst, " level=DEBUG msg="...)
	case LevelInfo:
		dst = append(dst, " level=INFO msg="...)
	case LevelWarn:
		dst = append(dst, " level=WARN msg="...)
	case LevelError:
		dst = append(dst, " level=ERROR msg="...)
	default:
		dst = append(dst, " level="...)
		dst = append(dst, level.String()...) // level names never need quoting
		dst = append(dst, " msg="...)
	}
	return appendLogfmtString(dst, msg)
}

// sep appends ' ' unless dst is empty. Records start at the beginning of their buffer.
func (logfmtEncoder) sep(dst []byte) []byte {
	if len(dst) == 0 {
		return dst
	}
	return append(dst, ' ')
}

// plainLogfmt reports whether s can be written without quotes.
func plainLogfmt(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf || !safeASCII[c] || c == ' ' || c == '=' {
			return false
		}
	}
	return true
}

func appendLogfmtString(dst []byte, s string) []byte {
	if s != "" && plainLogfmt(s) {
		return append(dst, s...)
	}
	return appendQuoted(dst, s)
}

func (e logfmtEncoder) field(dst []byte, keyPrefix string, f *Field) []byte {
	if f.kind == kindSkip {
		return dst
	}
	dst = e.sep(dst)
	if keyPrefix == "" {
		dst = appendLogfmtString(dst, f.Key)
	} else if plainLogfmt(keyPrefix) && plainLogfmt(f.Key) {
		dst = append(dst, keyPrefix...)
		dst = append(dst, f.Key...)
	} else {
		dst = append(dst, '"')
		dst = appendEscaped(dst, keyPrefix)
		dst = appendEscaped(dst, f.Key)
		dst = append(dst, '"')
	}
	dst = append(dst, '=')
	switch f.kind {
	case kindString, kindBytes:
		return appendLogfmtString(dst, f.str)
	case kindInt64:
		return appendInt(dst, int64(f.num))
	case kindUint64:
		return appendUint(dst, f.num)
	case kindFloat64:
		return appendFloat(dst, math.Float64frombits(f.num), false)
	case kindBool:
		return strconv.AppendBool(dst, f.num != 0)
	case kindDuration:
		d := time.Duration(f.num)
		if d > -time.Millisecond && d < time.Millisecond && d != 0 && (d >= time.Microsecond || d <= -time.Microsecond) {
			// Only the micro sign needs quoting.
			dst = append(dst, '"')
			dst = appendDuration(dst, d)
			return append(dst, '"')
		}
		return appendDuration(dst, d)
	case kindTime:
		return appendUnixNano(dst, int64(f.num))
	case kindError:
		return appendLogfmtString(dst, safeError(f.iface.(error)))
	case kindStringer:
		return appendLogfmtString(dst, safeString(f.iface.(fmt.Stringer)))
	default:
		if f.iface == nil {
			return append(dst, "<nil>"...)
		}
		return appendLogfmtString(dst, fmt.Sprint(f.iface))
	}
}
