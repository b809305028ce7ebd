package netio

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/uringd/uringd/ring"
)

// bigFile is larger than sendfileTurn, so one response takes several turns of the loop.
const bigSize = 5<<20 + 1234

func largeRoot(t *testing.T) (root string, big []byte) {
	t.Helper()
	root = testRoot(t)
	big = make([]byte, bigSize)
	rand.New(rand.NewSource(11)).Read(big)
	write(t, filepath.Join(root, "big.bin"), big)
	return root, big
}

// TestLargeFilePaths sends large files, ranges of them and a multipart response with large
// parts by each Config.LargeFiles path, on one keep-alive connection, and checks the bytes
// and that the path the kernel allows is the one that sent them.
func TestLargeFilePaths(t *testing.T) {
	root, big := largeRoot(t)
	mb, _ := os.ReadFile(filepath.Join(root, "1m.bin"))
	odd, _ := os.ReadFile(filepath.Join(root, "odd.bin"))
	for _, m := range []mode{
		{"sendfile", Config{LargeFiles: "sendfile"}},
		{"splice", Config{LargeFiles: "splice"}},
		{"read", Config{LargeFiles: "read"}},
		{"sendfile-compat-5.10", Config{LargeFiles: "sendfile", KernelCompat: "5.10"}},
		{"sendfile-threadpool", Config{LargeFiles: "sendfile", FileIO: "threadpool", Threads: 4}},
	} {
		t.Run(m.name, func(t *testing.T) {
			rs := start(t, m, root, nil)
			client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}}
			defer client.CloseIdleConnections()
			fetch := func(path string, hdr ...string) (*http.Response, []byte) {
				t.Helper()
				req, _ := http.NewRequest("GET", rs.url+path, nil)
				for i := 0; i+1 < len(hdr); i += 2 {
					req.Header.Set(hdr[i], hdr[i+1])
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Fatalf("GET %s: %v", path, err)
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					t.Fatalf("GET %s: body: %v", path, err)
				}
				return resp, body
			}
			for i := 0; i < 2; i++ {
				if _, body := fetch("/1m.bin"); !bytes.Equal(body, mb) {
					t.Fatalf("1m.bin: %d bytes, differ", len(body))
				}
				if _, body := fetch("/big.bin"); !bytes.Equal(body, big) {
					t.Fatalf("big.bin: %d bytes, differ", len(body))
				}
			}
			if resp, body := fetch("/odd.bin", "Range", "bytes=1000-"); resp.StatusCode != 206 || !bytes.Equal(body, odd[1000:]) {
				t.Fatalf("odd.bin bytes=1000-: status %d, %d bytes", resp.StatusCode, len(body))
			}
			if resp, body := fetch("/big.bin", "Range", "bytes=-70000"); resp.StatusCode != 206 || !bytes.Equal(body, big[len(big)-70000:]) {
				t.Fatalf("big.bin bytes=-70000: status %d, %d bytes", resp.StatusCode, len(body))
			}
			resp, body := fetch("/big.bin", "Range", "bytes=0-99999,4000000-4300000,5000000-")
			_, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
			if resp.StatusCode != 206 || err != nil {
				t.Fatalf("multipart: status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
			for i, w := range [][2]int{{0, 100000}, {4000000, 4300001}, {5000000, len(big)}} {
				p, err := mr.NextPart()
				if err != nil {
					t.Fatalf("part %d: %v", i, err)
				}
				if got, _ := io.ReadAll(p); !bytes.Equal(got, big[w[0]:w[1]]) {
					t.Fatalf("part %d: %d bytes, differ", i, len(got))
				}
			}
			if _, body := fetch("/4k.bin"); len(body) != 4096 {
				t.Fatalf("4k.bin after the large files: %d bytes", len(body))
			}

			st := rs.s.LargeFileStats()
			f := rs.s.Features()
			var want string
			switch {
			case m.cfg.FileIO == "threadpool":
				want = "read"
			case m.cfg.LargeFiles == "sendfile" && SendfileUsable(f):
				want = "sendfile"
			case m.cfg.LargeFiles == "splice" && f.Supports(ring.OpSplice):
				want = "splice"
			default:
				want = "read"
			}
			t.Logf("kernel %s (effective %s): %+v", f.Release, f.Effective(), st)
			got := map[string]int64{"read": st.Read, "splice": st.Splice, "sendfile": st.Sendfile}
			for path, n := range got {
				if path == want && n == 0 {
					t.Errorf("%s path sent nothing: %+v", path, st)
				}
				// Every file here is cached, but on a file just written cachestat's count can
				// fall a page short for a moment: READ may then send a range, and only then.
				if path == "read" && want == "sendfile" && n != 0 && st.UncachedLooks > 0 {
					t.Logf("cachestat found a range not all cached %d times: READ sent %d bytes", st.UncachedLooks, n)
					continue
				}
				if path != want && n != 0 {
					t.Errorf("%s path sent %d bytes, want only %s: %+v", path, n, want, st)
				}
			}
			if want == "sendfile" && st.UncachedLooks > 2 {
				t.Errorf("cachestat found cached ranges uncached %d times in one run: more than a passing miscount", st.UncachedLooks)
			}
		})
	}
}

// TestLargeFileSlowAndVanishingReaders drives the full-socket path (POLL for writability,
// then sendfile or splice again) with a reader that takes its time, and a reader that
// leaves mid-file; the server must send every byte to the first, and close the second
// without losing the connection slot or the loop.
func TestLargeFileSlowAndVanishingReaders(t *testing.T) {
	root, big := largeRoot(t)
	for _, m := range []mode{{"sendfile", Config{}}, {"splice", Config{LargeFiles: "splice"}}, {"read", Config{LargeFiles: "read"}}} {
		t.Run(m.name, func(t *testing.T) {
			rs := start(t, m, root, nil)
			conn, err := net.Dial("tcp", rs.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
			time.Sleep(100 * time.Millisecond) // the socket fills up
			br := bufio.NewReaderSize(&slowReader{r: conn}, 4096)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			if err != nil || !bytes.Equal(body, big) {
				t.Fatalf("slow reader: %d bytes, err %v; log: %s", len(body), err, rs.logText())
			}

			gone, err := net.Dial("tcp", rs.addr)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(gone, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
			io.ReadFull(gone, make([]byte, 1000))
			gone.(*net.TCPConn).SetLinger(0) // a reset, not a polite close
			gone.Close()
			waitFor(t, func() bool { return rs.s.Conns() == 1 })

			// The slow reader's connection still works.
			fmt.Fprintf(conn, "GET /4k.bin HTTP/1.1\r\nHost: x\r\n\r\n")
			resp, err = http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			if body, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 || len(body) != 4096 {
				t.Fatalf("after: status %d, %d bytes", resp.StatusCode, len(body))
			}
		})
	}
}

// slowReader hands out at most 8 KiB per Read, pausing now and then.
type slowReader struct {
	r io.Reader
	n int
}

func (s *slowReader) Read(p []byte) (int, error) {
	s.n++
	if s.n%64 == 0 {
		time.Sleep(time.Millisecond)
	}
	return s.r.Read(p[:min(len(p), 8<<10)])
}

// coldFile writes size random bytes to dir/cold.bin and evicts them from the page cache; it
// skips the test where the file system keeps them cached (tmpfs). evict evicts them again.
func coldFile(t *testing.T, dir string, size int) (data []byte, cachedPages func() uint64, evict func()) {
	t.Helper()
	data = make([]byte, size)
	rand.New(rand.NewSource(3)).Read(data)
	path := filepath.Join(dir, "cold.bin")
	write(t, path, data)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if err := unix.Fsync(int(f.Fd())); err != nil {
		t.Fatal(err)
	}
	cachedPages = func() uint64 {
		var cs unix.Cachestat_t
		if err := unix.Cachestat(uint(f.Fd()), &unix.CachestatRange{}, &cs, 0); err != nil {
			t.Fatalf("cachestat: %v", err)
		}
		return cs.Cache
	}
	evict = func() {
		if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
			t.Fatal(err)
		}
	}
	return data, cachedPages, evict
}

// TestSendfileColdPages evicts a file from the page cache and checks that the sendfile path
// does not take it (sendfile would wait for the disk in the loop): with ColdReads
// "buffered" the uncached chunks are READ through the ring into the page cache, and the
// bytes are right.
func TestSendfileColdPages(t *testing.T) {
	dir := t.TempDir()
	data, cachedPages, evict := coldFile(t, dir, 3<<20)
	rs := start(t, mode{"sendfile", Config{ColdReads: "buffered"}}, dir, nil)
	evictCold(t, rs, dir, cachedPages, evict)
	resp, body := get(t, rs.url+"/cold.bin")
	if resp.StatusCode != 200 || !bytes.Equal(body, data) {
		t.Fatalf("status %d, %d bytes (want %d, equal)", resp.StatusCode, len(body), len(data))
	}
	// The loop counts a sendfile call's bytes after the call, which the client may have
	// read already: wait for the whole file to be counted.
	sent := func(st LargeFileStats) int64 { return st.Read + st.Sendfile + st.Direct }
	waitFor(t, func() bool { return sent(rs.s.LargeFileStats()) >= int64(len(data)) })
	st := rs.s.LargeFileStats()
	if st.Read == 0 {
		t.Fatalf("uncached file: nothing went by READ+SEND: %+v", st)
	}
	t.Logf("cold file: %+v", st)
	// Now cached: the second time, sendfile takes all of it.
	_, body = get(t, rs.url+"/cold.bin")
	waitFor(t, func() bool { return sent(rs.s.LargeFileStats()) >= sent(st)+int64(len(data)) })
	if st2 := rs.s.LargeFileStats(); !bytes.Equal(body, data) || st2.Read != st.Read || st2.Sendfile-st.Sendfile != int64(len(data)) {
		t.Fatalf("cached file: %d bytes, stats %+v then %+v", len(body), st, st2)
	}
	if strings.Contains(rs.logText(), "sendfile") {
		t.Fatalf("server logged: %s", rs.logText())
	}
}

// TestColdReadsDirect evicts a file whose size is not a multiple of a block and checks the
// default ColdReads "direct" on one keep-alive connection: the first request reads the bulk
// with O_DIRECT (the file stays out of the page cache) and the unaligned tail buffered; the
// second use of the same open file reads buffered, which caches it; the third goes by
// sendfile. Each time the bytes are right. Ranges at an unaligned offset read buffered.
func TestColdReadsDirect(t *testing.T) {
	dir := t.TempDir()
	const size = 3<<20 + 1234
	data, cachedPages, evict := coldFile(t, dir, size)
	rs := start(t, mode{"sendfile", Config{}}, dir, func(c *Config) { c.OpenFileCacheTTL = time.Minute })
	evictCold(t, rs, dir, cachedPages, evict)
	get, closeIdle := keepAliveClient(t, rs.url)
	defer closeIdle()
	fetch := func(hdr ...string) (int, []byte) { t.Helper(); return get("/cold.bin", hdr...) }
	if code, body := fetch(); code != 200 || !bytes.Equal(body, data) {
		t.Fatalf("first: status %d, %d bytes (want %d, equal); log: %s", code, len(body), size, rs.logText())
	}
	st := settledStats(t, rs, size)
	if st.Direct != size&^(directAlign-1) || st.Read != size%directAlign || st.Sendfile != 0 || st.UncachedLooks == 0 {
		t.Fatalf("first request: %+v, want Direct %d and Read %d after cachestat found the file uncached", st, size&^(directAlign-1), size%directAlign)
	}
	if n := cachedPages(); n > 4 {
		t.Fatalf("after a direct read %d pages of the file are cached, want at most the tail's", n)
	}
	if code, body := fetch(); code != 200 || !bytes.Equal(body, data) {
		t.Fatalf("second: status %d, %d bytes", code, len(body))
	}
	st2 := settledStats(t, rs, 2*size)
	// Buffered: READs, then sendfile for what their readahead brought in.
	if st2.Direct != st.Direct || st2.Read == st.Read || (st2.Read-st.Read)+(st2.Sendfile-st.Sendfile) != size {
		t.Fatalf("second use of the file: %+v then %+v, want it read buffered", st, st2)
	}
	if code, body := fetch(); code != 200 || !bytes.Equal(body, data) {
		t.Fatalf("third: status %d, %d bytes", code, len(body))
	}
	if st3 := settledStats(t, rs, 3*size); st3.Sendfile-st2.Sendfile != size {
		t.Fatalf("third (cached) request: %+v then %+v, want all by sendfile", st2, st3)
	}
	// A new entry (another path to the same file is another key) at an unaligned offset.
	evict()
	if code, body := fetch("Range", "bytes=1000-"); code != 206 || !bytes.Equal(body, data[1000:]) {
		t.Fatalf("unaligned range: status %d, %d bytes", code, len(body))
	}
	if strings.Contains(rs.logText(), "O_DIRECT") {
		t.Fatalf("server logged: %s", rs.logText())
	}
}

// TestColdReadsDirectRefused makes the kernel refuse every O_DIRECT read (a buffer a byte
// off its alignment: EINVAL) and checks that the response is whole, the refusal logged once
// per file, and the file read buffered from then on.
func TestColdReadsDirectRefused(t *testing.T) {
	dir := t.TempDir()
	data, cachedPages, evict := coldFile(t, dir, 1<<20)
	_, rs := startTuned(t, mode{"sendfile", Config{}}, dir, ringTuning{misalignDirect: true}, func(c *Config) { c.OpenFileCacheTTL = time.Minute })
	evictCold(t, rs, dir, cachedPages, evict)
	get, closeIdle := keepAliveClient(t, rs.url)
	defer closeIdle()
	for i := 0; i < 2; i++ {
		if code, body := get("/cold.bin"); code != 200 || !bytes.Equal(body, data) {
			t.Fatalf("request %d: status %d, %d bytes; log: %s", i, code, len(body), rs.logText())
		}
		evict()
	}
	st := settledStats(t, rs, 2*int64(len(data)))
	if st.Direct != 0 || st.Read == 0 || st.Read+st.Sendfile != 2*int64(len(data)) {
		t.Fatalf("stats %+v: want nothing counted as direct, all read buffered", st)
	}
	// Read into the registered buffer both times, but counted once: the refused reads not.
	if st.Fixed > st.Read || (st.Fixed != st.Read && !memlockRefused(t, rs)) {
		t.Fatalf("stats %+v: want the buffered reads' bytes, and only those, counted as read into registered buffers", st)
	}
	if n := strings.Count(rs.logText(), "O_DIRECT read"); n != 1 {
		t.Fatalf("%d refusals logged, want 1: %s", n, rs.logText())
	}
}

// evictCold skips the test where the sendfile path (and with it the cold reads' paths) is
// never taken or the file system keeps evicted pages (tmpfs), and evicts coldFile's file.
func evictCold(t *testing.T, rs *running, dir string, cachedPages func() uint64, evict func()) {
	t.Helper()
	if !SendfileUsable(rs.s.Features()) {
		t.Skipf("no cachestat(2) on %s: the sendfile path, and the cold reads' paths, are never taken", rs.s.Features().Release)
	}
	evict()
	if n := cachedPages(); n > 16 {
		t.Skipf("the filesystem under %s keeps %d pages cached after FADV_DONTNEED (tmpfs?)", dir, n)
	}
}

// settledStats waits until the large-file counts add up to total bytes, then returns them.
// The loop counts a sendfile call's bytes after the call returns, so a client can have read
// them all before they are counted; READ and O_DIRECT bytes are counted before they are read.
func settledStats(t *testing.T, rs *running, total int64) LargeFileStats {
	t.Helper()
	var st LargeFileStats
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if st = rs.s.LargeFileStats(); st.Read+st.Splice+st.Sendfile+st.Direct >= total {
			return st
		}
	}
	t.Fatalf("large-file counts %+v after 5 s, want %d bytes in all", st, total)
	return st
}

// logText returns what the server logged so far.
func (rs *running) logText() string {
	rs.logMu.Lock()
	defer rs.logMu.Unlock()
	return rs.logs.String()
}

// TestSendfileLookExpires checks that a cachestat verdict is trusted only for cachedFor: a
// file found cached and sent by sendfile, then evicted, is looked at again on the next
// request after cachedFor and READ through the ring, not sent by a sendfile that would wait
// for the disk in the loop.
func TestSendfileLookExpires(t *testing.T) {
	dir := t.TempDir()
	data, cachedPages, evict := coldFile(t, dir, 2<<20)
	// One loop: the second request, on a new connection, meets the same open-file cache entry.
	rs := start(t, mode{"sendfile", Config{}}, dir, func(c *Config) { c.OpenFileCacheTTL, c.Loops = time.Minute, 1 })
	if !SendfileUsable(rs.s.Features()) {
		t.Skipf("no cachestat(2) on %s: the sendfile path is never taken", rs.s.Features().Release)
	}
	get, closeIdle := keepAliveClient(t, rs.url)
	defer closeIdle()
	fetch := func() {
		t.Helper()
		if code, body := get("/cold.bin"); code != 200 || !bytes.Equal(body, data) {
			t.Fatalf("status %d, %d bytes", code, len(body))
		}
	}
	fetch() // written just now: cached
	st := settledStats(t, rs, int64(len(data)))
	if st.Sendfile != int64(len(data)) {
		t.Fatalf("cached file: %+v, want all by sendfile", st)
	}
	// Pages sendfile put in a socket stay referenced while it holds them: close it.
	closeIdle()
	for i := 0; i < 50; i++ {
		if evict(); cachedPages() <= 16 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := cachedPages(); n > 16 {
		t.Skipf("the filesystem under %s keeps %d pages cached after FADV_DONTNEED (tmpfs?)", dir, n)
	}
	time.Sleep(3 * cachedFor)
	fetch()
	st2 := settledStats(t, rs, 2*int64(len(data)))
	t.Logf("%+v then %+v", st, st2)
	if st2.Read+st2.Direct == st.Read+st.Direct {
		t.Fatalf("evicted file after %v: %+v then %+v, want it READ, not trusted to be cached", 3*cachedFor, st, st2)
	}
}

// keepAliveClient returns a GET over one keep-alive connection (so one loop, with one
// open-file cache, serves every request) giving status and body, and a func that closes it.
func keepAliveClient(t *testing.T, base string) (get func(path string, hdr ...string) (int, []byte), closeIdle func()) {
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}}
	get = func(path string, hdr ...string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("GET %s: body: %v", path, err)
		}
		return resp.StatusCode, body
	}
	return get, client.CloseIdleConnections
}

// TestLargeRepliesHoldNoBuffer: while sendfile or splice sends a large file to a client that
// does not read, the connection holds no send buffer (its head went through a small one,
// given back before the body). Each used to hold a large buffer for its whole reply, so the
// heap grew with every busy connection.
func TestLargeRepliesHoldNoBuffer(t *testing.T) {
	data := make([]byte, 8<<20)
	rand.New(rand.NewSource(3)).Read(data)
	dir := t.TempDir()
	write(t, filepath.Join(dir, "big.bin"), data)
	for _, m := range []mode{{"sendfile", Config{}}, {"splice", Config{LargeFiles: "splice"}}} {
		t.Run(m.name, func(t *testing.T) {
			rs := start(t, m, dir, nil)
			if m.cfg.LargeFiles == "" && !SendfileUsable(rs.s.Features()) {
				t.Skipf("no cachestat(2) on %s: the sendfile path is never taken", rs.s.Features().Release)
			}
			if _, body := get(t, rs.url+"/big.bin"); !bytes.Equal(body, data) { // cached now
				t.Fatalf("%d bytes, want %d", len(body), len(data))
			}
			if st := settledStats(t, rs, int64(len(data))); st.Sendfile+st.Splice == 0 {
				t.Skipf("the %s path is not taken here: %+v", m.name, st)
			}
			heap := func() uint64 {
				runtime.GC()
				runtime.GC() // pooled buffers are dropped by the second
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				return ms.HeapInuse
			}
			before := heap()
			const conns = 64
			var held []net.Conn
			defer func() {
				for _, c := range held {
					c.Close()
				}
			}()
			st := rs.s.LargeFileStats()
			for range conns {
				c, err := net.Dial("tcp", rs.addr)
				if err != nil {
					t.Fatal(err)
				}
				held = append(held, c)
				c.(*net.TCPConn).SetReadBuffer(4096)
				if _, err := io.WriteString(c, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
					t.Fatal(err)
				}
			}
			// Every reply is under way: its head has come (with the first of the body), and
			// then the client stops reading.
			for i, c := range held {
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				br := bufio.NewReaderSize(c, 4096)
				if line, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(line, "HTTP/1.1 200") {
					t.Fatalf("connection %d: %q, %v", i, line, err)
				}
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						t.Fatalf("connection %d: head: %v", i, err)
					}
					if line == "\r\n" {
						break
					}
				}
			}
			time.Sleep(50 * time.Millisecond)
			grown := int64(heap()) - int64(before)
			if now := rs.s.LargeFileStats(); now.Read != st.Read || now.Direct != st.Direct {
				t.Fatalf("the cached file was read: %+v then %+v", st, now)
			}
			if grown > conns*16<<10 {
				t.Errorf("the heap grew by %d KiB with %d large replies waiting on their clients (%d KiB each)", grown>>10, conns, grown/conns>>10)
			}
			t.Logf("heap grew by %d KiB with %d large replies waiting", grown>>10, conns)
		})
	}
}
