package http1

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"
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
	// Size and ModTime (of the entry itself: a symlink's own) are read for JSON listings.
	Size    int64
	ModTime time.Time
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

// DirListingJSONContentType is the Content-Type of AppendDirListingJSON output.
const DirListingJSONContentType = "application/json"

// WantsJSON reports whether a directory listing should be JSON: when the query has
// format=json, or the Accept value names application/json with a weight above zero and
// at least that of text/html (named, or through text/* or */*). A browser's "text/html,
// ..., */*;q=0.8" keeps HTML; "application/json, */*" gets JSON. A malformed Accept keeps
// HTML.
func WantsJSON(accept, rawQuery []byte) bool {
	for q := rawQuery; len(q) > 0; {
		var kv []byte
		kv, q = cutByte(q, '&')
		if string(kv) == "format=json" {
			return true
		}
	}
	// text/html's weight comes from its most specific range: text/html, text/*, then */*.
	qJSON, qHTML, qText, qAny := -1, -1, -1, -1
	for a := accept; len(a) > 0; {
		var elem []byte
		elem, a = cutByte(a, ',')
		elem = trimOWS(elem)
		if len(elem) == 0 {
			continue
		}
		typ, params, _ := cutByteOK(elem, ';')
		typ = trimOWS(typ)
		qv := 1000
		for len(params) > 0 {
			var p []byte
			p, params = cutByte(params, ';')
			p = trimOWS(p)
			if len(p) >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=' {
				v, ok := parseQValue(p[2:])
				if !ok {
					return false
				}
				qv = v
			}
		}
		switch {
		case eqFold(typ, "application/json"):
			qJSON = qv
		case eqFold(typ, "text/html"):
			qHTML = qv
		case eqFold(typ, "text/*"):
			qText = qv
		case string(typ) == "*/*":
			qAny = qv
		}
	}
	if qHTML < 0 {
		qHTML = qText
	}
	if qHTML < 0 {
		qHTML = qAny
	}
	return qJSON > 0 && qJSON >= qHTML
}

// AppendDirListingJSON appends a JSON listing: {"entries":[{"name","size","mtime","is_dir"}],
// "truncated":bool}, mtime in RFC 3339 (UTC), names escaped as encoding/json does (invalid
// UTF-8 becomes U+FFFD). truncated says the directory has more entries than shown.
func AppendDirListingJSON(dst []byte, entries []DirEntry, truncated bool) []byte {
	dst = append(dst, `{"entries":[`...)
	for i, e := range entries {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"name":`...)
		name, _ := json.Marshal(e.Name) // a string always marshals
		dst = append(dst, name...)
		dst = append(dst, `,"size":`...)
		dst = strconv.AppendInt(dst, e.Size, 10)
		dst = append(dst, `,"mtime":"`...)
		dst = e.ModTime.UTC().AppendFormat(dst, time.RFC3339)
		dst = append(dst, `","is_dir":`...)
		dst = strconv.AppendBool(dst, e.IsDir)
		dst = append(dst, '}')
	}
	dst = append(dst, `],"truncated":`...)
	dst = strconv.AppendBool(dst, truncated)
	return append(dst, "}\n"...)
}
