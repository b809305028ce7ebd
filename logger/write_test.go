package logger

import (
	"errors"
	"fmt"
	"log"
	"strings"
	"testing"
)

// TestWriteRaw checks Logger.Write on every engine: preformatted lines land in the file
// as given, interleaved in order with typed records, a missing newline is added, and
// Write after Close says ErrClosed and is counted.
func TestWriteRaw(t *testing.T) {
	for _, eng := range engines {
		t.Run(string(eng), func(t *testing.T) {
			path := logPath(t)
			l := newLogger(t, Options{Path: path, Engine: eng, Level: LevelWarn})
			const n = 5000
			var want []string
			for i := range n {
				line := fmt.Sprintf(`127.0.0.1 - - [25/Nov/2026:02:50:00 +0000] "GET /f%d HTTP/1.1" 200 %d "-" "curl/8"`, i, i*3)
				if i%2 == 0 {
					line += "\n"
				}
				k, err := l.Write([]byte(line))
				if err != nil || k != len(line) {
					t.Fatalf("Write #%d = %d, %v; want %d, nil", i, k, err, len(line))
				}
				want = append(want, strings.TrimSuffix(line, "\n"))
				if i%1000 == 0 {
					// Level filters typed records, not raw ones.
					l.Info("filtered")
					l.Warn("typed", Int("i", i))
					want = append(want, "typed")
				}
			}
			// Through the standard library's log package: the Logger is an io.Writer.
			log.New(l, "std: ", 0).Printf("hello %d", 42)
			want = append(want, "std: hello 42")
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			got := readLines(t, path)
			if len(got) != len(want) {
				t.Fatalf("%d lines in the file, want %d", len(got), len(want))
			}
			for i := range want {
				if want[i] == "typed" {
					if !strings.Contains(string(got[i]), `"msg":"typed"`) {
						t.Fatalf("line %d = %q, want the typed record", i, got[i])
					}
					continue
				}
				if string(got[i]) != want[i] {
					t.Fatalf("line %d = %q, want %q", i, got[i], want[i])
				}
			}
			if _, err := l.Write([]byte("late\n")); !errors.Is(err, ErrClosed) {
				t.Fatalf("Write after Close: %v, want ErrClosed", err)
			}
			st := l.Stats()
			if st.DroppedClosed != 1 || st.Written != uint64(len(want)) {
				t.Fatalf("stats: written %d, dropped after close %d; want %d, 1", st.Written, st.DroppedClosed, len(want))
			}
		})
	}
}

// TestWriteZeroAllocs: a raw line ending in a newline is copied into the queue, nothing else.
func TestWriteZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop buffers at random")
	}
	for _, eng := range engines {
		t.Run(string(eng), func(t *testing.T) {
			l := newLogger(t, Options{Path: logPath(t), Engine: eng})
			line := []byte(`127.0.0.1 - - [25/Nov/2026:02:50:00 +0000] "GET / HTTP/1.1" 200 5 "-" "-"` + "\n")
			if a := testing.AllocsPerRun(10000, func() { l.Write(line) }); a != 0 {
				t.Fatalf("%v allocations per Write", a)
			}
		})
	}
}
