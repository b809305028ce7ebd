package netio

import (
	"bytes"
	"fmt"
	"math/rand"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// memlockRefused says whether the server logged that RLIMIT_MEMLOCK left it no registered
// buffers, which only a process without CAP_IPC_LOCK under a small limit may see.
func memlockRefused(t *testing.T, rs *running) bool {
	t.Helper()
	if !strings.Contains(rs.logText(), "no registered buffers") {
		return false
	}
	if os.Geteuid() == 0 {
		t.Fatalf("root (CAP_IPC_LOCK) was refused registered buffers: %s", rs.logText())
	}
	t.Logf("RLIMIT_MEMLOCK refused the registered buffers here: %s", rs.logText())
	return true
}

// TestFixedBuffers sends large files by READ into the loops' registered buffers: the large
// pieces READ into a send buffer (the "read" path, and an uncached file read with O_DIRECT
// by the default path) go by READ_FIXED, and the bytes are right. With FixedBuffers
// negative nothing does.
func TestFixedBuffers(t *testing.T) {
	root, big := largeRoot(t)
	for _, m := range []mode{
		{"read", Config{LargeFiles: "read"}},
		{"read-compat-5.10", Config{LargeFiles: "read", KernelCompat: "5.10"}},
		{"read-none", Config{LargeFiles: "read", FixedBuffers: -1}},
	} {
		t.Run(m.name, func(t *testing.T) {
			rs := start(t, m, root, nil)
			get, closeIdle := keepAliveClient(t, rs.url)
			defer closeIdle()
			for i := 0; i < 2; i++ {
				if code, body := get("/big.bin"); code != 200 || !bytes.Equal(body, big) {
					t.Fatalf("status %d, %d bytes (want %d, equal); log: %s", code, len(body), len(big), rs.logText())
				}
			}
			st := settledStats(t, rs, 2*int64(len(big)))
			switch {
			case m.cfg.FixedBuffers < 0 || memlockRefused(t, rs):
				if st.Fixed != 0 {
					t.Fatalf("no registered buffers, yet %+v", st)
				}
			case st.Fixed != st.Read || st.Read != 2*int64(len(big)):
				t.Fatalf("stats %+v: want every byte READ into a registered buffer", st)
			}
			largeMetrics(t, rs, st)
		})
	}
	t.Run("direct", func(t *testing.T) {
		dir := t.TempDir()
		data, cachedPages, evict := coldFile(t, dir, 3<<20)
		rs := start(t, mode{"sendfile", Config{}}, dir, nil)
		evictCold(t, rs, dir, cachedPages, evict)
		resp, body := get(t, rs.url+"/cold.bin")
		if resp.StatusCode != 200 || !bytes.Equal(body, data) {
			t.Fatalf("status %d, %d bytes (want %d, equal)", resp.StatusCode, len(body), len(data))
		}
		st := settledStats(t, rs, int64(len(data)))
		if memlockRefused(t, rs) {
			return
		}
		if st.Direct != int64(len(data)) || st.Fixed != st.Direct || st.UncachedLooks == 0 {
			t.Fatalf("stats %+v: want the whole file read with O_DIRECT into registered buffers, after cachestat found it uncached", st)
		}
		largeMetrics(t, rs, st)
	})
}

// largeMetrics checks that Prometheus scrapes the large-file counts of st: the bytes of
// each path, of those the bytes read into registered buffers, and the uncached looks.
func largeMetrics(t *testing.T, rs *running, st LargeFileStats) {
	t.Helper()
	fam := scrape(t, NewCollector(rs.s, CollectorOptions{}))
	for _, w := range []struct {
		name  string
		path  string
		value int64
	}{
		{"uringd_large_file_bytes_total", "read", st.Read},
		{"uringd_large_file_bytes_total", "direct", st.Direct},
		{"uringd_large_file_bytes_total", "sendfile", st.Sendfile},
		{"uringd_large_file_fixed_bytes_total", "", st.Fixed},
		{"uringd_large_file_uncached_looks_total", "", st.UncachedLooks},
	} {
		var labels map[string]string
		if w.path != "" {
			labels = map[string]string{"path": w.path}
		}
		if v, ok := metricValue(fam, w.name, labels); !ok || v != float64(w.value) {
			t.Errorf("%s%v = %v (found %v), want %d", w.name, labels, v, ok, w.value)
		}
	}
}

// noIPCLockEnv marks the child TestFixedBuffersWithoutIPCLock starts, and childMemlock is
// the RLIMIT_MEMLOCK it serves under.
const (
	noIPCLockEnv = "NETIO_TEST_NO_IPC_LOCK"
	childMemlock = 8 << 20
)

// TestFixedBuffersWithoutIPCLock serves as root without CAP_IPC_LOCK, as a container's root
// often is, under 8 MiB of RLIMIT_MEMLOCK: the kernel charges the registered buffers (and,
// before 5.12, the rings) to the limit as for any user, so the two loops must share it, a
// quarter of it between them, and neither may be left without. It runs this test binary
// again, as root with every capability but that one (from a thread whose bounding set lacks
// it), and as root of a user namespace, whose capabilities hold only inside it.
func TestFixedBuffersWithoutIPCLock(t *testing.T) {
	if os.Getenv(noIPCLockEnv) == "1" {
		fixedWithoutIPCLock(t)
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: the test is root without one capability")
	}
	// The children set their RLIMIT_MEMLOCK to childMemlock; one in a user namespace cannot
	// raise its hard limit, so this process's goes up to it first (as root with
	// CAP_IPC_LOCK, this process is never charged, so its own limit does not matter).
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &rl); err != nil {
		t.Fatal(err)
	}
	if rl.Max != unix.RLIM_INFINITY && rl.Max < childMemlock {
		raised := unix.Rlimit{Cur: rl.Cur, Max: childMemlock}
		if err := unix.Setrlimit(unix.RLIMIT_MEMLOCK, &raised); err != nil {
			t.Skipf("RLIMIT_MEMLOCK's hard limit is %d KiB, below the %d KiB the children serve under, and raising it: %v",
				rl.Max>>10, childMemlock>>10, err)
		}
		t.Cleanup(func() { unix.Setrlimit(unix.RLIMIT_MEMLOCK, &rl) })
	}
	for _, userNS := range []bool{false, true} {
		name := map[bool]string{false: "bounding-set", true: "user-namespace"}[userNS]
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			errc := make(chan error, 1)
			go func() {
				// Never unlocked: the thread, its bounding set cut, ends with this goroutine.
				// The child is cloned from it and so inherits the cut set.
				runtime.LockOSThread()
				cmd := exec.Command(os.Args[0], "-test.run", "^TestFixedBuffersWithoutIPCLock$", "-test.v", "-test.count=1")
				cmd.Env = append(os.Environ(), noIPCLockEnv+"=1")
				cmd.Stdout, cmd.Stderr = &out, &out
				if userNS {
					cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER,
						UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
						GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}}}
				} else if err := unix.Prctl(unix.PR_CAPBSET_DROP, unix.CAP_IPC_LOCK, 0, 0, 0); err != nil {
					errc <- fmt.Errorf("PR_CAPBSET_DROP CAP_IPC_LOCK: %w", err)
					return
				}
				errc <- cmd.Run()
			}()
			err := <-errc
			t.Logf("the child:\n%s", out.String())
			if userNS && err != nil && !strings.Contains(out.String(), "=== RUN") {
				t.Skipf("no user namespace here: %v", err) // e.g. user.max_user_namespaces = 0
			}
			if err != nil || !strings.Contains(out.String(), "--- PASS: TestFixedBuffersWithoutIPCLock") {
				t.Fatalf("the child: %v", err)
			}
		})
	}
}

// fixedWithoutIPCLock is TestFixedBuffersWithoutIPCLock's child.
func fixedWithoutIPCLock(t *testing.T) {
	if lockExempt() {
		t.Fatal("the child still has CAP_IPC_LOCK, in the initial user namespace")
	}
	if err := unix.Setrlimit(unix.RLIMIT_MEMLOCK, &unix.Rlimit{Cur: childMemlock, Max: childMemlock}); err != nil {
		t.Fatalf("RLIMIT_MEMLOCK %d: %v", childMemlock, err)
	}
	root, big := largeRoot(t)
	_, rs := startTuned(t, mode{"read", Config{LargeFiles: "read", FixedBuffers: 32}}, root, ringTuning{}, nil)
	defer func() {
		if err := rs.stop(t); err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	// 8 MiB / 4 / 2 loops = 1 MiB a loop: 4 of the 32 slots of 256 KiB. (Fewer, if the
	// kernel has not yet uncharged an earlier child's rings and buffers from the user.)
	waitFor(t, func() bool { return strings.Count(rs.logText(), "registered buffers") >= 2 })
	log := rs.logText()
	got := regexp.MustCompile(`loop \d: (\d+) of 32 registered buffers`).FindAllStringSubmatch(log, -1)
	if len(got) != 2 || strings.Contains(log, "no registered buffers") {
		t.Fatalf("log %q: want both loops to say how many of 32 they registered, and neither none", log)
	}
	for _, m := range got {
		if n, _ := strconv.Atoi(m[1]); n < 1 || n > 4 {
			t.Fatalf("log %q: want each loop within its 4 of the budget", log)
		}
	}
	get, closeIdle := keepAliveClient(t, rs.url)
	defer closeIdle()
	if code, body := get("/big.bin"); code != 200 || !bytes.Equal(body, big) {
		t.Fatalf("status %d, %d bytes (want %d, equal)", code, len(body), len(big))
	}
	if st := settledStats(t, rs, int64(len(big))); st.Fixed != st.Read || st.Read != int64(len(big)) {
		t.Fatalf("stats %+v: want every byte READ into a registered buffer", st)
	}
}

// TestFixedBuffersRunOut gives one loop a single registered buffer (the registration of
// more fails with ENOMEM, as RLIMIT_MEMLOCK makes it) and holds it: a client that does not
// read keeps a large reply's SEND, and so its buffer, in flight. The replies after it read
// into pooled buffers, whole; once the holder is gone the buffer is used again.
func TestFixedBuffersRunOut(t *testing.T) {
	dir := t.TempDir()
	// Larger than the socket buffers on both sides, so a client that does not read stalls it.
	data := make([]byte, 32<<20)
	rand.New(rand.NewSource(3)).Read(data)
	write(t, filepath.Join(dir, "big.bin"), data)
	_, rs := startTuned(t, mode{"read", Config{LargeFiles: "read", FixedBuffers: 4}}, dir, ringTuning{fixedLimit: 1}, func(c *Config) { c.Loops = 1 })
	defer func() {
		if err := rs.stop(t); err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	// The loop logs as it sets its ring up, which Serve does after NewServer returns.
	waitFor(t, func() bool { return strings.Contains(rs.logText(), "registered buffers") })
	if memlockRefused(t, rs) {
		t.Skip("no registered buffers to run out of")
	}
	if got := rs.logText(); !strings.Contains(got, "1 of 4 registered buffers") {
		t.Fatalf("log %q: want the loop to say it registered 1 of 4", got)
	}
	// stalled waits until the READ counts stop moving: every SEND is waiting for a client.
	stalled := func() LargeFileStats {
		t.Helper()
		prev := rs.s.LargeFileStats()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
			time.Sleep(100 * time.Millisecond)
			st := rs.s.LargeFileStats()
			if st == prev && st.Read > 0 {
				return st
			}
			prev = st
		}
		t.Fatalf("large-file counts still moving after 10 s: %+v", prev)
		return prev
	}
	hold := func() net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", rs.addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
		return c
	}
	first := hold()
	st1 := stalled()
	if st1.Fixed == 0 || st1.Fixed != st1.Read {
		t.Fatalf("the first reply: %+v, want its READs in the registered buffer", st1)
	}
	second := hold()
	st2 := stalled()
	if st2.Read == st1.Read || st2.Fixed != st1.Fixed {
		t.Fatalf("a second reply while the first holds the buffer: %+v then %+v, want it read into a pooled buffer", st1, st2)
	}
	resp, body := get(t, rs.url+"/big.bin")
	if resp.StatusCode != 200 || !bytes.Equal(body, data) {
		t.Fatalf("a whole reply beside them: status %d, %d bytes (want %d, equal)", resp.StatusCode, len(body), len(data))
	}
	if st := rs.s.LargeFileStats(); st.Fixed != st1.Fixed {
		t.Fatalf("the buffer was handed out twice: %+v, then %+v", st1, st)
	}
	// The holders go away: their buffers come back, and the next reply reads into the
	// registered one again.
	first.Close()
	second.Close()
	http.DefaultClient.CloseIdleConnections() // get's, through the default transport
	waitFor(t, func() bool { return rs.s.Stats(t.Context()).ConnsOpen == 0 })
	before := rs.s.LargeFileStats()
	resp, body = get(t, rs.url+"/big.bin")
	if resp.StatusCode != 200 || !bytes.Equal(body, data) {
		t.Fatalf("after the holders: status %d, %d bytes", resp.StatusCode, len(body))
	}
	if st := settledStats(t, rs, before.Read+int64(len(data))); st.Fixed-before.Fixed != int64(len(data)) {
		t.Fatalf("after the holders: %+v then %+v, want the whole reply in the registered buffer", before, st)
	}
}

// TestFixedBuffersRefused makes every registration fail: the loops say so once each and
// serve every reply from pooled buffers, whole.
func TestFixedBuffersRefused(t *testing.T) {
	root, big := largeRoot(t)
	_, rs := startTuned(t, mode{"read", Config{LargeFiles: "read"}}, root, ringTuning{fixedLimit: -1}, nil)
	defer func() {
		if err := rs.stop(t); err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	resp, body := get(t, rs.url+"/big.bin")
	if resp.StatusCode != 200 || !bytes.Equal(body, big) {
		t.Fatalf("status %d, %d bytes (want %d, equal)", resp.StatusCode, len(body), len(big))
	}
	waitFor(t, func() bool { return strings.Count(rs.logText(), "registered buffers") == 2 })
	if st := settledStats(t, rs, int64(len(big))); st.Fixed != 0 || st.Read != int64(len(big)) {
		t.Fatalf("stats %+v: want every byte READ into pooled buffers", st)
	}
	if n := strings.Count(rs.logText(), "no registered buffers"); n != 2 {
		t.Fatalf("%d loops said they have no registered buffers, want 2: %s", n, rs.logText())
	}
}

func TestIdentityUIDMap(t *testing.T) {
	for m, want := range map[string]bool{
		"         0          0 4294967295\n": true, // the initial user namespace
		"         0          0          1\n": false,
		"0 100000 65536\n":                   false, // a rootless container's
		"0 0 4294967295\n1 1 1\n":            false,
		"":                                   false,
	} {
		if got := identityUIDMap(m); got != want {
			t.Errorf("identityUIDMap(%q) = %v, want %v", m, got, want)
		}
	}
}
