package netio

import (
	"context"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// CollectorOptions adds what the server does not own to NewCollector's metrics.
type CollectorOptions struct {
	// AccessLog, when set, returns the access log's records lost (dropped or not written)
	// and its write errors so far.
	AccessLog func() (dropped, errors uint64)
}

// NewCollector returns a Prometheus collector of s's Stats, taken at each scrape. The
// request path keeps its own per-loop counts (plain fields, see Stats) and this collector
// only sums them when scraped, rather than using client_golang's Counter, whose every Inc
// is an atomic add on memory shared by all the loops.
func NewCollector(s *Server, opts CollectorOptions) prometheus.Collector {
	c := &collector{s: s, opts: opts}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("uringd_"+name, help, labels, nil)
	}
	c.requests = d("http_requests_total", "Responses sent whole, by status class and method.", "code", "method")
	c.refused = d("http_refused_total", "Connections answered 503 and closed because the connection limit was reached.")
	c.sent = d("http_sent_bytes_total", "Bytes written to client sockets, heads and bodies.")
	c.open = d("connections_open", "Connections accepted and not yet closed.")
	c.conns = d("connections", "Open connections waiting for a request (idle) or with one in flight (active).", "state")
	c.hits = d("file_cache_hits_total", "Open-file cache lookups that found the file open.")
	c.misses = d("file_cache_misses_total", "Open-file cache lookups that opened the path.")
	c.entries = d("file_cache_entries", "Files held open by the open-file caches.")
	c.large = d("large_file_bytes_total", "Bytes of large file pieces (64 KiB and more) sent by each path.", "path")
	c.fixed = d("large_file_fixed_bytes_total", "Bytes of the read and direct paths read into registered buffers (READ_FIXED); already counted in large_file_bytes_total.")
	c.uncached = d("large_file_uncached_looks_total", "cachestat looks that found part of a large range out of the page cache, so that READ sent it instead of sendfile.")
	c.sqes = d("ring_sqes_total", "SQEs handed to the kernel by the loops' rings.")
	c.enters = d("ring_enters_total", "io_uring_enter calls of the loops' rings.")
	c.overflows = d("ring_cq_overflows_total", "io_uring_enter calls that found completions waiting beyond a full CQ.")
	c.dropped = d("ring_cq_dropped_total", "Completions the kernel could not keep (0 with NODROP).")
	c.iowq = d("iowq_workers", "The kernel's io-wq worker threads in this process (iou-wrk-*).")
	c.loops = d("loops", "Event loops whose counts are in this scrape.")
	c.stale = d("stats_stale_loops", "Event loops that did not answer this scrape in time: their last counts are used.")
	c.alDropped = d("access_log_dropped_total", "Access log records lost: dropped on a full queue, or not written.")
	c.alErrors = d("access_log_errors_total", "Access log write errors.")
	return c
}

type collector struct {
	s    *Server
	opts CollectorOptions

	requests, refused, sent, open, conns, hits, misses, entries *prometheus.Desc
	large, fixed, uncached                                      *prometheus.Desc
	sqes, enters, overflows, dropped, iowq, loops, stale        *prometheus.Desc
	alDropped, alErrors                                         *prometheus.Desc
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.requests, c.refused, c.sent, c.open, c.conns, c.hits, c.misses, c.entries,
		c.large, c.fixed, c.uncached, c.sqes, c.enters, c.overflows, c.dropped, c.iowq, c.loops, c.stale} {
		ch <- d
	}
	if c.opts.AccessLog != nil {
		ch <- c.alDropped
		ch <- c.alErrors
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.Stats(context.Background())
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), labels...)
	}
	for class := range st.Responses {
		code := strconv.Itoa(class+1) + "xx"
		for m, n := range st.Responses[class] {
			counter(c.requests, n, code, StatsMethod(m))
		}
	}
	counter(c.refused, st.Refused)
	counter(c.sent, st.BytesSent)
	gauge(c.open, st.ConnsOpen)
	gauge(c.conns, st.ConnsIdle, "idle")
	gauge(c.conns, st.ConnsActive, "active")
	for path, n := range map[string]int64{"read": st.Large.Read, "splice": st.Large.Splice, "sendfile": st.Large.Sendfile, "direct": st.Large.Direct} {
		counter(c.large, uint64(n), path)
	}
	counter(c.fixed, uint64(st.Large.Fixed))
	counter(c.uncached, uint64(st.Large.UncachedLooks))
	gauge(c.iowq, int64(st.IOWQWorkers))
	if c.s.std == nil { // the std engine has neither rings nor an open-file cache
		counter(c.hits, st.FileCacheHits)
		counter(c.misses, st.FileCacheMisses)
		gauge(c.entries, int64(st.FileCacheEntries))
		counter(c.sqes, st.Ring.SQEs)
		counter(c.enters, st.Ring.Enters)
		counter(c.overflows, st.Ring.CQOverflows)
		counter(c.dropped, uint64(st.Ring.CQDropped))
		gauge(c.loops, int64(st.Loops))
		gauge(c.stale, int64(st.Stale))
	}
	if c.opts.AccessLog != nil {
		dropped, errs := c.opts.AccessLog()
		counter(c.alDropped, dropped)
		counter(c.alErrors, errs)
	}
}
