package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// wrk 4.2's output with the bench's script, as it prints it.
const wrkOutput = `Running 5s test @ http://127.0.0.1:40117/
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.01ms  346.31us  13.27ms   87.95%
    Req/Sec    63.93k     2.62k   67.89k    78.00%
  318110 requests in 5.00s, 1.29GB read
Requests/sec:  63582.04
Transfer/sec:    264.22MB
URINGD-WRK {"duration_us":5003104,"requests":318110,"bytes":1386314380,"connect":0,"read":0,"write":0,"status":0,"timeout":0,"p50_us":968.0,"p99_us":2035.0,"p999_us":4711.0,"max_us":13270.0,"mean_us":1005.3}
`

func TestParseWrk(t *testing.T) {
	w, err := ParseWrk([]byte(wrkOutput))
	if err != nil {
		t.Fatal(err)
	}
	if w.Requests != 318110 || w.Wall() != 5003104*time.Microsecond || w.Status != 0 {
		t.Fatalf("parsed %+v", w)
	}
	if v, ok := w.MBPerSec(256 << 10); !ok || math.Abs(v-318110*262144/1e6/5.003104) > 1e-9 {
		t.Fatalf("MBPerSec = %v, %v", v, ok)
	}
	if _, ok := (&WrkResult{Requests: 1}).MBPerSec(1); ok {
		t.Fatal("MBPerSec of a run with no time is ok")
	}
	l := w.Latency()
	if l.P50 != 968*time.Microsecond || l.P999 != 4711*time.Microsecond || l.Max != 13270*time.Microsecond {
		t.Fatalf("latency %+v", l)
	}

	// wrk's own count of bad answers wins when the script's is lower.
	bad := strings.Replace(wrkOutput, "Requests/sec:", "  Non-2xx or 3xx responses: 17\nRequests/sec:", 1)
	if w, err := ParseWrk([]byte(bad)); err != nil || w.Status != 17 {
		t.Fatalf("Non-2xx line: %+v, %v", w, err)
	}
	// A summary that disagrees with wrk's own rate is refused, not averaged.
	off := strings.Replace(wrkOutput, "63582.04", "31000.00", 1)
	if _, err := ParseWrk([]byte(off)); err == nil || !strings.Contains(err.Error(), "req/s") {
		t.Fatalf("a disagreeing rate gave %v", err)
	}
	// Without the script's line (wrk failed early, or another script ran) it says so.
	if _, err := ParseWrk([]byte("unable to connect to 127.0.0.1:1 Connection refused\n")); err == nil ||
		!strings.Contains(err.Error(), "URINGD-WRK") {
		t.Fatalf("no summary line gave %v", err)
	}
	if _, err := ParseWrk([]byte("URINGD-WRK {\"requests\": x}\n")); err == nil {
		t.Fatal("a broken summary line was accepted")
	}
}

// perf 6.1's `perf stat -x,` output for perfEvents(true), one line per event in order.
const perfOutput = `# started on Wed Dec  2 15:20:01 2026

1473302,,raw_syscalls:sys_enter,5012339640,100.00,,
61012,,context-switches,5012339640,100.00,,
5231,,io_uring:io_uring_queue_async_work,5012339640,100.00,,
2048,,io_uring:io_uring_queue_async_work,5012339640,100.00,,
2040,,io_uring:io_uring_queue_async_work,5012339640,100.00,,
1143,,io_uring:io_uring_queue_async_work,5012339640,100.00,,
0,,io_uring:io_uring_queue_async_work,5012339640,100.00,,
<not counted>,,io_uring:io_uring_queue_async_work,0,0.00,,
`

func TestParsePerfStat(t *testing.T) {
	c, err := ParsePerfStat([]byte(perfOutput), true)
	if err != nil {
		t.Fatal(err)
	}
	if c.Syscalls != 1473302 || c.CtxSwitches != 61012 || c.IOWQ != 5231 {
		t.Fatalf("parsed %+v", c)
	}
	if c.IOWQByOp["openat2"] != 2048 || c.IOWQByOp["statx"] != 2040 || c.IOWQByOp["read"] != 1143 ||
		c.IOWQByOp["splice"] != 0 || !math.IsNaN(c.IOWQByOp["send"]) {
		t.Fatalf("by op %v", c.IOWQByOp)
	}
	// Without io_uring tracepoints only the first two events are asked for.
	two := strings.Join(strings.Split(perfOutput, "\n")[:4], "\n")
	if c, err := ParsePerfStat([]byte(two), false); err != nil || c.Syscalls != 1473302 || !math.IsNaN(c.IOWQ) {
		t.Fatalf("without tracepoints: %+v, %v", c, err)
	}
	if _, err := ParsePerfStat([]byte(two), true); err == nil {
		t.Fatal("missing counts were accepted")
	}
	swapped := strings.Replace(two, "raw_syscalls:sys_enter", "cycles", 1)
	if _, err := ParsePerfStat([]byte(swapped), false); err == nil {
		t.Fatal("an unexpected event was accepted")
	}
}

func TestParseProcCounters(t *testing.T) {
	status := "Name:\tnginx\nState:\tS (sleeping)\nThreads:\t1\nvoluntary_ctxt_switches:\t1500\nnonvoluntary_ctxt_switches:\t27\n"
	if got := ParseStatusCtxt([]byte(status)); got != 1527 {
		t.Fatalf("status: %v, want 1527", got)
	}
	io := "rchar: 323934931\nwchar: 323929600\nsyscr: 632687\nsyscw: 632675\nread_bytes: 0\n"
	if got := ParseProcIO([]byte(io)); got != 1265362 {
		t.Fatalf("io: %v, want 1265362", got)
	}
	if ParseStatusCtxt(nil) != 0 || ParseProcIO([]byte("garbage")) != 0 {
		t.Fatal("missing fields are not 0")
	}
	// And the real files of this process: it has switched and read by now.
	ctx, rw := procCounts([]int{os.Getpid()})
	if ctx <= 0 || rw <= 0 {
		t.Fatalf("this process: %v context switches, %v read/write syscalls", ctx, rw)
	}
}

func TestReadResponse(t *testing.T) {
	for _, c := range []struct {
		in      string
		status  int
		n       int64
		wantErr string
	}{
		{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer: x\r\n\r\nhello", 200, 5, ""},
		{"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n", 404, 0, ""},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 0, 0, "without Content-Length"},
		{"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", 0, 0, "bad Content-Length"},
		{"SSH-2.0-OpenSSH\r\n", 0, 0, "bad status line"},
		{"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", 0, 0, "EOF"},
	} {
		st, n, err := readResponse(bufio.NewReader(strings.NewReader(c.in)))
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%q: %v, want an error with %q", c.in, err, c.wantErr)
			}
			continue
		}
		if err != nil || st != c.status || n != c.n {
			t.Errorf("%q: %d %d %v", c.in, st, n, err)
		}
	}
}

// serveTree serves root with net/http on loopback.
func serveTree(t *testing.T, h http.Handler) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}

func TestPrepareTreeAndVerify(t *testing.T) {
	root := filepath.Join(t.TempDir(), "tree")
	if err := prepareTree(root, []int64{4 << 10, 1 << 20}, 300, 8<<10, io.Discard); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(root, "c", "001", "00299.bin"))
	if err != nil || st.Size() != 8<<10 || st.Mode().Perm() != 0o644 {
		t.Fatalf("data set file: %v %v", st, err)
	}
	// A second call finds the manifest and writes nothing.
	os.Remove(filepath.Join(root, "4k.bin"))
	if err := prepareTree(root, []int64{4 << 10, 1 << 20}, 300, 8<<10, io.Discard); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "4k.bin")); err == nil {
		t.Fatal("a matching tree was written again")
	}
	// A hot-only tree (no cold files asked for) keeps the cold set that is there.
	if err := prepareTree(root, []int64{4 << 10, 1 << 20}, 0, 0, io.Discard); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "4k.bin")); err == nil {
		t.Fatal("a hot-only call wrote the tree again")
	}
	// Nor does one with other hot sizes: it writes those and keeps the cold set.
	os.Remove(filepath.Join(root, "c", "000", "00001.bin"))
	if err := prepareTree(root, []int64{64 << 10}, 0, 0, io.Discard); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "64k.bin")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "c", "000", "00001.bin")); err == nil {
		t.Fatal("a hot-only call with other sizes wrote the cold set again")
	}
	if err := prepareTree(root, []int64{4 << 10, 1 << 20}, 300, 8<<10, io.Discard); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "c", "000", "00001.bin")); err == nil {
		t.Fatal("the cold set was written again after a hot-only run kept it")
	}
	if err := prepareTree(root, []int64{4 << 10, 1 << 20}, 301, 8<<10, io.Discard); err != nil {
		t.Fatal(err)
	}
	addr := serveTree(t, http.FileServer(http.Dir(root)))
	ctx := context.Background()
	paths := []string{"/4k.bin", "/1m.bin", dataSetPath(0), dataSetPath(300)}
	sizes := []int64{4 << 10, 1 << 20, 8 << 10, 8 << 10}
	if err := verifyServer(ctx, addr, paths, sizes, time.Second); err != nil {
		t.Fatal(err)
	}
	// A byte changed on disk is a server answering wrong bytes: no figure.
	f, _ := os.OpenFile(filepath.Join(root, "c", "000", "00007.bin"), os.O_WRONLY, 0)
	f.WriteAt([]byte{'!'}, 100)
	f.Close()
	err = verifyServer(ctx, addr, []string{dataSetPath(7)}, []int64{8 << 10}, 200*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "first difference at 100") {
		t.Fatalf("a wrong byte gave %v", err)
	}
	err = verifyServer(ctx, addr, []string{"/missing.bin"}, []int64{10}, 200*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "status 404") {
		t.Fatalf("a missing file gave %v", err)
	}
}

func TestRateLoad(t *testing.T) {
	body := bytes.Repeat([]byte("x"), 1000)
	slow := make(chan struct{})
	addr := serveTree(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.Write(body)
		case "/stall":
			<-slow // every answer held until the load is over
			w.Write(body)
		default:
			http.NotFound(w, r)
		}
	}))
	ctx := context.Background()
	r, err := RateLoad{Addr: addr, Paths: PathSet{Fixed: "/ok", Size: 1000}, Rate: 400, Conns: 4, Duration: 500 * time.Millisecond}.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r.Sent < 180 || r.Sent > 202 || r.OK != r.Sent || r.Bad != 0 || r.Hist.Count() != r.OK {
		t.Fatalf("400/s for 0.5 s: sent %d, ok %d, bad %d (%s)", r.Sent, r.OK, r.Bad, r.FirstBad)
	}
	r, err = RateLoad{Addr: addr, Paths: PathSet{Fixed: "/nope", Size: 1000}, Rate: 100, Conns: 2, Duration: 200 * time.Millisecond}.Run(ctx)
	if err != nil || r.OK != 0 || r.Bad == 0 || !strings.Contains(r.FirstBad, "status 404") {
		t.Fatalf("404s: %+v %v", r, err)
	}
	// A stalled server is charged for the requests it held up: timed from when they were due.
	go func() { time.Sleep(300 * time.Millisecond); close(slow) }()
	r, err = RateLoad{Addr: addr, Paths: PathSet{Fixed: "/stall", Size: 1000}, Rate: 100, Conns: 1, Duration: 200 * time.Millisecond}.Run(ctx)
	if err != nil || r.OK == 0 {
		t.Fatalf("stall: %+v %v", r, err)
	}
	if p := r.Hist.Percentile(50); p < 100*time.Millisecond {
		t.Fatalf("a 300 ms stall of every request gave a p50 of %v", p)
	}
	if _, err := (RateLoad{Addr: addr}).Run(ctx); err == nil {
		t.Fatal("a load without a rate ran")
	}
}

// TestRateLoadAllocatesFirst: what the client allocates while the servers are timed is a
// small constant per connection, not its read buffer (allocated during the schedule, the
// buffers of thousands of connections started the client's GC under the first requests).
func TestRateLoadAllocatesFirst(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const conns = 400
	// The measure counts the whole process, this test's server too: a dial completes in the
	// kernel's backlog, so on a busy machine the server may accept (and allocate for) some
	// connections after the schedule starts. The schedule waits until it has set up all of them.
	ready := make(chan struct{}, conns)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				answer := []byte("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789")
				buf := make([]byte, 4096)
				ready <- struct{}{}
				for {
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					for range bytes.Count(buf[:n], []byte("\r\n\r\n")) {
						if _, err := c.Write(answer); err != nil {
							return
						}
					}
				}
			}()
		}
	}()
	var before runtime.MemStats
	var unready int
	started := func() {
		defer runtime.ReadMemStats(&before)
		timeout := time.After(10 * time.Second)
		for got := 0; got < conns; got++ {
			select {
			case <-ready:
			case <-timeout:
				unready = conns - got
				return
			}
		}
	}
	l := RateLoad{Addr: ln.Addr().String(), Paths: PathSet{Fixed: "/x", Size: 10}, Rate: 4000, Conns: conns,
		Duration: 500 * time.Millisecond, started: started}
	r, err := l.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if unready > 0 {
		t.Fatalf("the test's server had not accepted %d of %d connections after 10 s", unready, conns)
	}
	if r.Bad != 0 || r.OK < 1500 {
		t.Fatalf("sent %d, ok %d, bad %d (%s)", r.Sent, r.OK, r.Bad, r.FirstBad)
	}
	// Per connection: its goroutine, random source and request buffer; then one histogram.
	perConn := float64(after.TotalAlloc-before.TotalAlloc) / conns
	if perConn > 4096 {
		t.Errorf("%.0f bytes a connection allocated during the schedule (%d requests)", perConn, r.OK)
	}
}

// TestRateLoadDialsFirst: with more connections than are dialled at once, every one is open
// before the requests begin, and none is dialled twice.
func TestRateLoadDialsFirst(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const conns = 3*dialParallel + 5
	var mu sync.Mutex
	var accepts int
	var lastAccept, firstRequest time.Time
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			accepts++
			lastAccept = time.Now()
			mu.Unlock()
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					mu.Lock()
					if firstRequest.IsZero() {
						firstRequest = time.Now()
					}
					mu.Unlock()
					for line != "\r\n" {
						if line, err = br.ReadString('\n'); err != nil {
							return
						}
					}
					if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789"); err != nil {
						return
					}
				}
			}()
		}
	}()
	// Each connection sends every conns/rate = 389 ms. Dialled when its first request is
	// due, the last would connect 388 ms after the first request; dialled first, the kernel
	// has them all before then, and the server accepts the last within its accept loop's lag.
	const rate, interval = 1000, time.Duration(conns) * time.Second / 1000
	r, err := RateLoad{Addr: ln.Addr().String(), Paths: PathSet{Fixed: "/x", Size: 10}, Rate: rate, Conns: conns,
		Duration: time.Second}.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if r.Bad != 0 || r.OK != r.Sent || r.Sent < 1000 {
		t.Errorf("sent %d, ok %d, bad %d (%s)", r.Sent, r.OK, r.Bad, r.FirstBad)
	}
	if accepts != conns {
		t.Errorf("%d connections accepted, want %d", accepts, conns)
	}
	if late := lastAccept.Sub(firstRequest); late > interval/2 {
		t.Errorf("the last connection was accepted %v after the first request (a request every %v)", late, interval)
	}
}

func TestWrkScript(t *testing.T) {
	if _, err := exec.LookPath("wrk"); err != nil {
		t.Skip("wrk is not installed (apt-get install wrk)")
	}
	root := filepath.Join(t.TempDir(), "tree")
	if err := prepareTree(root, []int64{4 << 10}, 600, 4<<10, io.Discard); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	fs := http.FileServer(http.Dir(root))
	var mu sync.Mutex
	addr := serveTree(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.URL.Path]++
		mu.Unlock()
		fs.ServeHTTP(w, r)
	}))
	script, err := writeWrkScript(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	run := func(ps PathSet) WrkResult {
		t.Helper()
		w, err := startWrk(ctx, script, addr, ps, 4, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		res, err := w.wait()
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if res := run(PathSet{Fixed: "/missing.bin", Size: 1}); res.Status == 0 || res.Status != res.Requests {
		t.Fatalf("404s: %+v", res)
	}
	mu.Lock()
	clear(seen)
	mu.Unlock()
	res := run(PathSet{Count: 600, Size: 4 << 10})
	if res.Requests < 100 || res.Status != 0 || res.P50US <= 0 || res.MaxUS < res.P99US {
		t.Fatalf("random paths: %+v", res)
	}
	mu.Lock() // handlers of wrk's last requests may still be running
	defer mu.Unlock()
	if len(seen) < 300 || seen["/4k.bin"] != 0 {
		t.Fatalf("random paths: %d distinct paths asked for of 600", len(seen))
	}
	for p := range seen {
		if p == "/missing.bin" {
			continue // a late handler of the 404 run
		}
		var d, f int
		if _, err := fmt.Sscanf(p, "/c/%03d/%05d.bin", &d, &f); err != nil || d != f/256 {
			t.Fatalf("wrk asked for %q", p)
		}
	}
}

func TestLatencyCDFSVG(t *testing.T) {
	h := NewHistogram()
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * time.Microsecond)
	}
	var pts []cdfPoint
	for _, p := range cdfPercentiles {
		pts = append(pts, cdfPoint{p, h.Percentile(p)})
	}
	var buf bytes.Buffer
	if err := LatencyCDFSVG(&buf, "hot & cold <latency>", []cdfSeries{{"uringd", pts}, {"nginx-aio", pts[:5]}}); err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(&buf)
	var texts []string
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not XML: %v", err)
		}
		if c, ok := tok.(xml.CharData); ok {
			texts = append(texts, string(c))
		}
		// Everything drawn lies on the canvas: an axis with no range once put its labels
		// at overflowed coordinates.
		if e, ok := tok.(xml.StartElement); ok {
			for _, a := range e.Attr {
				if e.Name.Local == "text" && a.Name.Local == "transform" {
					t.Errorf("<text %s=%q>: the chart's text is drawn rotated", a.Name.Local, a.Value)
				}
				if a.Name.Local != "x" && a.Name.Local != "y" && a.Name.Local != "d" {
					continue
				}
				for _, f := range strings.FieldsFunc(a.Value, func(r rune) bool { return strings.ContainsRune(" \n,MLZ", r) }) {
					if v, err := strconv.ParseFloat(f, 64); err == nil && (v < -1 || v > 2000) {
						t.Errorf("<%s %s=%q>: %v is off the canvas", e.Name.Local, a.Name.Local, a.Value, v)
						break
					}
				}
			}
		}
	}
	all := strings.Join(texts, "|")
	for _, want := range []string{"uringd", "nginx-aio", "99.9%", "1 ms", "hot & cold <latency>"} {
		if !strings.Contains(all, want) {
			t.Errorf("chart text lacks %q: %s", want, all)
		}
	}
	if err := LatencyCDFSVG(io.Discard, "empty", nil); err == nil {
		t.Error("an empty chart was drawn")
	}
}

func TestHTTPBenchRefusesBadSetups(t *testing.T) {
	for _, c := range []struct {
		b    HTTPBench
		want string
	}{
		{HTTPBench{Workloads: []string{"warm"}}, `unknown workload "warm"`},
		{HTTPBench{Workloads: []string{"cold"}, DataSize: 1 << 30, CacheLimit: 512 << 20}, "less than 8 times"},
		{HTTPBench{Servers: []string{"apache"}}, `unknown server "apache"`},
		{HTTPBench{Servers: []string{"nginx:--foo"}}, "only uringd's modes take flags"},
		{HTTPBench{Beside: []string{"disk"}}, `unknown --beside load "disk"`},
		{HTTPBench{Beside: []string{"cpu", "cpu"}}, `--beside names "cpu" twice`},
	} {
		c.b.Stderr = io.Discard
		_, err := c.b.Run(context.Background())
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.b, err, c.want)
		}
	}
}

func TestMedianWithSpreadAndFio(t *testing.T) {
	var all []Result
	for i, v := range []float64{100, 120, 80} {
		all = append(all, Result{Name: "cold-256k", Engine: "uringd", OpsPerSec: v, MBPerSec: v * 0.25})
		all = append(all, Result{Name: "cold-256k", Engine: "fio", OpsPerSec: 50 + float64(i), MBPerSec: 20})
		all = append(all, Result{Name: WorkloadMixed, Engine: "uringd", OpsPerSec: v, Extra: map[string]float64{"cold_mbps": 18}})
	}
	rows := medianWithSpread(all)
	fioCompare(rows)
	if len(rows) != 3 || rows[0].OpsPerSec != 100 || rows[0].Extra["spread_pct"] != 20 {
		t.Fatalf("rows %+v", rows)
	}
	if rows[0].Extra["vs_fio"] != 1.25 || rows[2].Extra["vs_fio"] != 0.9 {
		t.Fatalf("vs fio: %v, %v", rows[0].Extra, rows[2].Extra)
	}
	if _, ok := rows[1].Extra["vs_fio"]; ok {
		t.Fatal("fio compared with itself")
	}
}

// TestServerConnCaps: with more connections than a server's usual cap, every generated
// configuration lets them all in; with few, the usual caps stand.
func TestServerConnCaps(t *testing.T) {
	want := map[string][]string{
		"uringd":   {"--max-conns 11024"},
		"nginx":    {"worker_connections 16384;", "backlog=4096"},
		"h2o":      {"max-connections: 20000"},
		"lighttpd": {"server.max-connections = 11024", "server.max-fds = 33072", "server.listen-backlog = 4096"},
	}
	few := map[string][]string{
		"uringd":   {"--max-conns 10000"},
		"lighttpd": {"server.max-connections = 5461", "server.max-fds = 16384"},
	}
	for _, s := range HTTPServers() {
		for conns, expect := range map[int]map[string][]string{10000: want, 64: few} {
			e := serverEnv{root: t.TempDir(), addr: "127.0.0.1:1", dir: t.TempDir(), self: []string{"uringd"}, netHTTP: []string{"nethttp"}, maxConns: conns}
			argv, _, err := s.config(&e)
			if err != nil {
				t.Fatal(err)
			}
			text := strings.Join(argv, " ")
			if files, _ := filepath.Glob(filepath.Join(e.dir, "*.conf")); len(files) == 1 {
				b, _ := os.ReadFile(files[0])
				text = string(b)
			}
			for _, w := range expect[s.Name] {
				if !strings.Contains(text, w) {
					t.Errorf("%s at %d connections: no %q in\n%s", s.Name, conns, w, text)
				}
			}
		}
	}
}

// TestRaiseNoFile: a soft limit below the need is raised to it; a need above the hard limit
// is refused naming the limit, unless the process may raise it.
func TestRaiseNoFile(t *testing.T) {
	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	defer unix.Setrlimit(unix.RLIMIT_NOFILE, &old)
	if old.Max < 2000 {
		t.Skipf("hard RLIMIT_NOFILE %d", old.Max)
	}
	low := unix.Rlimit{Cur: 1000, Max: old.Max}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	if err := raiseNoFile(1500); err != nil {
		t.Fatal(err)
	}
	var now unix.Rlimit
	unix.Getrlimit(unix.RLIMIT_NOFILE, &now)
	if now.Cur != 1500 || now.Max != old.Max {
		t.Errorf("after raiseNoFile(1500): %+v", now)
	}
	if old.Max >= 1<<20 {
		return
	}
	err := raiseNoFile(int(old.Max) + 1)
	unix.Getrlimit(unix.RLIMIT_NOFILE, &now)
	if err == nil && now.Cur != old.Max+1 {
		t.Errorf("raiseNoFile past the hard limit said yes, and the limit is %+v", now)
	}
	if err != nil && !strings.Contains(err.Error(), fmt.Sprintf("RLIMIT_NOFILE is 1500 (hard %d)", old.Max)) {
		t.Errorf("raiseNoFile past the hard limit: %v", err)
	}
}
