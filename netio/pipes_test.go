package netio

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// pipeFds counts this process's pipe fds.
func pipeFds(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip(err)
	}
	n := 0
	for _, e := range ents {
		if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && strings.HasPrefix(l, "pipe:") {
			n++
		}
	}
	return n
}

// TestSpliceIdleHoldsNoPipe: with --large-files splice, twenty keep-alive connections each
// fetch a large file, one after another, and stay open. Idle, they hold no pipe: the replies
// reuse one spare pipe pair (two fds) instead of each connection keeping its own. (Before
// issue 18: 40 pipe fds, two per idle connection.)
func TestSpliceIdleHoldsNoPipe(t *testing.T) {
	rs := start(t, modes()[1], testRoot(t), func(c *Config) { c.Loops = 1 })
	before := pipeFds(t)
	var clients []*http.Client
	for range 20 {
		cl := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{}}
		clients = append(clients, cl)
		resp, body, err := tryGet(cl, rs.url+"/1m.bin")
		if err != nil || resp.StatusCode != 200 || len(body) != 1<<20 {
			t.Fatalf("GET /1m.bin: %v %v %d", resp, err, len(body))
		}
	}
	after := pipeFds(t)
	for _, cl := range clients {
		cl.CloseIdleConnections()
	}
	if st := rs.s.LargeFileStats(); st.Splice == 0 {
		t.Fatalf("nothing was spliced: %+v", st)
	}
	if after-before > 2 {
		t.Fatalf("%d pipe fds held by 20 idle connections, want at most one spare pair", after-before)
	}
}
