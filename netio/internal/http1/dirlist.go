package http1

import (
	"slices"
	"strings"
)

// IndexFile is served for a directory that contains it (the server tries Path +
// "/index.html" first). A directory without it gets an HTML listing built by
// AppendDirListing. Like net/http, a request for a directory without a trailing
// slash is redirected to add it (and a file with one redirected to drop it) before
// either is served, so relative links resolve.
const IndexFile = "index.html"

// DirListingContentType is the Content-Type of AppendDirListing output.
const DirListingContentType = "text/html; charset=utf-8"

// DirEntry is one name in a directory listing.
type DirEntry struct {
	Name  string
	IsDir bool
}

// AppendDirListing appends an HTML directory listing in net/http's dirList format:
// entries sorted by name (entries is sorted in place), each as
// `<a href="ESCAPED">TEXT</a>` where directories get a trailing "/", the href is
// URL-path-escaped (with "./" prepended when the first segment holds a ':', as
// net/url does) and the text is HTML-escaped. Unlike the hot paths this may allocate
// (for sorting and growing dst).
func AppendDirListing(dst []byte, entries []DirEntry) []byte {
	slices.SortFunc(entries, func(a, b DirEntry) int { return strings.Compare(a.Name, b.Name) })
	dst = append(dst, "<!doctype html>\n<meta name=\"viewport\" content=\"width=device-width\">\n<pre>\n"...)
	for _, e := range entries {
		dst = append(dst, "<a href=\""...)
		if strings.IndexByte(e.Name, ':') >= 0 {
			// "a:b" would parse as a URL scheme; net/url writes "./a:b".
			dst = append(dst, "./"...)
		}
		dst = AppendEscapedPath(dst, []byte(e.Name))
		if e.IsDir {
			dst = append(dst, '/')
		}
		dst = append(dst, "\">"...)
		dst = appendHTMLEscaped(dst, e.Name)
		if e.IsDir {
			dst = append(dst, '/')
		}
		dst = append(dst, "</a>\n"...)
	}
	return append(dst, "</pre>\n"...)
}

// appendHTMLEscaped escapes like html.EscapeString / net/http's htmlReplacer.
func appendHTMLEscaped(dst []byte, s string) []byte {
	for i := range len(s) {
		switch c := s[i]; c {
		case '&':
			dst = append(dst, "&amp;"...)
		case '<':
			dst = append(dst, "&lt;"...)
		case '>':
			dst = append(dst, "&gt;"...)
		case '"':
			dst = append(dst, "&#34;"...)
		case '\'':
			dst = append(dst, "&#39;"...)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
