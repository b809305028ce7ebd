package netio

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestBatchTargetFollowsRate: a loop waits for more completions only when its recent rate
// brings at least two within BatchWait; an idle spell drops the target to a plain wait at
// once, and the open connections still bound it.
func TestBatchTargetFollowsRate(t *testing.T) {
	s := &Server{cfg: Config{Loops: 2, BatchWait: 50 * time.Microsecond}}
	s.conns.Store(1000)
	l := &loop{s: s}
	t0 := time.Unix(1000, 0)
	feed := func(from time.Time, perPass int, passes int, every time.Duration) time.Time {
		now := from
		for range passes {
			now = now.Add(every)
			l.rate.add(perPass, now)
		}
		return now
	}
	if got := l.batchTarget(); got != 0 {
		t.Fatalf("no completions yet: target %d, want 0 (a plain wait)", got)
	}
	// 10 completions every 50µs for 40 ms: 200,000 a second, 10 per BatchWait.
	now := feed(t0, 10, 800, 50*time.Microsecond)
	if got := l.batchTarget(); got < 9 || got > 10 {
		t.Fatalf("200k completions/s: target %d, want 10", got)
	}
	// A closed-loop client's trickle: one completion every 40µs is 1.25 per BatchWait.
	now = feed(now, 1, 1000, 40*time.Microsecond)
	if got := l.batchTarget(); got != 1 {
		t.Fatalf("25k completions/s: target %d, want 1 (no batching)", got)
	}
	// Busy again, then a 100 ms idle wait with nothing: back to a plain wait in one pass.
	now = feed(now, 10, 800, 50*time.Microsecond)
	now = now.Add(100 * time.Millisecond)
	l.rate.add(0, now)
	if got := l.batchTarget(); got != 0 {
		t.Fatalf("after 100 ms idle: target %d, want 0", got)
	}
	// Fast completions over few connections: half the loop's share of them bounds it.
	s.conns.Store(8)
	feed(now, 100, 800, 50*time.Microsecond)
	if got := l.batchTarget(); got != 2 {
		t.Fatalf("8 connections on 2 loops: target %d, want 2", got)
	}
	s.cfg.BatchWait = -1
	if got := l.batchTarget(); got != 0 {
		t.Fatalf("BatchWait disabled: target %d, want 0", got)
	}
}

// TestBatchWaitServes runs the server with batched waits on (they are off by default) under
// 32 keep-alive clients, then under a lone one, whose trickle of completions turns the waits
// into plain ones: every answer is whole either way.
func TestBatchWaitServes(t *testing.T) {
	root := testRoot(t)
	want, err := os.ReadFile(filepath.Join(root, "4k.bin"))
	if err != nil {
		t.Fatal(err)
	}
	rs := start(t, mode{"uring-batch", Config{BatchWait: 200 * time.Microsecond}}, root, nil)
	if !rs.s.Features().MinTimeout {
		t.Logf("no IORING_FEAT_MIN_TIMEOUT on %s: the waits are plain ones", rs.s.Features().Release)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			defer client.CloseIdleConnections()
			for range 100 {
				resp, err := client.Get(rs.url + "/4k.bin")
				if err != nil {
					errs <- err
					return
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 || !bytes.Equal(body, want) {
					errs <- fmt.Errorf("status %d, %d bytes, %v", resp.StatusCode, len(body), err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	get, closeIdle := keepAliveClient(t, rs.url)
	defer closeIdle()
	var slowest time.Duration
	for range 50 {
		t0 := time.Now()
		if code, body := get("/4k.bin"); code != 200 || !bytes.Equal(body, want) {
			t.Fatalf("lone request: status %d, %d bytes", code, len(body))
		}
		slowest = max(slowest, time.Since(t0))
	}
	t.Logf("slowest lone request %v", slowest)
}
