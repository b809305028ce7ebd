package logger

import (
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestRotateBySize logs well past MaxSize and checks the files: at most MaxBackups backups,
// none larger than MaxSize, every line JSON, and the kept records form one gap-free run in
// order from the oldest backup to the current file.
func TestRotateBySize(t *testing.T) {
	for _, eng := range engines {
		t.Run(string(eng), func(t *testing.T) {
			path := logPath(t)
			const maxSize, backups, n = 8 << 10, 3, 5000
			l, err := New(Options{Path: path, Engine: eng, MaxSize: maxSize, MaxBackups: backups})
			if err != nil {
				t.Fatal(err)
			}
			for i := range n {
				l.Info("rotating", Int("seq", i))
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			st := l.Stats()
			if st.Rotations == 0 || st.Written != n || st.WriteErrors != 0 {
				t.Fatalf("%+v", st)
			}
			if _, err := os.Stat(fmt.Sprintf("%s.%d", path, backups+1)); !os.IsNotExist(err) {
				t.Errorf("backup %d should have been removed: %v", backups+1, err)
			}
			next := -1
			for i := backups; i >= 0; i-- {
				p := path
				if i > 0 {
					p = fmt.Sprintf("%s.%d", path, i)
				}
				fi, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				if fi.Size() > maxSize {
					t.Errorf("%s is %d bytes, MaxSize is %d", p, fi.Size(), maxSize)
				}
				for _, r := range readJSON(t, p) {
					seq := int(r["seq"].(float64))
					if next >= 0 && seq != next {
						t.Fatalf("%s: seq %d, want %d", p, seq, next)
					}
					next = seq + 1
				}
			}
			if next != n {
				t.Errorf("last record is %d, want %d", next-1, n-1)
			}
		})
	}
}

// TestReopen does what logrotate does while 4 goroutines keep logging: rename the file,
// call Reopen, repeat. Every record must be in exactly one of the files.
func TestReopen(t *testing.T) {
	for _, eng := range engines {
		t.Run(string(eng), func(t *testing.T) {
			path := logPath(t)
			l, err := New(Options{Path: path, Engine: eng})
			if err != nil {
				t.Fatal(err)
			}
			var stop atomic.Bool
			var wg sync.WaitGroup
			var logged [4]int
			for g := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; !stop.Load(); i++ {
						l.Info("r", Int("g", g), Int("i", i))
						logged[g] = i + 1
					}
				}()
			}
			var files []string
			for k := range 5 {
				time.Sleep(10 * time.Millisecond)
				old := fmt.Sprintf("%s.rotated%d", path, k)
				if err := os.Rename(path, old); err != nil {
					t.Fatal(err)
				}
				if err := l.Reopen(); err != nil {
					t.Fatal(err)
				}
				files = append(files, old)
			}
			time.Sleep(10 * time.Millisecond)
			stop.Store(true)
			wg.Wait()
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			files = append(files, path)
			seen := map[[2]int]bool{}
			perFile := []int{}
			for _, p := range files {
				lines := readLines(t, p)
				perFile = append(perFile, len(lines))
				for _, line := range lines {
					var r struct{ G, I int }
					if err := json.Unmarshal(line, &r); err != nil {
						t.Fatalf("%s: %v", p, err)
					}
					k := [2]int{r.G, r.I}
					if seen[k] {
						t.Fatalf("record %v twice", k)
					}
					seen[k] = true
				}
			}
			total := 0
			for g, n := range logged {
				total += n
				for i := range n {
					if !seen[[2]int{g, i}] {
						t.Fatalf("record g=%d i=%d lost", g, i)
					}
				}
			}
			t.Logf("%d records across files %v; %+v", total, perFile, l.Stats())
			if len(seen) != total {
				t.Errorf("%d records in files, %d logged", len(seen), total)
			}
		})
	}
}
