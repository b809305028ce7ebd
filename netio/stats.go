package netio

import (
	"context"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uringd/uringd/netio/internal/http1"
	"github.com/uringd/uringd/ring"
)

// Stats is a snapshot of the server's counters (since NewServer) and gauges (now), summed
// over its event loops. Server.Stats takes it; NewCollector exports it to Prometheus.
type Stats struct {
	// Responses counts the responses sent whole, by status class and method:
	// Responses[class-1][m] for class 1 (1xx) to 5 (5xx) and m one of StatsMethod's indexes.
	Responses [5][NumStatsMethods]uint64
	// Refused counts connections answered 503 and closed because MaxConns were open.
	Refused uint64
	// BytesSent counts the bytes of responses written to client sockets, heads and bodies,
	// whole or not (the canned 503 of a refused connection aside).
	BytesSent uint64

	// ConnsOpen is the connections accepted and not yet closed; ConnsIdle those of them
	// waiting for a request (keep-alive), ConnsActive those with a request being received,
	// looked up or answered. A connection being closed counts as open only.
	ConnsOpen, ConnsIdle, ConnsActive int64

	// FileCacheHits and FileCacheMisses count lookups in the open-file cache: a miss opens
	// the path (or waits for another connection's open of it). The std engine has no such
	// cache and counts neither. FileCacheEntries is how many files the caches hold now.
	FileCacheHits, FileCacheMisses uint64
	FileCacheEntries               int

	// Large counts the bytes sent by each large-file path (as LargeFileStats).
	Large LargeFileStats
	// Ring sums the loops' rings' counts; the std engine has no ring.
	Ring ring.Stats
	// IOWQWorkers is the kernel's io-wq worker threads in this process now (threads named
	// iou-wrk-*): the blocking work the rings handed off, files' opens and stats first.
	IOWQWorkers int
	// Loops is how many event loops' counts are in; Stale how many of them did not answer
	// within Stats' wait and are counted as they last published.
	Loops, Stale int
}

// NumStatsMethods is the number of method groups Stats counts responses by.
const NumStatsMethods = 4

// StatsMethod names method group m of Stats.Responses: GET, HEAD, OPTIONS, or other (a
// request that could not be parsed, or one answered 405).
func StatsMethod(m int) string {
	switch m {
	case 0:
		return "GET"
	case 1:
		return "HEAD"
	case 2:
		return "OPTIONS"
	}
	return "other"
}

func methodIndex(m http1.Method) int {
	switch m {
	case http1.MethodGET:
		return 0
	case http1.MethodHEAD:
		return 1
	case http1.MethodOPTIONS:
		return 2
	}
	return 3
}

func classIndex(status int) int { return min(max(status/100, 1), 5) - 1 }

// loopCounters are one loop's counts. Only the loop writes them, as plain fields: no
// atomic and no cache line shared with another loop on the request path. Other
// goroutines see them through the loop's statsBox.
type loopCounters struct {
	responses                      [5][NumStatsMethods]uint64
	refused, bytesSent             uint64
	cacheHits, cacheMisses         uint64
	connsOpen, connsIdle, connsAct int64
	cacheEntries                   int
	ring                           ring.Stats
}

// statsBox is where a loop publishes its counters when asked: Server.Stats sets want and
// wakes the loop, which copies its counters in at its next turn and closes done.
type statsBox struct {
	want  atomic.Bool
	mu    sync.Mutex
	snap  loopCounters
	done  chan struct{} // closed at the next publish; nil when nobody waits
	ended bool          // the loop published for the last time: snap is final
}

// countResponse counts the response c has just sent whole.
func (l *loop) countResponse(c *conn) {
	l.counts.responses[classIndex(c.rep.status)][methodIndex(c.req.Method)]++
}

// publishStats copies the loop's counters, with its gauges counted now, into its box. It
// runs on the loop's goroutine, at a turn after Server.Stats asked, and when the loop ends.
func (l *loop) publishStats(last bool) {
	b := &l.statsBox
	b.want.Store(false)
	st := l.counts
	for _, c := range l.conns {
		if c == nil || c.fd < 0 {
			continue
		}
		st.connsOpen++
		switch {
		case c.closing:
		case c.state == stateIdle && c.inOff == len(c.in):
			st.connsIdle++
		default:
			st.connsAct++
		}
	}
	st.cacheEntries = len(l.files.m)
	if l.r != nil {
		st.ring = l.r.Stats()
	}
	b.mu.Lock()
	b.snap = st
	b.ended = b.ended || last
	if b.done != nil {
		close(b.done)
		b.done = nil
	}
	b.mu.Unlock()
}

// statsWait bounds how long Stats waits for a loop to publish: a loop stuck in a handler
// should not hang a metrics scrape.
const statsWait = time.Second

// Stats returns the server's counts now. Each running event loop is asked to publish its
// counters and Stats waits for it (at most a second, or until ctx ends: then its last
// published counts are used and it is counted in Stale; with ctx already done, no loop is
// asked). Call it from any goroutine; it costs the loops nothing until it is called.
func (s *Server) Stats(ctx context.Context) Stats {
	st := Stats{Large: s.LargeFileStats(), IOWQWorkers: IOWQWorkers()}
	if s.std != nil {
		s.std.stats(&st)
		return st
	}
	s.statsMu.Lock()
	loops := s.statsLoops
	s.statsMu.Unlock()
	waits := make([]chan struct{}, len(loops))
	ask := ctx.Err() == nil // a context already done asks no loop: the last counts stand
	for i, l := range loops {
		b := &l.statsBox
		b.mu.Lock()
		switch {
		case b.ended:
		case !ask:
			st.Stale++
		default:
			if b.done == nil {
				b.done = make(chan struct{})
			}
			waits[i] = b.done
		}
		b.mu.Unlock()
		if waits[i] != nil {
			b.want.Store(true)
			l.wakeup()
		}
	}
	ctx, cancel := context.WithTimeout(ctx, statsWait)
	defer cancel()
	for i, l := range loops {
		if waits[i] != nil {
			select {
			case <-waits[i]:
			case <-ctx.Done():
				st.Stale++
			}
		}
		b := &l.statsBox
		b.mu.Lock()
		lc := b.snap
		b.mu.Unlock()
		st.add(&lc)
		st.Loops++
	}
	return st
}

func (st *Stats) add(lc *loopCounters) {
	for i := range lc.responses {
		for j, n := range lc.responses[i] {
			st.Responses[i][j] += n
		}
	}
	st.Refused += lc.refused
	st.BytesSent += lc.bytesSent
	st.FileCacheHits += lc.cacheHits
	st.FileCacheMisses += lc.cacheMisses
	st.FileCacheEntries += lc.cacheEntries
	st.ConnsOpen += lc.connsOpen
	st.ConnsIdle += lc.connsIdle
	st.ConnsActive += lc.connsAct
	st.Ring = st.Ring.Add(lc.ring)
}

// stdCounters are the std engine's counts. Its connections are goroutines, not loops, so
// these are shared atomics, as the net package's own bookkeeping is.
type stdCounters struct {
	responses          [5][NumStatsMethods]atomic.Uint64
	refused, bytesSent atomic.Uint64
}

func (ss *stdServer) countResponse(req *http1.Request, status int) {
	ss.counts.responses[classIndex(status)][methodIndex(req.Method)].Add(1)
}

func (ss *stdServer) stats(st *Stats) {
	for i := range ss.counts.responses {
		for j := range ss.counts.responses[i] {
			st.Responses[i][j] = ss.counts.responses[i][j].Load()
		}
	}
	st.Refused = ss.counts.refused.Load()
	st.BytesSent = ss.counts.bytesSent.Load()
	ss.mu.Lock()
	for c := range ss.conns {
		st.ConnsOpen++
		if c.busy.Load() {
			st.ConnsActive++
		} else {
			st.ConnsIdle++
		}
	}
	ss.mu.Unlock()
}

// IOWQWorkers counts this process's kernel io-wq worker threads now (named iou-wrk-*), by
// their names in /proc/self/task; 0 where /proc cannot be read.
func IOWQWorkers() int {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return 0
	}
	n := 0
	for _, t := range tasks {
		comm, err := os.ReadFile("/proc/self/task/" + t.Name() + "/comm")
		if err == nil && strings.HasPrefix(string(comm), "iou-wrk-") {
			n++
		}
	}
	return n
}
