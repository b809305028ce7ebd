package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServeHeaderFlags runs the real binary with --precompressed, --header, --cache-control
// and --cors, and asks with curl: a brotli sibling with the rules of its original, a
// header value with commas, a preflight.
func TestServeHeaderFlags(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl not installed")
	}
	root := t.TempDir()
	for _, f := range [][2]string{{"assets/app.js", "console.log(1)\n"}, {"assets/app.js.br", "BROTLI"}, {"font.woff2", "w"}} {
		os.MkdirAll(filepath.Join(root, filepath.Dir(f[0])), 0o755)
		if err := os.WriteFile(filepath.Join(root, f[0]), []byte(f[1]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The sibling newer than its file by the clock, not by the order of the writes: a
	// stepped wall clock (a VM's) can make a later write look older, which is stale.
	past := time.Now().Add(-2 * time.Hour)
	os.Chtimes(filepath.Join(root, "assets/app.js"), past, past)
	os.Chtimes(filepath.Join(root, "assets/app.js.br"), past.Add(time.Hour), past.Add(time.Hour))
	_, base := serveChild(t, "--root", root, "--precompressed", "br,gzip", "--fallback", "/assets/app.js", "--error-page", "404=/font.woff2",
		"--header", "*.woff2: X-Font: woff2, cached",
		"--cache-control", "/assets/*=public, max-age=31536000, immutable",
		"--cors", "*")
	run := func(args ...string) (head, body string) {
		t.Helper()
		hf := filepath.Join(t.TempDir(), "h")
		out, err := exec.Command(curl, append([]string{"-sS", "--max-time", "10", "-D", hf}, args...)...).Output()
		if err != nil {
			t.Fatalf("curl %v: %v", args, err)
		}
		h, _ := os.ReadFile(hf)
		return strings.ReplaceAll(string(h), "\r\n", "\n"), string(out)
	}
	head, body := run("-H", "Accept-Encoding: br", base+"/assets/app.js")
	for _, want := range []string{"HTTP/1.1 200", "Content-Encoding: br\n", "Vary: Accept-Encoding\n",
		"Content-Type: text/javascript; charset=utf-8\n", "Cache-Control: public, max-age=31536000, immutable\n", "Access-Control-Allow-Origin: *\n"} {
		if !strings.Contains(head, want) {
			t.Errorf("br response lacks %q:\n%s", want, head)
		}
	}
	if body != "BROTLI" {
		t.Errorf("br body %q", body)
	}
	if head, _ = run("-H", "Accept-Encoding: br", base+"/font.woff2"); !strings.Contains(head, "X-Font: woff2, cached\n") {
		t.Errorf("--header rule missing:\n%s", head)
	}
	if head, body = run(base + "/some/route"); !strings.HasPrefix(head, "HTTP/1.1 200") || body != "console.log(1)\n" {
		t.Errorf("--fallback:\n%s%q", head, body)
	}
	if head, body = run(base + "/missing.png"); !strings.HasPrefix(head, "HTTP/1.1 404") || body != "w" {
		t.Errorf("--error-page:\n%s%q", head, body)
	}
	head, _ = run("-X", "OPTIONS", "-H", "Origin: https://a.example", "-H", "Access-Control-Request-Method: GET", base+"/assets/app.js")
	if !strings.HasPrefix(head, "HTTP/1.1 204") || !strings.Contains(head, "Access-Control-Allow-Methods: GET, HEAD\n") {
		t.Errorf("preflight:\n%s", head)
	}
}

// TestServeRefusesBadHeaderFlags: a malformed rule is refused, naming the flag and the rule.
func TestServeRefusesBadHeaderFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--header", "/a/*: X-A"}, {"--header", "/a: Content-Length: 1"}, {"--cache-control", "/a/*"},
		{"--precompressed", "br,deflate"}, {"--cors", "example.com"}, {"--fallback", "index.html"},
		{"--error-page", "404"}, {"--error-page", "302=/a.html"},
		{"--metrics", "unix:"}, {"--metrics", "256.0.0.1:1"},
	} {
		cmd := exec.Command(os.Args[0], append([]string{"serve", "--addr", "127.0.0.1:0", "--root", t.TempDir()}, args...)...)
		cmd.Env = append(os.Environ(), "URINGD_TEST_AS_MAIN=1")
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() == 0 || strings.Contains(string(out), "serving") {
			t.Errorf("serve %v: %v, want a refusal; output %q", args, err, out)
			continue
		}
		if !strings.Contains(strings.ToLower(string(out)), args[0][2:]) {
			t.Errorf("serve %v: %q does not name the flag", args, out)
		}
	}
}
