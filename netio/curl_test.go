package netio

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestCurl drives the server with curl, a second real client besides net/http's, in every
// mode: keep-alive over several URLs on one connection, HEAD, ranges (single and
// multipart), conditionals, HTTP/1.0, directories, escapes and limits. Skipped when curl is
// not installed (.ci/run installs it).
func TestCurl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl not installed")
	}
	root := testRoot(t)
	want4k, _ := os.ReadFile(filepath.Join(root, "4k.bin"))
	eachMode(t, func(t *testing.T, m mode) {
		rs := start(t, m, root, nil)
		run := func(args ...string) (head, body string) {
			t.Helper()
			hf := filepath.Join(t.TempDir(), "h")
			out, err := exec.Command(curl, append([]string{"-sS", "--max-time", "10", "-D", hf}, args...)...).Output()
			if err != nil {
				t.Fatalf("curl %v: %v", args, err)
			}
			h, _ := os.ReadFile(hf)
			return string(h), string(out)
		}
		status := func(head string) []string { return regexp.MustCompile(`(?m)^HTTP/\S+ (\d{3})`).FindAllString(head, -1) }

		// Three URLs on one connection (curl reuses it), and the bytes are right.
		head, body := run(rs.url+"/hello.txt", rs.url+"/4k.bin", rs.url+"/site/")
		if s := status(head); len(s) != 3 || !strings.HasSuffix(s[0], "200") || !strings.HasSuffix(s[2], "200") {
			t.Fatalf("keep-alive statuses %v:\n%s", s, head)
		}
		if body != "hello, uringd\n"+string(want4k)+"<p>site index\n" {
			t.Fatalf("keep-alive bodies: %d bytes", len(body))
		}
		if !strings.Contains(head, "Content-Type: text/plain; charset=utf-8") || !strings.Contains(head, "Accept-Ranges: bytes") {
			t.Fatalf("headers:\n%s", head)
		}
		// HEAD: headers only.
		if head, body = run("-I", rs.url+"/4k.bin"); !strings.Contains(head, "Content-Length: 4096") || body != head {
			t.Fatalf("HEAD:\n%s\nbody %q", head, body)
		}
		// A single range, then two ranges as multipart/byteranges.
		if head, body = run("-r", "10-19", rs.url+"/4k.bin"); !strings.Contains(head, " 206") || body != string(want4k[10:20]) ||
			!strings.Contains(head, "Content-Range: bytes 10-19/4096") {
			t.Fatalf("range:\n%s", head)
		}
		if head, body = run("-r", "0-0,-1", rs.url+"/4k.bin"); !strings.Contains(head, "multipart/byteranges; boundary=") ||
			!strings.Contains(body, "Content-Range: bytes 4095-4095/4096") {
			t.Fatalf("multipart:\n%s", head)
		}
		// Conditionals: the ETag back gives 304; an old If-Unmodified-Since gives 412.
		head, _ = run(rs.url + "/hello.txt")
		etag := regexp.MustCompile(`(?mi)^ETag: (.*?)\r?$`).FindStringSubmatch(head)
		if etag == nil {
			t.Fatalf("no ETag:\n%s", head)
		}
		if head, _ = run("-H", "If-None-Match: "+etag[1], rs.url+"/hello.txt"); !strings.Contains(status(head)[0], "304") {
			t.Fatalf("If-None-Match:\n%s", head)
		}
		if head, _ = run("-H", "If-Unmodified-Since: Mon, 01 Jan 2001 00:00:00 GMT", rs.url+"/hello.txt"); !strings.Contains(status(head)[0], "412") {
			t.Fatalf("If-Unmodified-Since:\n%s", head)
		}
		// HTTP/1.0, directory redirect, a listing, a symlink out of the root, a 405 and a 431.
		// (The server answers with its own version, HTTP/1.1, as net/http and nginx do.)
		if head, _ = run("--http1.0", rs.url+"/hello.txt"); !strings.HasSuffix(status(head)[0], "200") || !strings.Contains(head, "Connection: close") {
			t.Fatalf("HTTP/1.0:\n%s", head)
		}
		if head, _ = run(rs.url + "/site"); !strings.Contains(status(head)[0], "301") || !strings.Contains(head, "Location: /site/") {
			t.Fatalf("directory without slash:\n%s", head)
		}
		if _, body = run(rs.url + "/list/"); !strings.Contains(body, "a &amp; &lt;c&gt;.txt") {
			t.Fatalf("listing: %q", body)
		}
		for _, c := range []struct {
			args []string
			code string
		}{
			{[]string{rs.url + "/escape.txt"}, "403"},
			// Cleaned to /etc/passwd, where etc is a symlink to /etc: refused.
			{[]string{"--path-as-is", rs.url + "/../../etc/passwd"}, "403"},
			{[]string{"-X", "DELETE", rs.url + "/hello.txt"}, "405"},
			{[]string{"-H", "X-Big: " + strings.Repeat("a", 9000), rs.url + "/hello.txt"}, "431"},
		} {
			head, body = run(c.args...)
			if s := status(head); len(s) != 1 || !strings.HasSuffix(s[0], c.code) {
				t.Errorf("curl %v: %v, want %s\n%s", c.args[:len(c.args)-1], s, c.code, head)
			}
			if bytes.Contains([]byte(body), []byte("secret")) || strings.Contains(body, "root:") {
				t.Fatalf("served a file outside the root: %q", body)
			}
		}
	})
}
