package netio

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestThreadpoolQueueFull runs the threadpool mode with a file-read queue 4 deep per loop
// and 200 clients at once fetching small and large files: a full queue must make reads
// wait their turn (backpressure), so every response is whole and right. (Before issue 18
// a read the full queue refused failed its connection: "fileio: queue full", the client
// saw its connection closed, even with the production depth.)
func TestThreadpoolQueueFull(t *testing.T) {
	root := testRoot(t)
	want := map[string][]byte{}
	for _, n := range []string{"4k.bin", "odd.bin", "1m.bin"} {
		b, err := os.ReadFile(filepath.Join(root, n))
		if err != nil {
			t.Fatal(err)
		}
		want[n] = b
	}
	clients := 200
	if testing.Short() {
		clients = 50
	}
	_, rs := startTuned(t, modes()[3], root, ringTuning{poolDepth: 4}, nil)
	var failed atomic.Int64
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{}}
			defer cl.CloseIdleConnections()
			for _, n := range []string{"4k.bin", "odd.bin", "1m.bin"}[i%3:] {
				resp, body, err := tryGet(cl, rs.url+"/"+n)
				if err != nil || resp.StatusCode != 200 || !bytes.Equal(body, want[n]) {
					if failed.Add(1) <= 3 {
						t.Errorf("client %d, %s: %v %v, %d bytes", i, n, resp, err, len(body))
					}
				}
			}
		}()
	}
	wg.Wait()
	if err := rs.stop(t); err != nil {
		t.Errorf("Serve: %v", err)
	}
	if f := failed.Load(); f > 0 {
		t.Fatalf("%d responses failed; log:\n%.2000s", f, rs.logText())
	}
}
