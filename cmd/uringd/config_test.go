package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/urfave/cli/v2"
)

// writeConfig writes a config file in a directory of its own and returns its path.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "uringd.toml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// writeFiles writes files (path in root, contents) under root.
func writeFiles(t *testing.T, root string, files ...[2]string) {
	t.Helper()
	for _, f := range files {
		p := filepath.Join(root, f[0])
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f[1]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// configChild starts `uringd serve args...` as it is given (no --addr added: the config
// file may name the listeners), and returns it and the first URL it serves on.
func configChild(t *testing.T, lines *childLines, args ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"serve"}, args...)...)
	cmd.Env = append(os.Environ(), "URINGD_TEST_AS_MAIN=1")
	return cmd, startChild(t, cmd, nil, lines)
}

// get does a GET with the given request headers on client and returns the response, its
// body read.
func get(t *testing.T, client *http.Client, url string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp, string(b)
}

// unixClient is an HTTP client whose every connection goes to the unix socket at path.
func unixClient(path string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}, Timeout: 10 * time.Second}
}

// TestServeConfigFile runs the real binary with only --config: the root, both listeners
// (TCP and a unix socket), the loops, the header rules, a precompressed sibling, an error
// page and the access log all come from the file.
func TestServeConfigFile(t *testing.T) {
	root, dir := t.TempDir(), t.TempDir()
	writeFiles(t, root, [2]string{"a.txt", "alpha\n"}, [2]string{"assets/app.js", "console.log(1)\n"},
		[2]string{"assets/app.js.br", "BROTLI"}, [2]string{"404.html", "not here\n"})
	// The sibling newer by the clock (see TestServeHeaderFlags).
	past := time.Now().Add(-2 * time.Hour)
	os.Chtimes(filepath.Join(root, "assets/app.js"), past, past)
	os.Chtimes(filepath.Join(root, "assets/app.js.br"), past.Add(time.Hour), past.Add(time.Hour))
	sock, alog := filepath.Join(dir, "u.sock"), filepath.Join(dir, "access.log")
	cfg := writeConfig(t, `# uringd serve, configured by file
root = "`+root+`"
addr = ["127.0.0.1:0", "unix:`+sock+`"]
loops = 1
idle-timeout = "30s"
join-port = false
precompressed = "br"
header = ["/assets/*: X-Assets: yes, really"]
cache-control = "*.txt=no-cache"   # a single string: a list of one
error-page = ["404=/404.html"]
access-log = "`+alog+`"
`)
	var lines childLines
	cmd, url := configChild(t, &lines, "--config", cfg)
	if l := lines.line("serving "); !strings.Contains(l, "serving "+root+" on http://127.0.0.1:") ||
		!strings.Contains(l, "(also on unix:"+sock+")") || !strings.Contains(l, "1 loops") {
		t.Errorf("startup line %q: not the file's root, listeners and loops", l)
	}

	client := &http.Client{Timeout: 10 * time.Second}
	resp, body := get(t, client, url+"/a.txt")
	if resp.StatusCode != 200 || body != "alpha\n" || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Errorf("/a.txt: %d %q, Cache-Control %q", resp.StatusCode, body, resp.Header.Get("Cache-Control"))
	}
	resp, body = get(t, client, url+"/assets/app.js", "Accept-Encoding", "br")
	if resp.StatusCode != 200 || body != "BROTLI" || resp.Header.Get("Content-Encoding") != "br" ||
		resp.Header.Get("X-Assets") != "yes, really" {
		t.Errorf("/assets/app.js with br: %d %q\n%v", resp.StatusCode, body, resp.Header)
	}
	if resp, body = get(t, client, url+"/missing.png"); resp.StatusCode != 404 || body != "not here\n" {
		t.Errorf("/missing.png: %d %q, want the 404 page", resp.StatusCode, body)
	}
	uc := unixClient(sock)
	if resp, body = get(t, uc, "http://uringd/a.txt"); resp.StatusCode != 200 || body != "alpha\n" {
		t.Errorf("/a.txt on the unix socket: %d %q", resp.StatusCode, body)
	}
	client.CloseIdleConnections()
	uc.CloseIdleConnections()
	cmd.Process.Signal(syscall.SIGTERM)
	if code := waitExit(t, cmd); code != 0 {
		t.Fatalf("exit status %d after SIGTERM", code)
	}
	logged, _ := os.ReadFile(alog)
	if n := strings.Count(string(logged), `"GET /a.txt HTTP/1.1" 200 6 `); n != 2 {
		t.Errorf("the file's access log has %d /a.txt entries, want 2:\n%s", n, logged)
	}
}

// TestServeConfigFlagsOverride: a flag on the command line wins over the file, a list
// flag's values replace the file's list, and the file's other settings still apply.
func TestServeConfigFlagsOverride(t *testing.T) {
	a, b, dir := t.TempDir(), t.TempDir(), t.TempDir()
	writeFiles(t, a, [2]string{"who.txt", "A\n"})
	writeFiles(t, b, [2]string{"who.txt", "B\n"})
	sock := filepath.Join(dir, "file.sock")
	cfg := writeConfig(t, `root = "`+a+`"
addr = ["unix:`+sock+`"]
header = ["/*: X-From: file", "/*: X-File-Only: 1"]
cache-control = ["*.txt=no-cache"]
`)
	var lines childLines
	_, url := configChild(t, &lines, "--config", cfg, "--root", b, "--addr", "127.0.0.1:0", "--header", "/*: X-From: flag")
	if l := lines.line("serving "); !strings.Contains(l, "serving "+b+" on ") || strings.Contains(l, "also on") {
		t.Errorf("startup line %q: want --root and only the --addr given", l)
	}
	if _, err := os.Stat(sock); err == nil {
		t.Errorf("the file's unix socket %s was made, though --addr replaces the file's list", sock)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	resp, body := get(t, client, url+"/who.txt")
	if body != "B\n" {
		t.Errorf("/who.txt = %q, want --root's file", body)
	}
	if got := resp.Header.Values("X-From"); len(got) != 1 || got[0] != "flag" {
		t.Errorf("X-From: %q, want only --header's", got)
	}
	if got := resp.Header.Get("X-File-Only"); got != "" {
		t.Errorf("X-File-Only: %q: the file's header list was added to, not replaced", got)
	}
	if got := resp.Header.Get("Cache-Control"); got != "no-cache" {
		t.Errorf("Cache-Control %q: the file's cache-control (no flag given) is lost", got)
	}
}

// TestServeConfigErrors: a bad config file is refused before anything is bound, and the
// message names the file, the line and the key (or, for a syntax error, the line).
func TestServeConfigErrors(t *testing.T) {
	for _, tc := range []struct{ name, text, want string }{
		{"typo", "# uringd\n\nidle-timout = \"30s\"\n", `:3: unknown key "idle-timout" (did you mean "idle-timeout"?)`},
		{"type", "root = \"/tmp\"\n# the loops\nloops = \"two\"\n", `:3: loops: want an integer, not "two"`},
		{"after an array", "addr = [\n  \"127.0.0.1:0\",\n]\nidle-timeout = 30\n", `:4: idle-timeout: want a duration string such as "30s", not 30`},
		{"multi-line string", "# a\njoin-port = \"\"\"\nyes\n\"\"\"\nloops = 1\n", `:2: join-port: want true or false, not "yes\n"`},
		{"duration", "\nidle-timeout = \"30\"\n", `:2: idle-timeout: want a duration such as "30s": time: missing unit in duration "30"`},
		{"element", "header = [\"/a/*: X-A: b\", 3]\n", `:1: header[1]: want a string, not 3`},
		{"empty addr", "addr = []\n", `:1: addr: an empty list: give at least one, or leave the key out for the default (127.0.0.1:8080)`},
		{"table", "# serve\n[serve]\nroot = \"/tmp\"\n", `:2: unknown key "serve" (the settings are top-level keys, under no [table] header)`},
		{"dotted", "loops = 1\nmax.conns = 3\n", `:2: unknown key "max"`},
		{"config", "config = \"other.toml\"\n", `:1: config: a config file cannot name another (give --config on the command line)`},
		{"syntax", "root = \"/tmp\"\n\nloops = \nthreads = 2\n", `:3: invalid TOML: `},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writeConfig(t, tc.text)
			out := refusedServe(t, "--config", p)
			if want := "uringd: config " + p + tc.want; !strings.Contains(out, want) {
				t.Errorf("output %q lacks %q", out, want)
			}
		})
	}
	t.Run("missing", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "none.toml")
		if out, want := refusedServe(t, "--config", p), "uringd: config: open "+p+": no such file or directory\n"; out != want {
			t.Errorf("output %q, want %q", out, want)
		}
	})
}

// refusedServe runs `uringd serve args...` (on a free port, should it serve) and returns
// its output after checking that it failed without serving.
func refusedServe(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], append([]string{"serve", "--addr", "127.0.0.1:0", "--root", t.TempDir()}, args...)...)
	cmd.Env = append(os.Environ(), "URINGD_TEST_AS_MAIN=1")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || strings.Contains(string(out), "serving") {
		t.Fatalf("serve %v: %v, want exit 1 without serving; output %q", args, err, out)
	}
	return string(out)
}

// readmeConfigExample is the ```toml block of README.md's config file item.
func readmeConfigExample(t *testing.T) string {
	t.Helper()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, item, ok := strings.Cut(string(readme), "**Config file.**")
	if !ok {
		t.Fatal("README.md has no **Config file.** item")
	}
	var out strings.Builder
	indent, inside := "", false
	for _, l := range strings.Split(item, "\n") {
		switch trimmed := strings.TrimSpace(l); {
		case !inside && trimmed == "```toml":
			indent, inside = l[:strings.Index(l, "`")], true
		case inside && trimmed == "```":
			return out.String()
		case inside:
			out.WriteString(strings.TrimPrefix(l, indent) + "\n")
		}
	}
	t.Fatal("the README's config file item has no complete ```toml block")
	return ""
}

// TestReadmeConfigExample: the README's example config file names every serve flag (but
// config, and cpuprofile and kernel-compat, which are for debugging and testing), each
// value reaches its flag, and the real server runs with it (its root, listeners, user and
// access log overridden on the command line, which is how they are also tested).
func TestReadmeConfigExample(t *testing.T) {
	example := readmeConfigExample(t)
	var file map[string]any
	if _, err := toml.Decode(example, &file); err != nil {
		t.Fatalf("the README's example: %v\n%s", err, example)
	}
	var flags []cli.Flag
	for _, f := range serveCommand().Flags {
		switch name := f.Names()[0]; name {
		case "config", "cpuprofile", "kernel-compat":
		default:
			if _, ok := file[name]; !ok {
				t.Errorf("the README's example config has no %q", name)
			}
			flags = append(flags, f)
		}
	}
	p := writeConfig(t, example)

	// Applied in this process, every key sets its flag to the file's value.
	app := newApp()
	var out bytes.Buffer
	app.Writer, app.ErrWriter = &out, &out
	ran := false
	for _, cmd := range app.Commands {
		if cmd.Name != "serve" {
			continue
		}
		cmd.Action = func(c *cli.Context) error {
			ran = true
			for _, f := range flags {
				name := f.Names()[0]
				v, ok := file[name]
				if !ok {
					continue // said above
				}
				var got, want any
				switch f.(type) {
				case *cli.StringFlag:
					got, want = c.String(name), v
				case *cli.IntFlag:
					got, want = int64(c.Int(name)), v
				case *cli.BoolFlag:
					got, want = c.Bool(name), v
				case *cli.DurationFlag:
					s, _ := v.(string)
					d, err := time.ParseDuration(s)
					if err != nil {
						t.Errorf("%s: %v", name, err)
					}
					got, want = c.Duration(name), d
				case *cli.StringSliceFlag:
					var list []string
					switch v := v.(type) {
					case string:
						list = []string{v}
					case []any:
						for _, e := range v {
							s, _ := e.(string)
							list = append(list, s)
						}
					}
					got, want = c.StringSlice(name), list
				default:
					t.Errorf("%s: a %T", name, f)
				}
				if !c.IsSet(name) || !reflect.DeepEqual(got, want) {
					t.Errorf("%s: %#v (set: %v), the file has %#v", name, got, c.IsSet(name), want)
				}
			}
			return checkServeFlags(c)
		}
	}
	if err := app.Run([]string{"uringd", "serve", "--config", p}); err != nil || !ran {
		t.Fatalf("serve --config with the README's example: %v (ran: %v)\n%s", err, ran, out.String())
	}

	root := t.TempDir()
	writeFiles(t, root, [2]string{"index.html", "<p>hi\n"}, [2]string{"404.html", "no\n"})
	_, url := configChild(t, nil, "--config", p, "--root", root, "--addr", "127.0.0.1:0", "--user", "", "--access-log", "off", "--metrics", "127.0.0.1:0")
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	resp, body := get(t, client, url+"/index.html")
	if resp.StatusCode != 200 || body != "<p>hi\n" {
		t.Errorf("/index.html with the README's example: %d %q", resp.StatusCode, body)
	}
}
