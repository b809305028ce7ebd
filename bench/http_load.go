package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// PathSet is what a load generator requests: one fixed path, or a random file of a cold data
// set (DataSet.Path(i) for i in [0, Count)). Size is each response body's length.
type PathSet struct {
	Fixed string // a path such as /4k.bin; empty for the data set
	Count int    // files in the data set
	Size  int64  // bytes per response body
}

func (p PathSet) path(i int) string {
	if p.Fixed != "" {
		return p.Fixed
	}
	return dataSetPath(i)
}

func (p PathSet) String() string {
	if p.Fixed != "" {
		return p.Fixed
	}
	return fmt.Sprintf("%d random files of %s", p.Count, FormatBytes(p.Size))
}

// WrkResult is one wrk run, as its Lua done() hook prints it (wrk's own histogram, µs).
type WrkResult struct {
	DurationUS int64   `json:"duration_us"`
	Requests   int64   `json:"requests"`
	Bytes      int64   `json:"bytes"` // heads included
	Connect    int64   `json:"connect"`
	Read       int64   `json:"read"`
	Write      int64   `json:"write"`
	Status     int64   `json:"status"` // answers with status 400 and above
	Timeout    int64   `json:"timeout"`
	P50US      float64 `json:"p50_us"`
	P99US      float64 `json:"p99_us"`
	P999US     float64 `json:"p999_us"`
	MaxUS      float64 `json:"max_us"`
	MeanUS     float64 `json:"mean_us"`
	// CPU is the user and system time wrk's process used, from its exit status: wrk's one
	// thread near a whole CPU means the client, not the server, set the rate.
	CPU time.Duration `json:"-"`
}

// Wall is the run's measured time.
func (w *WrkResult) Wall() time.Duration { return time.Duration(w.DurationUS) * time.Microsecond }

// MBPerSec is the rate of a run whose every answer was size bytes, in 10^6 bytes a second;
// ok is false when the run measured no time.
func (w *WrkResult) MBPerSec(size int64) (mbps float64, ok bool) {
	if w.DurationUS <= 0 {
		return 0, false
	}
	return float64(w.Requests) * float64(size) / 1e6 / w.Wall().Seconds(), true
}

// Latency is wrk's histogram as a Latency (closed loop: not corrected for coordinated omission).
func (w *WrkResult) Latency() Latency {
	d := func(us float64) time.Duration { return time.Duration(us * 1e3) }
	return Latency{P50: d(w.P50US), P99: d(w.P99US), P999: d(w.P999US), Max: d(w.MaxUS), Mean: d(w.MeanUS)}
}

// wrkMarker starts the line the bench's Lua script prints at the end of a wrk run.
const wrkMarker = "URINGD-WRK "

// wrkScript picks each request's path: the fixed one, or a random file of the data set (one
// generator per wrk thread, seeded apart), and prints wrk's summary as one JSON line.
const wrkScript = `-- written by uringd bench http
local reqs, n = {}, 0
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function init(args)
  math.randomseed(os.time() * 1000 + (tid or 0))
  if args[1] == "fixed" then
    reqs[1] = wrk.format("GET", args[2]); n = 1
  else
    local count = tonumber(args[2])
    for i = 0, count - 1 do
      reqs[i + 1] = wrk.format("GET", string.format("/c/%03d/%05d.bin", math.floor(i / 256), i))
    end
    n = count
  end
end
function request()
  if n == 1 then return reqs[1] end
  return reqs[math.random(n)]
end
function done(s, lat, req)
  local e = s.errors
  io.write(string.format('URINGD-WRK {"duration_us":%d,"requests":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50_us":%.1f,"p99_us":%.1f,"p999_us":%.1f,"max_us":%.1f,"mean_us":%.1f}\n',
    s.duration, s.requests, s.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    lat:percentile(50), lat:percentile(99), lat:percentile(99.9), lat.max, lat.mean))
end
`

// ParseWrk reads a wrk run's output: the JSON line of the bench's Lua script, checked against
// wrk's own "Requests/sec" and "Non-2xx or 3xx responses" lines when they are there.
func ParseWrk(out []byte) (WrkResult, error) {
	var r WrkResult
	found := false
	var rps float64
	var non2xx int64 = -1
	for _, line := range bytes.Split(out, []byte("\n")) {
		line = bytes.TrimSpace(line)
		switch {
		case bytes.HasPrefix(line, []byte(wrkMarker)):
			if err := json.Unmarshal(line[len(wrkMarker):], &r); err != nil {
				return r, fmt.Errorf("wrk: summary line %q: %w", line, err)
			}
			found = true
		case bytes.HasPrefix(line, []byte("Requests/sec:")):
			rps, _ = strconv.ParseFloat(string(bytes.TrimSpace(line[len("Requests/sec:"):])), 64)
		case bytes.HasPrefix(line, []byte("Non-2xx or 3xx responses:")):
			non2xx, _ = strconv.ParseInt(string(bytes.TrimSpace(line[len("Non-2xx or 3xx responses:"):])), 10, 64)
		}
	}
	if !found {
		return r, fmt.Errorf("wrk: no %q line in its output: %.300q", strings.TrimSpace(wrkMarker), out)
	}
	if non2xx > r.Status {
		r.Status = non2xx
	}
	if rps > 0 && r.DurationUS > 0 {
		own := float64(r.Requests) / r.Wall().Seconds()
		if own < rps*0.99 || own > rps*1.01 {
			return r, fmt.Errorf("wrk: summary says %.0f req/s, wrk printed %.0f", own, rps)
		}
	}
	return r, nil
}

// wrkRun is one wrk process in flight.
type wrkRun struct {
	cmd    *exec.Cmd
	stdout bytes.Buffer
	stderr bytes.Buffer
}

// startWrk starts wrk with conns connections on one thread against addr for d.
func startWrk(ctx context.Context, script, addr string, ps PathSet, conns int, d time.Duration) (*wrkRun, error) {
	args := []string{"-t1", "-c" + strconv.Itoa(conns), "-d" + strconv.Itoa(wrkSeconds(d)) + "s",
		"--timeout", "10s", "-s", script, "http://" + addr + "/", "--"}
	if ps.Fixed != "" {
		args = append(args, "fixed", ps.Fixed)
	} else {
		args = append(args, "random", strconv.Itoa(ps.Count))
	}
	w := &wrkRun{cmd: exec.CommandContext(ctx, "wrk", args...)}
	w.cmd.Stdout, w.cmd.Stderr = &w.stdout, &w.stderr
	if err := w.cmd.Start(); err != nil {
		return nil, fmt.Errorf("wrk: %w", err)
	}
	return w, nil
}

// wrkSeconds is d in the whole seconds wrk takes (at least 1).
func wrkSeconds(d time.Duration) int { return max(1, int(d.Round(time.Second)/time.Second)) }

func (w *wrkRun) wait() (WrkResult, error) {
	if err := w.cmd.Wait(); err != nil {
		out := bytes.TrimSpace(append(w.stderr.Bytes(), w.stdout.Bytes()...))
		if len(out) > 300 {
			out = out[:300]
		}
		return WrkResult{}, fmt.Errorf("wrk: %w: %s", err, out)
	}
	r, err := ParseWrk(w.stdout.Bytes())
	if err != nil {
		return r, err
	}
	if ps := w.cmd.ProcessState; ps != nil {
		r.CPU = ps.UserTime() + ps.SystemTime()
	}
	if n := r.Connect + r.Read + r.Write + r.Timeout; n > 0 && r.Requests == 0 {
		return r, fmt.Errorf("wrk: no answer (%d socket errors)", n)
	}
	return r, nil
}

func writeWrkScript(dir string) (string, error) {
	p := filepath.Join(dir, "paths.lua")
	return p, os.WriteFile(p, []byte(wrkScript), 0o644)
}

// RateResult is a fixed-rate run. A request that had to wait for the answer before it is
// timed from when it was due, so a stalled server is charged for the requests it held up
// (no coordinated omission).
type RateResult struct {
	Sent, OK, Bad int64 // Bad: a wrong status or length, or a broken connection
	Wall          time.Duration
	Hist          *Histogram
	FirstBad      string // what the first bad answer was

	lat []time.Duration // one connection's latencies, merged into Hist by Run
}

// RateLoad offers Rate requests per second over Conns keep-alive connections to Addr for
// Duration, each connection on its own schedule of Conns/Rate seconds between requests.
type RateLoad struct {
	Addr     string
	Paths    PathSet
	Rate     float64
	Conns    int
	Duration time.Duration

	started func() // tests: called when the schedule starts
}

// Run runs the load and returns what it measured.
func (l RateLoad) Run(ctx context.Context) (RateResult, error) {
	if l.Rate <= 0 || l.Conns <= 0 || l.Duration <= 0 {
		return RateResult{}, fmt.Errorf("bench: rate load needs a rate, connections and a duration")
	}
	interval := time.Duration(float64(l.Conns) / l.Rate * 1e9)
	// Every connection is open before the first request is due, so the latency is that of
	// requests on Conns open connections, not of the connects (with thousands, their
	// handshakes would be charged to the first requests and fill the tail).
	conns, err := l.dialAll(ctx)
	if err != nil {
		return RateResult{}, err
	}
	// Each connection's buffers exist before the first request: allocated during the
	// schedule, thousands of them start the client's GC in the first requests' latency.
	res := make([]RateResult, l.Conns)
	brs := make([]*bufio.Reader, l.Conns)
	perConn := int(l.Duration/interval) + 2
	bufSize := rateReadBuf(l.Paths.Size)
	for k := range res {
		res[k].lat = make([]time.Duration, 0, perConn)
		if conns[k] != nil {
			brs[k] = bufio.NewReaderSize(conns[k], bufSize)
		}
	}
	if l.started != nil {
		l.started()
	}
	start := time.Now().Add(startMargin(l.Conns))
	end := start.Add(l.Duration)
	var wg sync.WaitGroup
	errs := make([]error, l.Conns)
	for k := 0; k < l.Conns; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			first := start.Add(interval * time.Duration(k) / time.Duration(l.Conns))
			errs[k] = l.conn(ctx, k, &res[k], conns[k], brs[k], bufSize, first, end, interval)
		}()
	}
	wg.Wait()
	out := RateResult{Hist: NewHistogram(), Wall: time.Since(start)}
	for k := range res {
		if errs[k] != nil {
			return out, errs[k]
		}
		out.Sent += res[k].Sent
		out.OK += res[k].OK
		out.Bad += res[k].Bad
		for _, d := range res[k].lat {
			out.Hist.Record(d)
		}
		if out.FirstBad == "" {
			out.FirstBad = res[k].FirstBad
		}
	}
	if out.Wall > l.Duration {
		out.Wall = l.Duration // requests are scheduled in [start, end)
	}
	return out, nil
}

// rateReadBuf is the size of a RateLoad connection's read buffer for answers of size bytes:
// the answer and its head, up to 32 KiB, so a 1 MiB body is read in few calls and ten
// thousand connections of small answers keep a small heap (the client's GC runs while the
// servers are timed).
func rateReadBuf(size int64) int {
	return int(min(max(size+1024, 4<<10), 32<<10))
}

// startMargin is how long RateLoad waits between starting conns goroutines and the first
// request: starting thousands takes the client's CPU for tens of milliseconds, which would
// be charged to the first requests.
func startMargin(conns int) time.Duration {
	return time.Millisecond + time.Duration(conns)*5*time.Microsecond
}

// dialParallel bounds the connects in flight while RateLoad opens its connections: a burst
// of thousands of SYNs would overflow a listen backlog (nginx's is 511) and wait out the
// kernel's SYN retransmit timer.
const dialParallel = 128

// dialAll opens the load's Conns connections, at most dialParallel at a time. One that
// fails is left nil and dialled again when its first request is due (and counted bad there
// if it fails again), so a server refusing some connections still gets a figure with them.
func (l RateLoad) dialAll(ctx context.Context) ([]net.Conn, error) {
	conns := make([]net.Conn, l.Conns)
	sem := make(chan struct{}, dialParallel)
	var wg sync.WaitGroup
	var d net.Dialer
	d.Timeout = 5 * time.Second
	for k := range conns {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			closeAll(conns)
			return nil, ctx.Err()
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if c, err := d.DialContext(ctx, "tcp", l.Addr); err == nil {
				conns[k] = c
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		closeAll(conns)
		return nil, err
	}
	return conns, nil
}

func closeAll(conns []net.Conn) {
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
}

func (l RateLoad) conn(ctx context.Context, k int, r *RateResult, c net.Conn, br *bufio.Reader, bufSize int, next, end time.Time, interval time.Duration) error {
	// Latencies are kept in a slice (made by Run) and put in one histogram at the end: a
	// histogram per connection would be gigabytes of heap at ten thousand connections.
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(k)))
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	bad := func(what string) {
		r.Bad++
		if r.FirstBad == "" {
			r.FirstBad = what
		}
		if c != nil {
			c.Close()
			c = nil
		}
	}
	req := make([]byte, 0, 128)
	var prevDone time.Time
	for ; next.Before(end); next = next.Add(interval) {
		if err := ctx.Err(); err != nil {
			return err
		}
		// A request held up by the previous answer is timed from when it was due (the server
		// made it late); one sent late only because the timer woke late is timed from its send.
		sent := next
		if !prevDone.After(next) {
			if d := time.Until(next); d > 0 {
				time.Sleep(d)
			}
			sent = time.Now()
		}
		if c == nil {
			var err error
			c, err = net.DialTimeout("tcp", l.Addr, 5*time.Second)
			if err != nil {
				r.Sent++
				bad("connect: " + err.Error())
				continue
			}
			br = bufio.NewReaderSize(c, bufSize)
		}
		i := 0
		if l.Paths.Fixed == "" {
			i = rng.IntN(l.Paths.Count)
		}
		req = append(req[:0], "GET "...)
		req = append(req, l.Paths.path(i)...)
		req = append(req, " HTTP/1.1\r\nHost: "...)
		req = append(req, l.Addr...) // Caddy answers another host's name with an empty 200
		req = append(req, "\r\n\r\n"...)
		r.Sent++
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write(req); err != nil {
			bad("write: " + err.Error())
			continue
		}
		status, n, err := readResponse(br)
		if err != nil {
			bad("read: " + err.Error())
			continue
		}
		if status != 200 || n != l.Paths.Size {
			bad(fmt.Sprintf("%s: status %d, %d bytes, want 200 and %d", l.Paths.path(i), status, n, l.Paths.Size))
			continue
		}
		prevDone = time.Now()
		r.OK++
		r.lat = append(r.lat, prevDone.Sub(sent))
	}
	return nil
}

// readResponse reads one HTTP/1.1 response with a Content-Length and discards its body.
func readResponse(br *bufio.Reader) (status int, length int64, err error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, 0, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, 0, fmt.Errorf("bad status line %q", line)
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, 0, fmt.Errorf("bad status line %q", line)
	}
	length = -1
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			return status, 0, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		if k, v, ok := bytes.Cut(line, []byte(":")); ok && bytes.EqualFold(k, []byte("Content-Length")) {
			length, err = strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
			if err != nil {
				return status, 0, fmt.Errorf("bad Content-Length %q", v)
			}
		}
	}
	if length < 0 {
		return status, 0, errors.New("response without Content-Length")
	}
	if _, err := br.Discard(int(length)); err != nil {
		return status, 0, err
	}
	return status, length, nil
}
