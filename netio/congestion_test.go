package netio

import (
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Config.TCPCongestion reaches the connections: with "reno" (built into every kernel) the
// server's side of an open connection runs reno, as ss(8) reports it, in the uring and std
// engines. A name the kernel lacks fails NewServer with the name and what is available.
func TestTCPCongestion(t *testing.T) {
	ss, err := exec.LookPath("ss")
	if err != nil {
		t.Skip("ss (iproute2) is not installed: it is how the test sees a socket's congestion control")
	}
	root := testRoot(t)
	for _, m := range []mode{{"uring", Config{}}, {"std", Config{Net: "std"}}} {
		t.Run(m.name, func(t *testing.T) {
			rs := start(t, m, root, func(c *Config) { c.TCPCongestion = "reno" })
			// A connection kept open while ss looks at it.
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
			resp, err := client.Get(rs.url + "/hello.txt")
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body) // read to the end, so the connection stays open
			resp.Body.Close()
			_, port, _ := net.SplitHostPort(rs.addr)
			out, err := exec.Command(ss, "-tin", "state", "established", "( sport = :"+port+" )").CombinedOutput()
			if err != nil {
				t.Fatalf("ss: %v\n%s", err, out)
			}
			if !strings.Contains(string(out), " reno ") && !strings.Contains(string(out), "\treno ") {
				t.Errorf("the server's side of the connection (port %s) does not run reno:\n%s", port, out)
			}
		})
	}
	_, err = NewServer(Config{Root: root, Addr: "127.0.0.1:0", TCPCongestion: "no-such-cc"})
	if err == nil || !strings.Contains(err.Error(), `"no-such-cc"`) || !strings.Contains(err.Error(), "available here: ") {
		t.Errorf("NewServer with an unknown congestion control: %v; want an error naming it and the available ones", err)
	}
}
