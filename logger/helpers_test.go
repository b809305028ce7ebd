package logger

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
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
