package logger

import (
	"sync"
	"testing"
)

// TestFsyncBatch logs from four goroutines into small batches with FsyncBatch, so that
// (with EngineUring) fdatasyncs run while later batches are written, and checks that every
// record is in the file, that fsyncs happened, and that Sync and Close leave nothing unsynced
// or in flight.
func TestFsyncBatch(t *testing.T) {
	for _, eng := range engines {
		t.Run(string(eng), func(t *testing.T) {
			path := logPath(t)
			l := newLogger(t, Options{Path: path, Engine: eng, Fsync: FsyncBatch, BufferSize: 8 << 10, QueueSize: 4})
			const goroutines, per = 4, 5000
			n := per
			if eng == EngineSync {
				n = 200 // an fdatasync per record
			}
			var wg sync.WaitGroup
			for g := range goroutines {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range n {
						l.Info("r", Int("g", g), Int("seq", i))
					}
				}()
			}
			wg.Wait()
			if err := l.Sync(); err != nil {
				t.Fatal(err)
			}
			st := l.Stats()
			if st.Written != uint64(goroutines*n) || st.Fsyncs == 0 || st.WriteErrors != 0 {
				t.Fatalf("after Sync: %+v", st)
			}
			l.Info("last")
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			st2 := l.Stats()
			if st2.Fsyncs <= st.Fsyncs {
				t.Errorf("Close did not fsync the last record: %d then %d fsyncs", st.Fsyncs, st2.Fsyncs)
			}
			recs := readJSON(t, path)
			if len(recs) != goroutines*n+1 {
				t.Fatalf("%d records, want %d", len(recs), goroutines*n+1)
			}
			next := make([]int, goroutines)
			for _, m := range recs[:len(recs)-1] {
				g, seq := int(m["g"].(float64)), int(m["seq"].(float64))
				if seq != next[g] {
					t.Fatalf("goroutine %d: seq %d, want %d", g, seq, next[g])
				}
				next[g]++
			}
			t.Logf("%d batches, %d fsyncs", st2.Batches, st2.Fsyncs)
		})
	}
}
