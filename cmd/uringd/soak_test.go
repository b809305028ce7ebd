package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestSoak runs the real binary for a while under every kind of client at once (keep-alive
// net/http clients, slow readers, pipeliners, clients that reset mid-response) while files
// are truncated and regrown in place or replaced by rename, the access log is rotated and
// reopened by SIGHUP every second, and then stops it with SIGTERM. Every response that
// completes must be byte-correct; one cut short (a truncated file, a reset) is counted, not
// an error. Afterwards no connection slot may have leaked, every completed response has
// exactly one access-log line and the exit is 0. It runs only with URINGD_SOAK set to the
// total duration (shared by the default and the threadpool file IO), as .ci/run does.
func TestSoak(t *testing.T) {
	env := os.Getenv("URINGD_SOAK")
	if env == "" {
		t.Skip("a soak of the real server; run it with URINGD_SOAK=40s go test -count=1 -run '^TestSoak$' -v ./cmd/uringd")
	}
	total, err := time.ParseDuration(env)
	if err != nil || total <= 0 {
		t.Fatalf("URINGD_SOAK=%q: want a duration such as 40s", env)
	}
	// Large files by sendfile (the default), by READ+SEND in the loop, and by the thread pool.
	modes := []struct{ name, fileIO, largeFiles string }{
		{"sendfile", "uring", ""}, {"read", "uring", "read"}, {"threadpool", "threadpool", ""}}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) { soakRun(t, total/time.Duration(len(modes)), m.fileIO, m.largeFiles) })
	}
}

// Sizes on both sides of the server's 64 KiB small/large boundary.
var (
	soakTrSizes = []int{8 << 10, 48 << 10, 512 << 10, 1 << 20} // tr*.bin: truncated and regrown in place
	soakRpSizes = []int{20 << 10, 400 << 10}                   // rp*.bin: replaced by rename
	soakBigSize = 2 << 20                                      // big.bin: never changes
)

// soakFill writes the bytes of content seed into b: each 8-byte word is splitmix64 of the
// seed plus its index, so a misplaced or repeated chunk never matches.
func soakFill(b []byte, seed uint64) {
	for w := 0; w*8 < len(b); w++ {
		x := splitmix64(seed + uint64(w))
		for k := 0; k < 8 && w*8+k < len(b); k++ {
			b[w*8+k] = byte(x >> (8 * k))
		}
	}
}

// soakMatches reports whether b is the content of seed from offset 0.
func soakMatches(b []byte, seed uint64) bool {
	for w := 0; w*8 < len(b); w++ {
		x := splitmix64(seed + uint64(w))
		for k := 0; k < 8 && w*8+k < len(b); k++ {
			if b[w*8+k] != byte(x>>(8*k)) {
				return false
			}
		}
	}
	return true
}

func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// rpSeed and rpSize give version v of rp file j: its first 8 bytes are v (big-endian), the
// rest is the content of rpSeed, and its size differs between versions.
func rpSeed(j int, v uint64) uint64 { return uint64(j+1)<<40 ^ v*0x100000001b3 }
func rpSize(j int, v uint64) int    { return soakRpSizes[j] + int(v%5)*4099 }

func rpContent(j int, v uint64) []byte {
	b := make([]byte, rpSize(j, v))
	binary.BigEndian.PutUint64(b, v)
	soakFill(b[8:], rpSeed(j, v))
	return b
}

// soakOutcome is what the client saw of one request (by its id).
type soakOutcome struct {
	completed bool
	status    int
	bodyLen   int
}

type soak struct {
	url      string
	addr     string
	root     string
	tr       [][]byte // full content of tr<i>.bin
	big      []byte
	rpMax    []atomic.Uint64 // the newest version of rp<j>.bin written
	minCut   []atomic.Int64  // the smallest size tr<i>.bin was truncated to
	zeroCopy bool            // large files go by sendfile or splice: see trCompare
	zeroed   atomic.Int64    // responses with zeros from a truncation on the zero-copy path
	zeroedCp atomic.Int64    // the same where the file was copied by a read racing the truncation
	noAddr   atomic.Int64    // access log lines with "-" for the client address
	ids      atomic.Int64
	stop     chan struct{}
	mu       sync.Mutex
	out      map[int64]soakOutcome
	errs     []string
	nErrs    int
	n503     atomic.Int64
	resets   atomic.Int64
	aborted  atomic.Int64
}

func (s *soak) stopped() bool {
	select {
	case <-s.stop:
		return true
	default:
		return false
	}
}

func (s *soak) fail(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nErrs++
	if len(s.errs) < 20 {
		s.errs = append(s.errs, fmt.Sprintf(format, args...))
	}
}

func (s *soak) record(id int64, o soakOutcome) {
	if !o.completed {
		s.aborted.Add(1)
	}
	s.mu.Lock()
	s.out[id] = o
	s.mu.Unlock()
}

// target returns a new request target for path, with its unique id.
func (s *soak) target(path string) (int64, string) {
	id := s.ids.Add(1)
	return id, path + "?id=" + strconv.FormatInt(id, 10)
}

// check says what is wrong with a completed response to GET path (rng: the Range sent, or
// ""), or "" when it is right.
func (s *soak) check(path, rng string, status int, contentRange string, body []byte) string {
	name := strings.TrimPrefix(path, "/")
	if status == 503 {
		s.n503.Add(1)
		return ""
	}
	switch {
	case name == "big.bin":
		if status != 200 || string(body) != string(s.big) {
			return fmt.Sprintf("status %d, %d bytes: not big.bin's %d bytes", status, len(body), len(s.big))
		}
	case strings.HasPrefix(name, "tr"):
		i := int(name[2] - '0')
		full := s.tr[i]
		if rng == "" {
			if status != 200 {
				return fmt.Sprintf("status %d", status)
			}
			if len(body) > len(full) {
				return fmt.Sprintf("%d bytes, more than the file's %d", len(body), len(full))
			}
			return s.trCompare(i, 0, body)
		}
		var a, b int
		fmt.Sscanf(rng, "bytes=%d-%d", &a, &b)
		switch status {
		case 206:
			var ca, cb, size int
			if n, _ := fmt.Sscanf(contentRange, "bytes %d-%d/%d", &ca, &cb, &size); n != 3 || ca != a || cb > b || cb < ca || size > len(full) || cb >= size {
				return fmt.Sprintf("206 with Content-Range %q for %s of a %d-byte file", contentRange, rng, len(full))
			}
			if len(body) != cb-ca+1 {
				return fmt.Sprintf("206 %q with %d bytes", contentRange, len(body))
			}
			if msg := s.trCompare(i, ca, body); msg != "" {
				return fmt.Sprintf("206 %q: %s", contentRange, msg)
			}
		case 200:
			// A Range on an empty file gets the empty file (netio's Evaluate, as clients that
			// always send Range expect): right only if tr<i>.bin was cut to zero bytes, which
			// the open-file cache may show for up to its TTL.
			if len(body) != 0 || s.minCut[i].Load() != 0 {
				return fmt.Sprintf("status 200 with %d bytes for %s (smallest truncation so far %d)", len(body), rng, s.minCut[i].Load())
			}
		case 416: // the file was truncated below the range's start
			var size int
			if n, _ := fmt.Sscanf(contentRange, "bytes */%d", &size); n != 1 || size > a {
				return fmt.Sprintf("416 with Content-Range %q for %s", contentRange, rng)
			}
		default:
			return fmt.Sprintf("status %d for %s", status, rng)
		}
	case strings.HasPrefix(name, "rp"):
		j := int(name[2] - '0')
		if status != 200 {
			return fmt.Sprintf("status %d", status)
		}
		if len(body) < 8 {
			return fmt.Sprintf("%d bytes: no version", len(body))
		}
		v := binary.BigEndian.Uint64(body)
		if v > s.rpMax[j].Load() {
			return fmt.Sprintf("version %d, never written (newest %d)", v, s.rpMax[j].Load())
		}
		if len(body) != rpSize(j, v) || !soakMatches(body[8:], rpSeed(j, v)) {
			return fmt.Sprintf("%d bytes headed version %d are not that version (%d bytes), nor any other", len(body), v, rpSize(j, v))
		}
	default:
		return "no such file in the soak"
	}
	return ""
}

// trCompare says what is wrong with body as the bytes of tr<i>.bin from offset off, or ""
// when they are right. On the zero-copy path (sendfile, splice) the socket holds page-cache
// pages, not a copy: a truncation after they were queued zeroes them in place (to the end of
// a large folio), and the client receives those zeros. No server can see or undo that, so
// there, and only for tr files, a body whose every wrong byte is a zero at or past a
// truncation point is counted, not failed. A copying read meets the same zeros, in a smaller
// window: it checks the file's size, then copies the cut folio while truncate zeroes its tail
// in place (truncate_inode_partial_folio), so on the copy paths such a body is counted too,
// apart. Any other wrong byte is a failure.
func (s *soak) trCompare(i, off int, body []byte) string {
	full := s.tr[i][off:]
	first, zerosOnly := -1, true
	for k, c := range body {
		if c != full[k] {
			if first < 0 {
				first = k
			}
			if c != 0 {
				zerosOnly = false
				break
			}
		}
	}
	if first < 0 {
		return ""
	}
	at := off + first
	if zerosOnly && s.minCut[i].Load() <= int64(at) {
		switch {
		case s.zeroCopy && i >= 2:
			s.zeroed.Add(1)
			return ""
		case !s.zeroCopy:
			s.zeroedCp.Add(1)
			return ""
		}
	}
	return fmt.Sprintf("%d bytes from offset %d that are not the file's: first wrong byte at %d (zeros only: %v; smallest truncation so far %d)",
		len(body), off, at, zerosOnly, s.minCut[i].Load())
}

// completed records a response read to its end and checks it.
func (s *soak) completed(kind string, id int64, path, rng string, status int, contentRange string, body []byte) {
	if msg := s.check(path, rng, status, contentRange, body); msg != "" {
		s.fail("%s client: GET %s?id=%d (Range %q): completed with wrong content: %s", kind, path, id, rng, msg)
	}
	s.record(id, soakOutcome{completed: true, status: status, bodyLen: len(body)})
}

func rawRequest(target, kind, rng string) string {
	r := "GET " + target + " HTTP/1.1\r\nHost: soak\r\nUser-Agent: soak-" + kind + "\r\n"
	if rng != "" {
		r += "Range: " + rng + "\r\n"
	}
	return r + "\r\n"
}

func soakRun(t *testing.T, d time.Duration, fileIO, largeFiles string) {
	root, logs := t.TempDir(), t.TempDir()
	s := &soak{root: root, stop: make(chan struct{}), out: map[int64]soakOutcome{},
		rpMax: make([]atomic.Uint64, len(soakRpSizes)), minCut: make([]atomic.Int64, len(soakTrSizes)),
		zeroCopy: fileIO == "uring" && largeFiles != "read"}
	for i, n := range soakTrSizes {
		s.minCut[i].Store(int64(n))
		b := make([]byte, n)
		soakFill(b, uint64(1000+i))
		s.tr = append(s.tr, b)
		writeFileT(t, filepath.Join(root, fmt.Sprintf("tr%d.bin", i)), b)
	}
	for j := range soakRpSizes {
		s.rpMax[j].Store(1)
		writeFileT(t, filepath.Join(root, fmt.Sprintf("rp%d.bin", j)), rpContent(j, 1))
	}
	s.big = make([]byte, soakBigSize)
	soakFill(s.big, 7)
	writeFileT(t, filepath.Join(root, "big.bin"), s.big)

	alog := filepath.Join(logs, "access.log")
	var lines childLines
	args := []string{"--root", root, "--file-io", fileIO, "--access-log", alog,
		"--loops", "2", "--max-conns", "64", "--write-timeout", "2s", "--idle-timeout", "5s"}
	if largeFiles != "" {
		args = append(args, "--large-files", largeFiles)
	}
	cmd, url := serveChildWith(t, nil, &lines, args...)
	s.url, s.addr = url, strings.TrimPrefix(url, "http://")

	var wg sync.WaitGroup
	var truncs, replaces, rotations atomic.Int64
	spawn := func(n int, f func(r *rand.Rand)) {
		for range n {
			seed := rand.Uint64()
			wg.Add(1)
			go func() { defer wg.Done(); f(rand.New(rand.NewPCG(seed, 1))) }()
		}
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 8, DisableCompression: true}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	spawn(4, func(r *rand.Rand) { s.normalClient(r, client) })
	spawn(2, s.slowClient)
	spawn(2, s.pipeliningClient)
	spawn(2, s.resettingClient)
	// Truncate a tr file in place to a smaller size, then write the rest back (one write,
	// so a reader never sees bytes the file did not have).
	spawn(1, func(r *rand.Rand) {
		for !s.stopped() {
			i := r.IntN(len(s.tr))
			p := filepath.Join(root, fmt.Sprintf("tr%d.bin", i))
			f, err := os.OpenFile(p, os.O_WRONLY, 0)
			if err != nil {
				s.fail("open %s: %v", p, err)
				return
			}
			cut := r.IntN(len(s.tr[i]))
			if int64(cut) < s.minCut[i].Load() {
				s.minCut[i].Store(int64(cut)) // only this goroutine writes it
			}
			if err := f.Truncate(int64(cut)); err != nil {
				s.fail("truncate %s: %v", p, err)
			}
			time.Sleep(time.Duration(2+r.IntN(20)) * time.Millisecond)
			if _, err := f.WriteAt(s.tr[i][cut:], int64(cut)); err != nil {
				s.fail("regrow %s: %v", p, err)
			}
			f.Close()
			truncs.Add(1)
			time.Sleep(time.Duration(10+r.IntN(40)) * time.Millisecond)
		}
	})
	// Replace an rp file by a new version: write a temporary file, rename it over.
	spawn(1, func(r *rand.Rand) {
		for !s.stopped() {
			j := r.IntN(len(soakRpSizes))
			v := s.rpMax[j].Load() + 1
			tmp := filepath.Join(root, fmt.Sprintf(".rp%d.tmp", j))
			if err := os.WriteFile(tmp, rpContent(j, v), 0o644); err != nil {
				s.fail("write %s: %v", tmp, err)
				return
			}
			s.rpMax[j].Store(v) // before the rename: a client may see it at once
			if err := os.Rename(tmp, filepath.Join(root, fmt.Sprintf("rp%d.bin", j))); err != nil {
				s.fail("rename %s: %v", tmp, err)
			}
			replaces.Add(1)
			time.Sleep(time.Duration(5+r.IntN(30)) * time.Millisecond)
		}
	})
	// logrotate every second: rename the log, then SIGHUP.
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
			n := rotations.Add(1)
			if err := os.Rename(alog, fmt.Sprintf("%s.%d", alog, n)); err != nil {
				// The previous SIGHUP has not made the new file yet (a loaded machine).
				rotations.Add(-1)
				continue
			}
			if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
				s.fail("SIGHUP: %v", err)
			}
		}
	}()

	time.Sleep(d)
	close(s.stop)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("clients still running 20 s after the soak ended: a request hung past its deadlines")
	}
	tr.CloseIdleConnections()

	// No slot leaked: 60 connections at once (of --max-conns 64) are each served. Slots of
	// connections the clients just closed are freed as the server sees the close; a
	// leaked one never is, and shows as a 503 that lasts past the idle timeout.
	var final int
	for deadline := time.Now().Add(8 * time.Second); ; {
		ok, why := s.sixty()
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the soak, 60 new connections are not all served 8 s on (a leaked connection slot?): %s", why)
		}
		final++
		time.Sleep(250 * time.Millisecond)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, cmd); code != 0 {
		t.Fatalf("exit status %d after SIGTERM, want 0", code)
	}
	lines.waitEOF(t)
	if n := lines.matching("access log"); n != 0 {
		t.Errorf("the server reported %d access log problems (see its output above)", n)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.errs {
		t.Error(e)
	}
	if s.nErrs > len(s.errs) {
		t.Errorf("... and %d more errors", s.nErrs-len(s.errs))
	}
	logLines, files := s.checkLog(t, alog)
	var completed int
	for _, o := range s.out {
		if o.completed {
			completed++
		}
	}
	t.Logf("%v: %d responses completed (each checked byte for byte), %d cut short (%d of them resets by the client), "+
		"%d 503s; %d truncations, %d replacements; %d access log lines in %d files (%d rotations); final check retried %d times",
		d.Round(time.Second), completed, s.aborted.Load(), s.resets.Load(), s.n503.Load(), truncs.Load(), replaces.Load(),
		logLines, files, rotations.Load(), final)
	if n := s.zeroed.Load(); n > 0 {
		t.Logf("of them %d tolerated with zeros where a truncation met pages sendfile had already queued (zero-copy: the socket holds page-cache pages, not a copy)", n)
	}
	if n := s.zeroedCp.Load(); n > 0 {
		t.Logf("of them %d tolerated with zeros where a truncation zeroed a page while a read was copying it", n)
	}
	if completed < 100 {
		t.Errorf("only %d requests completed: the soak did not exercise the server", completed)
	}
}

func writeFileT(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// normalClient makes keep-alive requests with net/http, some of them for a range.
func (s *soak) normalClient(r *rand.Rand, c *http.Client) {
	for !s.stopped() {
		var path, rng string
		switch k := r.IntN(10); {
		case k < 4:
			i := r.IntN(len(soakTrSizes))
			path = fmt.Sprintf("/tr%d.bin", i)
			if k == 0 {
				a := r.IntN(soakTrSizes[i])
				rng = fmt.Sprintf("bytes=%d-%d", a, a+r.IntN(100<<10))
			}
		case k < 8:
			path = fmt.Sprintf("/rp%d.bin", r.IntN(len(soakRpSizes)))
		default:
			path = "/big.bin"
		}
		id, target := s.target(path)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		req, _ := http.NewRequestWithContext(ctx, "GET", s.url+target, nil)
		req.Header.Set("User-Agent", "soak-normal")
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		resp, err := c.Do(req)
		if err != nil {
			cancel()
			s.record(id, soakOutcome{})
			continue
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		if err != nil {
			s.record(id, soakOutcome{})
			continue
		}
		s.completed("normal", id, path, rng, resp.StatusCode, resp.Header.Get("Content-Range"), body)
	}
}

// slowClient reads large files 16 KiB at a time with a pause after each, on one keep-alive
// connection as long as it lasts.
func (s *soak) slowClient(r *rand.Rand) {
	var conn net.Conn
	var br *bufio.Reader
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	buf := make([]byte, 16<<10)
	for !s.stopped() {
		if conn == nil {
			var err error
			if conn, err = net.DialTimeout("tcp", s.addr, 5*time.Second); err != nil {
				s.fail("slow client: dial: %v", err)
				time.Sleep(100 * time.Millisecond)
				continue
			}
			br = bufio.NewReader(conn)
		}
		path := "/big.bin"
		if r.IntN(2) == 0 {
			path = "/tr3.bin"
		}
		id, target := s.target(path)
		body, status, ok := func() ([]byte, int, bool) {
			conn.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.WriteString(conn, rawRequest(target, "slow", "")); err != nil {
				return nil, 0, false
			}
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				return nil, 0, false
			}
			defer resp.Body.Close()
			var body []byte
			for {
				conn.SetDeadline(time.Now().Add(5 * time.Second))
				n, err := resp.Body.Read(buf)
				body = append(body, buf[:n]...)
				if err == io.EOF {
					return body, resp.StatusCode, !resp.Close
				}
				if err != nil {
					return nil, 0, false
				}
				time.Sleep(time.Duration(2+r.IntN(8)) * time.Millisecond)
			}
		}()
		if body == nil && status == 0 {
			s.record(id, soakOutcome{})
		} else {
			s.completed("slow", id, path, "", status, "", body)
		}
		if !ok {
			conn.Close()
			conn = nil
		}
	}
}

// pipeliningClient writes 20 requests at once on a fresh connection, then reads the 20
// responses; once one is cut short, the rest are too.
func (s *soak) pipeliningClient(r *rand.Rand) {
	for !s.stopped() {
		conn, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
		if err != nil {
			s.fail("pipelining client: dial: %v", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		type sent struct {
			id   int64
			path string
		}
		var reqs []sent
		var b strings.Builder
		for range 20 {
			var path string
			switch k := r.IntN(10); {
			case k < 5:
				path = fmt.Sprintf("/tr%d.bin", r.IntN(2)) // the small ones
			case k < 9:
				path = "/rp0.bin"
			default:
				path = fmt.Sprintf("/rp%d.bin", r.IntN(len(soakRpSizes)))
			}
			id, target := s.target(path)
			reqs = append(reqs, sent{id, path})
			b.WriteString(rawRequest(target, "pipeline", ""))
		}
		_, werr := io.WriteString(conn, b.String())
		br := bufio.NewReader(conn)
		cut := werr != nil
		for _, q := range reqs {
			if cut {
				s.record(q.id, soakOutcome{})
				continue
			}
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				cut = true
				s.record(q.id, soakOutcome{})
				continue
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				cut = true
				s.record(q.id, soakOutcome{})
				continue
			}
			s.completed("pipelining", q.id, q.path, "", resp.StatusCode, "", body)
			cut = resp.Close
		}
		conn.Close()
	}
}

// resettingClient starts a large download, reads a little of it (or nothing), and closes
// with SO_LINGER 0, so the server's next send meets a reset.
func (s *soak) resettingClient(r *rand.Rand) {
	buf := make([]byte, 64<<10)
	for !s.stopped() {
		conn, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
		if err != nil {
			s.fail("resetting client: dial: %v", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		paths := []string{"/big.bin", "/tr2.bin", "/tr3.bin", "/rp1.bin"}
		path := paths[r.IntN(len(paths))]
		id, target := s.target(path)
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(conn, rawRequest(target, "reset", "")); err == nil {
			for want := r.IntN(3) * (16 << 10); want > 0; {
				n, err := conn.Read(buf[:min(want, len(buf))])
				want -= n
				if err != nil {
					break
				}
			}
		}
		conn.(*net.TCPConn).SetLinger(0)
		conn.Close()
		s.resets.Add(1)
		s.record(id, soakOutcome{})
		time.Sleep(time.Duration(2+r.IntN(10)) * time.Millisecond)
	}
}

// sixty opens 60 connections, then sends a request on each and reads every response: all
// must be 200 and correct.
func (s *soak) sixty() (bool, string) {
	conns := make([]net.Conn, 0, 60)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range 60 {
		c, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
		if err != nil {
			return false, fmt.Sprintf("dial: %v", err)
		}
		conns = append(conns, c)
	}
	ids := make([]int64, len(conns))
	for i, c := range conns {
		var target string
		ids[i], target = s.target("/tr0.bin")
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c, rawRequest(target, "final", "")); err != nil {
			s.record(ids[i], soakOutcome{})
			return false, fmt.Sprintf("connection %d: write: %v", i, err)
		}
	}
	n503 := 0
	var bad []string
	for i, c := range conns {
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			s.record(ids[i], soakOutcome{})
			bad = append(bad, fmt.Sprintf("connection %d: %v", i, err))
			continue
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			s.record(ids[i], soakOutcome{})
			bad = append(bad, fmt.Sprintf("connection %d: body: %v", i, err))
			continue
		}
		if resp.StatusCode == 503 {
			n503++
			s.record(ids[i], soakOutcome{completed: true, status: 503, bodyLen: len(body)})
			continue
		}
		s.completed("final", ids[i], "/tr0.bin", "", resp.StatusCode, "", body)
	}
	if n503 > 0 || len(bad) > 0 {
		return false, fmt.Sprintf("%d of 60 got 503; other failures: %v", n503, bad)
	}
	return true, ""
}

var soakLogLine = regexp.MustCompile(`^(\S+) - - \[[^\]]+\] "GET (/[a-z0-9.]+)\?id=(\d+) HTTP/1\.1" (\d{3}) (\d+) "-" "soak-[a-z]+"$`)

// checkLog reads every access log file: each line must be whole and name a request the
// clients made, at most once; each completed response (but the 503s of a full server,
// which are refused before a request is read) must have its line, with its status and
// size. It returns the number of lines and files.
func (s *soak) checkLog(t *testing.T, alog string) (int, int) {
	files, _ := filepath.Glob(alog + "*")
	sort.Strings(files)
	seen := map[int64]int{}
	lines := 0
	bad := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatalf("read %s: %v", f, err)
		}
		if len(b) > 0 && b[len(b)-1] != '\n' {
			t.Errorf("%s: the last line is not terminated (torn)", f)
		}
		for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
			if l == "" && len(b) == 0 {
				continue
			}
			lines++
			m := soakLogLine.FindStringSubmatch(l)
			if m == nil {
				if bad++; bad <= 5 {
					t.Errorf("%s: a line not in the combined format (torn, blank or foreign): %q", filepath.Base(f), l)
				}
				continue
			}
			if m[1] != "127.0.0.1" {
				if s.noAddr.Add(1) == 1 {
					t.Errorf("%s: the client address is %q, not 127.0.0.1 (the server looks the peer up with getpeername "+
						"when it logs the connection's first response, which fails with ENOTCONN once the client "+
						"has reset the connection; the address from accept is the one to log): %q", filepath.Base(f), m[1], l)
				}
			}
			id, _ := strconv.ParseInt(m[3], 10, 64)
			status, _ := strconv.Atoi(m[4])
			size, _ := strconv.Atoi(m[5])
			o, made := s.out[id]
			if !made {
				if bad++; bad <= 5 {
					t.Errorf("%s: a line for id %d, which no client sent: %q", filepath.Base(f), id, l)
				}
				continue
			}
			if seen[id]++; seen[id] == 2 {
				if bad++; bad <= 5 {
					t.Errorf("id %d has more than one log line (the second in %s): %q", id, filepath.Base(f), l)
				}
			}
			if o.completed && (status != o.status || size != o.bodyLen) {
				if bad++; bad <= 5 {
					t.Errorf("id %d: logged %d %d, the client got %d with %d bytes: %q", id, status, size, o.status, o.bodyLen, l)
				}
			}
		}
	}
	var missing []int64
	for id, o := range s.out {
		if o.completed && o.status != 503 && seen[id] == 0 {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		sort.Slice(missing, func(i, j int) bool { return missing[i] < missing[j] })
		t.Errorf("%d completed responses have no access log line, e.g. ids %v", len(missing), missing[:min(10, len(missing))])
	}
	if bad > 5 {
		t.Errorf("... %d bad log lines in all", bad)
	}
	if n := s.noAddr.Load(); n > 1 {
		t.Errorf("... %d log lines in all without the client address", n)
	}
	return lines, len(files)
}
