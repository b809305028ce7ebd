package http1

import (
	"strings"
	"testing"
)

func TestContentType(t *testing.T) {
	cases := map[string]string{
		"/index.html":                  "text/html; charset=utf-8",
		"/a.HTM":                       "text/html; charset=utf-8",
		"s.css":                        "text/css; charset=utf-8",
		"a.js":                         "text/javascript; charset=utf-8",
		"m.mjs":                        "text/javascript; charset=utf-8",
		"d.json":                       "application/json",
		"r.txt":                        "text/plain; charset=utf-8",
		"x.xml":                        "text/xml; charset=utf-8",
		"i.svg":                        "image/svg+xml",
		"i.png":                        "image/png",
		"i.jpg":                        "image/jpeg",
		"i.JPEG":                       "image/jpeg",
		"i.gif":                        "image/gif",
		"i.webp":                       "image/webp",
		"favicon.ico":                  "image/x-icon",
		"d.pdf":                        "application/pdf",
		"m.wasm":                       "application/wasm",
		"v.mp4":                        "video/mp4",
		"v.webm":                       "video/webm",
		"f.woff":                       "font/woff",
		"f.woff2":                      "font/woff2",
		"f.ttf":                        "font/ttf",
		"a.tar.gz":                     "application/gzip",
		"a.zip":                        "application/zip",
		"a.tar":                        "application/x-tar",
		"a.bin":                        DefaultContentType,
		"README.md":                    "text/markdown; charset=utf-8",
		"t.csv":                        "text/csv; charset=utf-8",
		"noext":                        DefaultContentType,
		"/dir.d/noext":                 DefaultContentType,
		"/trailing.":                   DefaultContentType,
		".hidden":                      DefaultContentType,
		".html":                        "text/html; charset=utf-8",
		"a.unknownext":                 DefaultContentType,
		"a." + strings.Repeat("x", 17): DefaultContentType,
		"":                             DefaultContentType,
		"a.h\x00ml":                    DefaultContentType,
	}
	for name, want := range cases {
		if got := ContentType([]byte(name)); got != want {
			t.Errorf("ContentType(%q) = %q, want %q", name, got, want)
		}
	}
}

// Text types carry a charset; others do not.
func TestContentTypeCharset(t *testing.T) {
	for _, ext := range []string{"html", "css", "js", "txt", "md", "csv", "xml", "png", "json", "svg", "mp4", "gz"} {
		ct := ContentType([]byte("f." + ext))
		if strings.HasPrefix(ct, "text/") != strings.HasSuffix(ct, "; charset=utf-8") {
			t.Errorf("%s: %q", ext, ct)
		}
	}
}
