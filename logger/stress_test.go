package logger

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"
)

// stressRecord is what TestMillionRecords writes, as decoded from the file.
type stressRecord struct {
	Time    string  `json:"time"`
	Level   string  `json:"level"`
	Msg     string  `json:"msg"`
	G       *int    `json:"g"`
	Seq     *int    `json:"seq"`
	Dropped *uint64 `json:"dropped"`
}

// TestMillionRecords logs 1,000,000 records from 8 goroutines, each record carrying its
// goroutine and sequence number, closes the logger and checks the file record by record:
// every line is JSON, no record appears twice, each goroutine's records are in the order it
// logged them, and with PolicyBlock every record is there.
// With PolicyDrop (and a deliberately tiny queue, so drops happen) written + dropped equals
// logged and the drop-report records add up to the dropped count. It runs for every engine
// and both policies; under -race (or -short) it logs 100,000 records instead.
func TestMillionRecords(t *testing.T) {
	const goroutines = 8
	total := 1_000_000
	if raceEnabled || testing.Short() {
		total = 100_000
	}
	per := total / goroutines
	for _, eng := range engines {
		for _, pol := range []Policy{PolicyBlock, PolicyDrop} {
			t.Run(fmt.Sprintf("%s/%s", eng, pol), func(t *testing.T) {
				o := Options{Path: logPath(t), Engine: eng, Policy: pol}
				if pol == PolicyDrop {
					o.QueueSize, o.BufferSize = 3, 16<<10
				}
				l, err := New(o)
				if err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				var wg sync.WaitGroup
				for g := range goroutines {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := range per {
							l.Info("stress", Int("g", g), Int("seq", i), String("pad", "0123456789abcdef"))
						}
					}()
				}
				wg.Wait()
				logged := time.Since(start)
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
				st := l.Stats()
				t.Logf("%d records in %v (%.0f ns/record), close after %v; %+v",
					total, logged, float64(logged.Nanoseconds())/float64(total), time.Since(start)-logged, st)

				seen, records, reported := verifyStress(t, o.Path, goroutines, per)
				if uint64(records) != st.Written {
					t.Errorf("file holds %d records, Stats.Written = %d", records, st.Written)
				}
				if st.Written+st.Dropped != uint64(total) {
					t.Errorf("written %d + dropped %d != logged %d", st.Written, st.Dropped, total)
				}
				if st.DroppedError != 0 || st.DroppedClosed != 0 || st.WriteErrors != 0 {
					t.Errorf("unexpected errors: %+v", st)
				}
				if reported != st.Reported || st.Reported != st.DroppedFull {
					t.Errorf("drop reports in the file add up to %d; Stats.Reported %d, DroppedFull %d", reported, st.Reported, st.DroppedFull)
				}
				switch pol {
				case PolicyBlock:
					if st.Dropped != 0 || seen != total {
						t.Errorf("PolicyBlock lost records: %d of %d in the file, %+v", seen, total, st)
					}
				case PolicyDrop:
					if eng != EngineSync && st.DroppedFull == 0 {
						t.Logf("note: no record was dropped (the writer kept up with a 48 KiB queue)")
					}
				}
			})
		}
	}
}

// verifyStress parses the file in parallel and returns how many distinct caller records it
// holds, how many record lines, and the sum of the drop reports. It fails the test on a line
// that is not JSON, an unknown record, or a record seen twice.
func verifyStress(t *testing.T, path string, goroutines, per int) (distinct, records int, reported uint64) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) == 0 || data[len(data)-1] != '\n' {
		t.Fatalf("file is empty or does not end with a newline")
	}
	// Split into chunks at line boundaries, one per worker.
	workers := runtime.GOMAXPROCS(0)
	var chunks [][]byte
	for rest := data; len(rest) > 0; {
		n := min(len(rest), len(data)/workers+1)
		if i := bytes.IndexByte(rest[n-1:], '\n'); i >= 0 {
			n += i
		} else {
			n = len(rest)
		}
		chunks = append(chunks, rest[:n])
		rest = rest[n:]
	}
	type result struct {
		keys     []int // g*per + seq
		reported uint64
		err      error
	}
	results := make([]result, len(chunks))
	var wg sync.WaitGroup
	for ci, chunk := range chunks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &results[ci]
			for line := range bytes.SplitSeq(bytes.TrimSuffix(chunk, []byte{'\n'}), []byte{'\n'}) {
				var rec stressRecord
				if err := json.Unmarshal(line, &rec); err != nil {
					r.err = fmt.Errorf("line is not JSON (%v): %s", err, line)
					return
				}
				switch {
				case rec.Msg == "logger dropped records" && rec.Dropped != nil && rec.Level == "WARN":
					r.reported += *rec.Dropped
				case rec.Msg == "stress" && rec.G != nil && rec.Seq != nil && rec.Level == "INFO" && len(rec.Time) == 30:
					if *rec.G < 0 || *rec.G >= goroutines || *rec.Seq < 0 || *rec.Seq >= per {
						r.err = fmt.Errorf("record out of range: %s", line)
						return
					}
					r.keys = append(r.keys, *rec.G*per+*rec.Seq)
				default:
					r.err = fmt.Errorf("unexpected record: %s", line)
					return
				}
			}
		}()
	}
	wg.Wait()
	seen := make([]bool, goroutines*per)
	last := make([]int, goroutines) // each goroutine's records must appear in the order logged
	for i := range last {
		last[i] = -1
	}
	for _, r := range results {
		if r.err != nil {
			t.Fatal(r.err)
		}
		reported += r.reported
		for _, k := range r.keys {
			g, seq := k/per, k%per
			if seen[k] {
				t.Fatalf("record g=%d seq=%d appears twice", g, seq)
			}
			if seq <= last[g] {
				t.Fatalf("record g=%d seq=%d comes after seq=%d", g, seq, last[g])
			}
			seen[k] = true
			last[g] = seq
			records++
		}
	}
	return records, records, reported
}
