package netio

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/uringd/uringd/logger"
)

// TestAccessLogThroughLogger serves requests with the access log written by package
// logger (io_uring engine), in both formats and every mode, and checks every line after
// shutdown: what was asked, the status, the body bytes, and that a client cannot forge
// lines or fields with quotes, control bytes or invalid UTF-8.
func TestAccessLogThroughLogger(t *testing.T) {
	root := testRoot(t)
	for _, format := range []string{"combined", "json"} {
		t.Run(format, func(t *testing.T) {
			eachMode(t, func(t *testing.T, m mode) {
				path := filepath.Join(t.TempDir(), "access.log")
				lg, err := logger.New(logger.Options{Path: path})
				if err != nil {
					t.Fatal(err)
				}
				defer lg.Close()
				al, err := NewRecordLog(lg, format)
				if err != nil {
					t.Fatal(err)
				}
				rs := start(t, m, root, func(c *Config) { c.AccessLog = al })

				c, err := net.Dial("tcp", rs.addr)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				br := bufio.NewReader(c)
				type want struct {
					method, target, ua, referer string
					status                      int
					bytes                       int64
				}
				evil := "evil\" \"-\" 500 1\t\xff"
				reqs := []struct {
					raw string
					w   want
				}{
					{"GET /4k.bin HTTP/1.1\r\nHost: x\r\nUser-Agent: t/1\r\n\r\n", want{"GET", "/4k.bin", "t/1", "", 200, 4096}},
					{"HEAD /4k.bin HTTP/1.1\r\nHost: x\r\n\r\n", want{"HEAD", "/4k.bin", "", "", 200, 0}},
					{"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", want{"GET", "/nope", "", "", 404, -1}},
					{"GET /odd.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=10-19\r\nReferer: http://r/\r\n\r\n", want{"GET", "/odd.bin", "", "http://r/", 206, 10}},
					{"GET /hello.txt?q=%22 HTTP/1.1\r\nHost: x\r\nUser-Agent: " + evil + "\r\n\r\n", want{"GET", "/hello.txt?q=%22", evil, "", 200, 14}},
					// Bad input is answered, closed and logged too.
					{"GET /4k.bin HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n", want{"GET", "/4k.bin", "", "", 400, -1}},
				}
				for _, r := range reqs {
					io.WriteString(c, r.raw)
					c.SetReadDeadline(time.Now().Add(5 * time.Second))
					resp, err := http.ReadResponse(br, &http.Request{Method: r.w.method})
					if err != nil {
						t.Fatal(err)
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != r.w.status {
						t.Fatalf("%q: status %d", r.raw, resp.StatusCode)
					}
				}
				c.Close()
				rs.cancel()
				if err := <-rs.done; err != nil {
					t.Fatalf("Serve: %v", err)
				}
				rs.done <- nil
				// Serve flushed the access log (RecordLog.Flush = Logger.Sync): the file is
				// complete before the logger is closed.
				data, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
				if len(lines) != len(reqs) {
					t.Fatalf("%d lines, want %d:\n%s", len(lines), len(reqs), data)
				}
				for i, r := range reqs {
					checkAccessLine(t, format, lines[i], r.w.method, r.w.target, r.w.ua, r.w.referer, r.w.status, r.w.bytes)
				}
				if st := lg.Stats(); st.Dropped != 0 || st.Written != uint64(len(reqs)) {
					t.Fatalf("logger stats: %+v", st)
				}
			})
		})
	}
}

var combinedRE = regexp.MustCompile(`^127\.0\.0\.1 - - \[\d\d/[A-Z][a-z][a-z]/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "([^"\\]|\\.)*" \d{3} \d+ "([^"\\]|\\.)*" "([^"\\]|\\.)*"$`)

func checkAccessLine(t *testing.T, format, line, method, target, ua, referer string, status int, bytes int64) {
	t.Helper()
	if format == "json" {
		var e struct {
			Time, Remote, Method, Target, Proto, Referer string
			UserAgent                                    string `json:"user_agent"`
			Status                                       int
			Bytes                                        int64
			DurationUS                                   *int64 `json:"duration_us"`
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("not JSON: %q: %v", line, err)
		}
		if _, err := time.Parse(time.RFC3339Nano, e.Time); err != nil || e.Remote != "127.0.0.1" || e.DurationUS == nil {
			t.Fatalf("time/remote/duration in %q", line)
		}
		// Bytes that are not UTF-8 are written as \u00XX: the code point of the byte's value.
		var wantUA string
		for i := 0; i < len(ua); i++ {
			if r, size := utf8.DecodeRuneInString(ua[i:]); r != utf8.RuneError || size > 1 {
				wantUA += ua[i : i+size]
				i += size - 1
				continue
			}
			wantUA += string(rune(ua[i]))
		}
		if e.Method != method || e.Target != target || e.UserAgent != wantUA || e.Referer != referer ||
			e.Status != status || e.Proto != "HTTP/1.1" || (bytes >= 0 && e.Bytes != bytes) {
			t.Fatalf("entry %+v, want %s %s ua=%q referer=%q %d %d", e, method, target, wantUA, referer, status, bytes)
		}
		return
	}
	if !combinedRE.MatchString(line) {
		t.Fatalf("not a combined log line: %q", line)
	}
	esc := func(s string) string { return string(appendEscaped(nil, []byte(s), false)) }
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return esc(s)
	}
	mid := `] "` + method + " " + esc(target) + ` HTTP/1.1" ` + itoa(status) + " "
	if !strings.Contains(line, mid) {
		t.Fatalf("%q lacks %q", line, mid)
	}
	end := `"` + dash(referer) + `" "` + dash(ua) + `"`
	if !strings.HasSuffix(line, end) {
		t.Fatalf("%q does not end with %q", line, end)
	}
	if bytes >= 0 && !strings.Contains(line, mid+itoa(int(bytes))+" ") {
		t.Fatalf("%q: body bytes, want %d", line, bytes)
	}
	if strings.ContainsAny(line, "\t\xff") {
		t.Fatalf("raw control or invalid bytes in %q", line)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestRecordLogZeroAllocs: formatting an entry and handing it to the logger allocates
// nothing.
func TestRecordLogZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop buffers at random")
	}
	lg, err := logger.New(logger.Options{Path: filepath.Join(t.TempDir(), "a.log")})
	if err != nil {
		t.Fatal(err)
	}
	defer lg.Close()
	for _, format := range []string{"combined", "json"} {
		al, _ := NewRecordLog(lg, format)
		e := &AccessEntry{Time: time.Now(), Remote: []byte("10.0.0.1"), Method: []byte("GET"), Target: []byte("/a/b.html"),
			Proto: "HTTP/1.1", Status: 200, Bytes: 1234, UserAgent: []byte("curl/8"), Duration: 1500 * time.Microsecond}
		al.Log(e)
		if a := testing.AllocsPerRun(1000, func() { al.Log(e) }); a != 0 {
			t.Errorf("%s: %v allocations per entry", format, a)
		}
	}
}
