package logger

import (
	"fmt"
	"math"
	"time"
	"unsafe"
)

// fieldKind says which member of a Field holds the value.
type fieldKind uint8

const (
	kindSkip     fieldKind = iota // no output (Err(nil))
	kindString                    // str
	kindInt64                     // num as int64
	kindUint64                    // num
	kindFloat64                   // num as float64 bits
	kindBool                      // num != 0
	kindDuration                  // num as int64 nanoseconds
	kindTime                      // num as int64 Unix nanoseconds, written in UTC
	kindBytes                     // str aliases the caller's []byte; read during the call only
	// The kinds from here on may run the caller's code; the queue's fast path
	// (appendJSONRecord) gives up on any kind >= kindError.
	kindError    // iface is an error
	kindStringer // iface is a fmt.Stringer
	kindAny      // iface is anything
)

// A Field is one key/value pair of a record. Build one with the constructors (String, Int,
// Err, …). A Field holds its value without interface boxing (except Err, Stringer and Any,
// whose arguments already are interfaces), so building fields and passing them to Info and
// friends allocates nothing. Fields are read while the call runs and never kept.
type Field struct {
	Key   string
	kind  fieldKind
	num   uint64
	str   string
	iface any
}

// String is a string field.
func String(key, val string) Field { return Field{Key: key, kind: kindString, str: val} }

// Int is an int field.
func Int(key string, val int) Field { return Field{Key: key, kind: kindInt64, num: uint64(val)} }

// Int64 is an int64 field.
func Int64(key string, val int64) Field { return Field{Key: key, kind: kindInt64, num: uint64(val)} }

// Uint is a uint field.
func Uint(key string, val uint) Field { return Field{Key: key, kind: kindUint64, num: uint64(val)} }

// Uint64 is a uint64 field.
func Uint64(key string, val uint64) Field { return Field{Key: key, kind: kindUint64, num: val} }

// Float64 is a float64 field. NaN and ±Inf, which JSON cannot hold, are written as the
// strings "NaN", "+Inf" and "-Inf".
func Float64(key string, val float64) Field {
	return Field{Key: key, kind: kindFloat64, num: math.Float64bits(val)}
}

// Bool is a bool field.
func Bool(key string, val bool) Field {
	var n uint64
	if val {
		n = 1
	}
	return Field{Key: key, kind: kindBool, num: n}
}

// Duration is a time.Duration field, written like time.Duration.String ("1.5s").
func Duration(key string, val time.Duration) Field {
	return Field{Key: key, kind: kindDuration, num: uint64(val)}
}

// Time is a time.Time field, written as RFC 3339 with nanoseconds in UTC. Times outside the
// years 1678–2262 (the range of int64 nanoseconds) are clamped.
func Time(key string, val time.Time) Field {
	var n int64
	switch sec := val.Unix(); {
	case sec <= math.MinInt64/int64(time.Second):
		n = math.MinInt64
	case sec >= math.MaxInt64/int64(time.Second):
		n = math.MaxInt64
	default:
		n = val.UnixNano()
	}
	return Field{Key: key, kind: kindTime, num: uint64(n)}
}

// Bytes is a field whose value is the text in val (invalid UTF-8 is replaced by U+FFFD). The
// bytes are read during the logging call only, so the caller may reuse val afterwards.
func Bytes(key string, val []byte) Field {
	return Field{Key: key, kind: kindBytes, str: unsafe.String(unsafe.SliceData(val), len(val))}
}

// Err is the field "error" with err's message. Err(nil) adds nothing.
func Err(err error) Field { return NamedErr("error", err) }

// NamedErr is a field with err's message under key. NamedErr(key, nil) adds nothing.
func NamedErr(key string, err error) Field {
	if err == nil {
		return Field{Key: key, kind: kindSkip}
	}
	return Field{Key: key, kind: kindError, iface: err}
}

// Stringer is a field whose value is val.String(), called while the record is encoded.
func Stringer(key string, val fmt.Stringer) Field {
	if val == nil {
		return Field{Key: key, kind: kindAny}
	}
	return Field{Key: key, kind: kindStringer, iface: val}
}

// Any is a field for any value. Typed values (string, ints, bool, time.Time, error, …) are
// written as their constructors would; anything else is written with encoding/json (JSON) or
// fmt (logfmt), which allocates. Prefer the typed constructors on hot paths.
func Any(key string, val any) Field {
	switch v := val.(type) {
	case nil:
		return Field{Key: key, kind: kindAny}
	case string:
		return String(key, v)
	case int:
		return Int(key, v)
	case int64:
		return Int64(key, v)
	case int32:
		return Int64(key, int64(v))
	case uint:
		return Uint(key, v)
	case uint64:
		return Uint64(key, v)
	case uint32:
		return Uint64(key, uint64(v))
	case float64:
		return Float64(key, v)
	case float32:
		return Float64(key, float64(v))
	case bool:
		return Bool(key, v)
	case time.Duration:
		return Duration(key, v)
	case time.Time:
		return Time(key, v)
	case []byte:
		return Bytes(key, v)
	case error:
		return NamedErr(key, v)
	}
	return Field{Key: key, kind: kindAny, iface: val}
}
