package netio

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/chromedp/chromedp"
)

// TestBrowserPrecompressed loads a page in headless Chromium whose script and style are served
// as brotli siblings, in each engine, at / and at a route the fallback answers, and checks
// the DOM the browser rendered: the script that ran is the one in app.js.br (the plain
// app.js says otherwise), and the style applied is the one in style.css.br. Skipped where Chromium is not installed (.ci/run installs it) and in
// -short runs (the race detector's).
func TestBrowserPrecompressed(t *testing.T) {
	if testing.Short() {
		t.Skip("a browser per run: the full run has it")
	}
	exe, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium not installed")
	}
	root := t.TempDir()
	brotliFile := func(name, text string) {
		var b bytes.Buffer
		w := brotli.NewWriterLevel(&b, brotli.BestCompression)
		w.Write([]byte(text))
		w.Close()
		write(t, filepath.Join(root, name+".br"), b.Bytes())
	}
	write(t, filepath.Join(root, "index.html"), []byte(`<!doctype html>
<link rel=stylesheet href=/style.css>
<script src=/app.js defer></script>
<p id=out>not run</p>`))
	write(t, filepath.Join(root, "app.js"), []byte(`document.getElementById('out').textContent = 'plain script';`))
	write(t, filepath.Join(root, "style.css"), []byte(`#out { color: rgb(9, 9, 9) }`))
	brotliFile("app.js", `document.getElementById('out').textContent =
  'brotli script at ' + location.pathname + ', color ' + getComputedStyle(document.getElementById('out')).color;`)
	brotliFile("style.css", `#out { color: rgb(1, 2, 3) }`)
	freshSiblings(t, filepath.Join(root, "app.js"), ".br")
	freshSiblings(t, filepath.Join(root, "style.css"), ".br")

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox,
		// This machine has no network: the browser's own connections to the world only fail.
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	if err := chromedp.Do(bctx); err != nil { // starts the browser
		t.Fatalf("start chromium: %v", err)
	}
	for _, m := range []mode{modes()[0], modes()[3], modes()[5]} { // uring, threadpool, std
		t.Run(m.name, func(t *testing.T) {
			rs := start(t, m, root, func(c *Config) {
				c.Precompressed = []string{"br", "gzip"}
				c.Fallback = "/index.html" // a single-page app: its routes are the shell
			})
			ctx, cancel := chromedp.NewContext(bctx) // a tab
			defer cancel()
			ctx, cancel = context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			for _, page := range []string{"/", "/settings/profile"} {
				if err := chromedp.Do(ctx, chromedp.Navigate(rs.url+page)); err != nil {
					t.Fatalf("navigate %s: %v", page, err)
				}
				got, err := chromedp.Run(ctx, chromedp.Text("#out"))
				if want := "brotli script at " + page + ", color rgb(1, 2, 3)"; err != nil || got != want {
					t.Errorf("%s rendered %q (%v), want %q", page, got, err, want)
				}
			}
		})
	}
}
