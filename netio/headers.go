package netio

import (
	"errors"
	"fmt"
	"net/textproto"
	"path"
	"strings"

	"github.com/uringd/uringd/netio/internal/http1"
)

// HeaderRule adds the field Name: Value to the file responses whose path matches Pattern.
//
// A Pattern without '/' matches a path's last element ("*.woff2"); one starting with '/'
// matches the whole path, with path.Match's syntax, except that a trailing '*' matches
// everything after it, at any depth ("/assets/*" covers /assets/js/app.js, as Caddy's
// path matchers do). Patterns are matched against the path of the file served (for a
// directory, its index.html).
//
// Every matching rule applies, in the order given; when two set the same field, the later
// one wins, so a specific rule goes after a general one.
type HeaderRule struct {
	Pattern, Name, Value string
}

// ParseHeaderRule parses "PATTERN: Name: value" (serve --header).
func ParseHeaderRule(s string) (HeaderRule, error) {
	pat, rest, ok := strings.Cut(s, ":")
	name, value, ok2 := strings.Cut(rest, ":")
	if !ok || !ok2 {
		return HeaderRule{}, fmt.Errorf("header rule %q: want 'PATTERN: Name: value'", s)
	}
	r := HeaderRule{Pattern: strings.TrimSpace(pat), Name: strings.TrimSpace(name), Value: strings.TrimSpace(value)}
	return r, r.check()
}

// ParseCacheControl parses "PATTERN=VALUE" (serve --cache-control) into a Cache-Control rule.
func ParseCacheControl(s string) (HeaderRule, error) {
	pat, value, ok := strings.Cut(s, "=")
	if !ok {
		return HeaderRule{}, fmt.Errorf("cache-control rule %q: want 'PATTERN=VALUE'", s)
	}
	r := HeaderRule{Pattern: strings.TrimSpace(pat), Name: "Cache-Control", Value: strings.TrimSpace(value)}
	return r, r.check()
}

// serverFields are set by the server itself: a rule may not add a second one.
var serverFields = []string{"Date", "Server", "Content-Type", "Content-Length", "Content-Range",
	"Content-Encoding", "Transfer-Encoding", "Connection", "Keep-Alive", "Last-Modified", "Etag",
	"Accept-Ranges", "Vary", "Location", "Allow", "Trailer", "Upgrade"}

func (r HeaderRule) check() error {
	if r.Pattern == "" {
		return fmt.Errorf("header rule %s: %s: empty pattern", r.Name, r.Value)
	}
	if strings.Contains(r.Pattern, "/") && r.Pattern[0] != '/' {
		return fmt.Errorf("header rule pattern %q: a pattern with '/' must start with '/'", r.Pattern)
	}
	if _, err := path.Match(r.Pattern, ""); err != nil {
		return fmt.Errorf("header rule pattern %q: %w", r.Pattern, err)
	}
	if !http1.ValidFieldName(r.Name) {
		return fmt.Errorf("header rule for %s: field name %q is not a token", r.Pattern, r.Name)
	}
	canon := textproto.CanonicalMIMEHeaderKey(r.Name)
	for _, f := range serverFields {
		if canon == f {
			return fmt.Errorf("header rule for %s: %s is set by the server", r.Pattern, r.Name)
		}
	}
	if strings.HasPrefix(canon, "Access-Control-") {
		return fmt.Errorf("header rule for %s: %s: use --cors (CORS), which also answers preflights", r.Pattern, r.Name)
	}
	if !http1.ValidFieldValue(r.Value) {
		return fmt.Errorf("header rule for %s: the value of %s has a control character", r.Pattern, r.Name)
	}
	return nil
}

func (r HeaderRule) matches(p string) bool {
	if !strings.HasPrefix(r.Pattern, "/") {
		ok, _ := path.Match(r.Pattern, path.Base(p))
		return ok
	}
	if pre, ok := strings.CutSuffix(r.Pattern, "*"); ok && !strings.ContainsAny(pre, "*?[\\") {
		return strings.HasPrefix(p, pre)
	}
	ok, _ := path.Match(r.Pattern, p)
	return ok
}

// headerRules are a server's rules and CORS origin, turned into the lines a file
// response carries; an open-file cache entry keeps its path's lines (lines is called once
// per entry, not per request).
type headerRules struct {
	rules []HeaderRule
	cors  []byte // "Access-Control-Allow-Origin: ...\r\n", or nil
}

func newHeaderRules(rules []HeaderRule, cors string) (*headerRules, error) {
	for _, r := range rules {
		if err := r.check(); err != nil {
			return nil, fmt.Errorf("netio: %w", err)
		}
	}
	h := &headerRules{rules: rules}
	if cors != "" {
		if cors != "*" && (!strings.HasPrefix(cors, "http://") && !strings.HasPrefix(cors, "https://") || strings.ContainsAny(cors, " \t\r\n,")) {
			return nil, errors.New("netio: CORS origin " + fmt.Sprintf("%q", cors) + ": want * or one origin such as https://example.com")
		}
		h.cors = []byte("Access-Control-Allow-Origin: " + cors + "\r\n")
	}
	if len(h.rules) == 0 && h.cors == nil {
		return nil, nil
	}
	return h, nil
}

// lines returns the header lines for the file at path p: CORS first, then each field
// set by the rules matching p, in rule order, the last rule setting a field giving its
// value. nil when none apply.
func (h *headerRules) lines(p string) []byte {
	if h == nil {
		return nil
	}
	var set []HeaderRule
	for _, r := range h.rules {
		if !r.matches(p) {
			continue
		}
		replaced := false
		for i := range set {
			if strings.EqualFold(set[i].Name, r.Name) {
				set[i], replaced = r, true
			}
		}
		if !replaced {
			set = append(set, r)
		}
	}
	if len(set) == 0 {
		return h.cors
	}
	b := append([]byte(nil), h.cors...)
	for _, r := range set {
		b = append(b, r.Name...)
		b = append(b, ": "...)
		b = append(b, r.Value...)
		b = append(b, "\r\n"...)
	}
	return b
}

// parseCodings checks Config.Precompressed.
func parseCodings(names []string) ([]http1.Coding, error) {
	var cs []http1.Coding
	for _, n := range names {
		c, ok := http1.ParseCoding(n)
		if !ok {
			return nil, fmt.Errorf("netio: precompressed encoding %q: want br, zstd or gzip", n)
		}
		for _, d := range cs {
			if d == c {
				return nil, fmt.Errorf("netio: precompressed encoding %q given twice", n)
			}
		}
		cs = append(cs, c)
	}
	return cs, nil
}
