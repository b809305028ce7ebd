package netio

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestStats sends known requests on one raw connection and checks the counts exactly: the
// responses by class and method, the bytes the client read, the connections' states; then
// scrapes the Prometheus collector over loopback and finds the same figures.
func TestStats(t *testing.T) {
	root := testRoot(t)
	eachMode(t, func(t *testing.T, m mode) {
		rs := start(t, m, root, nil)
		ctx := context.Background()
		c, err := net.Dial("tcp", rs.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// 3 GET 200 (one of them of the 1 MiB file), 1 HEAD 200, 1 GET 404, 1 DELETE 405,
		// then a GET 200 that closes: the client reads everything sent, to EOF.
		io.WriteString(c, "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n"+
			"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n"+
			"GET /1m.bin HTTP/1.1\r\nHost: x\r\n\r\n"+
			"HEAD /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n"+
			"GET /missing.txt HTTP/1.1\r\nHost: x\r\n\r\n"+
			"DELETE /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n"+
			"GET /4k.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		all, err := io.ReadAll(c)
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(all), "HTTP/1.1 "); n != 7 {
			t.Fatalf("%d responses, want 7", n)
		}

		// Two more connections: one idle after a request, one in the middle of a head.
		idle, err := net.Dial("tcp", rs.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer idle.Close()
		io.WriteString(idle, "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(idle), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		extra := responseBytes(resp, len(body))
		busy, err := net.Dial("tcp", rs.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer busy.Close()
		io.WriteString(busy, "GET /hello.txt HTTP/1.1\r\nHo")

		// 5 GET 200, 1 HEAD 200, 1 GET 404, 1 DELETE 405 (method "other"). A response is
		// counted once its last byte is sent, which a client can see a moment before.
		want := [5][NumStatsMethods]uint64{}
		want[1][0], want[1][1], want[3][0], want[3][3] = 5, 1, 1, 1
		var st Stats
		for end := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			st = rs.s.Stats(ctx)
			if st.ConnsOpen == 2 && st.ConnsIdle == 1 && st.ConnsActive == 1 && st.Responses == want || time.Now().After(end) {
				break
			}
		}
		if st.ConnsOpen != 2 || st.ConnsIdle != 1 || st.ConnsActive != 1 {
			t.Errorf("connections: %d open, %d idle, %d active; want 2, 1, 1", st.ConnsOpen, st.ConnsIdle, st.ConnsActive)
		}
		if st.Responses != want {
			t.Errorf("responses %v, want %v", st.Responses, want)
		}
		if st.BytesSent != uint64(len(all)+extra) {
			t.Errorf("bytes sent %d, the clients read %d", st.BytesSent, len(all)+extra)
		}
		if m.cfg.Net == "std" {
			if st.Loops != 0 || st.Ring != (Stats{}).Ring || st.FileCacheHits+st.FileCacheMisses != 0 {
				t.Errorf("std: loops %d ring %+v cache %d/%d: want none", st.Loops, st.Ring, st.FileCacheHits, st.FileCacheMisses)
			}
		} else {
			// On the first connection's loop hello.txt is looked up three times, so hit
			// twice at least; every path's first lookup on a loop misses (404s too).
			if st.FileCacheHits < 2 || st.FileCacheMisses < 4 || st.FileCacheEntries < 3 {
				t.Errorf("open-file cache: %d hits, %d misses, %d entries; want ≥ 2, ≥ 4, ≥ 3", st.FileCacheHits, st.FileCacheMisses, st.FileCacheEntries)
			}
			if st.Large.Read+st.Large.Splice+st.Large.Sendfile < 1<<20 {
				t.Errorf("large-file bytes %+v: want the 1 MiB file's", st.Large)
			}
			if st.Loops != rs.s.cfg.Loops || st.Stale != 0 || st.Ring.SQEs == 0 || st.Ring.Enters == 0 || st.Ring.CQDropped != 0 {
				t.Errorf("loops %d (stale %d), ring %+v: want %d loops answering, SQEs and enters counted", st.Loops, st.Stale, st.Ring, rs.s.cfg.Loops)
			}
		}

		// The same figures through Prometheus, scraped over loopback.
		fam := scrape(t, NewCollector(rs.s, CollectorOptions{AccessLog: func() (uint64, uint64) { return 7, 2 }}))
		for _, w := range []struct {
			name   string
			labels map[string]string
			value  float64
		}{
			{"uringd_http_requests_total", map[string]string{"code": "2xx", "method": "GET"}, 5},
			{"uringd_http_requests_total", map[string]string{"code": "4xx", "method": "other"}, 1},
			{"uringd_http_sent_bytes_total", nil, float64(st.BytesSent)},
			{"uringd_connections_open", nil, 2},
			{"uringd_connections", map[string]string{"state": "idle"}, 1},
			{"uringd_access_log_dropped_total", nil, 7},
			{"uringd_access_log_errors_total", nil, 2},
		} {
			if v, ok := metricValue(fam, w.name, w.labels); !ok || v != w.value {
				t.Errorf("%s%v = %v (found %v), want %v", w.name, w.labels, v, ok, w.value)
			}
		}
		_, hasRing := metricValue(fam, "uringd_ring_enters_total", nil)
		if hasRing != (m.cfg.Net != "std") {
			t.Errorf("uringd_ring_enters_total present %v in engine %s", hasRing, m.name)
		}
	})
}

// responseBytes is how many bytes resp took on the wire, with a body of n bytes.
func responseBytes(resp *http.Response, n int) int {
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP/1.1 %s\r\n", resp.Status)
	resp.Header.Write(&b)
	return b.Len() + 2 + n
}

// scrape serves col on a loopback listener and scrapes it with net/http's client.
func scrape(t *testing.T, col prometheus.Collector) map[string]*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(col)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{})}
	go hs.Serve(ln)
	defer hs.Close()
	resp, err := http.Get("http://" + ln.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("scrape: %s, Content-Type %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fam, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	return fam
}

// metricValue finds the sample of family name whose labels include labels.
func metricValue(fam map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	f := fam[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, lp := range m.Label {
			have[lp.GetName()] = lp.GetValue()
		}
		for k, v := range labels {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		}
	}
	return 0, false
}

// want2xx is how many 200s TestStatsRefusedAndFinal sends in mode m.
func want2xx(m mode) uint64 {
	if m.cfg.Net == "std" {
		return 1
	}
	return 2
}

// TestStatsRefusedAndFinal: a connection over MaxConns is counted as refused; a done context
// gets the counts last published, the loops counted stale; after Serve returns, Stats gives
// the loops' final counts at once, without waiting for them.
func TestStatsRefusedAndFinal(t *testing.T) {
	root := testRoot(t)
	eachMode(t, func(t *testing.T, m mode) {
		_, rs := startTuned(t, m, root, ringTuning{}, func(c *Config) { c.MaxConns = 1 })
		first, err := net.Dial("tcp", rs.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer first.Close()
		io.WriteString(first, "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp, err := http.ReadResponse(bufio.NewReader(first), nil); err != nil || resp.StatusCode != 200 {
			t.Fatalf("first connection: %v %v", resp, err)
		}
		second, err := net.Dial("tcp", rs.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer second.Close()
		second.SetReadDeadline(time.Now().Add(5 * time.Second))
		if b, _ := io.ReadAll(second); !strings.HasPrefix(string(b), "HTTP/1.1 503") {
			t.Fatalf("second connection got %q, want a 503", b)
		}
		var st Stats
		for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
			if st = rs.s.Stats(context.Background()); st.Refused == 1 && st.Responses[1][0] == 1 {
				break
			}
		}
		if st.Refused != 1 || st.Responses[1][0] != 1 {
			t.Errorf("refused %d, 2xx GET %d: want 1 and 1", st.Refused, st.Responses[1][0])
		}
		// A context already done asks no loop: the counts last published stand, each
		// running loop counted stale. (The std engine counts as it goes: always current.)
		if m.cfg.Net != "std" {
			io.WriteString(first, "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
			if resp, err := http.ReadResponse(bufio.NewReader(first), nil); err != nil || resp.StatusCode != 200 {
				t.Fatalf("second request: %v %v", resp, err)
			}
			done, cancel := context.WithCancel(context.Background())
			cancel()
			time.Sleep(50 * time.Millisecond) // the response is counted by now
			if old := rs.s.Stats(done); old.Stale != 2 || old.Loops != 2 || old.Responses[1][0] != 1 {
				t.Errorf("with a done context: %d stale of %d loops, 2xx GET %d; want 2 of 2 and the last published 1", old.Stale, old.Loops, old.Responses[1][0])
			}
			if now := rs.s.Stats(context.Background()); now.Stale != 0 || now.Responses[1][0] != 2 {
				t.Errorf("asked again: %d stale, 2xx GET %d; want 0 and 2", now.Stale, now.Responses[1][0])
			}
		}
		first.Close()
		rs.cancel()
		if err := <-rs.done; err != nil {
			t.Fatal(err)
		}
		begin := time.Now()
		st = rs.s.Stats(context.Background())
		if took := time.Since(begin); took > statsWait/2 || st.Stale != 0 || st.Refused != 1 || st.Responses[1][0] != want2xx(m) || st.ConnsOpen != 0 {
			t.Errorf("after Serve: %+v in %v; want the final counts at once, nothing open", st, took)
		}
	})
}
