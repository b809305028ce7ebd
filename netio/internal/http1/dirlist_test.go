package http1

import (
	"html"
	"net/url"
	"testing"
)

func TestAppendDirListing(t *testing.T) {
	entries := []DirEntry{
		{Name: "zeta.txt"},
		{Name: "a b&<c>\"'.html"},
		{Name: "sub", IsDir: true},
		{Name: "q?#%.txt"},
		{Name: "c:d"},
		{Name: "caf\xc3\xa9"},
	}
	got := string(AppendDirListing(nil, entries))
	want := "<!doctype html>\n<meta name=\"viewport\" content=\"width=device-width\">\n<pre>\n" +
		"<a href=\"a%20b&%3Cc%3E%22%27.html\">a b&amp;&lt;c&gt;&#34;&#39;.html</a>\n" +
		"<a href=\"./c:d\">c:d</a>\n" +
		"<a href=\"caf%C3%A9\">caf\xc3\xa9</a>\n" +
		"<a href=\"q%3F%23%25.txt\">q?#%.txt</a>\n" +
		"<a href=\"sub/\">sub/</a>\n" +
		"<a href=\"zeta.txt\">zeta.txt</a>\n" +
		"</pre>\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	// Same escaping as net/http's dirList (url.URL.String + HTML escaping).
	for _, e := range entries {
		name := e.Name
		if e.IsDir {
			name += "/"
		}
		u := (&url.URL{Path: name}).String()
		line := string(AppendDirListing(nil, []DirEntry{e}))
		wantLine := "<a href=\"" + u + "\">" + html.EscapeString(name) + "</a>\n"
		if line[len(line)-len(wantLine)-len("</pre>\n"):len(line)-len("</pre>\n")] != wantLine {
			t.Errorf("%q: got %q want %q", e.Name, line, wantLine)
		}
	}
	if got := string(AppendDirListing(nil, nil)); got != "<!doctype html>\n<meta name=\"viewport\" content=\"width=device-width\">\n<pre>\n</pre>\n" {
		t.Errorf("empty: %q", got)
	}
}
