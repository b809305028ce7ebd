package netio

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestConcurrentMissesOpenOnce: 40 clients ask at once for a file no loop has open. The
// loops open it about once each (the misses that come while an open is in flight wait for
// it), not once per request; every answer is whole. (Before issue 18: about one open per
// request.) Then all ask at once for a missing file: those that waited for a failed open
// try again themselves, and every one gets its 404.
func TestConcurrentMissesOpenOnce(t *testing.T) {
	for _, m := range []mode{modes()[0], modes()[3]} { // uring, threadpool
		t.Run(m.name, func(t *testing.T) {
			root := testRoot(t)
			want, _ := os.ReadFile(filepath.Join(root, "1m.bin"))
			s, rs := startTuned(t, m, root, ringTuning{}, nil)
			defer rs.stop(t)
			const clients = 40
			var ready, start, phase, done sync.WaitGroup
			start.Add(1)
			phase.Add(1)
			errs := make(chan string, 2*clients)
			for range clients {
				ready.Add(1)
				done.Add(1)
				go func() {
					defer done.Done()
					cl := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{}}
					defer cl.CloseIdleConnections()
					tryGet(cl, rs.url+"/hello.txt") // connected and warm
					ready.Done()
					start.Wait()
					if resp, body, err := tryGet(cl, rs.url+"/1m.bin"); err != nil || resp.StatusCode != 200 || !bytes.Equal(body, want) {
						errs <- "1m.bin: " + errString(err)
					}
					phase.Wait()
					if resp, _, err := tryGet(cl, rs.url+"/missing.bin"); err != nil || resp.StatusCode != 404 {
						errs <- "missing.bin: " + errString(err)
					}
				}()
			}
			ready.Wait()
			before := s.pressure.opens.Load()
			start.Done()
			for s.pressure.opens.Load() == before { // wait for the first phase's answers
				time.Sleep(time.Millisecond)
			}
			time.Sleep(300 * time.Millisecond)
			opened := s.pressure.opens.Load() - before
			phase.Done() // every client asks for a missing file at once: the failure reaches all
			done.Wait()
			close(errs)
			for e := range errs {
				t.Error(e)
			}
			t.Logf("%d opens for %d clients asking at once", opened, clients)
			if opened > 4 {
				t.Fatalf("%d opens for %d concurrent requests of one file (2 loops)", opened, clients)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return "wrong answer"
	}
	return err.Error()
}
