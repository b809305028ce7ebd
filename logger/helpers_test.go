package logger

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// engines are all engines; tests that matter for each run once per engine.
var engines = []Engine{EngineUring, EngineThread, EngineSync}

// logPath returns a fresh log file path in a per-test temporary directory.
func logPath(t testing.TB) string {
	return filepath.Join(t.TempDir(), "app.log")
}

// newLogger creates a Logger or fails the test; it is closed at the end of the test.
func newLogger(t testing.TB, o Options) *Logger {
	t.Helper()
	l, err := New(o)
	if err != nil {
		t.Fatalf("New(%+v): %v", o, err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// readLines returns the lines of path, without newlines.
func readLines(t testing.TB, path string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) == 0 {
		return nil
	}
	if data[len(data)-1] != '\n' {
		t.Fatalf("%s does not end with a newline: %q", path, tail(data))
	}
	return bytes.Split(data[:len(data)-1], []byte{'\n'})
}

func tail(b []byte) []byte {
	if len(b) > 80 {
		return b[len(b)-80:]
	}
	return b
}

// readJSON parses every line of path as a JSON object.
func readJSON(t testing.TB, path string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for i, line := range readLines(t, path) {
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("%s line %d is not JSON (%v): %s", path, i+1, err, line)
		}
		out = append(out, m)
	}
	return out
}

// countLines counts newline-terminated lines in a file without loading it.
func countLines(t testing.TB, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		n++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

// stringPicker returns a function that picks one of trickyStrings, extra and n random
// strings (randomString) at random.
func stringPicker(r *rand.Rand, n int, extra ...string) func() string {
	strs := append(append([]string(nil), trickyStrings...), extra...)
	for range n {
		strs = append(strs, randomString(r))
	}
	return func() string { return strs[r.IntN(len(strs))] }
}

// randomPlainFields returns up to 8 random fields of every kind the fast path encodes (no
// Err with an error, Stringer or Any), keys and strings drawn by pick, numbers random or at
// their extremes.
func randomPlainFields(r *rand.Rand, pick func() string) []Field {
	var fs []Field
	for range r.IntN(9) {
		switch r.IntN(11) {
		case 0:
			fs = append(fs, String(pick(), pick()))
		case 1:
			fs = append(fs, Bytes(pick(), []byte(pick())))
		case 2:
			fs = append(fs, Int64(pick(), r.Int64()-r.Int64()), Int(pick(), r.IntN(1000)))
		case 3:
			fs = append(fs, Uint64(pick(), r.Uint64()>>r.IntN(64)))
		case 4:
			fs = append(fs, Float64(pick(), r.NormFloat64()*math.Pow(10, float64(r.IntN(40)-20))))
		case 5:
			fs = append(fs, Duration(pick(), time.Duration(r.Int64N(1e12))))
		case 6:
			fs = append(fs, Time(pick(), time.Unix(r.Int64N(1<<33), r.Int64N(1e9))))
		case 7:
			fs = append(fs, Bool(pick(), r.IntN(2) == 0), Float64(pick(), math.Inf(-1)))
		case 8:
			fs = append(fs, Int64(pick(), math.MinInt64), Uint64(pick(), math.MaxUint64), Int(pick(), 0))
		case 9:
			fs = append(fs, Float64(pick(), -math.MaxFloat64*r.Float64()), Duration(pick(), time.Duration(math.MinInt64)),
				Time(pick(), time.Unix(-1<<40, 1)))
		default:
			fs = append(fs, Err(nil))
		}
	}
	return fs
}
