package logger

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// trickyStrings exercise every escaping rule.
var trickyStrings = []string{
	"", "plain", "with space", `quote"d`, `back\slash`, "new\nline", "tab\there", "cr\r", "\x00\x01\x1f\x7f",
	"key=value", "ünïcødé", "日本語", "emoji 😀", "\u2028\u2029", "bad utf8 \xff\xfe", "\xc3", "trailing \\",
	"<html>&amp;</html>", strings.Repeat("long ", 100),
}

func randomString(r *rand.Rand) string {
	b := make([]byte, r.IntN(40))
	for i := range b {
		switch r.IntN(4) {
		case 0:
			b[i] = byte(r.IntN(0x20)) // control
		case 1:
			b[i] = byte(0x80 + r.IntN(0x80)) // high, often invalid UTF-8
		default:
			b[i] = byte(0x20 + r.IntN(0x60))
		}
	}
	if r.IntN(3) == 0 {
		return string(b) + "é😀\u2028"
	}
	return string(b)
}

// wantText is what a string should decode to: invalid UTF-8 bytes become U+FFFD one by one.
func wantText(s string) string { return string([]rune(s)) }

func encodeRecord(enc encoder, msg string, fields ...Field) []byte {
	var c clock
	return enc.record(nil, c.read(), LevelInfo, msg, nil, fields)
}

// TestJSONEscaping encodes tricky and random strings as keys, values and messages, and checks
// that encoding/json accepts every line and decodes the original text.
func TestJSONEscaping(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	strs := append([]string(nil), trickyStrings...)
	for range 2000 {
		strs = append(strs, randomString(r))
	}
	for _, s := range strs {
		line := encodeRecord(newEncoder(FormatJSON), s, String("k", s), String(s+"_key", "v"), Bytes("b", []byte(s)), Err(errors.New(s)))
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("invalid JSON for %q: %v\n%s", s, err, line)
		}
		if !utf8.Valid(line) {
			t.Fatalf("invalid UTF-8 in output for %q", s)
		}
		want := wantText(s)
		if m["msg"] != want || m["k"] != want || m["b"] != want || m["error"] != want || m[want+"_key"] != "v" {
			t.Fatalf("round trip of %q: got %v", s, m)
		}
		if strings.Count(string(line), "\n") != 1 {
			t.Fatalf("record for %q is not one line: %q", s, line)
		}
	}
}

// TestJSONValues checks every field kind against encoding/json.
func TestJSONValues(t *testing.T) {
	at := time.Date(2024, 2, 29, 23, 59, 58, 123456789, time.FixedZone("X", 3600))
	line := encodeRecord(newEncoder(FormatJSON), "m",
		String("s", "x"), Int("i", math.MinInt), Int64("i64", math.MaxInt64), Uint("u", math.MaxUint),
		Uint64("u64", math.MaxUint64), Float64("f", 0.1), Float64("big", 1e21), Float64("tiny", 1e-7),
		Float64("nan", math.NaN()), Float64("inf", math.Inf(1)), Float64("ninf", math.Inf(-1)),
		Bool("t", true), Bool("f0", false), Duration("d", 1500*time.Millisecond), Duration("dus", 3*time.Microsecond),
		Time("at", at), Err(nil), NamedErr("e", errors.New("boom")), Stringer("str", time.Second),
		Stringer("nilstr", nil), Any("any", map[string]int{"a": 1}), Any("anyint", 42), Any("nil", nil),
	)
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(string(line)))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("%v\n%s", err, line)
	}
	want := map[string]string{
		"s": "x", "i": strconv.Itoa(math.MinInt), "i64": "9223372036854775807", "u": strconv.FormatUint(math.MaxUint, 10),
		"u64": "18446744073709551615", "f": "0.1", "big": "1e+21", "tiny": "1e-7", "nan": "NaN", "inf": "+Inf",
		"ninf": "-Inf", "t": "true", "f0": "false", "d": "1.5s", "dus": "3µs", "at": "2024-02-29T22:59:58.123456789Z",
		"e": "boom", "str": "1s", "nilstr": "<nil>", "any": "map[a:1]", "anyint": "42", "nil": "<nil>",
	}
	for k, v := range want {
		if got := fmtJSONValue(m[k]); got != v {
			t.Errorf("%s = %s, want %s", k, got, v)
		}
	}
	if _, ok := m["error"]; ok {
		t.Errorf("Err(nil) wrote a field: %s", line)
	}
}

func fmtJSONValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "<nil>"
	case map[string]any:
		return "map[a:" + x["a"].(json.Number).String() + "]"
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	case string:
		return x
	}
	return "?"
}

// parseLogfmt parses one logfmt line into key/value strings (quoted values are JSON strings).
func parseLogfmt(t testing.TB, line string) map[string]string {
	t.Helper()
	m := map[string]string{}
	token := func() string {
		if strings.HasPrefix(line, `"`) {
			// Find the closing quote, skipping escapes.
			i := 1
			for ; i < len(line); i++ {
				if line[i] == '\\' {
					i++
				} else if line[i] == '"' {
					break
				}
			}
			var s string
			if err := json.Unmarshal([]byte(line[:i+1]), &s); err != nil {
				t.Fatalf("bad quoted token %q: %v", line[:i+1], err)
			}
			line = line[i+1:]
			return s
		}
		i := strings.IndexAny(line, " =")
		if i < 0 {
			i = len(line)
		}
		s := line[:i]
		line = line[i:]
		return s
	}
	for line != "" {
		k := token()
		if !strings.HasPrefix(line, "=") {
			t.Fatalf("missing '=' after key %q in %q", k, line)
		}
		line = line[1:]
		v := token()
		if _, dup := m[k]; dup {
			t.Fatalf("duplicate key %q", k)
		}
		m[k] = v
		if line != "" {
			if line[0] != ' ' {
				t.Fatalf("missing space before %q", line)
			}
			line = line[1:]
		}
	}
	return m
}

// TestLogfmt round-trips tricky and random strings through the logfmt encoder.
func TestLogfmt(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	strs := append([]string(nil), trickyStrings...)
	for range 2000 {
		strs = append(strs, randomString(r))
	}
	for _, s := range strs {
		line := encodeRecord(newEncoder(FormatLogfmt), s, String("k", s), String("x"+s, "v"), Int("n", -5), Duration("d", time.Microsecond))
		if line[len(line)-1] != '\n' || strings.Count(string(line), "\n") != 1 {
			t.Fatalf("record for %q is not one line: %q", s, line)
		}
		m := parseLogfmt(t, string(line[:len(line)-1]))
		want := wantText(s)
		if m["msg"] != want || m["k"] != want || m["x"+want] != "v" || m["n"] != "-5" || m["d"] != "1µs" || m["level"] != "INFO" {
			t.Fatalf("round trip of %q: got %q from %q", s, m, line)
		}
		if _, err := time.Parse(time.RFC3339Nano, m["time"]); err != nil {
			t.Fatal(err)
		}
	}
}

// TestStamp compares the timestamp formatting with package time over many instants.
func TestStamp(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	check := func(ns int64) {
		got := string(appendUnixNano(nil, ns))
		want := time.Unix(0, ns).UTC().Format("2006-01-02T15:04:05.000000000Z07:00")
		if got != want {
			t.Fatalf("%d: got %s want %s", ns, got, want)
		}
	}
	for _, ns := range []int64{0, -1, 1, math.MinInt64, math.MaxInt64, 951782400e9, 4107542400e9 - 1} {
		check(ns)
	}
	for range 100000 {
		check(int64(r.Uint64()))
	}
	// Years beyond 9999 fall back to RFC3339Nano.
	if got := string(appendTime(nil, 253402300800, 0)); got != "10000-01-01T00:00:00Z" {
		t.Errorf("year 10000: %s", got)
	}
}

// TestClock checks the derived clock against time.Now.
func TestClock(t *testing.T) {
	var c clock
	for range 300 {
		before := time.Now().UTC()
		ts := c.now()
		after := time.Now().UTC()
		got, err := time.Parse(time.RFC3339Nano, string(ts[:]))
		if err != nil {
			t.Fatal(err)
		}
		// Allow a millisecond for NTP slewing between the two clocks.
		if got.Before(before.Add(-time.Millisecond)) || got.After(after.Add(time.Millisecond)) {
			t.Fatalf("clock %v outside [%v, %v]", got, before, after)
		}
		time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
	}
}

// TestDuration compares appendDuration with time.Duration.String.
func TestDuration(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	ds := []time.Duration{0, 1, -1, 999, 1000, time.Millisecond, time.Second, time.Hour, math.MaxInt64, math.MinInt64}
	for range 10000 {
		ds = append(ds, time.Duration(r.Int64N(1<<uint(r.IntN(63)))-(1<<20)))
	}
	for _, d := range ds {
		if got := string(appendDuration(nil, d)); got != d.String() {
			t.Fatalf("%d: got %s want %s", int64(d), got, d)
		}
	}
}

// FuzzJSON checks that any message and value produce valid JSON that decodes to the text.
func FuzzJSON(f *testing.F) {
	for _, s := range trickyStrings {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, msg, val string) {
		line := encodeRecord(newEncoder(FormatJSON), msg, String(val, val))
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("invalid JSON: %v\n%q", err, line)
		}
		if m["msg"] != wantText(msg) || m[wantText(val)] != wantText(val) {
			t.Fatalf("round trip: %q", line)
		}
	})
}
